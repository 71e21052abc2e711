#!/usr/bin/env bash
# Rehearse a Binder launch on this machine: run binder/start the way Binder does,
# with a dummy command in place of JupyterLab, and check that a Redis answers on
# loopback, REDIS_URL points at it and the lab owns exactly that server. Stops that
# Redis afterwards.
#
#   bash tools/rehearse_binder.sh            (PYTHON=/path/to/python to choose the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
port="${CACHE_LAB_REDIS_PORT:-$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
export CACHE_LAB_REDIS_PORT="$port"
# The rehearsal's server logs to a scratch file, removed with the server.
log="$(mktemp)"
export CACHE_LAB_REDIS_LOG="$log"
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; rm -f "$log"' EXIT

CACHE_LAB_REDIS_PORT="$port" bash binder/start "$python" - <<'PY'
import os, sys
url = os.environ.get("REDIS_URL")
if not url:
    sys.exit("FAIL: binder/start did not set REDIS_URL")
import labkit
store = labkit.connect(url, namespace="rehearsal", fallback=False)
store.set("ping", "pong", ttl_seconds=5)
assert store.get("ping") == "pong"
store.reset()
bind = store.client.config_get("bind")["bind"]
print(f"OK: REDIS_URL={url}, Redis answers, bound to {bind}, lab_owned_server={store.lab_owned_server}")
PY
