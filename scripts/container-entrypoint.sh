#!/bin/sh
# The image's entrypoint (Dockerfile.lsh), run by tini before lshd.
#
# 1. Restore on boot: if <data>/restore/lsh.db exists (put there with
#    `fly ssh sftp`; docs/operations.md "Restore"), it must pass `lshd check`;
#    the current lsh.db and its -wal/-shm move to
#    <data>/backups/before-restore-<time>/ and the restore file takes their
#    place. A restore file that fails the check stops the start.
# 2. A fly volume is created owned by root: give the data directory to the
#    lsh user, then run the command as lsh (never as root: jobs run arbitrary
#    commands). LSH_ENTRYPOINT_USER names the user (default lsh); empty runs
#    the command as the current user (the tests do).
set -eu
db=${LSH_DB_PATH:-/data/lsh.db}
data=$(dirname "$db")
user=${LSH_ENTRYPOINT_USER-lsh}
mkdir -p "$data/logs" "$data/backups"

restored=""
if [ -f "$data/restore/lsh.db" ]; then
  if ! lshd check --db "$data/restore/lsh.db" >&2; then
    echo "lsh-entrypoint: $data/restore/lsh.db failed lshd check; not restoring, not starting" >&2
    exit 1
  fi
  saved="$data/backups/before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
  mkdir -p "$saved"
  for f in "$db" "$db-wal" "$db-shm"; do
    if [ -e "$f" ]; then mv "$f" "$saved/"; fi
  done
  rm -f "$data/restore/lsh.db-wal" "$data/restore/lsh.db-shm"
  mv "$data/restore/lsh.db" "$db"
  restored=1
  echo "lsh-entrypoint: restored $db from $data/restore/lsh.db; the previous database is in $saved" >&2
fi

if [ "$(id -u)" = 0 ] && [ -n "$user" ]; then
  if [ -n "$restored" ] || [ "$(stat -c %U "$data")" != "$user" ]; then
    chown -R "$user:$user" "$data"
  fi
  exec setpriv --reuid="$user" --regid="$user" --init-groups -- "$@"
fi
exec "$@"
