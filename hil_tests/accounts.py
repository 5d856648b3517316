"""Accounts for the tests, built as the otpauth:// URIs users paste, with pyotp's view of them."""

from __future__ import annotations

import base64
import hashlib
import random
from urllib.parse import quote

import pyotp

DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def uri(
    issuer: str,
    name: str,
    secret_b32: str,
    kind: str = "totp",
    algorithm: str = "SHA1",
    digits: int = 6,
    period: int = 30,
    counter: int = 0,
) -> str:
    label = quote(f"{issuer}:{name}" if issuer else name)
    query = f"secret={secret_b32}&algorithm={algorithm}&digits={digits}"
    if issuer:
        query += f"&issuer={quote(issuer)}"
    query += f"&counter={counter}" if kind == "hotp" else f"&period={period}"
    return f"otpauth://{kind}/{label}?{query}"


GITHUB_URI = uri("GitHub", "alice@example.com", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")


def random_uris(n: int, seed: int = 1) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        secret = base64.b32encode(rnd.randbytes(rnd.choice([20, 32]))).decode().rstrip("=")
        kind = "hotp" if i % 7 == 3 else "totp"
        out.append(
            uri(
                f"Issuer{i % 13}",
                f"user{i}@example.com",
                secret,
                kind,
                rnd.choice(["SHA1", "SHA1", "SHA256"]),
                rnd.choice([6, 8]),
                rnd.choice([30, 30, 60]),
                rnd.randrange(1000),
            )
        )
    return out


def expected_totp(u: str, at: int) -> str:
    otp = pyotp.parse_uri(u)
    return pyotp.TOTP(otp.secret, digits=otp.digits, digest=otp.digest, interval=otp.interval).at(
        at
    )
