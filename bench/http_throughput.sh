#!/usr/bin/env bash
# Durable POST /jobs throughput vs the same server's GET /health rate, in one
# run, at 16 keep-alive connections (wrk). Builds Release first.
#
#   bench/http_throughput.sh [SECONDS] [CONNECTIONS]
#
# LSH_SYNC=normal in the environment measures the faster, less safe mode.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-16}
scripts/bootstrap
scripts/build build-release Release -DLSH_BUILD_TESTS=OFF >/dev/null
dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
source bench/lshd.sh
bin=build-release/lshd
start_lshd "$dir" # LSH_SYNC, if set, passes through

rate() { awk '/Requests\/sec/ {print $2}'; }
errors() { awk '/Non-2xx/ {print $5} END {}' ; }

echo "lshd $(build-release/lshd --version | cut -d' ' -f2), sync=${LSH_SYNC:-full}, $conns connections, ${secs}s each, $(nproc) cores"
wrk -t2 -c"$conns" -d"${secs}s" "$url/health" >"$dir/health.txt"
wrk -t2 -c"$conns" -d"${secs}s" -s bench/create_jobs.lua "$url" -- "$RANDOM" >"$dir/create.txt"
health=$(rate <"$dir/health.txt")
create=$(rate <"$dir/create.txt")
bad=$(grep -c "Non-2xx" "$dir/create.txt" || true)
jobs=$(curl -s "$url/status" | sed -n 's/.*"jobCount":\([0-9]*\).*/\1/p')
printf "GET /health (no-op)       %10.0f req/s\n" "$health"
printf "POST /jobs (durable)      %10.0f req/s   (%s jobs stored, non-2xx lines: %s)\n" "$create" "$jobs" "$bad"
awk -v c="$create" -v h="$health" 'BEGIN { printf "durable/no-op ratio       %10.2f  (target >= 0.50)\n", c / h }'
grep -E "Latency" "$dir/create.txt" | sed 's/^/POST latency (avg, stdev, max): /'
