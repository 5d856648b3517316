"""HMAC (RFC 2104) over hashlib, since MicroPython has no hmac module.

Used for HOTP/TOTP and by the vault (HMAC-SHA256). sha512 is pure Python and costs heap, so it is
imported only the first time SHA512 is asked for. The pads are built with one big-int xor instead
of a per-byte loop.
"""

import hashlib

SHA1 = "SHA1"
SHA256 = "SHA256"
SHA512 = "SHA512"
ALGS = (SHA1, SHA256, SHA512)

_IPAD64 = int.from_bytes(b"\x36" * 64, "big")
_OPAD64 = int.from_bytes(b"\x5c" * 64, "big")
_IPAD128 = int.from_bytes(b"\x36" * 128, "big")
_OPAD128 = int.from_bytes(b"\x5c" * 128, "big")


def _hash(alg):
    """(constructor, block size, digest size, ipad, opad) for alg; ValueError if unsupported."""
    if alg == SHA1:
        return hashlib.sha1, 64, 20, _IPAD64, _OPAD64
    if alg == SHA256:
        return hashlib.sha256, 64, 32, _IPAD64, _OPAD64
    if alg == SHA512:
        from authtok.sha512 import sha512

        return sha512, 128, 64, _IPAD128, _OPAD128
    raise ValueError("unsupported algorithm")


def digest_size(alg):
    """Length in bytes of hmac(alg, ...), without importing sha512."""
    if alg == SHA512:
        return 64
    return _hash(alg)[2]


class Hmac:
    """Incremental HMAC, so the vault can be authenticated in pieces (the heap is small)."""

    def __init__(self, alg, key):
        new, bs, _, ipad, opad = _hash(alg)
        if len(key) > bs:
            key = new(key).digest()
        k = int.from_bytes(key, "big") << (8 * (bs - len(key)))  # key zero-padded to bs bytes
        self._inner = new((k ^ ipad).to_bytes(bs, "big"))
        self._outer = new((k ^ opad).to_bytes(bs, "big"))

    def update(self, data):
        self._inner.update(data)

    def digest(self):
        self._outer.update(self._inner.digest())
        return self._outer.digest()


def hmac(alg, key, msg):
    """HMAC-alg(key, msg) as bytes."""
    h = Hmac(alg, key)
    h.update(msg)
    return h.digest()
