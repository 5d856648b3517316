"""Bad input gets one clear message and a non-zero exit, and the vault is unchanged."""

from __future__ import annotations

import json
import re

import pytest
from accounts import GITHUB_URI

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.mark.parametrize(
    "uri, exit_code, message",
    [
        ("https://example.com/?secret=" + SECRET, 8, "scheme"),
        ("otpauth://totp/A:b?secret=NOT*BASE32", 8, "base32"),
        ("otpauth://totp/A:b?secret=" + SECRET + "&algorithm=MD5", 8, "algorithm"),
        ("otpauth://totp/A:b?secret=" + SECRET + "&digits=9", 8, "digits"),
        ("otpauth://hotp/A:b?secret=" + SECRET, 8, "counter"),
        ("otpauth://totp/A:b?secret=" + SECRET + "&issuer=B", 8, "issuer"),
        ("otpauth://totp/A:b?secret=GEZDGNBV", 8, "short"),
    ],
)
def test_malformed_uris_are_refused_locally(cli, token, uri, exit_code, message):
    before = token.info()
    r = cli("accounts", "add", uri)
    assert r.returncode == exit_code
    assert message in r.stderr.lower()
    assert SECRET not in r.stderr + r.stdout and "NOT*BASE32" not in r.stderr
    assert r.stderr.count("\n") == 1  # one readable line, no traceback
    assert token.info()["accounts"] == before["accounts"]


def test_duplicate_and_unknown_account(cli, token):
    assert cli("accounts", "add", GITHUB_URI).returncode == 0
    r = cli("accounts", "add", GITHUB_URI)
    assert r.returncode == 4 and "already exists" in r.stderr
    r = cli("accounts", "remove", "nobody", "--force")
    assert r.returncode == 6 and "no account matches" in r.stderr
    r = cli("code", "nobody")
    assert r.returncode == 6
    assert token.info()["accounts"] == 1


def test_a_bad_line_in_a_batch_adds_nothing(cli, token, tmp_path):
    path = tmp_path / "batch.txt"
    path.write_text(GITHUB_URI + "\notpauth://totp/X:y?secret=%%%\n")
    r = cli("accounts", "add", "--from", str(path))
    assert r.returncode == 8 and "line 2" in r.stderr
    assert token.info()["accounts"] == 0


def test_a_duplicate_in_a_device_batch_adds_nothing(token):
    from tokenctl.errors import DeviceError
    from tokenctl.otpauth import parse_uri

    acc = parse_uri(GITHUB_URI)
    with pytest.raises(DeviceError) as e:
        token.add_accounts([acc, acc])
    assert e.value.code == "duplicate"
    assert token.info()["accounts"] == 0


def test_no_device_on_the_port(tmp_path):
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "tokenctl.cli.main", "--port", str(tmp_path / "ttyNONE"), "info"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 3 and "no device on" in r.stderr


def test_device_that_stops_answering(sim_only, cli):
    sim_only.power_cut()
    r = cli("info")
    assert r.returncode == 7 and "stopped answering" in r.stderr


def test_garbage_and_truncated_frames_are_skipped(dut):
    """Raw bytes through pytest-embedded's serial: noise, a truncated frame, an oversize
    line and binary garbage; the token then still answers a good frame."""
    from tokenctl import frame

    dut.write(b"REPL noise >>> \r\n" + b'#TK1:{"id":5,"op":"info"}:0000\n')
    dut.expect(re.compile(rb'"err":"bad_frame"'), timeout=5)
    dut.write(bytes(range(256)) * 40 + b"\n")  # 10 KiB of binary garbage, one "line"
    dut.write(frame.encode({"id": 77, "op": "info"}))
    m = dut.expect(re.compile(rb'#TK1:(\{[^\n]*"id":77[^\n]*\}):[0-9a-f]{8}'), timeout=5)
    assert json.loads(m.group(1))["proto"] == 1
