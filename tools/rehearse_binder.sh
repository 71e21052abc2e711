#!/usr/bin/env bash
# Rehearse a Binder launch on this machine: run binder/start the way Binder does,
# with a dummy command in place of JupyterLab, and check that a Redis answers on
# loopback and REDIS_URL points at it. Stops that Redis afterwards.
#
#   bash tools/rehearse_binder.sh
set -euo pipefail
cd "$(dirname "$0")/.."
port="${CACHE_LAB_REDIS_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
export CACHE_LAB_REDIS_PORT="$port"
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true' EXIT

CACHE_LAB_REDIS_PORT="$port" bash binder/start python3 - <<'PY'
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
print(f"OK: REDIS_URL={url}, Redis answers, bound to {bind}, "
      f"LABKIT_OWNS_REDIS={os.environ.get('LABKIT_OWNS_REDIS')}")
PY
