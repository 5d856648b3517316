"""The PIN over serial: codes and changes need it once set; the retry counter persists."""

from __future__ import annotations

import pytest
from accounts import GITHUB_URI

from tokenctl.errors import AuthError
from tokenctl.otpauth import parse_uri


def test_pin_gates_codes_and_changes(cli, token):
    token.add_accounts([parse_uri(GITHUB_URI)])
    assert cli("pin", "set", "--new-pin", "482913").returncode == 0
    token.lock()
    r = cli("code")
    assert r.returncode == 5 and "locked" in r.stderr
    r = cli("--pin", "482913", "code")
    assert r.returncode == 0 and "GitHub" in r.stdout
    r = cli(
        "accounts",
        "add",
        "--issuer",
        "X",
        "--name",
        "y",
        "--secret",
        "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
    )
    assert r.returncode == 5  # a PIN given for one command unlocks for that command only


def test_wrong_pin_counts_down_and_right_pin_restores(cli, token):
    token.set_pin("482913")
    token.lock()
    for left in (7, 6):
        r = cli("--pin", "000000", "unlock")
        assert r.returncode == 5 and f"{left} PIN tries left" in r.stderr
        assert "000000" not in r.stderr + r.stdout
    assert token.info()["tries_left"] == 6
    assert cli("--pin", "482913", "unlock").returncode == 0
    assert token.info()["tries_left"] == 8


def test_retry_counter_survives_power_cycle(sim_only, token):
    token.set_pin("482913")
    token.lock()
    with pytest.raises(AuthError):
        token.unlock("111111")
    sim_only.restart()
    assert token.info()["tries_left"] == 7
    assert token.info()["locked"] is True


def test_pin_blocks_after_eight_wrong(sim_only, token):
    token.set_pin("482913")
    token.lock()
    for n in range(8):
        if n and n % 3 == 0:
            sim_only.restart()  # past the 3-in-a-row brake, as a patient attacker would
        with pytest.raises(AuthError) as e:
            token.unlock("999999")
    assert e.value.code == "bad_pin"
    with pytest.raises(AuthError) as e:
        token.unlock("482913")
    assert e.value.code == "pin_blocked"


def test_pin_change(cli, token):
    token.set_pin("482913")
    assert cli("--pin", "482913", "pin", "change", "--new-pin", "135790").returncode == 0
    token.lock()
    with pytest.raises(AuthError):
        token.unlock("482913")
    token.unlock("135790")
