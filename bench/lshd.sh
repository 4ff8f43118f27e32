# Sourced by the bench scripts: starting a daemon to measure.
#
# start_lshd DIR [VAR=VALUE...]: runs $bin (the lshd to measure) on port 0
# with its database in DIR and the given environment, waits up to 10 s for
# its port file, and sets $lpid and $url. The pid is added to the caller's
# `pids` array, which the caller's EXIT trap kills. Exits the script if the
# daemon does not start.
start_lshd() {
  local dir=$1
  shift
  mkdir -p "$dir"
  rm -f "$dir/port"
  env LSH_LOG_LEVEL=warn LSH_SHUTDOWN_GRACE=2 "$@" "$bin" serve --port 0 --metrics-port 0 \
    --db "$dir/lsh.db" --port-file "$dir/port" 2>>"$dir/log" &
  lpid=$!
  pids+=("$lpid")
  for _ in $(seq 400); do [ -s "$dir/port" ] && break; sleep 0.025; done
  if [ ! -s "$dir/port" ]; then
    echo "lshd did not start: $(tail -3 "$dir/log")" >&2
    exit 1
  fi
  url="http://127.0.0.1:$(head -1 "$dir/port")" # line 2 is the metrics port
}
