"""The hil suite's leak scan (hil_tests/leaks.py) must find a leak in any form it can take."""

import base64
import sys
from pathlib import Path

import pytest

from tokenctl import frame

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hil_tests"))
import leaks  # noqa: E402

SECRET = bytes(range(7, 27))


def test_secrets_are_read_from_acct_add_frames_only():
    b32 = base64.b32encode(SECRET).decode().rstrip("=")
    wire = frame.encode({"id": 1, "op": "acct.add", "a": [{"s": b32.lower(), "n": "x"}]})
    wire += frame.encode({"id": 2, "op": "unlock", "pin": "1234"}) + b"noise\n"
    assert leaks.provisioned(wire) == [SECRET]


@pytest.mark.parametrize("form", sorted(leaks.forms(SECRET)))
def test_every_form_is_found(form):
    out = b'#TK1:{"id":3,"ok":1,"x":"' + form + b'"}:00000000\n'
    assert leaks.scan({"serial output": out}, [SECRET]) == ["secret #0 found in serial output"]


def test_clean_output_passes():
    assert (
        leaks.scan({"serial output": b'{"id":3,"ok":1}', "log": b"[token] ready"}, [SECRET]) == []
    )
