#!/usr/bin/env bash
# Runs/s of `true` through lshd vs the raw fork+exec rate, and the idle
# trigger->start latency, in one run. Builds Release first.
#
#   bench/runs_throughput.sh [RUNS] [WORKERS]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap
scripts/build build-release Release -DLSH_BUILD_TESTS=OFF >/dev/null
build-release/bench/lsh_bench runs "$PWD/build-release/lshd" "${1:-3000}" "${2:-10}"
