#!/usr/bin/env bash
# The outbox relay's drain rate into a local PostgreSQL 15 (started by the
# benchmark itself, as the postgres user in a temp dir) from a backlog of
# ROWS outbox rows. Builds Release first. Target: >= 5000 rows/s.
#
#   bench/relay_drain.sh [ROWS] [BATCH] [--fsync-off]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap
scripts/build build-release Release -DLSH_BUILD_TESTS=OFF >/dev/null
build-release/bench/lsh_relay_bench "${1:-100000}" "${2:-500}" "${@:3}"
