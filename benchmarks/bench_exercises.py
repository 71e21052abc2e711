"""How long each exercise check takes to answer (target: 2 s), for the reference and each mistake.

    python benchmarks/bench_exercises.py

Every exercise of every notebook, from ``labkit.exercises.catalogue()``.  A check
prints its verdict; here the output is swallowed and only the time is shown.
Progress goes to a temporary folder, never the learner's own.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import shutil
import tempfile
import time

os.environ["CACHE_LAB_HOME"] = tempfile.mkdtemp(prefix="bench-exercises-")
atexit.register(shutil.rmtree, os.environ["CACHE_LAB_HOME"], ignore_errors=True)

from labkit.exercises import catalogue  # noqa: E402 - after the progress folder is set

TARGET_SECONDS = 2.0


def timed_check(ex, answer) -> tuple[float, bool]:
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        passed = bool(ex.check(answer))
    return time.perf_counter() - start, passed


def main() -> None:
    print(f"{'exercise':34} {'kind':10} {'reference':>10} {'slowest mistake':>16}  verdicts")
    over = []
    for ex in catalogue():
        if ex._reference is None:
            continue
        ref_seconds, ref_passed = timed_check(ex, ex.reference())
        worst, refused = 0.0, 0
        for answer in ex.mistakes().values():
            seconds, passed = timed_check(ex, answer)
            worst, refused = max(worst, seconds), refused + (not passed)
        name = f"{ex.notebook}/{ex.name}"
        verdicts = f"reference {'passes' if ref_passed else 'FAILS'}, {refused}/{len(ex.mistakes())} mistakes refused"
        print(f"{name:34} {ex.kind:10} {ref_seconds:9.2f}s {worst:15.2f}s  {verdicts}")
        if max(ref_seconds, worst) > TARGET_SECONDS:
            over.append(name)
    print(f"\nOver the {TARGET_SECONDS:g} s target: {', '.join(over) if over else 'none'}")


if __name__ == "__main__":
    main()
