"""The accounts, kept as compact binary records inside one sealed file.

A record holds only what a code needs, so 200+ accounts fit the ESP32's heap:

    flags (1: bit 0 HOTP, bits 1-2 algorithm, bit 3 needs-touch) | digits (1) |
    period (2, TOTP) or counter (8, HOTP) | secret (len 1 + bytes) |
    issuer (len 1 + UTF-8) | name (len 1 + UTF-8)

The order of the records is the order the user sees, as the authenticator apps keep it.
"""

import struct

from authtok.base32 import b32decode
from authtok.errors import Error, bad_param, not_found

MAX_ACCOUNTS = 250
ALGS = ("SHA1", "SHA256", "SHA512")
_HOTP = 1
_TOUCH = 8
_VERSION = b"V1"


class Account:
    """A record decoded on demand; nothing here outlives the request that asked for it."""

    def __init__(self, rec):
        flags, self.digits = rec[0], rec[1]
        self.hotp = bool(flags & _HOTP)
        self.alg = ALGS[(flags >> 1) & 3]
        self.touch = bool(flags & _TOUCH)
        if self.hotp:
            self.counter = struct.unpack(">Q", rec[2:10])[0]
            self.period = 0
            at = 10
        else:
            self.period = struct.unpack(">H", rec[2:4])[0]
            self.counter = 0
            at = 4
        n = rec[at]
        self.secret = rec[at + 1:at + 1 + n]
        at += 1 + n
        n = rec[at]
        self.issuer = str(rec[at + 1:at + 1 + n], "utf-8")
        at += 1 + n
        n = rec[at]
        self.name = str(rec[at + 1:at + 1 + n], "utf-8")

    def public(self):
        """What the host may see: everything but the secret."""
        d = {"i": self.issuer, "n": self.name, "k": "hotp" if self.hotp else "totp",
             "a": self.alg, "d": self.digits}
        if self.hotp:
            d["c"] = self.counter
        else:
            d["p"] = self.period
        if self.touch:
            d["t"] = 1
        return d


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


def _label_of(rec):
    """(issuer, name) straight from the record bytes, without decoding the rest."""
    at = 10 if rec[0] & _HOTP else 4
    at += 1 + rec[at]
    n = rec[at]
    issuer = rec[at + 1:at + 1 + n]
    at += 1 + n
    return issuer, rec[at + 1:at + 1 + rec[at]]


def _framed(rec):
    return struct.pack(">H", len(rec)) + rec


def _digest(key):
    """8 bytes that stand for an (issuer, name) label when checking a batch for duplicates."""
    import hashlib

    return hashlib.sha256(key[0] + b"\x00" + key[1]).digest()[:8]


class Vault:
    """The accounts, read from flash as a stream of records each time they are needed.

    Nothing here keeps the accounts in RAM, so the heap a request needs does not grow with the
    number of accounts; every change streams the old vault into a new one and swaps them
    atomically (store.Writer).
    """

    def __init__(self, sealed):
        self._sealed = sealed
        self.count = 0
        # Label digests for checking a batch, allocated once at boot while the heap is whole.
        self._digests = bytearray(8 * MAX_ACCOUNTS)

    @property
    def generation(self):
        return self._sealed.generation

    def load(self):
        """Check the vault's integrity and count its accounts; raises store.Corrupt."""
        n = 0
        for _ in self.records():
            n += 1
        self.count = n

    def records(self):
        """Every record, in order. Close the generator when you stop early."""
        pieces = self._sealed.stream()
        if pieces is None:
            return
        buf = b""
        first = True
        try:
            for piece in pieces:
                buf += piece
                if first:
                    if buf[:2] != _VERSION:
                        from authtok.store import Corrupt
                        raise Corrupt("unknown vault version")
                    buf = buf[2:]
                    first = False
                while len(buf) >= 2:
                    n = struct.unpack(">H", buf[:2])[0]
                    if len(buf) < 2 + n:
                        break
                    yield buf[2:2 + n]
                    buf = buf[2 + n:]
        finally:
            pieces.close()

    def find(self, issuer, name):
        """(position, record) of the account; not_found otherwise."""
        key = (issuer.encode(), name.encode())
        recs = self.records()
        try:
            for i, rec in enumerate(recs):
                if _label_of(rec) == key:
                    return i, rec
        finally:
            recs.close()
        raise not_found("no account %s" % label(issuer, name))

    def page(self, off, n):
        """Up to n records from position off on."""
        out = []  # type: list[bytes]
        recs = self.records()
        try:
            for i, rec in enumerate(recs):
                if i >= off + n:
                    break
                if i >= off:
                    out.append(rec)
        finally:
            recs.close()
        return out

    def begin_add(self):
        """A batch of new accounts, added whole by `commit` or not at all."""
        return Batch(self)

    def _rewrite(self, change):
        """Stream every record through change(i, rec) -> records into a new vault."""
        count = 0
        w = self._sealed.writer()
        try:
            w.write(_VERSION)
            for i, rec in enumerate(self.records()):
                for out in change(i, rec):
                    w.write(_framed(out))
                    count += 1
        except BaseException:
            w.abort()
            raise
        w.commit()
        self.count = count

    def replace(self, i, new):
        self._rewrite(lambda j, rec: (new,) if j == i else (rec,))

    def remove(self, i):
        self._rewrite(lambda j, rec: () if j == i else (rec,))

    def move(self, i, to):
        """Like list.insert(to, list.pop(i)), on the stream."""
        if not 0 <= to < self.count:
            raise bad_param("position must be 0..%d" % (self.count - 1))
        if i == to:
            return
        moving = self.page(i, 1)[0]

        def change(j, rec):
            out = []  # type: list[bytes]
            if j == i:
                return out
            k = j if j < i else j - 1  # position among the others
            if k == to:
                out.append(moving)
            out.append(rec)
            if k == to - 1 and to == self.count - 1:
                out.append(moving)
            return out
        self._rewrite(change)


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


def label(issuer, name):
    return issuer + ":" + name if issuer else name


def _secret_end(rec):
    at = 10 if rec[0] & _HOTP else 4
    return at + 1 + rec[at]


def relabel(rec, issuer, name):
    """The same account under a new issuer and name."""
    issuer = _text(issuer, "issuer", True)
    name = _text(name, "name", False)
    return (rec[:_secret_end(rec)] + bytes((len(issuer),)) + issuer +
            bytes((len(name),)) + name)


def with_counter(rec, counter):
    """The same HOTP account with its counter moved on."""
    return rec[:2] + struct.pack(">Q", counter) + rec[10:]
