#!/usr/bin/env bash
# A one-at-a-time job's growing backlog must not slow the rest of the daemon
# (docs/lifecycle.md, "Held runs"). Builds Release, starts a daemon on a temp
# database with a job that runs one at a time (overlapPolicy "queue") whose
# first run sleeps, so every later trigger of it stays queued; then, round
# after round, triggers it for SECONDS with wrk (16 connections) and times 20
# trigger -> end runs of another job (`true`, ?wait=5). Flat figures as the
# backlog grows mean the claim does not read the backlog.
#
#   bench/backlog.sh [ROUNDS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-4}
secs=${2:-5}
scripts/bootstrap
scripts/build build-release Release -DLSH_BUILD_TESTS=OFF >/dev/null
dir=$(mktemp -d /var/tmp/lsh-backlog.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
source bench/lshd.sh
bin=build-release/lshd
start_lshd "$dir" LSH_MAX_CONCURRENT_JOBS=10
post() { curl -sf --noproxy '*' -X POST -H 'Content-Type: application/json' "$@"; }
post -d '{"name":"backlog","command":"sleep 3600","overlapPolicy":"queue"}' "$url/jobs" >/dev/null
post -d '{"name":"other","command":"true","overlapPolicy":"allow"}' "$url/jobs" >/dev/null
echo "lshd $(build-release/lshd --version | cut -d' ' -f2), $(nproc) cores, ${secs}s of triggers per round"
printf '%-6s %14s %10s %24s\n' round "triggers/s" backlog "other trigger->end p50/max"
for r in $(seq "$rounds"); do
  rate=$(wrk -t2 -c16 -d"${secs}s" -s bench/trigger_jobs.lua "$url" -- backlog |
    awk '/Requests\/sec/ {print $2}')
  queued=$(curl -sf --noproxy '*' "$url/status" | sed -n 's/.*"queued":\([0-9]*\).*/\1/p')
  lat=$(for _ in $(seq 20); do
    post -o /dev/null -w '%{time_total}\n' "$url/jobs/other/trigger?wait=5"
  done | sort -n | awk '{a[NR] = $1} END {printf "%.1f / %.1f ms", a[int((NR + 1) / 2)] * 1000, a[NR] * 1000}')
  printf '%-6s %14.0f %10s %24s\n' "$r" "$rate" "$queued" "$lat"
done
