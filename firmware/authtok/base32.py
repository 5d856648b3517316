"""Strict RFC 4648 base32 decoding for OTP secrets as people type them.

Accepts either case, ignores spaces (secrets are often shown in groups of four) and adds missing
'=' padding the way pyotp does, then decodes exactly like CPython's base64.b32decode: bad
characters, data after '=', an impossible length or too much padding raise ValueError. Unused
trailing bits are accepted (as CPython and pyotp do). Messages never quote the input: it is a
secret.
"""


def _value(o):
    """5-bit value of the character with code o, or -1."""
    if 65 <= o <= 90:  # A-Z
        return o - 65
    if 97 <= o <= 122:  # a-z
        return o - 97
    if 50 <= o <= 55:  # 2-7
        return o - 24
    return -1


def b32decode(text):
    """Decode str or bytes base32 text to bytes."""
    codes = text if isinstance(text, (bytes, bytearray)) else (ord(c) for c in text)
    out = bytearray()
    acc = 0
    bits = 0
    n = 0  # data characters
    pad = 0  # '=' characters
    for o in codes:
        if o == 32:
            continue
        if o == 61:
            pad += 1
            continue
        v = _value(o)
        if v < 0:
            raise ValueError("invalid base32 character")
        if pad:
            raise ValueError("invalid base32 padding")
        n += 1
        acc = (acc << 5 | v) & 0x1FFF  # at most 12 bits are ever pending
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append(acc >> bits & 0xFF)
    # Missing padding is added up to a multiple of 8; what then follows the data must be one
    # of the paddings RFC 4648 allows (for 8, 7, 5, 4 or 2 characters in the last quantum).
    padchars = -(-(n + pad) // 8) * 8 - n
    if padchars not in (0, 1, 3, 4, 6):
        raise ValueError("invalid base32 length or padding")
    return bytes(out)
