"""The accounts, kept as compact binary records inside one sealed file.

A record holds only what a code needs, so 200+ accounts fit the ESP32's heap:

    flags (1: bit 0 HOTP, bits 1-2 algorithm, bit 3 needs-touch, bit 4 re-verify push) |
    digits (1) | period (2, TOTP) or counter (8, HOTP) | secret (len 1 + bytes) |
    issuer (len 1 + UTF-8) | name (len 1 + UTF-8)

The order of the records is the order the user sees, as the authenticator apps keep it.
Validating and adding accounts lives in provision.py, loaded only when accounts change.
Kept small: its bytecode lives in the heap (tests/firmware/test_heap.py).
"""

from authtok.errors import bad_param, not_found

MAX_ACCOUNTS = 250
ALGS = ("SHA1", "SHA256", "SHA512")
_HOTP = 1
_TOUCH = 8
REVERIFY = 16  # push-enrolled where the backup was made: enrol again (docs/backup.md)
_VERSION = b"V1"


class Account:
    """A record decoded on demand; nothing here outlives the request that asked for it."""

    def __init__(self, rec):
        flags, self.digits = rec[0], rec[1]
        self.hotp = bool(flags & _HOTP)
        self.alg = ALGS[(flags >> 1) & 3]
        self.touch = bool(flags & _TOUCH)
        self.reverify = bool(flags & REVERIFY)
        at = 10 if self.hotp else 4
        v = int.from_bytes(rec[2:at], "big")
        self.counter, self.period = (v, 0) if self.hotp else (0, v)
        f = []
        for _ in "sin":
            f.append(rec[at + 1 : at + 1 + rec[at]])
            at += 1 + rec[at]
        self.secret = f[0]
        self.issuer, self.name = str(f[1], "utf-8"), str(f[2], "utf-8")

    def public(self):
        """What the host may see: everything but the secret."""
        d = {
            "i": self.issuer,
            "n": self.name,
            "k": "hotp" if self.hotp else "totp",
            "a": self.alg,
            "d": self.digits,
        }
        if self.hotp:
            d["c"] = self.counter
        else:
            d["p"] = self.period
        if self.touch:
            d["t"] = 1
        if self.reverify:
            d["rv"] = 1
        return d


def _label_of(rec):
    """(issuer, name) straight from the record bytes, without decoding the rest."""
    at = 10 if rec[0] & _HOTP else 4
    at += 1 + rec[at]
    n = rec[at]
    issuer = rec[at + 1 : at + 1 + n]
    at += 1 + n
    return issuer, rec[at + 1 : at + 1 + rec[at]]


def _framed(rec):
    return len(rec).to_bytes(2, "big") + rec


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
        return read_records(self._sealed)

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
        raise not_found("no account " + label(issuer, name))

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

    def replace(self, i, new=None):
        """The record at i becomes new; None removes it."""
        self._rewrite(lambda j, rec: (rec,) if j != i else (new,) if new else ())

    def remove(self, i):
        self.replace(i)

    def move(self, i, to):
        """Like list.insert(to, list.pop(i)), on the stream."""
        if not 0 <= to < self.count:
            raise bad_param("to: 0..%d" % (self.count - 1))
        if i == to:
            return
        m = self.page(i, 1)[0]
        # Lands after the record at `to` when it moves down, before it when it moves up.
        self._rewrite(
            lambda j, r: () if j == i else ((r, m) if i < to else (m, r)) if j == to else (r,)
        )


def read_records(sealed):
    """The records of a sealed vault-format file (the vault, or a backup), in order;
    nothing when there is no file. Close the generator when you stop early."""
    pieces = sealed.stream()
    if pieces is None:
        return
    # One new buffer per piece (what was left of the last one, then the piece), read through
    # with an offset: cutting the rest off after each record would copy it once per record.
    buf = b""
    at = -1  # the version is not checked yet
    try:
        for piece in pieces:
            buf = buf[at:] + piece if at > 0 else buf + piece
            if at < 0:
                if buf[:2] != _VERSION:
                    from authtok.store import Corrupt

                    raise Corrupt("version")
            at = 2 if at < 0 else 0
            while len(buf) - at >= 2:
                n = buf[at] << 8 | buf[at + 1]
                if len(buf) - at < 2 + n:
                    break
                yield buf[at + 2 : at + 2 + n]
                at += 2 + n
        if at < len(buf) and buf:
            from authtok.store import Corrupt

            raise Corrupt("truncated record")
    finally:
        pieces.close()


def label(issuer, name):
    return issuer + ":" + name if issuer else name


def with_flag(rec, flag, on):
    return bytes((rec[0] | flag if on else rec[0] & ~flag,)) + rec[1:]


def with_touch(rec, touch):
    """The same account, needing (or not) a fresh finger for each code."""
    return bytes((rec[0] | _TOUCH if touch else rec[0] & ~_TOUCH,)) + rec[1:]


def with_counter(rec, counter):
    """The same HOTP account with its counter moved on."""
    return rec[:2] + counter.to_bytes(8, "big") + rec[10:]
