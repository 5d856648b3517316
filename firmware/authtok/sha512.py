"""SHA-512 (FIPS 180-4) in pure MicroPython.

The ESP32 port's hashlib has only sha1/sha256, but RFC 6238 tokens may use HMAC-SHA512.
Words are plain ints masked to 64 bits. Rotations and sums are left unmasked until a value is
stored: the low 64 bits of a sum or xor depend only on the low 64 bits of its operands, so one
mask per stored word is enough. Same API subset as hashlib: sha512(data), update(), digest().

Written for the heap (loaded bytecode and big-int constants live there): the 88 constants are
derived at import as FIPS 180-4 defines them and kept packed in 704 bytes (as 88 big ints they
cost ~5 KB), and the message schedule is a ring of 16 words instead of a list of 80.
"""

import struct

try:
    from micropython import const
except ImportError:  # CPython, for host-side cross checks

    def const(x):  # type: ignore[misc]
        return x


_M = const(0xFFFFFFFFFFFFFFFF)


def _consts():
    """H0 then K, 8 bytes each: the first 64 fractional bits of the square roots of the first 8
    primes, then of the cube roots of the first 80 (FIPS 180-4, 4.2.3 and 5.3.5)."""
    out = bytearray(8 * 88)
    n = 0
    p = 1
    while n < 88:
        p += 1
        q = 2
        while q * q <= p and p % q:
            q += 1
        if q * q <= p:
            continue  # q divides p
        k = 2 if n < 8 else 3
        v = p << 64 * k  # root(v) = root(p) * 2**64: floor it, keep the fraction's bits
        x = 1 << 67  # above root(v) for every prime used (p < 2**9)
        while True:  # Newton's method from above, in integers: ends at the floor
            y = ((k - 1) * x + v // x ** (k - 1)) // k
            if y >= x:
                break
            x = y
        struct.pack_into(">Q", out, 8 * n, x & _M)
        n += 1
        if n == 8:
            p = 1  # the cube roots start again from the first prime
    return out  # not copied to bytes: the copy would need a second 704-byte block at once


_C = _consts()  # read only


def _compress(h, w, data, off):
    """Mix the 128-byte block at data[off:] into the state list h (w: 16-word scratch list,
    the message schedule as a ring: word t is in w[t & 15])."""
    M = _M
    w[0:16] = struct.unpack_from(">16Q", data, off)
    a, b, c, d, e, f, g, hh = h
    for t in range(80):
        if t >= 16:
            x = w[(t - 15) & 15]
            y = w[(t - 2) & 15]
            w[t & 15] = (
                w[t & 15]
                + ((x >> 1 | x << 63) ^ (x >> 8 | x << 56) ^ (x >> 7))
                + w[(t - 7) & 15]
                + ((y >> 19 | y << 45) ^ (y >> 61 | y << 3) ^ (y >> 6))
            ) & M
        t1 = (
            hh
            + ((e >> 14 | e << 50) ^ (e >> 18 | e << 46) ^ (e >> 41 | e << 23))
            + (g ^ (e & (f ^ g)))
            + struct.unpack_from(">Q", _C, 64 + 8 * t)[0]
            + w[t & 15]
        )
        t2 = ((a >> 28 | a << 36) ^ (a >> 34 | a << 30) ^ (a >> 39 | a << 25)) + (
            (a & b) | (c & (a | b))
        )
        hh = g
        g = f
        f = e
        e = (d + t1) & M
        d = c
        c = b
        b = a
        a = (t1 + t2) & M
    for i, v in enumerate((a, b, c, d, e, f, g, hh)):
        h[i] = (h[i] + v) & M


class sha512:
    """Incremental SHA-512; digest() may be called more than once (it works on a copy)."""

    def __init__(self, data=None):
        self._h = list(struct.unpack_from(">8Q", _C))
        self._w = [0] * 16
        self._buf = bytearray(128)
        self._n = 0  # bytes waiting in _buf
        self._len = 0  # total bytes hashed
        if data is not None:
            self.update(data)

    def update(self, data):
        n = len(data)
        if not n:
            return
        self._len += n
        buf = self._buf
        i = 0
        if self._n:
            take = min(128 - self._n, n)
            buf[self._n : self._n + take] = data[:take]
            self._n += take
            i = take
            if self._n < 128:
                return
            _compress(self._h, self._w, buf, 0)
            self._n = 0
        while n - i >= 128:
            _compress(self._h, self._w, data, i)
            i += 128
        if i < n:
            buf[0 : n - i] = data[i:]
            self._n = n - i

    def digest(self):
        h = list(self._h)
        n = self._n
        # Padding: 0x80, zeros, then the 128-bit bit length (one or two final blocks).
        tail = bytearray(256 if n >= 112 else 128)
        tail[0:n] = self._buf[0:n]
        tail[n] = 0x80
        tail[-16:] = (self._len * 8).to_bytes(16, "big")
        for off in range(0, len(tail), 128):
            _compress(h, self._w, tail, off)
        return struct.pack(">8Q", *h)
