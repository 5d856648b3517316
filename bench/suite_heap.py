"""The smallest heap that passes the suite, for bench/run.py.

Every hil test runs at DEFAULT_HEAP (the 128K bar) except the push tests, which ask for
PUSH_HEAP (hil_tests/test_push.py): so the suite's smallest heap is the push tests' own. They
run here (pytest, TOKEN_HEAP set for every token they start) from PUSH_HEAP down in 4K steps
until they fail; the last heap that passed is the figure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEP_K = 4
FLOOR_K = 112  # well below the 128K bar: a search that gets here has found the answer


def _passes(heap_k: int) -> bool:
    env = dict(os.environ, TOKEN_HEAP=f"{heap_k}K")
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
           "hil_tests/test_push.py"]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    return done.returncode == 0


def measure(start_k: int, default_k: int, progress=lambda _: None) -> dict:
    """{"smallest_k": the push tests' smallest passing heap or None, "tried": {k: passed}}."""
    tried: dict[int, bool] = {}
    k = start_k
    while k >= max(default_k, FLOOR_K):
        progress(f"push tests at heap {k}K")
        tried[k] = _passes(k)
        if not tried[k]:
            break
        k -= STEP_K
    passing = [k for k, ok in tried.items() if ok]
    return {"smallest_k": min(passing) if passing else None, "tried": tried,
            "default_k": default_k}  # fmt: skip


def rows(res: dict) -> list[tuple[str, str, str, str]]:
    smallest, default = res["smallest_k"], res["default_k"]
    if smallest is None:
        return [("Smallest heap that passes the suite", "push tests failed at their own heap",
                 "passes", "fail")]  # fmt: skip
    failed = sorted(k for k, ok in res["tried"].items() if not ok)
    below = f"; fail at {failed[-1]}K" if failed else ""
    return [
        (
            "Smallest heap that passes the suite",
            f"{max(smallest, default)}K: the push tests (pass at {smallest}K{below}); the rest "
            f"of the suite runs at the {default}K default",
            "report",
            "report",
        )
    ]


if __name__ == "__main__":
    from tokenctl.sim.token import DEFAULT_HEAP

    sys.path.insert(0, str(ROOT / "hil_tests"))
    from test_push import PUSH_HEAP

    result = measure(int(PUSH_HEAP.rstrip("K")), int(DEFAULT_HEAP.rstrip("K")), print)
    print(result)
