"""Names and descriptions of the token's diagnostic log events.

The token keeps only numbers (firmware/authtok/log.py, where the codes are defined: its heap is
too small for a table of names) and `log.read` answers each record as a list

    [seq, time, code, arg, detail]

seq: the record's sequence number; time: Unix seconds, or 0 when the token's clock was not
trusted; code: the event code below; arg: 0..255, what it means depends on the event; detail: a
short tag (at most 5 characters, never a secret). The codes are stable: new ones are only ever
appended, on both sides (tests/host/test_events.py checks this table against the firmware's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Event(NamedTuple):
    name: str  # the firmware constant's name in lower case
    text: str  # what happened, for people
    arg: str | None = None  # what arg counts or names (None: shown only when not 0)


EVENTS: dict[int, Event] = {
    1: Event("boot", "Token started"),
    2: Event("unlock_pin", "Unlocked with the PIN"),
    3: Event("unlock_finger", "Unlocked with a finger", "finger"),
    4: Event("bad_pin", "Wrong PIN", "tries left"),
    5: Event("bad_finger", "Finger not recognised", "failed fingers"),
    6: Event("pin_blocked", "PIN refused: blocked", "tries left"),
    7: Event("pin_brake", "PIN refused until a power cycle"),
    8: Event("finger_limit", "Too many wrong fingers: PIN needed"),
    9: Event("lock", "Locked"),
    10: Event("auto_lock", "Locked after inactivity"),
    11: Event("time_sync", "Clock set from the host"),
    12: Event("clock_lost", "Clock lost its time"),
    13: Event("wipe", "Factory reset: accounts and fingers erased"),
    14: Event("vault_corrupt", "Account store failed its integrity check"),
    15: Event("error", "Error"),
    16: Event("enroll", "Finger enrolled", "finger"),
    17: Event("finger_removed", "Finger removed", "finger"),
    18: Event("settings", "Settings changed"),
    19: Event("restore", "Accounts restored from a backup"),
    20: Event("backup", "Accounts backed up"),
    21: Event("pin_change", "PIN changed"),
    22: Event("push_enroll", "Push enrolled"),
    23: Event("push_rejected", "Push challenge rejected", "reason"),
    24: Event("push_answer", "Push answered", "answer"),
    25: Event("push_clock", "Relying party's clock disagrees", "minutes"),
}
# What `arg` means for the push events: firmware/authtok/push_reply.py's tables.
PUSH_REASONS = (
    "malformed",
    "unknown_account",
    "forged",
    "bad_lifetime",
    "replayed",
    "expired",
    "clock_untrusted",
    "rate_limited",
)
PUSH_ANSWERS = ("approve", "deny", "report", "wrong_number", "timeout")


def describe(record: Sequence) -> dict:
    """One record as `log.read` sends it ([seq, time, code, arg, detail]) as a dict: the
    fields by name, plus `event` (the code's name, "e<code>" for a code this host does not
    know) and `text` (a sentence for people). ValueError for anything but five fields."""
    if isinstance(record, str | bytes) or len(record) != 5:
        raise ValueError(f"a log record has 5 fields: {record!r}")
    seq, time, code, arg, detail = record
    event = EVENTS.get(code) or Event(f"e{code}", f"Unknown event {code}")
    text = event.text
    names = {23: PUSH_REASONS, 24: PUSH_ANSWERS}.get(code)
    if names and 0 <= arg < len(names):
        text += f" ({event.arg}: {names[arg]})"
    elif event.arg is not None:
        text += f" ({event.arg}: {arg})"
    elif arg:
        text += f" (arg {arg})"
    if detail:
        text += f" [{detail}]"
    return {
        "seq": seq,
        "time": time,
        "code": code,
        "event": event.name,
        "arg": arg,
        "detail": detail,
        "text": text,
    }
