"""Each notebook, top to bottom, on fakeredis and on a real redis-server.

    python benchmarks/bench_notebooks.py            # every notebook
    python benchmarks/bench_notebooks.py 03 04      # some of them

Target: under 20 s each (the capstone: 30 s).  A real server is started on a free
loopback port when the redis-server binary exists.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from labkit.redis_server import LocalRedis, redis_server_binary

ROOT = Path(__file__).resolve().parent.parent


def run(path: Path, redis_url: str | None) -> float:
    env_before = os.environ.get("REDIS_URL")
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    try:
        nb = nbformat.read(path, as_version=4)
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["CACHE_LAB_HOME"] = tmp
            start = time.perf_counter()
            NotebookClient(
                nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp}},
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
            ).execute()
            return time.perf_counter() - start
    finally:
        if env_before is None:
            os.environ.pop("REDIS_URL", None)
        else:
            os.environ["REDIS_URL"] = env_before


def main(argv: list[str]) -> None:
    paths = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if argv:
        paths = [p for p in paths if p.name[:2] in argv]
    server = LocalRedis() if redis_server_binary() else None
    print(f"{'notebook':<24} {'fakeredis':>10} {'real Redis':>11}   (seconds, incl. kernel start)")
    try:
        for path in paths:
            fake = run(path, None)
            real = run(path, server.url) if server else float("nan")
            print(f"{path.stem:<24} {fake:10.1f} {real:11.1f}")
    finally:
        if server:
            server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
