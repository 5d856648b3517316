"""HMAC (RFC 2104) over hashlib, since MicroPython has no hmac module.

Used for HOTP/TOTP and by the vault (HMAC-SHA256). sha512 is pure Python and costs heap, so it is
imported only the first time SHA512 is asked for. The pads are built with one big-int xor instead
of a per-byte loop, from a big int made for the call: kept, the four pads would hold ~0.5 KB.
"""

import gc
import hashlib

SHA1 = "SHA1"
SHA256 = "SHA256"
SHA512 = "SHA512"
ALGS = (SHA1, SHA256, SHA512)


def _hash(alg):
    """(constructor, block size) for alg; ValueError if unsupported."""
    if alg == SHA1:
        return hashlib.sha1, 64
    if alg == SHA256:
        return hashlib.sha256, 64
    if alg == SHA512:
        gc.collect()  # the first time, its bytecode loads into a heap free of garbage
        from authtok.sha512 import sha512

        return sha512, 128
    raise ValueError("unsupported algorithm")


class Hmac:
    """Incremental HMAC, so the vault can be authenticated in pieces (the heap is small)."""

    def __init__(self, alg, key):
        new, bs = _hash(alg)
        if len(key) > bs:
            key = new(key).digest()
        k = int.from_bytes(key, "big") << (8 * (bs - len(key)))  # key zero-padded to bs bytes
        ones = ((1 << 8 * bs) - 1) // 255  # 0x0101...01, bs bytes
        self._inner = new((k ^ ones * 0x36).to_bytes(bs, "big"))
        self._outer = new((k ^ ones * 0x5C).to_bytes(bs, "big"))

    def update(self, data):
        self._inner.update(data)

    def digest(self):
        self._outer.update(self._inner.digest())
        return self._outer.digest()


def hmac(alg, key, msg):
    """HMAC-alg(key, msg) as bytes."""
    h = Hmac(alg, key)
    h.update(msg)
    d = h.digest()
    if alg == SHA512:
        # Pure-Python SHA-512 churns through big-int temporaries, so the allocator has moved
        # far up the heap: collect now, and what the caller keeps next (a code, its response)
        # fills the low holes instead of being strewn through the free space above.
        gc.collect()
    return d
