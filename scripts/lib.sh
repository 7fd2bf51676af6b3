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

# build [CARGO ARGS...]: builds with cargo and sets KEYHYGIENE_BIN (and PROXY_BIN, with
# --features iam-proxy) to the executables cargo reports having built, wherever its target
# folder is (CARGO_TARGET_DIR, a shared or an IDE's folder). A KEYHYGIENE_BIN set by the
# caller is used as it is, without building.
build() {
  if [ -n "${KEYHYGIENE_BIN:-}" ]; then
    [ -x "$KEYHYGIENE_BIN" ] || die "KEYHYGIENE_BIN=$KEYHYGIENE_BIN is not an executable file"
    return 0
  fi
  local built
  built=$(cargo build --message-format=json-render-diagnostics "$@" | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["target"]["name"], m["executable"])
') || die "cargo build failed"
  KEYHYGIENE_BIN=$(awk '$1 == "keyhygiene" { print $2 }' <<<"$built")
  PROXY_BIN=$(awk '$1 == "keyhygiene-iam-proxy" { print $2 }' <<<"$built")
  [ -n "$KEYHYGIENE_BIN" ] && [ -x "$KEYHYGIENE_BIN" ] ||
    die "cargo did not report the keyhygiene executable it built"
}

# start_proxy UPSTREAM LOG [FLAGS...]: starts keyhygiene-iam-proxy in front of UPSTREAM.
# Sets PROXY_PID and PROXY_ENDPOINT.
start_proxy() {
  local upstream=$1 log=$2 out i
  shift 2
  [ -n "${PROXY_BIN:-}" ] && [ -x "$PROXY_BIN" ] || die "keyhygiene-iam-proxy was not built (--features iam-proxy)"
  out=$(mktemp)
  "$PROXY_BIN" --upstream "$upstream" "$@" > "$out" 2> "$log" &
  PROXY_PID=$!
  for i in $(seq 1 100); do
    if grep -q '^listening on ' "$out"; then
      PROXY_ENDPOINT=$(sed -n 's/^listening on //p' "$out" | head -1)
      rm -f "$out"
      return 0
    fi
    kill -0 "$PROXY_PID" 2>/dev/null || die "the proxy exited; see $log"
    sleep 0.1
  done
  die "the proxy did not start within 10 s; see $log"
}

stop_proxy() {
  [ -n "${PROXY_PID:-}" ] && kill "$PROXY_PID" 2>/dev/null && wait "$PROXY_PID" 2>/dev/null
  PROXY_PID=
}
