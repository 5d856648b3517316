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
    if kind not in (0, 1):
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


def _serialise(records):
    """The vault's plaintext in pieces, never as one large string."""
    yield _VERSION
    for rec in records:
        yield struct.pack(">H", len(rec)) + rec


class Vault:
    def __init__(self, sealed):
        self._sealed = sealed
        self.records = []

    @property
    def generation(self):
        return self._sealed.generation

    def load(self):
        """Read the vault; raises store.Corrupt if it fails its integrity check."""
        plain = self._sealed.load()
        self.records = []
        if plain is None:
            return
        if bytes(plain[:2]) != _VERSION:
            from authtok.store import Corrupt
            raise Corrupt("unknown vault version")
        at = 2
        while at < len(plain):
            n = struct.unpack(">H", plain[at:at + 2])[0]
            self.records.append(bytes(plain[at + 2:at + 2 + n]))
            at += 2 + n

    def save(self, records=None):
        """Persist `records` (default: the current ones); memory changes only after the write."""
        records = self.records if records is None else records
        self._sealed.save(_serialise(records))
        self.records = records

    def index(self, issuer, name):
        key = (issuer.encode(), name.encode())
        for i, rec in enumerate(self.records):
            if _label_of(rec) == key:
                return i
        raise not_found("no account %s" % label(issuer, name))

    def account(self, i):
        return Account(self.records[i])

    def check_new(self, new_records):
        """Raise unless `new_records` can all be added (no duplicates, room for all)."""
        if len(self.records) + len(new_records) > MAX_ACCOUNTS:
            raise Error("vault_full", "the token holds at most %d accounts" % MAX_ACCOUNTS)
        seen = set(_label_of(r) for r in self.records)
        for rec in new_records:
            key = _label_of(rec)
            if key in seen:
                raise Error("duplicate", "account %s already exists" %
                            label(str(key[0], "utf-8"), str(key[1], "utf-8")))
            seen.add(key)

    def add(self, new_records):
        """Add a batch: all of it, or (on any duplicate or overflow) none of it."""
        self.check_new(new_records)
        self.save(self.records + new_records)

    def replace(self, i, rec):
        records = list(self.records)
        records[i] = rec
        self.save(records)

    def remove(self, i):
        records = list(self.records)
        del records[i]
        self.save(records)

    def move(self, i, to):
        if not 0 <= to < len(self.records):
            raise bad_param("position must be 0..%d" % (len(self.records) - 1))
        records = list(self.records)
        records.insert(to, records.pop(i))
        self.save(records)


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
