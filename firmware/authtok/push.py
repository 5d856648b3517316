"""Push approval (docs/push.md): enrolment, the checks on a challenge, the MFA-fatigue limits
and the MAC'd answer. Hardware-free: the prompt comes from dev.ask_push (prompt.py).

The state (`/flash/push`, sealed under the device key, never in the vault and so never in a
backup) holds each enrolment's handle, push key, last sequence number and prompt history, the
last 32 challenge ids and nonces, and the last prompts overall. Loaded for a push request or
a challenge, dropped after.
"""

import json
import os
import struct

import cryptolib
from micropython import const

from authtok import log as evlog
from authtok import vault
from authtok.errors import Error, bad_param, not_found
from authtok.mac import hmac
from authtok.store import same

MAX_ENROLLED = const(16)
_RING = const(32)  # challenge ids and nonces remembered
_GLOBAL = const(10)  # prompts per hour, all accounts
_ACCOUNT = const(3)  # prompts per 10 minutes, one account
_RUN = const(3)  # failed prompts in a row before a pause
_PAUSE_S = const(900)
_LIFETIME_S = const(300)
_EARLY_S = const(60)
_SKEW_S = const(30)
_PROMPT_S = const(60)
_REASONS = ("malformed", "unknown_account", "forged", "bad_lifetime", "replayed", "expired",
            "clock_untrusted", "rate_limited")
_FIELDS = (("id", str, 16), ("app", str, 32), ("loc", str, 48), ("ip", str, 45))


class State:
    """Enrolments: [handle, key, seq, run, paused_until, [prompt times], issuer, name]."""

    def __init__(self, sealed):
        self._sealed = sealed
        self.entries = []
        self.times = []
        self.ring = []
        data = sealed.load()  # store.Corrupt if it fails its check
        if data:
            self._parse(data)

    def _parse(self, d):
        if d[:2] != b"P1":
            raise ValueError("push state version")
        n, nt, nr = d[2], d[3], d[4]
        at = 5
        self.times = list(struct.unpack_from(">%dI" % nt, d, at))
        at += 4 * nt
        self.ring = [bytes(d[at + 24 * i : at + 24 * i + 24]) for i in range(nr)]
        at += 24 * nr
        for _ in range(n):
            h, k = bytes(d[at : at + 8]), bytes(d[at + 8 : at + 40])
            seq, run, until, np = struct.unpack_from(">QBIB", d, at + 40)
            at += 54
            times = list(struct.unpack_from(">%dI" % np, d, at))
            at += 4 * np
            label = []
            for _ in "in":
                label.append(bytes(d[at + 1 : at + 1 + d[at]]))
                at += 1 + d[at]
            self.entries.append([h, k, seq, run, until, times, label[0], label[1]])

    def save(self):
        out = [b"P1", bytes((len(self.entries), len(self.times), len(self.ring)))]
        out.append(struct.pack(">%dI" % len(self.times), *self.times))
        out += self.ring
        for h, k, seq, run, until, times, issuer, name in self.entries:
            out.append(h + k + struct.pack(">QBIB", seq, run, until, len(times)))
            out.append(struct.pack(">%dI" % len(times), *times))
            out.append(bytes((len(issuer),)) + issuer + bytes((len(name),)) + name)
        self._sealed.save(out)

    def find(self, handle):
        for e in self.entries:
            if e[0] == handle:
                return e
        return None

    def by_label(self, issuer, name):
        for e in self.entries:
            if e[6] == issuer and e[7] == name:
                return e
        return None


def keys(pk):
    return hmac("SHA256", pk, b"enc"), hmac("SHA256", pk, b"mac"), hmac("SHA256", pk, b"ans")


def ctr(key, nonce, data):
    """AES-256-CTR from ECB (MicroPython's cryptolib has no CTR): the counter block is the
    nonce plus the block index, mod 2^128."""
    aes = cryptolib.aes(key, 1)
    base = int.from_bytes(nonce, "big")
    out = bytearray(data)
    block = bytearray(16)
    for at in range(0, len(out), 16):
        ctr_block = ((base + at // 16) & ((1 << 128) - 1)).to_bytes(16, "big")
        aes.encrypt(ctr_block, block)
        for i in range(min(16, len(out) - at)):
            out[at + i] ^= block[i]
    return out


def answer(entry, nonce, body):
    """The answer frame; MAC'd under the account's answer key when the challenge was
    authentic (entry given), else with a zero handle and tag."""
    j = json.dumps(body).encode()
    head = b"\x01" + (entry[0] if entry else bytes(8)) + struct.pack(">H", len(j)) + j
    if entry is None:
        return head + bytes(16)
    return head + hmac("SHA256", keys(entry[1])[2], nonce + head)[:16]


class Reject(Exception):
    def __init__(self, why, entry=None, cid=None, until=None):
        super().__init__(why)
        self.why, self.entry, self.cid, self.until = why, entry, cid, until


def _recent(times, now, window):
    return [t for t in times if now - window < t <= now]


def check(state, msg, now, trusted):
    """The challenge's fields, after every check in docs/push.md §3 order; raises Reject."""
    if not 42 <= len(msg) <= 512 or msg[0] != 1:
        raise Reject("malformed")
    e = state.find(bytes(msg[1:9]))
    if e is None:
        raise Reject("unknown_account")
    k_enc, k_mac, _ = keys(e[1])
    if not same(hmac("SHA256", k_mac, msg[:-16])[:16], msg[-16:]):
        raise Reject("forged")
    nonce = bytes(msg[9:25])
    try:
        f = json.loads(ctr(k_enc, nonce, msg[25:-16]))
        for key, kind, size in _FIELDS:
            if not isinstance(f[key], kind) or len(f[key].encode()) > size:
                raise ValueError
        cid = bytes.fromhex(f["id"])
        for key in ("seq", "iat", "exp", "rpt", "num"):
            if not isinstance(f[key], int) or isinstance(f[key], bool):
                raise ValueError
        if len(cid) != 8 or not 10 <= f["num"] <= 99 or not 0 < f["seq"] < 1 << 63:
            raise ValueError  # seq is kept in 8 bytes: a larger one must not wrap
        for key in ("iat", "exp", "rpt"):
            if not 0 <= f[key] < 1 << 32:
                raise ValueError
    except Exception:  # bad JSON, a missing field, nesting too deep for the stack ...
        raise Reject("malformed", e) from None
    f["nonce"] = nonce
    if not 0 < f["exp"] - f["iat"] <= _LIFETIME_S:
        raise Reject("bad_lifetime", e, f["id"])
    if f["seq"] <= e[2] or any(r[:8] == cid or r[8:] == nonce for r in state.ring):
        raise Reject("replayed", e, f["id"])
    if not trusted:
        raise Reject("clock_untrusted", e, f["id"])
    if not f["iat"] - _EARLY_S <= now < f["exp"]:
        raise Reject("expired", e, f["id"])
    until = e[4] if e[4] > now else 0
    mine = _recent(e[5], now, 600)
    if not until and len(mine) >= _ACCOUNT:
        until = mine[0] + 600
    every = _recent(state.times, now, 3600)
    if not until and len(every) >= _GLOBAL:
        until = every[0] + 3600
    if until:
        raise Reject("rate_limited", e, f["id"], until)
    return e, f, cid


def _remember(state, e, f, cid, now):
    """Before the prompt: this challenge can never be used again, and it counts as a prompt."""
    e[2] = f["seq"]
    state.ring = (state.ring + [cid + f["nonce"]])[-_RING:]
    e[5] = (_recent(e[5], now, 600) + [now])[-_ACCOUNT:]
    state.times = (_recent(state.times, now, 3600) + [now])[-_GLOBAL:]
    state.save()


def _settle(state, e, result, now):
    """After the prompt: a run of failures (or a fraud report) pauses the account's prompts."""
    if result == "approve":
        e[3] = 0
    else:
        e[3] = min(e[3] + 1, 255)
        if e[3] >= _RUN or result == "report":
            e[4] = now + _PAUSE_S
            e[3] = 0
    state.save()


def numbers(num):
    """The right number and two others, in an order drawn from the RNG."""
    out = [num]
    while len(out) < 3:
        n = 10 + os.urandom(1)[0] % 90
        if n not in out:
            out.append(n)
    for i in (2, 1):
        j = os.urandom(1)[0] % (i + 1)
        out[i], out[j] = out[j], out[i]
    return out


async def handle(dev, msg):
    """A challenge in, an answer out (bytes). Logs every outcome, never the context."""
    state = State(dev.push_file)
    now = dev.clock.now()
    trusted = dev.clock.trusted()
    try:
        e, f, cid = check(state, msg, now, trusted)
    except Reject as r:
        dev.event(evlog.PUSH_REJECTED, _REASONS.index(r.why))
        body = {"id": r.cid, "r": "rate_limited" if r.until else "rejected", "pick": None,
                "t": now, "why": r.why}
        if r.until:
            body["until"] = r.until
        return answer(None if r.why == "forged" else r.entry, bytes(msg[9:25]), body)
    _remember(state, e, f, cid, now)
    skew = f["rpt"] - now
    if abs(skew) > _SKEW_S:
        dev.event(evlog.PUSH_CLOCK, min(abs(skew) // 60, 255))
    ask = {
        "app": f["app"],
        "loc": f["loc"],
        "ip": f["ip"],
        "nums": numbers(f["num"]),
        "num": f["num"],
        "skew": skew if abs(skew) > _SKEW_S else 0,
        "account": str(e[6] or e[7], "utf-8"),
        "timeout_ms": 1000 * max(1, min(f["exp"] - now, _PROMPT_S)),
    }
    pick = None
    result = "timeout"  # nobody to ask: no display or buttons
    if dev.ask_push is not None:  # tests stand in for the person here
        result, pick = await dev.ask_push(ask)
    elif dev.screen is not None and dev.buttons is not None:
        from authtok import prompt

        result, pick = await prompt.ask(dev, ask)
    if result == "pick":
        result = "wrong_number" if pick != f["num"] else "approve"
    _settle(state, e, result, now)
    dev.event(evlog.PUSH_ANSWER, ("approve", "deny", "report", "wrong_number", "timeout")
              .index(result))
    return answer(e, f["nonce"], {"id": f["id"], "r": result, "pick": pick,
                                  "t": dev.clock.now()})


# --- serial operations (commands.py: push.enroll, push.list, push.revoke) ------------------


def _label(req):
    i, n = req.get("i", ""), req.get("n")
    if not isinstance(i, str) or not isinstance(n, str):
        raise bad_param("need i and n")
    return i, n


def push_enroll(dev, req):
    """Agree a push key with a relying party by X25519: the key never crosses a wire."""
    from authtok.x25519 import x25519

    i, n = _label(req)
    at, rec = dev.vault.find(i, n)  # not_found for an unknown account
    try:
        from binascii import a2b_base64

        rp = a2b_base64(req.get("rp", ""))
    except (ValueError, TypeError):
        rp = b""
    if len(rp) != 32:
        raise bad_param("rp must be a 32-byte X25519 public key in base64")
    state = State(dev.push_file)
    old = state.by_label(i.encode(), n.encode())
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
    from binascii import b2a_base64

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
    e = state.by_label(i.encode(), n.encode())
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
    e = state.by_label(*old)
    if e is None:
        return
    if new is None:
        state.entries.remove(e)
    else:
        e[6], e[7] = new
    state.save()
