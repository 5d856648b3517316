"""Provisioning: setting the clock, validating what the host sends and streaming a batch of
accounts into the vault (acct.add), and the label check a rename shares. Used at a bench or by
the owner, rarely in a day, so commands.py loads this module for the request and drops it after
(a batch keeps it until its last frame). Editing the list and the PIN are in admin.py: here
they would weigh on a batch's peak.
"""

from authtok import commands, vault
from authtok import log as evlog
from authtok.errors import Error, bad_param

# Few module-level names: this module loads while a batch frame's parsed accounts fill the
# heap, and its globals dict is one block (37 slots take 592 bytes, 23 take 368).


def _text(value, what, allow_empty):
    """The label as UTF-8, checked byte by byte: iterating a str would intern each distinct
    character as a qstr, heap that is never given back."""
    if not isinstance(value, str):
        raise bad_param(what + " must be text")
    raw = value.encode()
    prev = need = 0
    for c in raw:  # UTF-8: bytes < 128 are ASCII characters, never part of another one
        if c < 32 or c == 127:
            raise bad_param(what + " must not contain control characters")
        if prev == 0xED and c >= 0xA0:  # U+D800..DFFF, half of a JSON surrogate pair
            raise bad_param(what + " must be valid text (send characters beyond U+FFFF as UTF-8)")
        # MicroPython's json takes any bytes into a str: the UTF-8 is checked here. Lead bytes
        # C0, C1 and F5-FF, overlong E0/F0 forms and F4 beyond U+10FFFF are refused.
        if need:
            bad = c & 0xC0 != 0x80 or (prev == 0xE0 and c < 0xA0) or (
                prev == 0xF0 and c < 0x90) or (prev == 0xF4 and c >= 0x90)
            need -= 1
        elif c >= 0x80:
            bad = c < 0xC2 or c > 0xF4
            need = 1 if c < 0xE0 else 2 if c < 0xF0 else 3
        else:
            bad = False
        if bad:
            raise bad_param(what + " must be valid UTF-8")
        prev = c
    if need:
        raise bad_param(what + " must be valid UTF-8")
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
    if alg not in vault.ALGS:
        raise Error("bad_algorithm", "algorithm must be SHA1, SHA256 or SHA512")
    digits = _int(d, "d", 6, 6, 8, "digits")
    from authtok.base32 import b32decode

    try:
        secret = b32decode(d.get("s", "").encode())  # bytes: no qstr per character
    except (ValueError, TypeError, AttributeError):
        raise Error("bad_secret", "secret is not valid base32") from None
    if not 10 <= len(secret) <= 64:
        raise Error("bad_secret", "secret must be 10 to 64 bytes (80 to 512 bits)")
    issuer = _text(d.get("i", ""), "issuer", True)
    name = _text(d.get("n"), "name", False)
    flags = kind | (vault.ALGS.index(alg) << 1) | (vault._TOUCH if d.get("t") else 0)
    if kind:
        var = _int(d, "c", 0, 0, 0xFFFFFFFFFFFFFFFF, "counter").to_bytes(8, "big")
    else:
        var = _int(d, "p", 30, 1, 3600, "period").to_bytes(2, "big")
    return (bytes((flags, digits)) + var + bytes((len(secret),)) + secret +
            bytes((len(issuer),)) + issuer + bytes((len(name),)) + name)


def relabel(rec, issuer, name):
    """The same account under a new issuer and name."""
    issuer = _text(issuer, "issuer", True)
    name = _text(name, "name", False)
    at = 10 if rec[0] & vault._HOTP else 4  # the secret's length byte
    return (rec[:at + 1 + rec[at]] + bytes((len(issuer),)) + issuer +
            bytes((len(name),)) + name)


def _digest(key):
    """8 bytes that stand for an (issuer, name) label when checking a batch for duplicates."""
    import hashlib

    return hashlib.sha256(key[0] + b"\x00" + key[1]).digest()[:8]


class Batch:
    """New accounts streamed into the next vault behind the current one (see acct.add)."""

    def __init__(self, v):
        self._vault = v
        self._seen = v._digests  # 8-byte label digests of every account so far
        self._w = v._sealed.writer()
        self.count = 0
        try:
            self._w.write(vault._VERSION)
            for rec in v.records() if v.count else ():  # an empty vault: no file to open
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
        self._seen[at:at + 8] = _digest(vault._label_of(rec))
        self._w.write(vault._framed(rec))
        self.count += 1

    def add(self, records):
        """Check a frame's records against everything so far, then stream them out."""
        if self.count + len(records) > vault.MAX_ACCOUNTS:
            raise Error("vault_full", "the token holds at most %d accounts" % vault.MAX_ACCOUNTS)
        digests = []
        for rec in records:
            key = vault._label_of(rec)
            d = _digest(key)
            if self._has(d) or d in digests:
                raise Error("duplicate", "account %s already exists" %
                            vault.label(str(key[0], "utf-8"), str(key[1], "utf-8")))
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
    if not commands.is_int(t) or not 946684800 <= t < 7258118400:  # the DS3231's 2000..2199
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
    streams into the next vault and the last one commits it, so it is all or nothing. The
    request's list of accounts is consumed: each is dropped once encoded."""
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
        batch[n] = None  # the parsed account (~500 bytes of heap) is garbage from here on
        if rec[10 if rec[0] & vault._HOTP else 4] < 16:  # a short secret (80 bits is common)
            weak.append(n)
        records.append(rec)
    seq = req.get("seq", 0)
    if not commands.is_int(seq) or seq < 0:
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
