"""Pairing and bonding on a real radio (LE Secure Connections, MITM by a passkey on the
display): the passkey, and bond keys kept sealed under the device key so a stolen flash dump
cannot impersonate a paired phone. Loaded by ble.py only when the stack asks, which the
simulator's radio never does."""

import json
import os

from micropython import const

_IRQ_GET_SECRET = const(29)
_IRQ_SET_SECRET = const(30)
_IRQ_PASSKEY = const(31)
_PASSKEY_DISPLAY = const(3)
_MAX_BONDS = const(16)


def irq(link, event, data):
    if event == _IRQ_PASSKEY:
        conn, action, _ = data
        if action == _PASSKEY_DISPLAY:
            passkey = int.from_bytes(os.urandom(4), "big") % 1000000
            link.ble.gap_passkey(conn, action, passkey)
            if link.show_passkey:
                link.show_passkey(passkey)
        return None
    if event == _IRQ_GET_SECRET:
        return _get(link.bonds, *data)
    if event == _IRQ_SET_SECRET:
        return _set(link.bonds, *data)
    return None


def _load(bonds):
    try:
        return json.loads(bonds.load() or b"[]") if bonds else []
    except ValueError:
        return []


def _get(bonds, kind, index, key):
    """The stack asks for a stored key: by its key, or the index-th of its kind."""
    found = [v for t, k, v in _load(bonds) if t == kind and (key is None or k == bytes(key).hex())]
    if key is None:
        found = found[index : index + 1]
    return bytes.fromhex(found[0]) if found else None


def _set(bonds, kind, key, value):
    """The stack stores (value) or forgets (None) a key; the newest 16 are kept."""
    if not bonds:
        return False
    key = bytes(key).hex()
    kept = [e for e in _load(bonds) if not (e[0] == kind and e[1] == key)]
    if value is not None:
        kept.append([kind, key, bytes(value).hex()])
    bonds.save((json.dumps(kept[-_MAX_BONDS:]).encode(),))
    return True
