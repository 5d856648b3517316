"""The soak (issue 7): a simulated token runs days of simulated time on an accelerated clock,
its codes checked against pyotp at every period boundary, push challenges arriving over BLE,
its heap sampled. The logic and the bounds are in hil_tests/soak_run.py; hil_tests/test_soak.py
runs two simulated hours of it in CI, bench/run.py one.

    .venv/bin/python bench/soak.py                   # 1 simulated day, clock x720
    .venv/bin/python bench/soak.py --days 3 --rate 600 --push-every 30 --json
    .venv/bin/python bench/soak.py --days 0.25 --start 2147470000   # across 2038-01-19

Exits 1 when a verdict fails. See bench/README.md ("Soak").
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1] / "hil_tests"))  # after bench's own

import soak_run  # noqa: E402
from rich.console import Console  # noqa: E402
from table import print_rows  # noqa: E402

from tokenctl.client import TokenClient  # noqa: E402
from tokenctl.sim.token import SimToken  # noqa: E402

# Between boundaries the clock runs at --rate, while the codes are read at soak_run.SLOW_RATE.
# At x720 a 30 s period passes in 42 ms: a loop that wakes later than that (a busy machine)
# misses a boundary, and the verdict says so. At x1440 (21 ms) that is an ordinary hiccup.
MAX_RATE = 1440.0
RUN_PY = soak_run.Soak(hours=1, rate=720, push_every_min=30, heap_every_min=10)


def measure(config: soak_run.Soak, progress=None) -> soak_run.Report:
    """The soak on a fresh simulated token (SOAK_HEAP) in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="soak-") as d:
        sim = SimToken(Path(d) / "tok", heap=soak_run.SOAK_HEAP).start()
        try:
            with TokenClient.open(sim.port, timeout_s=10) as client:
                return soak_run.run(sim, client, config, Path(d), progress)
        finally:
            sim.stop()


def to_json(rep: soak_run.Report) -> dict:
    lat = sorted(rep.latency)
    return {
        "sim_hours": rep.sim_hours,
        "real_s": rep.real_s,
        "rate": rep.soak.rate,
        "slow_rate": soak_run.SLOW_RATE,
        "readings": rep.readings,
        "codes_checked": rep.codes_checked,
        "mismatches": rep.mismatches,
        "hotp_checked": rep.hotp_checked,
        "hotp_mismatches": rep.hotp_mismatches,
        "boundaries": {
            p.period: {
                "expected": p.expected,
                "checked": p.checked,
                "missed": p.missed,
                "max_lag_s": p.max_lag,
            }  # fmt: skip
            for p in rep.periods.values()
        },
        "reading_ms": {
            "median": 1000 * statistics.median(lat),
            "p99": 1000 * lat[int(0.99 * (len(lat) - 1))],
            "max": 1000 * lat[-1],
        },
        "clock_off": rep.clock_off,
        "max_clock_off_s": rep.max_clock_off,
        "challenges": {
            "sent": rep.sent,
            "expected": rep.expected_challenges,
            "results": rep.results,
            "failed": rep.failed,
        },  # fmt: skip
        "heap": {"samples": rep.heap, "slope_b_per_sim_h": rep.slope()},
        "problems": rep.problems,
        "verdicts": rep.verdicts(),
        "ok": rep.ok(),
    }


def measure_for_run_py(progress=None) -> dict:
    """bench/run.py's soak: RUN_PY, as JSON with its table rows."""
    try:
        rep = measure(RUN_PY, progress)
    except Exception as e:  # one failed figure must not cost the whole table
        return {"error": f"{type(e).__name__}: {e}"}
    return to_json(rep) | {"rows": [list(r) for r in soak_run.rows(rep)]}


def rows(res: dict) -> list[tuple[str, str, str, str]]:
    if "error" in res:
        return [("Soak", res["error"], "runs", "fail")]
    return [(a, b, c, d) for a, b, c, d in res["rows"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=float, default=1.0, help="simulated days (default 1)")
    parser.add_argument("--rate", type=float, default=720.0,
                        help=f"clock speed between boundaries (at most {MAX_RATE:g})")  # fmt: skip
    parser.add_argument("--push-every", type=float, default=60.0, metavar="MIN",
                        help="simulated minutes between push challenges (0: none)")  # fmt: skip
    parser.add_argument("--start", type=float, default=None, metavar="UNIX",
                        help="the token's clock at the start (default: now)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args()
    if not 0 < args.rate <= MAX_RATE:
        parser.error(f"--rate must be above 0 and at most {MAX_RATE:g}")
    if args.days <= 0 or args.push_every < 0:
        parser.error("--days must be above 0 and --push-every at least 0")
    config = soak_run.Soak(hours=args.days * 24, rate=args.rate,
                           push_every_min=args.push_every, start=args.start)  # fmt: skip
    t0 = time.monotonic()
    with Console(stderr=True).status("soak") as spinner:
        rep = measure(config, lambda what: spinner.update(what))
    wall = time.monotonic() - t0
    if args.json:
        print(json.dumps(to_json(rep) | {"wall_s": wall}, indent=2))
    else:
        console = print_rows(f"Soak: {args.days:g} simulated days, {wall:.0f} s wall",
                             soak_run.rows(rep))  # fmt: skip
        for problem in rep.problems:
            console.print(f"  {problem}", markup=False, highlight=False)
    return 0 if rep.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
