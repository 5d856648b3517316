"""Changing what the token holds: validating and adding accounts, renaming, moving,
removing, setting the clock and the PIN. Used at a bench or by the owner, rarely in a day, so
commands.py loads this module for the request and drops it after.
"""

import struct

from authtok import log as evlog
from authtok import vault
from authtok.base32 import b32decode
from authtok.commands import _ref, is_int
from authtok.errors import Error, bad_param
from authtok.lock import check_pin_format
from authtok.vault import _HOTP, _TOUCH, _VERSION, ALGS, MAX_ACCOUNTS, _framed, _label_of, label


def _text(value, what, allow_empty):
    if not isinstance(value, str):
        raise bad_param(what + " must be text")
    for ch in value:
        c = ord(ch)
        if c < 32 or c == 127:
            raise bad_param(what + " must not contain control characters")
        if 0xD800 <= c <= 0xDFFF:  # half of a JSON surrogate pair: MicroPython keeps them apart
            raise bad_param(what + " must be valid text (send characters beyond U+FFFF as UTF-8)")
    raw = value.encode()
    if len(raw) > 64 or (not raw and not allow_empty):
        raise bad_param(what + " must be 1 to 64 bytes" if not allow_empty else
                        what + " must be at most 64 bytes")
    return raw


def _int(d, key, default, lo, hi, what):
    v = d.get(key, default)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise bad_param("%s must be %d..%d" % (what, lo, hi))
    return v


def encode(d):
    """Validate a wire account (see docs/protocol.md) and pack it as a record."""
    if not isinstance(d, dict):
        raise bad_param("account must be an object")
    kind = d.get("k", 0)
    if isinstance(kind, bool) or kind not in (0, 1) or not isinstance(kind, int):
        raise bad_param("type must be totp or hotp")
    alg = d.get("a", "SHA1")
    if alg not in ALGS:
        raise Error("bad_algorithm", "algorithm must be SHA1, SHA256 or SHA512")
    digits = _int(d, "d", 6, 6, 8, "digits")
    try:
        secret = b32decode(d.get("s", ""))
    except (ValueError, TypeError):
        raise Error("bad_secret", "secret is not valid base32") from None
    if not 10 <= len(secret) <= 64:
        raise Error("bad_secret", "secret must be 10 to 64 bytes (80 to 512 bits)")
    issuer = _text(d.get("i", ""), "issuer", True)
    name = _text(d.get("n"), "name", False)
    flags = kind | (ALGS.index(alg) << 1) | (_TOUCH if d.get("t") else 0)
    if kind:
        var = struct.pack(">Q", _int(d, "c", 0, 0, 0xFFFFFFFFFFFFFFFF, "counter"))
    else:
        var = struct.pack(">H", _int(d, "p", 30, 1, 3600, "period"))
    return (bytes((flags, digits)) + var + bytes((len(secret),)) + secret +
            bytes((len(issuer),)) + issuer + bytes((len(name),)) + name)


def _secret_end(rec):
    at = 10 if rec[0] & _HOTP else 4
    return at + 1 + rec[at]


def relabel(rec, issuer, name):
    """The same account under a new issuer and name."""
    issuer = _text(issuer, "issuer", True)
    name = _text(name, "name", False)
    return (rec[:_secret_end(rec)] + bytes((len(issuer),)) + issuer +
            bytes((len(name),)) + name)


def _digest(key):
    """8 bytes that stand for an (issuer, name) label when checking a batch for duplicates."""
    import hashlib

    return hashlib.sha256(key[0] + b"\x00" + key[1]).digest()[:8]


class Batch:
    """New accounts streamed into the next vault behind the current one (see acct.add)."""

    def __init__(self, vault):
        self._vault = vault
        self._seen = vault._digests  # 8-byte label digests of every account so far
        self._w = vault._sealed.writer()
        self.count = 0
        try:
            self._w.write(_VERSION)
            for rec in vault.records():
                self._take(rec)
        except BaseException:
            self._w.abort()
            raise

    def _has(self, d):
        end = 8 * self.count
        at = self._seen.find(d, 0, end)
        while at >= 0:
            if at % 8 == 0:
                return True
            at = self._seen.find(d, at + 1, end)
        return False

    def _take(self, rec):
        at = 8 * self.count
        self._seen[at:at + 8] = _digest(_label_of(rec))
        self._w.write(_framed(rec))
        self.count += 1

    def add(self, records):
        """Check a frame's records against everything so far, then stream them out."""
        if self.count + len(records) > MAX_ACCOUNTS:
            raise Error("vault_full", "the token holds at most %d accounts" % MAX_ACCOUNTS)
        digests = []
        for rec in records:
            key = _label_of(rec)
            d = _digest(key)
            if self._has(d) or d in digests:
                raise Error("duplicate", "account %s already exists" %
                            label(str(key[0], "utf-8"), str(key[1], "utf-8")))
            digests.append(d)
        for rec in records:
            self._take(rec)

    def commit(self):
        self._w.commit()
        self._vault.count = self.count

    def abort(self):
        self._w.abort()


def time_set(dev, req):
    t = req.get("t")
    if not is_int(t) or not 946684800 <= t < 7258118400:  # the DS3231's 2000..2199
        raise bad_param("time must be Unix seconds between 2000 and 2199")
    try:
        offset = dev.clock.set(t)
    except OSError:
        raise Error("rtc_error", "the clock chip did not answer; run time sync again") from None
    dev.save_conf(dict(dev.conf, sync=t))
    dev.event(evlog.TIME_SYNC)
    return {"offset": offset, "now": t}


def acct_add(dev, req):
    """Add a batch. A batch too big for one frame comes as several with "more": each frame
    streams into the next vault and the last one commits it, so it is all or nothing."""
    batch = req.get("a")
    if not isinstance(batch, list) or not batch:
        raise bad_param("a batch of accounts (a) is required")
    records = []
    weak = []
    for n, d in enumerate(batch):
        try:
            rec = encode(d)
        except Error as e:
            e.extra["index"] = n
            raise
        if len(vault.Account(rec).secret) < 16:  # accepted: many services still use 80 bits
            weak.append(n)
        records.append(rec)
    seq = req.get("seq", 0)
    if not is_int(seq) or seq < 0:
        raise bad_param("seq must be a non-negative integer")
    if seq == 0:
        dev.drop_batch()  # a new batch: whatever an abandoned one staged goes
        dev.batch = Batch(dev.vault)
        dev.batch_seq = 0
    elif dev.batch is None or seq != dev.batch_seq + 1:
        raise Error("batch_lost", "this batch was interrupted: send it again from its start")
    dev.batch_seq = seq
    dev.batch.add(records)
    if req.get("more"):
        return {"staged": dev.batch.count - dev.vault.count, "weak": weak}
    before = dev.vault.count
    b, dev.batch = dev.batch, None
    b.commit()
    return {"added": dev.vault.count - before, "weak": weak, "total": dev.vault.count}


def acct_rename(dev, req):
    i, rec = _ref(dev, req)
    new = relabel(rec, req.get("ni", ""), req.get("nn"))
    acc = vault.Account(new)
    try:
        if dev.vault.find(acc.issuer, acc.name)[0] != i:
            raise Error("duplicate",
                        "account %s already exists" % vault.label(acc.issuer, acc.name))
    except Error as e:
        if e.code != "not_found":
            raise
    dev.vault.replace(i, new)
    return {}


def acct_remove(dev, req):
    dev.vault.remove(_ref(dev, req)[0])
    return {"total": dev.vault.count}


def acct_move(dev, req):
    to = req.get("to")
    if not is_int(to):
        raise bad_param("position (to) must be an integer")
    dev.vault.move(_ref(dev, req)[0], to)
    return {}


def pin_set(dev, req):
    if dev.lock.pin_set:
        raise Error("pin_set", "a PIN is already set: use pin change")
    dev.lock.set_pin(req.get("pin"))
    return {}


def pin_change(dev, req):
    check_pin_format(req.get("new"))  # refuse a bad new PIN before spending a try
    dev.lock.verify(req.get("old"))
    dev.lock.set_pin(req.get("new"))
    return {}


