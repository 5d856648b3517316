"""Power cuts at random points of every kind of change (hil_tests/powercut.py), CI-sized: the
token always opens and holds the old or the new state, every acknowledged change, and never
gets a PIN try back. bench/powercut.py runs the same campaign with hundreds of trials."""

from __future__ import annotations

import powercut
from powercut import Candidate, Seen, State, judge, run_campaign

TRIALS = 48  # 8 of each kind (the first of each uncut, to measure it): about 6 s
SEED = 2024


def test_random_power_cuts_leave_old_or_new(new_sim):
    report = run_campaign(new_sim, TRIALS, SEED, cycle=True)
    print("\n".join(report.lines()))
    assert not report.failures, "\n".join(report.lines())
    kinds = report.by_kind()
    assert set(kinds) == set(powercut.KINDS)
    for kind, k in kinds.items():
        assert k["cut"] >= TRIALS // len(powercut.KINDS) - 2, (kind, k)
        # The cuts must land on both sides of the change, or they prove little: the delays
        # span the kind's measured time. A wrong PIN pays for its try in its first
        # milliseconds, so it is counted ("new") or, with two, half counted ("mid").
        assert "new" in k["outcomes"], (kind, k)
        if kind != "wrong_pin":
            assert set(k["outcomes"]) - {"new"}, (kind, k)


# --- the checker can fail ---------------------------------------------------------------------

A = '{"a": "SHA1", "d": 6, "i": "Cut1", "k": "totp", "n": "a@example.com", "p": 30}'
B = '{"a": "SHA1", "d": 8, "i": "Cut2", "k": "totp", "n": "b@example.com", "p": 30}'
SETTINGS = (("auto_lock_s", 300), ("brightness", 127), ("max_tries", 8), ("screen_s", 30))
OLD = State((A,), SETTINGS + (("wipe_after", 0),), "482915", 8, (0, None))
NEW = OLD.but(accounts=(A, B))
ADD = [Candidate(0, "old", OLD), Candidate(1, "new", NEW)]


def ok(state: State | None) -> Seen:
    return Seen("ok", "ok", state)


def test_the_checker_passes_old_and_new():
    assert judge(OLD, ADD, 0, ok(OLD)) == ("old", [])
    assert judge(OLD, ADD, 0, ok(NEW)) == ("new", [])
    assert judge(OLD, ADD, 1, ok(NEW)) == ("new", [])


def test_the_checker_fails_a_state_that_is_neither():
    half = OLD.but(accounts=(B,))  # a mix: the new account, the old one lost
    outcome, failures = judge(OLD, ADD, 0, ok(half))
    assert outcome == "neither"
    assert failures and "neither the old nor the new" in failures[0]
    other = NEW.but(settings=SETTINGS + (("wipe_after", 20),))  # something else changed
    outcome, failures = judge(OLD, ADD, 0, ok(other))
    assert outcome == "neither" and "wipe_after" in failures[0]


def test_the_checker_fails_a_lost_acknowledged_change():
    outcome, failures = judge(OLD, ADD, 1, ok(OLD))
    assert outcome == "old"
    assert failures == [
        "an acknowledged change was lost: 1 request(s) answered, the token holds old (after 0)"
    ]


def test_the_checker_fails_a_pin_try_given_back():
    wrong = [Candidate(0, "old", OLD), Candidate(1, "new", OLD.but(tries=7))]
    before = OLD.but(tries=8)
    _, failures = judge(before, wrong, 0, ok(OLD.but(tries=9)))
    assert any("PIN tries went back up: 8 before, 9 after" in f for f in failures)
    _, failures = judge(before, wrong, 1, ok(OLD))  # the answered wrong PIN was uncounted
    assert any("acknowledged change was lost" in f for f in failures)


def test_the_checker_fails_a_token_that_does_not_open():
    _, failures = judge(OLD, ADD, 0, Seen("corrupt", "ok", None, error="DeviceError x"))
    assert "does not open: vault corrupt, PIN state ok" in failures
    _, failures = judge(OLD, ADD, 0, Seen("ok", "ok", None))
    assert failures == ["no PIN the token should hold opens it"]
    _, failures = judge(OLD, ADD, 0, Seen("ok", "ok", OLD, pending_restore=True))
    assert failures == ["a restore upload survived the power cut"]


def test_the_campaign_sees_a_change_made_behind_its_back(new_sim):
    """On a real token: an add, then a setting changed that the plan does not know of. The
    state read after the power cycle must fail the check."""
    campaign = powercut.Campaign(new_sim, SEED)
    campaign.fresh_token()
    try:
        before = campaign.model
        assert before is not None and campaign.client and campaign.sim
        plan = campaign.plan_add()
        plan.steps[0](campaign.client)
        brightness = before.setting("brightness")
        campaign.client.set_setting("brightness", 255 - brightness)
        campaign.sim.restart()
        campaign.client.close()
        seen = campaign.observe(plan, acked=1)
        outcome, failures = judge(before, plan.candidates, 1, seen)
        assert outcome == "neither"
        assert f"brightness {255 - brightness} vs {brightness}" in failures[0]
    finally:
        if campaign.client:
            campaign.client.close()
