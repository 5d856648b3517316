"""The secret-leak scan every hil test ends with (conftest.py): every byte the simulated
tokens sent over the serial line, everything on their BLE link, and their console logs, against
every secret provisioned over the line and every push key enrolled, in every form a secret could
take (raw, base32, hex, base64). Secrets may only travel towards the token, inside acct.add."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable

_FRAME = re.compile(rb"#TK1:(\{.*?\}):[0-9a-f]{8}")


def provisioned(wire_in: bytes) -> list[bytes]:
    """The secrets the host sent in acct.add frames (the only place a secret may travel)."""
    found = []
    for m in _FRAME.finditer(wire_in):
        try:
            req = json.loads(m.group(1))
        except ValueError:
            continue
        if not isinstance(req, dict) or req.get("op") != "acct.add":
            continue
        for acc in req.get("a") or []:
            s = acc.get("s") if isinstance(acc, dict) else None
            if not isinstance(s, str):
                continue
            s = s.strip().replace(" ", "").upper()
            try:
                found.append(base64.b32decode(s + "=" * (-len(s) % 8)))
            except (binascii.Error, ValueError):
                continue
    return found


def forms(secret: bytes) -> set[bytes]:
    """How a secret could show: raw, base32 (with and without padding, either case), hex,
    base64 and base64url (with and without padding)."""
    b32 = base64.b32encode(secret)
    out = {secret, b32, b32.rstrip(b"="), b32.lower(), b32.rstrip(b"=").lower()}
    out |= {secret.hex().encode(), secret.hex().upper().encode()}
    for enc in (base64.b64encode(secret), base64.urlsafe_b64encode(secret)):
        out |= {enc, enc.rstrip(b"=")}
    return {f for f in out if len(f) >= 10}


def scan(places: dict[str, bytes], secrets: Iterable[bytes]) -> list[str]:
    """Where any form of any secret shows up: "place: form kind" lines (never the secret)."""
    hits = []
    for n, secret in enumerate(secrets):
        for form in forms(secret):
            for where, data in places.items():
                if form in data:
                    hits.append(f"secret #{n} found in {where}")
    return sorted(set(hits))
