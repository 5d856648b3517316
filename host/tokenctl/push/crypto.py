"""Push protocol v1 cryptography (docs/push.md §1, §2, §4): keys, challenges, answers.

The relying party's side (`RpKey`, `seal_challenge`, `open_answer`) is what tokenctl and a
login server run. The token's side (`token_enroll`, `open_challenge`, `seal_answer`) is a
reference in Python: the tests run round trips without a token, and the firmware is
cross-checked against it. Nothing here logs or prints a key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import struct
from dataclasses import dataclass
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tokenctl.errors import PushRejected

VERSION = 1
KDF_LABEL = b"authtok push v1"
HANDLE_LEN = 8
NONCE_LEN = 16
TAG_LEN = 16
MAX_MESSAGE = 512
CHALLENGE_MIN = 1 + HANDLE_LEN + NONCE_LEN + TAG_LEN + 1  # 42: at least one plaintext byte
ANSWER_MIN = 1 + HANDLE_LEN + 2 + TAG_LEN
MAX_LIFETIME_S = 300
RESULTS = ("approve", "deny", "report", "wrong_number", "timeout", "rate_limited", "rejected")
# Challenge plaintext: key -> (type, max UTF-8 bytes for strings), in the order sent.
FIELDS: dict[str, tuple[type, int]] = {
    "id": (str, 16),
    "seq": (int, 0),
    "iat": (int, 0),
    "exp": (int, 0),
    "rpt": (int, 0),
    "app": (str, 32),
    "loc": (str, 48),
    "ip": (str, 45),
    "num": (int, 0),
}
_ID = re.compile(r"[0-9a-f]{16}")
_WHY = re.compile(r"[a-z0-9_]{1,32}")
# Control, bidi-override and separator characters (they could disguise the context shown on
# the token), and lone surrogates.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


class PushKeys(NamedTuple):
    enc: bytes
    mac: bytes
    ans: bytes


class ChallengeRejected(Exception):
    """Reference token: the challenge fails a check of docs/push.md §3 (`reason`);
    `authenticated` tells whether the answer to it would carry a MAC."""

    def __init__(self, reason: str, authenticated: bool):
        super().__init__(reason)
        self.reason = reason
        self.authenticated = authenticated


@dataclass(frozen=True)
class Answer:
    """A verified answer. `authenticated` is False only for an unauthenticated `rejected`,
    whose `why` is what the answer claimed, reported and never trusted."""

    result: str
    authenticated: bool
    id: str | None = None
    pick: int | None = None
    device_time: int | None = None
    why: str | None = None
    until: int | None = None

    @property
    def approved(self) -> bool:
        return self.authenticated and self.result == "approve"


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def derive_push_key(shared: bytes, handle: bytes, device_pub: bytes, rp_pub: bytes) -> bytes:
    """PK = HMAC-SHA256(S, "authtok push v1" | H | E | R); refuses an all-zero S."""
    if len(shared) != 32 or not any(shared):
        raise ValueError("the X25519 shared secret is all zeros (a low-order public key)")
    if len(handle) != HANDLE_LEN or len(device_pub) != 32 or len(rp_pub) != 32:
        raise ValueError("bad handle or public key length")
    return _hmac(shared, KDF_LABEL + handle + device_pub + rp_pub)


def subkeys(pk: bytes) -> PushKeys:
    if len(pk) != 32:
        raise ValueError("a push key is 32 bytes")
    return PushKeys(_hmac(pk, b"enc"), _hmac(pk, b"mac"), _hmac(pk, b"ans"))


def _x25519(private: X25519PrivateKey, peer_pub: bytes) -> bytes:
    try:
        return private.exchange(X25519PublicKey.from_public_bytes(peer_pub))
    except ValueError:  # cryptography refuses an all-zero result (a low-order point)
        raise ValueError("the X25519 shared secret is all zeros (a low-order public key)") from None


class RpKey:
    """The relying party's X25519 key pair for one enrolment; dropped once PK is derived."""

    def __init__(self, private: X25519PrivateKey):
        self._private = private
        self.public = private.public_key().public_bytes_raw()

    @classmethod
    def generate(cls) -> RpKey:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> RpKey:
        return cls(X25519PrivateKey.from_private_bytes(raw))

    def __repr__(self) -> str:
        return "RpKey(<private>)"

    def shared(self, device_pub: bytes) -> bytes:
        return _x25519(self._private, device_pub)

    def push_key(self, handle: bytes, device_pub: bytes) -> bytes:
        return derive_push_key(self.shared(device_pub), handle, device_pub, self.public)


def token_enroll(
    rp_pub: bytes, e: bytes | None = None, handle: bytes | None = None
) -> tuple[bytes, bytes, bytes]:
    """Reference token side of enrolment: (H, E, PK)."""
    private = X25519PrivateKey.from_private_bytes(e) if e else X25519PrivateKey.generate()
    handle = handle if handle is not None else os.urandom(HANDLE_LEN)
    device_pub = private.public_key().public_bytes_raw()
    return handle, device_pub, derive_push_key(_x25519(private, rp_pub), handle, device_pub, rp_pub)


def _ctr(key: bytes, nonce: bytes, data: bytes) -> bytes:
    # cryptography's CTR counts the whole 16-byte block big-endian, mod 2^128, as §2 says.
    enc = Cipher(algorithms.AES(key), modes.CTR(nonce)).encryptor()
    return enc.update(data) + enc.finalize()


def _check_text(name: str, value: str, limit: int) -> str | None:
    if _CONTROL.search(value):
        return f"{name} holds control characters"
    if len(value.encode("utf-8", "surrogatepass")) > limit:
        return f"{name} is longer than {limit} bytes"
    return None


def _malformed(fields: dict[str, Any]) -> str | None:
    if set(fields) != set(FIELDS):
        return "fields must be exactly: " + ", ".join(FIELDS)
    for name, (kind, limit) in FIELDS.items():
        value = fields[name]
        if type(value) is not kind:  # bool is not an int here
            return f"{name} must be {kind.__name__}"
        if isinstance(value, str) and (problem := _check_text(name, value, limit)):
            return problem
    if not _ID.fullmatch(fields["id"]):
        return "id must be 16 lowercase hex digits"
    if not 0 < fields["seq"] < 2**63:
        return "seq must be 1..2^63-1"
    if not all(0 <= fields[t] < 2**63 for t in ("iat", "exp", "rpt")):
        return "times must be Unix seconds"
    if not 10 <= fields["num"] <= 99:
        return "num must be 10..99"
    return None


def field_problem(fields: dict[str, Any]) -> tuple[str, str] | None:
    """What the token would refuse in a challenge's plaintext fields (§2, §3), as
    (reason, message): `malformed` or `bad_lifetime`; None when they are fine."""
    if problem := _malformed(fields):
        return "malformed", problem
    if not 0 < fields["exp"] - fields["iat"] <= MAX_LIFETIME_S:
        return "bad_lifetime", f"exp - iat must be 1..{MAX_LIFETIME_S} s"
    return None


def _plaintext(fields: dict[str, Any]) -> bytes:
    ordered = {k: fields[k] for k in FIELDS}
    return json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode()


def seal_challenge(
    pk: bytes, handle: bytes, fields: dict[str, Any], nonce: bytes | None = None
) -> tuple[bytes, bytes]:
    """The challenge bytes (§2) and its nonce; ValueError for fields the token would refuse."""
    if len(handle) != HANDLE_LEN:
        raise ValueError("a handle is 8 bytes")
    if problem := field_problem(fields):
        raise ValueError(problem[1])
    nonce = os.urandom(NONCE_LEN) if nonce is None else nonce
    if len(nonce) != NONCE_LEN:
        raise ValueError("a nonce is 16 bytes")
    keys = subkeys(pk)
    body = bytes([VERSION]) + handle + nonce + _ctr(keys.enc, nonce, _plaintext(fields))
    if len(body) + TAG_LEN > MAX_MESSAGE:
        raise ValueError(f"the challenge is longer than {MAX_MESSAGE} bytes")
    return body + _hmac(keys.mac, body)[:TAG_LEN], nonce


def challenge_handle(data: bytes) -> bytes:
    """The handle of a challenge, for the token to find the push key (§3: checked first)."""
    if not CHALLENGE_MIN <= len(data) <= MAX_MESSAGE or data[0] != VERSION:
        raise ChallengeRejected("malformed", authenticated=False)
    return data[1 : 1 + HANDLE_LEN]


def open_challenge(pk: bytes, data: bytes) -> tuple[bytes, bytes, dict[str, Any]]:
    """Reference token: (handle, nonce, fields) of a challenge under `pk`, with the stateless
    checks of §3 in order (replay, clock and rate limits are the firmware's)."""
    handle = challenge_handle(data)
    nonce = data[1 + HANDLE_LEN : 1 + HANDLE_LEN + NONCE_LEN]
    keys = subkeys(pk)
    body, tag = data[:-TAG_LEN], data[-TAG_LEN:]
    if not hmac.compare_digest(_hmac(keys.mac, body)[:TAG_LEN], tag):
        raise ChallengeRejected("forged", authenticated=False)
    try:
        fields = json.loads(_ctr(keys.enc, nonce, body[1 + HANDLE_LEN + NONCE_LEN :]))
    except ValueError:
        raise ChallengeRejected("malformed", authenticated=True) from None
    if not isinstance(fields, dict):
        raise ChallengeRejected("malformed", authenticated=True)
    if problem := field_problem(fields):
        raise ChallengeRejected(problem[0], authenticated=True)
    return handle, nonce, fields


def seal_answer(
    pk: bytes | None, handle: bytes | None, challenge_nonce: bytes, answer: dict[str, Any]
) -> bytes:
    """Reference token: an answer (§4). With no `pk` it is unauthenticated (zero tag), and
    with no `handle` the handle is zeros."""
    text = json.dumps(answer, separators=(",", ":")).encode()
    body = bytes([VERSION]) + (handle or bytes(HANDLE_LEN)) + struct.pack(">H", len(text)) + text
    if pk is None:
        return body + bytes(TAG_LEN)
    return body + _hmac(subkeys(pk).ans, challenge_nonce + body)[:TAG_LEN]


def _bad(what: str) -> PushRejected:
    return PushRejected(f"the token's answer is not valid: {what}")


def _optional_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int:
        raise _bad(f"{name} is not an integer")
    return value


def open_answer(
    pk: bytes, handle: bytes, challenge_nonce: bytes, challenge_id: str, data: bytes
) -> Answer:
    """Verify an answer to our challenge (§4) before believing anything in it.

    Raises PushRejected for anything malformed, forged, or not about this challenge. An
    unauthenticated `rejected` (zero tag) comes back as a failure, never as an approval."""
    if not ANSWER_MIN <= len(data) <= MAX_MESSAGE or data[0] != VERSION:
        raise _bad("wrong length or version")
    (length,) = struct.unpack(">H", data[1 + HANDLE_LEN : 11])
    if len(data) != 11 + length + TAG_LEN:
        raise _bad("the length field does not match")
    body, tag = data[:-TAG_LEN], data[-TAG_LEN:]
    expected = _hmac(subkeys(pk).ans, challenge_nonce + body)[:TAG_LEN]
    authenticated = hmac.compare_digest(expected, tag)
    if not authenticated and any(tag):
        raise _bad("bad tag (forged, or not an answer to this challenge)")
    try:
        doc = json.loads(body[11:])
    except ValueError:
        raise _bad("not JSON") from None
    if not isinstance(doc, dict) or doc.get("r") not in RESULTS:
        raise _bad("no known result")
    why = doc.get("why")
    if not authenticated:
        if doc["r"] != "rejected" or body[1 : 1 + HANDLE_LEN] not in (handle, bytes(HANDLE_LEN)):
            raise _bad("unauthenticated, and not a rejection")
        # Reported, never trusted: keep only a harmless token of it.
        shown = why if isinstance(why, str) and _WHY.fullmatch(why) else "unknown"
        return Answer("rejected", authenticated=False, why=shown)
    if body[1 : 1 + HANDLE_LEN] != handle:
        raise _bad("the handle is not ours")
    if doc.get("id") != challenge_id and not (doc["r"] == "rejected" and doc.get("id") is None):
        raise _bad("the id is not the one we sent")
    if why is not None and not (isinstance(why, str) and _WHY.fullmatch(why)):
        raise _bad("bad reason")
    until = _optional_int(doc.get("until"), "until")
    if doc["r"] == "rate_limited" and until is None:
        raise _bad("rate_limited without until")
    return Answer(
        doc["r"],
        authenticated=True,
        id=doc.get("id"),
        pick=_optional_int(doc.get("pick"), "pick"),
        device_time=_optional_int(doc.get("t"), "t"),
        why=why,
        until=until,
    )
