"""Power-cut campaign (issue 7, "Prove it"): kill -9 of the simulated token at hundreds of
random points during account adds, removes, PIN changes, wrong PINs, settings changes and
restores; after each, the token must open and hold the old or the new state, every
acknowledged change, and never a PIN try given back.

    .venv/bin/python bench/powercut.py                 # 300 trials, about 35 s on 2 cores
    .venv/bin/python bench/powercut.py --trials 1000 --seed 9
    .venv/bin/python bench/powercut.py --baud 115200   # behind a real line's rate
    .venv/bin/python bench/powercut.py --json

The campaign and its checker are hil_tests/powercut.py (hil_tests/test_powercut.py runs a
short one in CI). Prints one row per kind of change (trials, outcomes, acknowledged, cuts that
came after the flash changed but before the new state, failures), the totals and the time,
then every failure with its seed and trial number. Exits 1 when a trial failed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from table import print_rows

from tokenctl.sim.token import DEFAULT_HEAP, SimToken

ROOT = Path(__file__).resolve().parents[1]
TRIALS = 300
RUN_PY_TRIALS = 60  # bench/run.py's share: about 8 s
SEED = 7


def _campaign():
    """hil_tests/powercut.py under its own name (this script is `powercut` on bench's path)."""
    sys.path.append(str(ROOT / "hil_tests"))  # its `power` module; after bench's own
    spec = importlib.util.spec_from_file_location(
        "powercut_campaign", ROOT / "hil_tests" / "powercut.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def measure(
    trials: int = TRIALS,
    seed: int = SEED,
    baud: int | None = None,
    heap: str = DEFAULT_HEAP,
    progress=None,
) -> dict:
    """Run the campaign on fresh simulated tokens (always stopped); plain data for --json."""
    pc = _campaign()
    made: list[SimToken] = []
    with tempfile.TemporaryDirectory(prefix="tokcut-") as state_dir:

        def make_sim() -> SimToken:
            sim = SimToken(Path(state_dir) / f"sim{len(made)}", baud=baud, heap=heap)
            made.append(sim)
            return sim.start()

        try:
            report = pc.run_campaign(make_sim, trials, seed, progress)
        finally:
            for sim in made:
                sim.stop()
    kinds = {
        kind: dict(k, outcomes=dict(sorted(k["outcomes"].items())))
        for kind, k in report.by_kind().items()
    }
    return {
        "trials": trials,
        "seed": seed,
        "baud": baud,
        "heap": heap,
        "seconds": report.seconds,
        "tokens": report.tokens,
        "kinds": kinds,
        "uncounted_late": report.uncounted_late,
        "failures": [
            {
                "trial": t.n,
                "kind": t.kind,
                "detail": t.detail,
                "delay_s": t.delay_s,
                "failures": t.failures,
            }
            for t in report.failures
        ],
    }


def rows(res: dict) -> list[tuple[str, str, str, str]]:
    """(figure, value, bar, verdict) rows, as bench/run.py's table has them."""
    out = []
    for kind, k in res["kinds"].items():
        outcomes = ", ".join(f"{o} {n}" for o, n in k["outcomes"].items())
        value = (
            f"{k['trials']} trials ({k['cut']} cut): {outcomes}; {k['acked']} acknowledged, "
            f"{k['mid_write']} cut mid-write, {k['failures']} failures"
        )
        out.append(
            (f"Power cuts: {kind}", value, "0 failures", "fail" if k["failures"] else "pass")
        )
    failed = len(res["failures"])
    total = sum(k["trials"] for k in res["kinds"].values())
    out.append(
        ("Power cuts: all", f"{total} trials, {failed} failures, {res['seconds']:.1f} s, "
         f"{res['tokens']} tokens (seed {res['seed']})", "0 failures", "fail" if failed else "pass")
    )  # fmt: skip
    out.append(
        ("Power cuts: wrong PIN uncounted by a late cut", str(res["uncounted_late"]), "0",
         "fail" if res["uncounted_late"] else "pass")
    )  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=TRIALS)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--baud", type=int, default=None, help="throttle the line (default: none)")
    ap.add_argument("--heap", default=DEFAULT_HEAP, help="the token's MicroPython heap")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = ap.parse_args(argv)
    with Console(stderr=True).status("power cuts") as spinner:
        res = measure(args.trials, args.seed, args.baud, args.heap, spinner.update)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        line = f"{args.baud} baud" if args.baud else "unthrottled line"
        console = print_rows(
            f"Power cuts: {res['trials']} trials, seed {res['seed']}, {line}, heap {res['heap']}",
            rows(res),
        )
        for f in res["failures"]:
            console.print(
                f"FAIL trial {f['trial']} ({f['kind']}, {f['detail']}, cut at "
                f"{f['delay_s'] or 0:.4f} s): " + "; ".join(f["failures"]),
                markup=False, highlight=False,
            )  # fmt: skip
    return 1 if res["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
