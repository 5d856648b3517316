"""Push approval (docs/push.md), a challenge's first step: the checks and the MFA-fatigue
limits. Hardware-free: ble.challenge asks the person next (prompt.py), then push_reply.py
counts the answer and MACs it (or MACs the rejection). Enrolment and the other serial
operations are in push_admin.py, so each step loads only what it runs.

What it remembers is in push_state.py. Loaded for a step of a challenge, dropped after.
"""

import json
import os

import cryptolib
from micropython import const

from authtok import log as evlog
from authtok.mac import hmac
from authtok.push_state import State
from authtok.store import same

_RING = const(32)  # challenge ids and nonces remembered
_GLOBAL = const(10)  # prompts per hour, all accounts
_ACCOUNT = const(3)  # prompts per 10 minutes, one account
_LIFETIME_S = const(300)
_EARLY_S = const(60)
_SKEW_S = const(30)
_PROMPT_S = const(60)
_TEXT = (("id", 16), ("app", 32), ("loc", 48), ("ip", 45))


def ctr(key, nonce, data):
    """AES-256-CTR from ECB (MicroPython's cryptolib has no CTR): the counter block is the
    nonce plus the block index, mod 2^128."""
    aes = cryptolib.aes(key, 1)
    base = int.from_bytes(nonce, "big")
    out = bytearray(data)
    block = bytearray(16)
    for at in range(0, len(out), 16):
        aes.encrypt(((base + at // 16) & ((1 << 128) - 1)).to_bytes(16, "big"), block)
        for i in range(min(16, len(out) - at)):
            out[at + i] ^= block[i]
    return out


class Reject(Exception):
    """args: (index in push_reply.REASONS, the enrolment or None, the challenge id or None,
    paused until)."""


def _recent(times, now, window):
    return [t for t in times if now - window < t <= now]


def _fields(k_enc, nonce, text):
    """The plaintext's fields, each of its type and size (ValueError otherwise)."""
    f = json.loads(ctr(k_enc, nonce, text))
    for key, size in _TEXT:
        if not isinstance(f[key], str) or len(f[key].encode()) > size:
            raise ValueError
    for key in ("seq", "iat", "exp", "rpt", "num"):
        if not isinstance(f[key], int) or isinstance(f[key], bool) or not 0 <= f[key] < 1 << 63:
            raise ValueError  # seq is kept in 8 bytes: a larger one must not wrap
    if len(bytes.fromhex(f["id"])) != 8 or not 10 <= f["num"] <= 99 or f["seq"] < 1:
        raise ValueError
    for key in ("iat", "exp", "rpt"):
        if f[key] >= 1 << 32:
            raise ValueError
    return f


def check(state, msg, now, trusted):
    """(enrolment, fields, challenge id) after every check in docs/push.md §3 order; raises
    Reject."""
    if not 42 <= len(msg) <= 512 or msg[0] != 1:
        raise Reject(0)  # malformed
    e = state.find(bytes(msg[1:9]))
    if e is None:
        raise Reject(1)  # unknown_account
    if not same(hmac("SHA256", hmac("SHA256", e[1], b"mac"), msg[:-16])[:16], msg[-16:]):
        raise Reject(2)  # forged
    nonce = bytes(msg[9:25])
    try:
        f = _fields(hmac("SHA256", e[1], b"enc"), nonce, msg[25:-16])
    except MemoryError:
        raise  # the token's trouble, not the challenge's: answered as no_memory
    except Exception:  # bad JSON, a missing field, nesting too deep for the stack ...
        raise Reject(0, e) from None
    cid = bytes.fromhex(f["id"])
    f["nonce"] = nonce
    if not 0 < f["exp"] - f["iat"] <= _LIFETIME_S:
        raise Reject(3, e, f["id"])  # bad_lifetime
    ring = state.ring
    if f["seq"] <= e[2] or any(ring[i : i + 8] == cid or ring[i + 8 : i + 24] == nonce
                               for i in range(0, len(ring), 24)):
        raise Reject(4, e, f["id"])  # replayed
    if not trusted:
        raise Reject(6, e, f["id"])  # clock_untrusted
    if not f["iat"] - _EARLY_S <= now < f["exp"]:
        raise Reject(5, e, f["id"])  # expired
    until = e[4] if e[4] > now else 0
    mine = _recent(e[5], now, 600)
    if not until and len(mine) >= _ACCOUNT:
        until = mine[0] + 600
    every = _recent(state.times, now, 3600)
    if not until and len(every) >= _GLOBAL:
        until = every[0] + 3600
    if until:
        raise Reject(7, e, f["id"], until)  # rate_limited
    return e, f, cid


def numbers(num):
    """The right number and two others, in an order drawn from the RNG (each one inserted at
    a random place: a uniform shuffle)."""
    out = [num]
    while len(out) < 3:
        n = 10 + os.urandom(1)[0] % 90
        if n not in out:
            out.insert(os.urandom(1)[0] % (len(out) + 1), n)
    return out


def accept(dev, msg):
    """The first step of a challenge: the checks, then the challenge used up and counted as a
    prompt, in flash before anyone is asked. Returns (what to ask, what push_reply.settle
    needs), or for a rejected one (None, push_reply.reject's arguments). Never logs the
    context."""
    state = State(dev.push_file)
    now = dev.clock.now()
    try:
        e, f, cid = check(state, msg, now, dev.clock.trusted())
    except Reject as r:
        return None, (dev, msg[9:25], now) + (r.args + (None, None, 0))[:4]
    e[2] = f["seq"]
    state.ring = (state.ring + cid + f["nonce"])[-24 * _RING :]
    e[5] = (_recent(e[5], now, 600) + [now])[-_ACCOUNT:]
    state.times = (_recent(state.times, now, 3600) + [now])[-_GLOBAL:]
    state.save()
    skew = f["rpt"] - now
    if abs(skew) > _SKEW_S:
        dev.event(evlog.PUSH_CLOCK, min(abs(skew) // 60, 255))
    else:
        skew = 0
    ask = {"app": f["app"], "loc": f["loc"], "ip": f["ip"], "nums": numbers(f["num"]),
           "num": f["num"], "skew": skew, "account": str(e[6] or e[7], "utf-8"),
           "timeout_ms": 1000 * max(1, min(f["exp"] - now, _PROMPT_S))}
    return ask, (e[0], e[1], f["nonce"], f["id"], f["num"], now)
