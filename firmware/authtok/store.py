"""Sealed files: encrypted and authenticated with the device key, written atomically.

Layout: b"TKS1" | kind (4) | generation (4, big endian) | IV (16) | AES-256-CBC ciphertext |
HMAC-SHA256 over everything before it (encrypt-then-MAC). The kind binds a file to its purpose,
so one sealed file cannot be passed off as another.

A save streams `<path>.new` in small pieces, reads it back and verifies its MAC, then renames
it over `<path>`; littlefs renames atomically, so a power cut at any byte leaves the old or the
new file. A leftover `.new` was never acknowledged and is removed at load. Nothing here holds
the whole file in memory: the heap it needs does not grow with the number of accounts.
"""

import os
import struct

import cryptolib

from authtok.mac import Hmac, hmac

_MAGIC = b"TKS1"
_HEAD = 28  # magic, kind, generation, IV
_TAG = 32
_CBC = 2
_PIECE = 256


class Corrupt(Exception):
    """A sealed file failed its integrity check (tampered, or written by another device)."""


def derive(device_key, label):
    return hmac("SHA256", device_key, label)


def same(a, b):
    """Compare MACs in time independent of where they differ."""
    if len(a) != len(b):
        return False
    diff = 0
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
        if pieces is None:
            return None
        return b"".join(pieces)

    def stream(self):
        """The plaintext in pieces, after the whole file's MAC checked out; None when there
        is no file; raises Corrupt. Close the generator if you stop early."""
        try:
            f = open(self.path, "rb")
        except OSError:
            return None
        try:
            size = f.seek(0, 2)
            head = self._check(f, size)
        except BaseException:
            f.close()
            raise
        self.generation = struct.unpack(">I", head[8:12])[0]
        return self._decrypt(f, head, size - _HEAD - _TAG)

    def _decrypt(self, f, head, left):
        with f:
            aes = cryptolib.aes(self._enc, _CBC, bytes(head[12:28]))
            f.seek(_HEAD)
            buf = bytearray(_PIECE)
            while left:
                n = min(_PIECE, left)
                piece = memoryview(buf)[:n]
                if f.readinto(piece) != n:
                    raise Corrupt("truncated")
                aes.decrypt(piece, piece)
                left -= n
                if not left:  # the last piece ends with the padding
                    pad = buf[n - 1]
                    if not 1 <= pad <= 16 or any(b != pad for b in buf[n - pad:n]):
                        raise Corrupt("bad padding")
                    n -= pad
                yield bytes(buf[:n])

    def save(self, parts):
        """Seal the plaintext given as an iterable of byte strings; returns the generation."""
        w = self.writer()
        try:
            for part in parts:
                w.write(part)
        except BaseException:
            w.abort()
            raise
        return w.commit()

    def writer(self):
        return Writer(self)

    def _check(self, f, size):
        """Verify the file's MAC, reading it in pieces; returns its header."""
        if size < _HEAD + 16 + _TAG or (size - _HEAD - _TAG) % 16:
            raise Corrupt("truncated")
        f.seek(0)
        head = f.read(_HEAD)
        if head[:4] != _MAGIC or head[4:8] != self.kind:
            raise Corrupt("not a sealed %s file" % self.kind.decode())
        mac = Hmac("SHA256", self._mac)
        mac.update(head)
        buf = bytearray(_PIECE)
        left = size - _HEAD - _TAG
        while left:
            n = f.readinto(memoryview(buf)[:min(_PIECE, left)])
            if not n:
                raise Corrupt("truncated")
            mac.update(memoryview(buf)[:n])
            left -= n
        if not same(mac.digest(), f.read(_TAG)):
            raise Corrupt("integrity check failed")
        return head


class Writer:
    """A new version of a sealed file, written in pieces; only `commit` makes it current."""

    def __init__(self, sealed):
        self._s = sealed
        self.generation = sealed.generation + 1
        iv = sealed._random(16)
        head = _MAGIC + sealed.kind + struct.pack(">I", self.generation) + iv
        self._aes = cryptolib.aes(sealed._enc, _CBC, iv)
        self._mac = Hmac("SHA256", sealed._mac)
        self._mac.update(head)
        self._tmp = sealed.path + ".new"
        self._f = open(self._tmp, "wb")
        self._f.write(head)
        self._pending = b""

    def write(self, data):
        pending = self._pending + data
        n = len(pending) & ~15
        if n >= _PIECE:
            self._out(pending[:n])
            pending = pending[n:]
        self._pending = pending

    def _out(self, plain):
        ct = self._aes.encrypt(plain)
        self._mac.update(ct)
        self._f.write(ct)

    def commit(self):
        pad = 16 - len(self._pending) % 16
        self._out(self._pending + bytes((pad,)) * pad)
        self._f.write(self._mac.digest())
        self._f.close()
        with open(self._tmp, "rb") as f:  # the flash must have kept what was written
            try:
                self._s._check(f, f.seek(0, 2))
            except Corrupt:
                raise OSError(5) from None  # EIO
        os.rename(self._tmp, self._s.path)
        self._s.generation = self.generation
        return self.generation

    def abort(self):
        self._f.close()
        try:
            os.remove(self._tmp)
        except OSError:
            pass
