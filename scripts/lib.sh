# Shared by scripts/setup, scripts/test and scripts/demo. Source it; don't run it.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${KEYHYGIENE_VENV:-$ROOT/.venv}

# Bold only on a terminal: logs of CI and cron stay plain.
say() {
  if [ -t 2 ]; then printf '\033[1m==> %s\033[0m\n' "$*" >&2; else printf '==> %s\n' "$*" >&2; fi
}
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The libfaketime library that moves the local endpoint's clock.
faketime_lib() {
  local candidate
  for candidate in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 \
                   /usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1 \
                   /usr/lib/faketime/libfaketimeMT.so.1 \
                   /usr/local/lib/faketime/libfaketimeMT.so.1; do
    [ -f "$candidate" ] && { echo "$candidate"; return 0; }
  done
  return 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_moto DIR: starts moto's server (with IAM's ListUsers paging, scripts/moto_server.py)
# under libfaketime on a free loopback port.
# Sets MOTO_PID, MOTO_ENDPOINT and MOTO_CLOCK (the FAKETIME_TIMESTAMP_FILE).
start_moto() {
  local dir=$1 lib port
  lib=$(faketime_lib) || die "libfaketime not found: run scripts/setup (or apt-get install faketime)"
  [ -x "$VENV/bin/moto_server" ] || die "moto_server not found in $VENV: run scripts/setup"
  mkdir -p "$dir"
  MOTO_CLOCK=$dir/clock
  date -u '+%Y-%m-%d %H:%M:%S' > "$MOTO_CLOCK"
  port=$(free_port)
  TZ=UTC LD_PRELOAD=$lib FAKETIME_TIMESTAMP_FILE=$MOTO_CLOCK FAKETIME_NO_CACHE=1 \
    "$VENV/bin/python" "$ROOT/scripts/moto_server.py" -H 127.0.0.1 -p "$port" > "$dir/moto.log" 2>&1 &
  MOTO_PID=$!
  MOTO_ENDPOINT=http://127.0.0.1:$port
  local i
  for i in $(seq 1 100); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('$MOTO_ENDPOINT/moto-api/data.json', timeout=1)" 2>/dev/null; then
      return 0
    fi
    kill -0 "$MOTO_PID" 2>/dev/null || die "moto's server exited; see $dir/moto.log"
    sleep 0.2
  done
  die "moto's server did not answer on $MOTO_ENDPOINT within 20 s; see $dir/moto.log"
}

stop_moto() {
  [ -n "${MOTO_PID:-}" ] && kill "$MOTO_PID" 2>/dev/null && wait "$MOTO_PID" 2>/dev/null
  MOTO_PID=
}
