"""X25519 (RFC 7748) on MicroPython's big integers, for push enrolment only.

MicroPython has no public-key primitive; this one lets the token agree a push key with a
relying party without the key ever crossing a wire (docs/push.md §1). It runs once per
enrolment, on an unlocked token, so plain Python arithmetic is fast enough (a few ms here,
about a second on an ESP32); it is not constant-time, which an enrolment at the owner's desk
can afford. Loaded for the request and dropped after.
"""

_P = 2**255 - 19
_A24 = 121665


def x25519(k, u=b"\x09" + bytes(31)):
    """The shared point X25519(k, u) as 32 bytes; the public key when u is the base point."""
    k = bytearray(k)
    k[0] &= 248
    k[31] = (k[31] & 127) | 64
    n = int.from_bytes(k, "little")
    x1 = int.from_bytes(u, "little") & ((1 << 255) - 1)
    x2, z2, x3, z3 = 1, 0, x1, 1
    swap = 0
    p = _P
    for t in range(254, -1, -1):
        bit = (n >> t) & 1
        if swap ^ bit:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a = x2 + z2
        aa = a * a % p
        b = x2 - z2
        bb = b * b % p
        e = aa - bb
        c = x3 + z3
        d = x3 - z3
        da = d * a % p
        cb = c * b % p
        x3 = (da + cb) ** 2 % p
        z3 = x1 * ((da - cb) ** 2 % p) % p
        x2 = aa * bb % p
        z2 = e * (aa + _A24 * e) % p
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, p - 2, p) % p).to_bytes(32, "little")
