"""HOTP (RFC 4226) and TOTP (RFC 6238).

Time is always passed in as Unix seconds: nothing here reads a clock (see docs/architecture.md).
Counters are 64-bit, so times far past 2038 work. Codes are zero-padded strings.
"""

from authtok import mac

SHA1 = mac.SHA1
SHA256 = mac.SHA256
SHA512 = mac.SHA512
ALGS = mac.ALGS


def _check(alg, digits):
    if alg not in ALGS:
        raise ValueError("unsupported algorithm")
    if digits not in (6, 7, 8):
        raise ValueError("digits must be 6, 7 or 8")


def hotp(secret, counter, alg=SHA1, digits=6):
    """RFC 4226 code for counter (0 .. 2**64-1)."""
    _check(alg, digits)
    if not isinstance(counter, int) or not 0 <= counter <= 0xFFFFFFFFFFFFFFFF:
        raise ValueError("counter out of range")
    h = mac.hmac(alg, secret, counter.to_bytes(8, "big"))
    o = h[-1] & 15
    code = ((h[o] & 0x7F) << 24 | h[o + 1] << 16 | h[o + 2] << 8 | h[o + 3]) % 10**digits
    s = str(code)
    return "0" * (digits - len(s)) + s


def _counter(unix_time, period, t0):
    if not isinstance(period, int) or period < 1:
        raise ValueError("period must be an integer >= 1")
    if not isinstance(unix_time, int) or not isinstance(t0, int):
        raise ValueError("time must be integer seconds")
    if unix_time < t0:
        raise ValueError("time before t0")
    return (unix_time - t0) // period


def totp(secret, unix_time, period=30, alg=SHA1, digits=6, t0=0):
    """RFC 6238 code at unix_time (integer seconds)."""
    return hotp(secret, _counter(unix_time, period, t0), alg, digits)


def seconds_left(unix_time, period=30, t0=0):
    """Seconds until the code shown at unix_time changes (1 .. period)."""
    _counter(unix_time, period, t0)  # validates
    return period - (unix_time - t0) % period
