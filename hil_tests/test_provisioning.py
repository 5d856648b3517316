"""Provisioning through the real CLI, and codes equal to pyotp's at set clock times."""

from __future__ import annotations

import json
import time

import pytest
from accounts import GITHUB_URI, expected_totp, random_uris, uri

from tokenctl.otpauth import parse_uri

GITHUB = GITHUB_URI


def test_add_list_code_through_the_cli(cli):
    assert cli("time", "sync").returncode == 0
    assert cli("accounts", "add", GITHUB).returncode == 0
    r = cli(
        "accounts",
        "add",
        "--issuer",
        "Bank",
        "--name",
        "bob",
        "--type",
        "hotp",
        "--secret",
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        "--counter",
        "7",
    )
    assert r.returncode == 0, r.stderr
    listed = json.loads(cli("accounts", "list", json=True).stdout)
    assert [(a["issuer"], a["name"], a["type"]) for a in listed] == [
        ("GitHub", "alice@example.com", "totp"),
        ("Bank", "bob", "hotp"),
    ]
    assert "GEZDGNBV" not in json.dumps(listed) and "JBSWY3DP" not in json.dumps(listed)
    codes = json.loads(cli("code", json=True).stdout)
    (gh,) = [c for c in codes["codes"] if c["issuer"] == "GitHub"]
    assert gh["code"] == expected_totp(GITHUB, codes["now"])
    assert 1 <= gh["seconds_left"] <= 30


def test_batch_from_file(cli, tmp_path, token):
    uris = random_uris(40)
    path = tmp_path / "accounts.txt"
    path.write_text("# exported\n\n" + "\n".join(uris) + "\n")
    r = cli("accounts", "add", "--from", str(path))
    assert r.returncode == 0, r.stderr
    assert len(token.accounts()) == 40


@pytest.mark.parametrize(
    "when",
    [
        1_700_000_000,  # 2023
        2_147_483_647,  # the last second of signed 32-bit time
        2_147_483_648,  # 2038-01-19T03:14:08, past it
        4_102_444_800,  # 2100-01-01, the DS3231's century bit
        4_133_980_799,  # 2100-12-31T23:59:59
    ],
)
def test_codes_match_pyotp_at_set_times(token, when):
    uris = random_uris(12, seed=when)
    token.add_accounts([parse_uri(u) for u in uris])
    token.sync_time(when)
    now, items = token.codes()
    assert when <= now <= when + 2
    by_name = {(c["i"], c["n"]): c for c in items}
    for u in uris:
        acc = parse_uri(u)
        item = by_name[(acc.issuer, acc.name)]
        if acc.type == "hotp":
            assert "code" not in item
        else:
            assert item["code"] == expected_totp(u, now)


def test_hotp_counter_moves_once_per_code(token):
    u = uri("Bank", "bob", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "hotp", counter=5)
    token.add_accounts([parse_uri(u)])
    import pyotp

    hotp = pyotp.HOTP("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
    got = [token.code(token.find("bob"))["c"][0]["code"] for _ in range(3)]
    assert got == [hotp.at(5), hotp.at(6), hotp.at(7)]
    token.codes()  # listing codes never moves HOTP on
    assert token.find("bob")["c"] == 8


def test_rename_move_remove_keep_order(cli, token):
    token.add_accounts([parse_uri(u) for u in random_uris(5)])
    names = [a["n"] for a in token.accounts()]
    assert cli("accounts", "move", names[4], "0").returncode == 0
    assert cli("accounts", "rename", names[0], "NewCo:renamed").returncode == 0
    assert cli("accounts", "remove", names[2], "--force").returncode == 0
    after = [(a["i"], a["n"]) for a in token.accounts()]
    assert [n for _, n in after] == [names[4], "renamed", names[1], names[3]]
    assert after[1][0] == "NewCo"


def test_time_sync_reports_the_drift_it_corrected(sim_only, token):
    sim_only.parts.clock("skew", -90)  # the DS3231 ran slow by a minute and a half
    assert -92 <= token.time()["now"] - int(time.time()) <= -88
    assert 88 <= token.sync_time()["offset"] <= 92


def test_info_and_time(cli, sim):
    info = json.loads(cli("info", json=True).stdout)
    assert info["proto"] == 1 and info["fw"] and info["serial"]
    if sim:  # a new simulated DS3231 starts at 2000-01-01 with its oscillator-stop flag set
        assert info["clock"]["trusted"] is False
        assert "time sync" in cli("info").stdout
    assert cli("time", "sync").returncode == 0
    assert json.loads(cli("info", json=True).stdout)["clock"]["trusted"] is True
    shown = json.loads(cli("time", "show", json=True).stdout)
    assert abs(shown["drift"]) <= 2
