"""The push operations over serial (docs/protocol.md §5.23): enrol by X25519, list, revoke, and
an enrolment following its account's rename or removal. Loaded for the request, dropped after;
a challenge never loads this module (push.py)."""

import os

from micropython import const

from authtok import log as evlog
from authtok import vault
from authtok.errors import Error, bad_param, not_found
from authtok.mac import hmac
from authtok.push_state import State

MAX_ENROLLED = const(16)


def _label(req):
    i, n = req.get("i", ""), req.get("n")
    if not isinstance(i, str) or not isinstance(n, str):
        raise bad_param("need i and n")
    return i, n


def _by_label(state, issuer, name):
    for e in state.entries:
        if e[6] == issuer and e[7] == name:
            return e
    return None


def push_enroll(dev, req):
    """Agree a push key with a relying party by X25519: the key never crosses a wire."""
    from binascii import a2b_base64, b2a_base64

    from authtok.x25519 import x25519

    i, n = _label(req)
    at, rec = dev.vault.find(i, n)  # not_found for an unknown account
    try:
        rp = a2b_base64(req.get("rp", ""))
    except (ValueError, TypeError):
        rp = b""
    if len(rp) != 32:
        raise bad_param("rp must be a 32-byte X25519 public key in base64")
    state = State(dev.push_file)
    old = _by_label(state, i.encode(), n.encode())
    if old is None and len(state.entries) >= MAX_ENROLLED:
        raise Error("push_full", "at most %d push accounts" % MAX_ENROLLED)
    secret = os.urandom(32)
    pub = x25519(secret)
    shared = x25519(secret, rp)
    if shared == bytes(32):
        raise bad_param("rp is not a usable public key")
    handle = os.urandom(8)
    pk = hmac("SHA256", shared, b"authtok push v1" + handle + pub + rp)
    if old is not None:
        state.entries.remove(old)
    state.entries.append([handle, pk, 0, 0, 0, [], i.encode(), n.encode()])
    state.save()
    if rec[0] & vault.REVERIFY:  # restored from a backup: verified again now
        dev.vault.replace(at, vault.with_flag(rec, vault.REVERIFY, False))
    dev.event(evlog.PUSH_ENROLL)  # commands.py turns the radio on after this request
    return {"h": handle.hex(), "pub": b2a_base64(pub, newline=False).decode(),
            "serial": dev.serial}


def push_list(dev, req):
    state = State(dev.push_file)
    now = dev.clock.now()
    return {"p": [{"i": str(e[6], "utf-8"), "n": str(e[7], "utf-8"), "h": e[0].hex(),
                   "paused_until": e[4] if e[4] > now else None} for e in state.entries]}


def push_revoke(dev, req):
    i, n = _label(req)
    state = State(dev.push_file)
    e = _by_label(state, i.encode(), n.encode())
    if e is None:
        raise not_found("no push enrolment for that account")
    state.entries.remove(e)
    if state.entries:
        state.save()
    else:  # nothing enrolled: the radio stays off from the next boot on
        os.remove("/flash/push")
    return {}


def relabel(dev, old, new):
    """An account was renamed (new: (issuer, name)) or removed (new None): its enrolment
    follows or goes."""
    state = State(dev.push_file)
    e = _by_label(state, *old)
    if e is None:
        return
    if new is None:
        state.entries.remove(e)
    else:
        e[6], e[7] = new
    state.save()
