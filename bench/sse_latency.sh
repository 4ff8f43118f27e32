#!/usr/bin/env bash
# Server-Sent Events commit -> client latency (p50/p99) with 1, 100 and
# 1,000 live streams on one daemon. Builds Release first.
#
#   bench/sse_latency.sh [EVENTS] [CLIENTS...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap
scripts/build build-release Release -DLSH_BUILD_TESTS=OFF >/dev/null
ulimit -n 65536 2>/dev/null || true
build-release/bench/lsh_sse_bench "$PWD/build-release/lshd" "${1:-200}" "${@:2}"
