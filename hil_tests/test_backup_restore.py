"""Backup and restore through the real CLI: round trips between tokens, the safety rules, and
power cuts during a restore."""

from __future__ import annotations

import base64
import dataclasses
import os
import subprocess
import sys

import pytest
from accounts import random_uris
from power import cut_during

from tokenctl import backup as fmt
from tokenctl.client import TokenClient
from tokenctl.errors import DeviceError
from tokenctl.otpauth import parse_uri

PIN = "482915"
PHRASE = "glacier-mango-tulip-42"
TIMES = [1_700_000_000, 1_800_000_015, 2_200_000_029, 4_102_444_800]  # past 2038 and 2100


def tokenctl(port: str, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENCTL_")}
    cmd = [sys.executable, "-m", "tokenctl.cli.main", "--port", port, "--timeout", "3"]
    return subprocess.run(
        cmd + list(args), capture_output=True, text=True, env=env, timeout=timeout_s, stdin=None
    )


@pytest.fixture
def phrase_file(tmp_path):
    path = tmp_path / "phrase"
    path.write_text(PHRASE + "\n")
    return str(path)


def _setup(client: TokenClient, uris: list[str], extra: list | None = None) -> None:
    info = client.info()
    if not info["pin"]:
        client.set_pin(PIN)
    client.unlock(PIN)
    client.add_accounts([parse_uri(u) for u in uris] + (extra or []))


def _create(port, path, phrase_file, *extra):
    return tokenctl(
        port, "--pin", PIN, "backup", "create", str(path), "--passphrase-file", phrase_file, *extra
    )


def _restore(port, path, phrase_file, *extra):
    return tokenctl(
        port, "--pin", PIN, "restore", str(path), "--passphrase-file", phrase_file, *extra
    )


def _codes_at(client: TokenClient, t: int) -> list:
    client.sync_time(t)
    return client.codes()[1]


def test_round_trip_to_another_token_gives_the_same_codes(
    sim_only, token, new_sim, tmp_path, phrase_file
):
    uris = random_uris(12, seed=7)
    _setup(token, uris)
    token.set_touch(token.find(parse_uri(uris[0]).name), True)
    path = tmp_path / "a.tkb"
    made = _create(sim_only.port, path, phrase_file)
    assert made.returncode == 0, made.stderr
    assert "Backed up 12 accounts" in made.stdout
    shown = tokenctl(sim_only.port, "backup", "info", str(path))
    assert shown.returncode == 0 and "Accounts:    12" in shown.stdout
    ok = tokenctl(sim_only.port, "backup", "verify", str(path), "--passphrase-file", phrase_file)
    assert ok.returncode == 0 and "OK" in ok.stdout
    other = new_sim()
    with TokenClient.open(other.port, timeout_s=5) as b:
        b.sync_time()
        b.set_pin(PIN)
        done = _restore(other.port, path, phrase_file)
        assert done.returncode == 0, done.stderr
        assert "Restored 12 accounts" in done.stdout
        b.unlock(PIN)
        assert b.accounts() == token.accounts()  # order, settings (touch), HOTP counters
        for t in TIMES:
            assert _codes_at(b, t) == _codes_at(token, t)
    for out in (made, shown, ok, done):  # never a secret on the screen
        for u in uris:
            secret = parse_uri(u).secret
            assert base64.b32encode(secret).decode().rstrip("=") not in out.stdout + out.stderr


def test_restore_is_refused_on_a_token_with_accounts_and_merges_on_request(
    sim_only, token, new_sim, tmp_path, phrase_file
):
    uris = random_uris(4, seed=3)
    _setup(token, uris)
    path = tmp_path / "a.tkb"
    assert _create(sim_only.port, path, phrase_file).returncode == 0
    other = new_sim()
    mine = [u.replace("user", "mine") for u in random_uris(2, seed=99)]
    theirs = parse_uri(uris[1])
    clash = dataclasses.replace(theirs, digits=6 if theirs.digits != 6 else 8)
    with TokenClient.open(other.port, timeout_s=5) as b:
        b.sync_time()
        _setup(b, mine, [clash])
        before = b.accounts()
        refused = _restore(other.port, path, phrase_file)
        assert refused.returncode == 4
        assert "--merge skip" in refused.stderr and "3 accounts" in refused.stderr
        assert b.accounts() == before
        skip = _restore(other.port, path, phrase_file, "--merge", "skip")
        assert skip.returncode == 0, skip.stderr
        label = clash.label
        assert f"Skipped (already on the token): {label}" in skip.stdout
        after = b.accounts()
        assert len(after) == 6 and after[:3] == before
        replace = _restore(other.port, path, phrase_file, "--merge", "replace")
        assert replace.returncode == 0, replace.stderr
        assert replace.stdout.count("Replaced with the backup's copy") == 4
        final = b.accounts()
        assert [a["n"] for a in final[2:]] == [parse_uri(u).name for u in uris]
        assert final[2 + 1]["d"] == parse_uri(uris[1]).digits


def test_an_out_of_date_backup_is_flagged(sim_only, token, tmp_path, phrase_file):
    _setup(token, random_uris(3, seed=5))
    old, new = tmp_path / "old.tkb", tmp_path / "new.tkb"
    assert _create(sim_only.port, old, phrase_file).returncode == 0
    token.sync_time(token.time()["now"] + 3600)
    assert _create(sim_only.port, new, phrase_file).returncode == 0
    token.wipe(PIN)
    token.set_pin(PIN)
    stale = _restore(sim_only.port, old, phrase_file)
    assert stale.returncode == 4
    assert "out of date" in stale.stderr
    assert token.info()["accounts"] == 0
    forced = _restore(sim_only.port, old, phrase_file, "--yes")
    assert forced.returncode == 0 and "out of date" in forced.stderr
    token.wipe(PIN)
    token.set_pin(PIN)
    fresh = _restore(sim_only.port, new, phrase_file)
    assert fresh.returncode == 0 and "out of date" not in fresh.stderr


def test_wrong_passphrase_pin_and_damage_are_told_apart(sim_only, token, tmp_path, phrase_file):
    _setup(token, random_uris(3, seed=6))
    path = tmp_path / "a.tkb"
    bad_pin = tokenctl(
        sim_only.port,
        "--pin",
        "000000",
        "backup",
        "create",
        str(path),
        "--passphrase-file",
        phrase_file,
    )
    assert bad_pin.returncode == 5 and not path.exists()
    assert token.info()["tries_left"] == 7
    token.unlock(PIN)
    weak = tmp_path / "weak"
    weak.write_text("password123\n")
    too_weak = _create(sim_only.port, path, str(weak))
    assert too_weak.returncode == 8 and "too weak" in too_weak.stderr and not path.exists()
    assert _create(sim_only.port, path, phrase_file).returncode == 0
    exists = _create(sim_only.port, path, phrase_file)
    assert exists.returncode == 8 and "--force" in exists.stderr
    wrong = tmp_path / "wrong"
    wrong.write_text("glacier-mango-tulip-43\n")
    for args in (("backup", "verify", str(path)), ("restore", str(path), "--merge", "skip")):
        r = tokenctl(sim_only.port, "--pin", PIN, *args, "--passphrase-file", str(wrong))
        assert r.returncode == 5 and "wrong passphrase" in r.stderr
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    r = tokenctl(sim_only.port, "backup", "verify", str(path), "--passphrase-file", phrase_file)
    assert r.returncode == 8 and "damaged" in r.stderr
    path.write_bytes(bytes(data[:100]))
    r = tokenctl(sim_only.port, "backup", "info", str(path))
    assert r.returncode == 8 and "truncated" in r.stderr


def _cut_during_restore(sim, blob: bytes, key: bytes, delay_s: float) -> tuple[str, bool]:
    """Restore 100 accounts (--merge skip) onto a token holding 3, cut the power after
    delay_s, power on: ("old" | "new", acknowledged)."""
    with TokenClient.open(sim.port, timeout_s=2) as client:
        base = [a["n"] for a in client.accounts()]
        acknowledged = cut_during(
            sim, client, lambda: client.restore_blob(key, blob, 1_700_000_000, "skip"), delay_s
        )
    with TokenClient.open(sim.port, timeout_s=5) as client:
        info = client.info()
        assert info["vault"] == "ok"
        names = [a["n"] for a in client.accounts()]
        # Nothing of an upload survives the cut: no restore is pending after it.
        with pytest.raises(DeviceError, match="no restore"):
            client.call("restore.commit")
    assert len(names) in (len(base), len(base) + 100), "a restore was applied in part"
    assert names[: len(base)] == base
    if acknowledged:
        assert len(names) == len(base) + 100, "an acknowledged restore was lost"
    return ("new" if len(names) > len(base) else "old"), acknowledged


def test_kill_during_restore_leaves_old_or_new(new_sim):
    """Power cuts spread over the upload (about 1 s at 115200 baud) and the write."""
    key = bytes(range(32))
    records = [fmt.encode_record(parse_uri(u)) for u in random_uris(100, seed=42)]
    blob = fmt.seal(records, key)
    seen = []
    for n in range(12):
        sim = new_sim(baud=115200)
        with TokenClient.open(sim.port, timeout_s=5) as client:
            client.sync_time()
            client.add_accounts([parse_uri(u.replace("user", "base")) for u in random_uris(3)])
        delay = 0.12 * n + 0.05
        seen.append(_cut_during_restore(sim, blob, key, delay))
        print(f"cut at {delay:.2f} s: {seen[-1][0]} vault, acknowledged={seen[-1][1]}")
    assert {s for s, _ in seen} == {"old", "new"}, seen
