"""tokenctl.events: the host's names for the event codes the firmware's log stores."""

import ast
from pathlib import Path

import pytest

from tokenctl.events import EVENTS, describe

LOG_PY = Path(__file__).resolve().parents[2] / "firmware" / "authtok" / "log.py"

# On flash and in the protocol: these numbers must never change (new codes are appended).
STABLE = {
    "boot": 1,
    "unlock_pin": 2,
    "unlock_finger": 3,
    "bad_pin": 4,
    "bad_finger": 5,
    "pin_blocked": 6,
    "pin_brake": 7,
    "finger_limit": 8,
    "lock": 9,
    "auto_lock": 10,
    "time_sync": 11,
    "clock_lost": 12,
    "wipe": 13,
    "vault_corrupt": 14,
    "error": 15,
    "enroll": 16,
    "finger_removed": 17,
    "settings": 18,
    "restore": 19,
    "backup": 20,
    "pin_change": 21,
    "push_enroll": 22,
    "push_rejected": 23,
    "push_answer": 24,
    "push_clock": 25,
}


def firmware_consts() -> list[tuple[str, int]]:
    """Every module-level `NAME = const(<int>)` of firmware/authtok/log.py, in source order."""
    out = []
    for node in ast.parse(LOG_PY.read_text()).body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id == "const"
            and len(node.value.args) == 1
            and isinstance(node.value.args[0], ast.Constant)
            and type(node.value.args[0].value) is int
        ):
            out.append((node.targets[0].id, node.value.args[0].value))
    return out


def firmware_codes() -> dict[str, int]:
    """The event codes: the consts from BOOT up to _LAST, by lower-case name without the
    leading underscore that keeps the ones no other module logs out of the device's heap."""
    consts = firmware_consts()
    names = [name for name, _ in consts]
    assert "BOOT" in names and "_LAST" in names, "log.py no longer defines BOOT .. _LAST"
    block = consts[names.index("BOOT") : names.index("_LAST")]
    return {name.lstrip("_").lower(): code for name, code in block}


def test_host_table_covers_every_firmware_code():
    codes = firmware_codes()
    assert codes, "no event codes found in log.py"
    missing = {name: code for name, code in codes.items() if code not in EVENTS}
    assert not missing, f"tokenctl/events.py has no entry for {missing}"
    # Same number, same name: the host describes what the firmware meant.
    assert {code: EVENTS[code].name for code in codes.values()} == {
        code: name for name, code in codes.items()
    }
    assert set(EVENTS) == set(codes.values()), "the host names codes the firmware lacks"


def test_firmware_codes_are_dense_unique_and_last_is_last():
    codes = firmware_codes()
    last = dict(firmware_consts())["_LAST"]
    assert sorted(codes.values()) == list(range(1, len(codes) + 1))
    assert last == max(codes.values())  # log.event accepts 1.._LAST


def test_codes_are_stable():
    assert firmware_codes() == STABLE
    assert {e.name: code for code, e in EVENTS.items()} == STABLE


def test_table_is_well_formed():
    names = [e.name for e in EVENTS.values()]
    assert len(set(names)) == len(names)
    for code, e in EVENTS.items():
        assert 1 <= code <= 255
        assert e.name and e.name == e.name.lower() and e.name.isidentifier()
        assert e.text and e.text[0].isupper() and not e.text.endswith(".")


def test_describe():
    assert describe([7, 1700000000, 4, 2, ""]) == {
        "seq": 7,
        "time": 1700000000,
        "code": 4,
        "event": "bad_pin",
        "arg": 2,
        "detail": "",
        "text": "Wrong PIN (tries left: 2)",
    }
    assert describe([8, 0, 4, 0, ""])["text"] == "Wrong PIN (tries left: 0)"
    assert describe((1, 0, 1, 0, ""))["text"] == "Token started"
    d = describe([2, 5, 15, 1, "fp"])
    assert (d["event"], d["text"]) == ("error", "Error (arg 1) [fp]")
    assert describe([3, 0, 18, 0, "beep"])["text"] == "Settings changed [beep]"
    unknown = describe([4, 0, 200, 3, "x"])
    assert (unknown["event"], unknown["text"]) == ("e200", "Unknown event 200 (arg 3) [x]")
    assert all(describe([1, 0, code, 0, ""])["event"] == e.name for code, e in EVENTS.items())


@pytest.mark.parametrize("bad", [[], [1, 2, 3, 4], [1, 2, 3, 4, 5, 6], "abcde", b"abcde"])
def test_describe_rejects_malformed_records(bad):
    with pytest.raises(ValueError):
        describe(bad)
