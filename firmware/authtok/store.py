"""Sealed files: encrypted and authenticated with the device key, written atomically.

Layout: b"TKS1" | kind (4) | generation (4, big endian) | IV (16) | AES-256-CBC ciphertext |
HMAC-SHA256 over everything before it (encrypt-then-MAC). The kind binds a file to its purpose,
so one sealed file cannot be passed off as another.

A save streams `<path>.new` in small pieces, reads it back and verifies its MAC, then renames
it over `<path>`; littlefs renames atomically, so a power cut at any byte leaves the old or the
new file. A leftover `.new` was never acknowledged and is removed at load. Nothing here holds
the whole file in memory: the heap it needs does not grow with the number of accounts.

Kept small: its bytecode lives in the heap (tests/firmware/test_heap.py).
"""

import os

import cryptolib
from micropython import const

from authtok.mac import Hmac, hmac

_HEAD = const(28)  # magic, kind, generation, IV
_TAG = const(32)
_CBC = const(2)
_PIECE = const(256)


class Corrupt(Exception):
    """A sealed file failed its integrity check (tampered, or written by another device)."""


def derive(device_key, label):
    return hmac("SHA256", device_key, label)


def same(a, b):
    """Compare MACs in time independent of where they differ."""
    diff = len(a) ^ len(b)
    for x, y in zip(a, b):
        diff |= x ^ y
    return diff == 0


class Sealed:
    def __init__(self, path, device_key, kind, random=os.urandom):
        self.path = path
        self.kind = kind
        self._enc = derive(device_key, b"enc:" + kind)
        self._mac = derive(device_key, b"mac:" + kind)
        self._random = random
        self.generation = 0
        try:
            os.remove(path + ".new")  # never acknowledged: a power cut hit its write
        except OSError:
            pass

    def load(self):
        """The whole plaintext (for small files), or None when there is no file."""
        pieces = self.stream()
        return None if pieces is None else b"".join(pieces)

    def stream(self):
        """The plaintext in pieces, after the whole file's MAC checked out; None when there
        is no file; raises Corrupt. Close the generator if you stop early."""
        try:
            f = open(self.path, "rb")
        except OSError:
            return None
        buf = bytearray(_PIECE)  # the MAC check's, then the decryption's
        try:
            head = self._check(f, buf)
        except BaseException:
            f.close()
            raise
        self.generation = int.from_bytes(head[8:12], "big")
        return self._decrypt(f, head, f.tell() - _HEAD - _TAG, buf)

    def _decrypt(self, f, head, left, buf):
        with f:
            aes = cryptolib.aes(self._enc, _CBC, bytes(head[12:28]))
            f.seek(_HEAD)
            while left:
                n = min(_PIECE, left)
                piece = memoryview(buf)[:n]
                if f.readinto(piece) != n:
                    raise Corrupt("truncated")
                aes.decrypt(piece, piece)
                left -= n
                if not left:  # the last piece ends with the padding
                    pad = buf[n - 1]
                    if not 1 <= pad <= 16 or any(b != pad for b in buf[n - pad : n]):
                        raise Corrupt("bad pad")
                    n -= pad
                yield bytes(buf[:n])

    def save(self, parts):
        """Seal the plaintext given as an iterable of byte strings; returns the generation."""
        w = Writer(self)
        try:
            for part in parts:
                w.write(part)
        except BaseException:
            w.abort()
            raise
        return w.commit()

    def writer(self):
        return Writer(self)

    def _check(self, f, buf):
        """Verify the file's MAC, reading it in pieces into buf (_PIECE bytes of scratch);
        returns its header."""
        size = f.seek(0, 2) - _HEAD - _TAG
        if size < 16 or size % 16:
            raise Corrupt("truncated")
        f.seek(0)
        head = f.read(_HEAD)
        if head[:4] != b"TKS1" or head[4:8] != self.kind:
            raise Corrupt("not " + self.kind.decode())
        mac = Hmac("SHA256", self._mac)
        mac.update(head)
        left = size
        while left:
            n = f.readinto(memoryview(buf)[: min(_PIECE, left)])
            if not n:
                raise Corrupt("truncated")
            mac.update(memoryview(buf)[:n])
            left -= n
        if not same(mac.digest(), f.read(_TAG)):
            raise Corrupt("bad MAC")
        return head


class Writer:
    """A new version of a sealed file, written in pieces; only `commit` makes it current."""

    def __init__(self, sealed):
        self._s = sealed
        self.generation = sealed.generation + 1
        iv = sealed._random(16)
        head = b"TKS1" + sealed.kind + self.generation.to_bytes(4, "big") + iv
        self._aes = cryptolib.aes(sealed._enc, _CBC, iv)
        self._mac = Hmac("SHA256", sealed._mac)
        self._mac.update(head)
        self._tmp = sealed.path + ".new"
        self._f = open(self._tmp, "wb")
        self._f.write(head)
        self._buf = bytearray(_PIECE)  # plaintext waiting; encrypted in place once full
        self._n = 0

    def write(self, data):
        """Append plaintext. Each full piece is encrypted in place, MACed and written: no new
        buffer per write, so a long save never needs a fresh block of contiguous heap."""
        buf = self._buf
        data = memoryview(data)
        at = 0
        while at < len(data):
            k = min(_PIECE - self._n, len(data) - at)
            buf[self._n : self._n + k] = data[at : at + k]
            self._n += k
            at += k
            if self._n == _PIECE:
                self._out(_PIECE)

    def _out(self, n):
        piece = memoryview(self._buf)[:n]
        self._aes.encrypt(piece, piece)
        self._mac.update(piece)
        self._f.write(piece)
        self._n = 0

    def commit(self):
        n = self._n
        pad = 16 - n % 16  # PKCS#7: 1..16 bytes of the value pad
        self._buf[n : n + pad] = bytes((pad,)) * pad
        self._out(n + pad)
        self._f.write(self._mac.digest())
        self._f.close()
        s = self._s
        with open(self._tmp, "rb") as f:  # the flash must have kept what was written
            try:
                s._check(f, self._buf)  # the last piece is written: its buffer is free
            except Corrupt:
                raise OSError(5) from None  # EIO
        os.rename(self._tmp, s.path)
        s.generation = self.generation
        return self.generation

    def abort(self):
        self._f.close()
        try:
            os.remove(self._tmp)
        except OSError:
            pass
