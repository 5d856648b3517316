"""Sealed files: encrypted and authenticated with the device key, written atomically.

Layout: b"TKS1" | kind (4) | generation (4, big endian) | IV (16) | AES-256-CBC ciphertext |
HMAC-SHA256 over everything before it (encrypt-then-MAC). The kind binds a file to its purpose,
so one sealed file cannot be passed off as another.

A save streams `<path>.new` in small pieces, reads it back and verifies its MAC, then renames
it over `<path>`; littlefs renames atomically, so a power cut at any byte leaves the old or the
new file. A leftover `.new` was never acknowledged and is removed at load. Nothing here holds
the whole file in memory twice: 200 accounts must fit the ESP32's heap.
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

    def load(self):
        """The plaintext (a memoryview), or None when the file does not exist; raises Corrupt."""
        try:
            os.remove(self.path + ".new")
        except OSError:
            pass
        try:
            f = open(self.path, "rb")
        except OSError:
            return None
        with f:
            size = f.seek(0, 2)
            head = self._check(f, size)
            buf = bytearray(size - _HEAD - _TAG)
            plain = memoryview(buf)
            f.seek(_HEAD)
            if f.readinto(plain) != len(buf):
                raise Corrupt("truncated")
        aes = cryptolib.aes(self._enc, _CBC, bytes(head[12:28]))
        for at in range(0, len(buf), _PIECE):  # in place, a piece at a time
            piece = plain[at:at + _PIECE]
            aes.decrypt(piece, piece)
        n = buf[-1]
        if not 1 <= n <= 16 or any(b != n for b in buf[-n:]):
            raise Corrupt("bad padding")
        self.generation = struct.unpack(">I", head[8:12])[0]
        return plain[:-n]

    def save(self, parts):
        """Seal the plaintext given as an iterable of byte strings; returns the generation."""
        gen = self.generation + 1
        iv = self._random(16)
        head = _MAGIC + self.kind + struct.pack(">I", gen) + iv
        aes = cryptolib.aes(self._enc, _CBC, iv)
        mac = Hmac("SHA256", self._mac)
        mac.update(head)
        tmp = self.path + ".new"
        with open(tmp, "wb") as f:
            f.write(head)
            pending = b""
            for part in parts:
                pending += part
                n = len(pending) & ~15
                if n >= _PIECE:
                    ct = aes.encrypt(pending[:n])
                    pending = pending[n:]
                    mac.update(ct)
                    f.write(ct)
            pad = 16 - len(pending) % 16
            ct = aes.encrypt(pending + bytes((pad,)) * pad)
            mac.update(ct)
            f.write(ct)
            f.write(mac.digest())
        with open(tmp, "rb") as f:  # the flash must have kept what was written
            try:
                self._check(f, f.seek(0, 2))
            except Corrupt:
                raise OSError(5) from None  # EIO
        os.rename(tmp, self.path)
        self.generation = gen
        return gen

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
