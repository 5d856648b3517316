"""The soak, CI-sized (bench/soak.py runs days): two simulated hours on an accelerated clock,
every TOTP code read at every period boundary and equal to pyotp's, HOTP codes in step, push
challenges over the simulated BLE answered as the person chose, the token's clock on its RTC,
and the heap not growing. hil_tests/soak_run.py has the logic and the bounds. Simulator only:
it runs the clock fast, presses buttons and places fingers."""

from __future__ import annotations

import pytest
import soak_run
from soak_run import SOAK_HEAP, PeriodLog, Report, Soak

from tokenctl.client import TokenClient

pytestmark = pytest.mark.heap(SOAK_HEAP)
# x360 between boundaries: a 30 s period lasts 83 ms, so a loop waking late on a busy CI
# machine still reads every period (bench/soak.py runs x720).
CI = Soak(hours=2, rate=360, push_every_min=30, heap_every_min=20, hotp_every_min=30)


def test_two_simulated_hours_without_drift_or_growth(sim_only, tmp_path):
    with TokenClient.open(sim_only.port, timeout_s=10) as client:
        rep = soak_run.run(sim_only, client, CI, tmp_path)
    assert rep.problems == []
    assert rep.sim_hours >= CI.hours
    for p in rep.periods.values():  # every boundary of the two hours, none skipped
        assert p.missed == 0 and p.expected >= CI.hours * 3600 // p.period
        assert p.checked == p.expected
    assert rep.mismatches == 0 and rep.codes_checked == 6 * rep.readings
    assert rep.hotp_checked >= 4 and rep.hotp_mismatches == 0
    assert rep.clock_off == 0
    assert rep.sent == rep.expected_challenges == 6 and rep.failed == 0
    assert rep.results == {"approve": 3, "deny": 3}
    assert len(rep.heap) >= 5
    assert rep.verdicts()["heap"], f"heap {rep.heap}, slope {rep.slope():.1f} B/h"
    assert rep.ok()


def test_the_checks_fail_on_a_wrong_code_a_skipped_period_and_a_leak(tmp_path):
    """The harness itself, without a token: each verdict can fail."""

    class Sim:
        parts = None

    run = soak_run._Run(Sim(), None, Soak(), tmp_path)
    acc = next(a for a in run.accounts if a.kind == "totp" and a.period == 60)
    now = 2_000_000_000
    right = {"i": acc.issuer, "n": soak_run.NAME, "code": acc.totp(now), "p": 60,
             "left": 60 - now % 60}  # fmt: skip
    run._check(now, right)
    assert run.rep.mismatches == 0
    run._check(now, right | {"code": acc.totp(now + 60)})  # the next period's code
    run._check(now, right | {"left": right["left"] - 1})
    assert run.rep.mismatches == 2 and acc.totp(now) not in " ".join(run.rep.problems)

    log = PeriodLog(30)
    assert [log.see(t) for t in (0, 29, 31, 95)] == [0, 0, 0, 1]  # 60..89 was never read
    assert (log.expected, log.checked, log.missed) == (3, 2, 1)

    day = 24 * 3600
    flat = Report(Soak(), sim_end=day, heap=[(h, 32000 + 32 * (h % 2)) for h in range(24)])
    leaking = Report(Soak(), sim_end=day, heap=[(h, 32000 - 64 * h) for h in range(24)])
    assert abs(flat.slope()) < 2 and leaking.slope() == -64
    assert flat.verdicts()["heap"] and not leaking.verdicts()["heap"]
    # The suite's size: a heap that settles by two steps early passes, a leak per codes
    # reading (one 32-byte block, 120 readings an hour) does not.
    two_h = [i / 3 for i in range(7)]
    settling = Report(Soak(), sim_end=7200, heap=[(h, 22848 - 128 * min(h * 3, 2)) for h in two_h])
    per_reading = Report(Soak(), sim_end=7200, heap=[(h, 22848 - int(3840 * h)) for h in two_h])
    assert settling.verdicts()["heap"] and not per_reading.verdicts()["heap"]
