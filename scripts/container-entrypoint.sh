#!/bin/sh
# The image's entrypoint (Dockerfile.lsh), run by tini. A fly volume is
# created owned by root; give /data to the lsh user, then run the command
# as lsh (never as root: jobs run arbitrary commands).
set -eu
if [ "$(id -u)" = 0 ]; then
  mkdir -p /data/logs /data/backups
  if [ "$(stat -c %U /data)" != lsh ]; then chown -R lsh:lsh /data; fi
  exec setpriv --reuid=lsh --regid=lsh --init-groups -- "$@"
fi
exec "$@"
