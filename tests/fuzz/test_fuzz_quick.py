"""A quick run of every fuzzing campaign of bench/fuzz.py, with fixed seeds, for CI.

The full campaign (`.venv/bin/python bench/fuzz.py`, about 10 minutes) feeds millions of cases;
these feed a few thousand through the same code, so a campaign that breaks, or a bug that a
few thousand cases already find, shows here. The bugs the campaign found and that are not
fixed yet are listed in KNOWN; each has its own reproducer test below, marked xfail(strict):
when one is fixed, its test passes, fails as XPASS, and its KNOWN entry and marker go.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import fuzz  # noqa: E402

from tokenctl import backup as fmt  # noqa: E402
from tokenctl import frame as host_frame  # noqa: E402

SEED = 20260601
# Open findings (see the reproducer tests): the kind of each, as fuzz._kind gives it.
KNOWN: dict[str, list[str]] = {
    "host": [],
    "backup": [],
    "ble": [],
    "serial": [],
}


def unexpected(row: fuzz.Row, known: list[str]) -> list[str]:
    """The row's crashes and hangs that are not a known finding."""
    return [
        f"{f.kind}: {f.what}"
        for f in row.findings
        if f.kind in ("crash", "hang") and not any(k in f.what for k in known)
    ]


def test_frame_parsers_under_cpython():
    host = fuzz.run_mutator_frames("host", "host", 15_000, SEED)
    fw = fuzz.run_mutator_frames("fw", "fw", 15_000, SEED)
    assert host.cases == fw.cases == 15_000
    assert not unexpected(host, KNOWN["host"])
    assert fw.crashes == 0, fw.findings[:3]


def test_atheris_drives_both_frame_parsers(tmp_path):
    pytest.importorskip("atheris")
    rows = []
    for target in ("host", "fw"):
        started = fuzz.start_atheris(target, 20_000, SEED, tmp_path)
        rows.append(fuzz.finish_atheris(target, target, tmp_path, started))
    host, fw = rows
    assert host.cases == fw.cases == 20_000
    assert any(k.startswith("cov:") for k in host.notes), host.notes
    assert not unexpected(host, KNOWN["host"])
    assert fw.crashes == 0 and fw.hangs == 0, fw.findings[:3]


def test_dispatcher_under_micropython(tmp_path):
    row = fuzz.run_dispatch_mpy(2_000, SEED, tmp_path, batch=1_000)
    assert row.cases == 2_000
    assert row.crashes == 0 and row.hangs == 0, row.findings[:3]
    # The mutated frames reach the handlers, not only the frame parser.
    assert row.notes["ok"] > 50 and row.notes["bad_param"] > 10, row.notes


def test_serial_port_of_a_simulated_token(tmp_path):
    row = fuzz.run_serial(500, SEED, tmp_path, batch=100)
    assert row.cases == 500
    assert not unexpected(row, KNOWN["serial"])
    assert row.notes["bad_frame"] > 50 and row.notes["ok"] > 10, row.notes


def test_ble_challenges_over_the_simulated_radio(tmp_path):
    row = fuzz.run_ble(120, SEED, tmp_path)
    assert row.cases == 120
    assert not unexpected(row, KNOWN["ble"])
    assert not any("approve" in k for k in row.notes), row.notes
    assert row.notes["rejected:forged"] > 10 and row.notes["dropped (chunking)"] > 5, row.notes


def test_backup_files_and_restore(tmp_path):
    sim, data, keys = fuzz.make_backup(tmp_path)
    try:
        files = fuzz.run_backup_files(1_500, SEED, data, keys)
        restore = fuzz.run_restore(30, SEED, sim, data, keys)
    finally:
        sim.stop()
    assert files.cases == len(data) + 1 + 1_500  # every truncation, a wrong passphrase, 1,500
    assert not unexpected(files, KNOWN["backup"])
    assert files.notes["BackupError"] > 1_000
    assert restore.cases == 30 and restore.notes["bad_backup"] == 30, restore.notes
    assert restore.crashes == 0 and restore.hangs == 0, restore.findings[:3]


def test_mutator_and_models_are_deterministic():
    assert list(fuzz.iter_lines(5, 200)) == list(fuzz.iter_lines(5, 200))
    model = fuzz.ChunkModel()
    pieces = fuzz.chunked(b"x" * 40)
    assert [model.feed(p) for p in pieces] == [None, None, b"x" * 40]
    assert model.feed(pieces[1]) is None  # out of order: dropped
    assert fuzz.fw_would_restore(b"V1") and not fuzz.fw_would_restore(b"V2")


# --- reproducers of the open findings --------------------------------------------------------


def test_host_decoder_refuses_deep_nesting_as_a_damaged_frame():
    line = fuzz.with_crc(b'{"id":1,"ok":1,"a":' + b"[" * 1000 + b"]" * 1000 + b"}")
    assert len(line) < host_frame.MAX_LINE  # a line the host must read
    with pytest.raises(host_frame.FrameError):
        host_frame.decode_line(line)


def _backup_with_header(**changes) -> bytes:
    kdf = dict(fmt.KDF_FLOOR, alg="argon2id", salt=base64.b64encode(b"s" * 16).decode())
    keys = fmt.derive("pass phrase", kdf)
    header = fmt.Header(
        kdf=kdf,
        check=base64.b64encode(keys.check).decode(),
        serial="00aa11bb22cc",
        fw="0.1.0",
        board="sim",
        created=1_790_000_000,
        generation=1,
        accounts=0,
    )
    raw = json.loads(header.to_json())
    raw.update(changes)
    return fuzz._repack(raw, fmt.seal([], keys.device), keys)


@pytest.mark.parametrize("value", ["x", [1], 1e400])
def test_backup_header_with_a_bad_push_marked_is_a_backup_error(value):
    data = _backup_with_header(push_marked=value)
    with pytest.raises(fmt.BackupError):
        fmt.read_header(data)


def test_a_deeply_nested_authenticated_challenge_still_gets_an_answer(tmp_path):
    from tokenctl.client import TokenClient
    from tokenctl.otpauth import parse_uri
    from tokenctl.push import chunks
    from tokenctl.push.api import PushServer
    from tokenctl.push.store import PushStore
    from tokenctl.sim.token import SimToken

    sim = SimToken(tmp_path / "t", heap="160K").start()
    try:
        with TokenClient.open(sim.port, timeout_s=10) as c:
            c.sync_time()
            c.add_accounts([parse_uri(fuzz._uris()[0])])
            enrol = PushServer(PushStore.open(tmp_path / "rp.db")).enroll(c, "GitHub")
        fuzz._ble_up(sim)
        plain = b'{"id":' + b"[" * 300
        msg = fuzz.seal_raw(enrol.push_key, enrol.handle, plain, bytes(range(16)))
        assert fuzz._write_all(sim.parts.ble, chunks.split(msg), burst=16)
        answer = fuzz._gather(sim.parts.ble, chunks, 8)
        assert answer is not None, (sim.state_dir / "console.log").read_text()[-300:]
    finally:
        sim.stop()


def test_an_account_label_of_invalid_utf8_is_refused(tmp_path):
    import serial

    from tokenctl.client import TokenClient
    from tokenctl.sim.token import SimToken

    sim = SimToken(tmp_path / "t").start()
    try:
        with serial.serial_for_url(sim.port, timeout=5) as ser:
            body = b'{"id":7,"op":"acct.add","a":[{"n":"a\xc0\x80b","s":"%s"}]}' % (
                fuzz.SECRET_A.encode()
            )
            ser.write(b"\n" + fuzz.with_crc(body) + b"\n")
            answer = ser.readline()
        assert b'"ok":1' not in answer, answer  # refused as damaged, or as a bad name
        with TokenClient.open(sim.port, timeout_s=3) as c:
            assert c.accounts() == []
    finally:
        sim.stop()


def test_a_huge_backup_generation_does_not_break_later_backups(tmp_path):
    frames = [
        {"op": "pin.set", "pin": "5829"},
        {"op": "unlock", "pin": "5829"},
        {"op": "backup.begin", "k": "cd" * 32, "pin": "5829"},
        {"op": "backup.done", "gen": 2**32 - 1, "t": 0},
        {"op": "backup.begin", "k": "cd" * 32, "pin": "5829"},
    ]
    lines = [fuzz.encode_frame(dict(f, id=n + 1)) + b"\n" for n, f in enumerate(frames)]
    row = fuzz.run_dispatch_mpy(0, 0, tmp_path, given=lines)
    assert row.notes["ok"] >= 4
    assert row.crashes == 0, row.findings[:1]


def test_seal_raw_matches_the_reference():
    """The campaign's own sealing (any plaintext) agrees with tokenctl.push.crypto's."""
    from tokenctl.push import crypto

    pk, handle, nonce = bytes(range(32)), bytes(8), bytes(range(16))
    now = int(time.time())
    fields = {"id": "0123456789abcdef", "seq": 1, "iat": now, "exp": now + 2, "rpt": now,
              "app": "a", "loc": "b", "ip": "c", "num": 42}  # fmt: skip
    want, _ = crypto.seal_challenge(pk, handle, fields, nonce)
    plain = json.dumps(fields, separators=(",", ":")).encode()
    assert fuzz.seal_raw(pk, handle, plain, nonce) == want
    body = want[:-16]
    assert hmac.new(crypto.subkeys(pk).mac, body, hashlib.sha256).digest()[:16] == want[-16:]
    assert struct.unpack(">B", want[:1])[0] == 1
