"""Sealed files: encrypted and authenticated with the device key, written atomically.

Layout: b"TKS1" | kind (4) | generation (4, big endian) | IV (16) | AES-256-CBC ciphertext |
HMAC-SHA256 over everything before it (encrypt-then-MAC). The kind binds a file to its purpose,
so one sealed file cannot be passed off as another.

A save writes `<path>.new`, reads it back and verifies it, then renames it over `<path>`;
littlefs renames atomically, so a power cut at any byte leaves the old or the new file. A
leftover `.new` was never acknowledged and is removed at load.
"""

import os
import struct

import cryptolib

from authtok.mac import hmac

_MAGIC = b"TKS1"
_HEAD = 12  # magic, kind, generation
_TAG = 32
_CBC = 2


class Corrupt(Exception):
    """A sealed file failed its integrity check (tampered, or written by another device)."""


def derive(device_key, label):
    return hmac("SHA256", device_key, label)


def _pad(data):
    n = 16 - len(data) % 16
    return data + bytes([n]) * n


def _unpad(data):
    n = data[-1] if data else 0
    if not 1 <= n <= 16 or data[-n:] != bytes([n]) * n:
        raise Corrupt("bad padding")
    return data[:-n]


def same(a, b):
    """Compare MACs in time independent of where they differ."""
    if len(a) != len(b):
        return False
    diff = 0
    for x, y in zip(a, b):
        diff |= x ^ y
    return diff == 0


def _verify(path, blob):
    """Read a written file back in small pieces (the heap is small) and compare."""
    buf = bytearray(256)
    at = 0
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            if blob[at:at + n] != buf[:n]:
                raise OSError(5)  # EIO: the flash did not keep what was written
            at += n
    if at != len(blob):
        raise OSError(5)


class Sealed:
    def __init__(self, path, device_key, kind, random=os.urandom):
        self.path = path
        self.kind = kind
        self._enc = derive(device_key, b"enc:" + kind)
        self._mac = derive(device_key, b"mac:" + kind)
        self._random = random
        self.generation = 0

    def exists(self):
        try:
            os.stat(self.path)
            return True
        except OSError:
            return False

    def load(self):
        """The plaintext, or None when the file does not exist; raises Corrupt."""
        try:
            os.remove(self.path + ".new")
        except OSError:
            pass
        try:
            with open(self.path, "rb") as f:
                blob = f.read()
        except OSError:
            return None
        gen, plain = self._open(blob)
        self.generation = gen
        return plain

    def save(self, plain):
        gen = self.generation + 1
        blob = self._seal(gen, plain)
        tmp = self.path + ".new"
        with open(tmp, "wb") as f:
            f.write(blob)
        _verify(tmp, blob)
        os.rename(tmp, self.path)
        self.generation = gen
        return gen

    def _seal(self, gen, plain):
        iv = self._random(16)
        head = _MAGIC + self.kind + struct.pack(">I", gen) + iv
        body = head + cryptolib.aes(self._enc, _CBC, iv).encrypt(_pad(plain))
        return body + hmac("SHA256", self._mac, body)

    def _open(self, blob):
        if len(blob) < _HEAD + 16 + 16 + _TAG or (len(blob) - _HEAD - _TAG) % 16:
            raise Corrupt("truncated")
        body, tag = blob[:-_TAG], blob[-_TAG:]
        if blob[:4] != _MAGIC or blob[4:8] != self.kind:
            raise Corrupt("not a sealed %s file" % self.kind.decode())
        if not same(hmac("SHA256", self._mac, body), tag):
            raise Corrupt("integrity check failed")
        gen = struct.unpack(">I", blob[8:12])[0]
        iv = blob[12:28]
        plain = cryptolib.aes(self._enc, _CBC, iv).decrypt(body[28:])
        return gen, _unpad(plain)
