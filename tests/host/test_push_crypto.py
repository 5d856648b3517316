"""tokenctl.push.crypto against docs/push.md §1, §2, §4: RFC 7748 through the key derivation,
round trips with the reference token side, and every forgery we can make cheaply refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tokenctl.errors import PushRejected
from tokenctl.push import crypto
from tokenctl.push.crypto import ChallengeRejected, RpKey

# RFC 7748 §6.1: Alice is the relying party, Bob the token.
ALICE_PRIV = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
ALICE_PUB = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
BOB_PRIV = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
BOB_PUB = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
SHARED = bytes.fromhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
HANDLE = bytes.fromhex("0123456789abcdef")
PK = bytes(range(32))
NONCE = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
FIELDS = {
    "id": "00112233aabbccdd",
    "seq": 7,
    "iat": 1_900_000_000,
    "exp": 1_900_000_120,
    "rpt": 1_900_000_000,
    "app": "VPN",
    "loc": "Berlin, DE",
    "ip": "192.0.2.7",
    "num": 42,
}


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def approve(fields=FIELDS) -> dict:
    return {"id": fields["id"], "r": "approve", "pick": fields["num"], "t": fields["iat"] + 5}


def flips(data: bytes):
    for i in range(len(data) * 8):
        b = bytearray(data)
        b[i // 8] ^= 1 << (i % 8)
        yield bytes(b)


def raw_challenge(pk: bytes, plaintext: bytes, handle=HANDLE, nonce=NONCE) -> bytes:
    """A correctly sealed challenge around any plaintext (seal_challenge refuses bad fields)."""
    keys = crypto.subkeys(pk)
    enc = Cipher(algorithms.AES(keys.enc), modes.CTR(nonce)).encryptor()
    body = b"\x01" + handle + nonce + enc.update(plaintext) + enc.finalize()
    return body + _hmac(keys.mac, body)[:16]


# --- keys -----------------------------------------------------------------------------------


def test_rfc7748_vector_through_the_derivation():
    rp = RpKey.from_private_bytes(ALICE_PRIV)
    assert rp.public == ALICE_PUB
    assert rp.shared(BOB_PUB) == SHARED
    handle, device_pub, token_pk = crypto.token_enroll(ALICE_PUB, e=BOB_PRIV, handle=HANDLE)
    assert (handle, device_pub) == (HANDLE, BOB_PUB)
    expected = _hmac(SHARED, b"authtok push v1" + HANDLE + BOB_PUB + ALICE_PUB)
    assert token_pk == rp.push_key(HANDLE, BOB_PUB) == expected
    keys = crypto.subkeys(expected)
    assert keys == (_hmac(expected, b"enc"), _hmac(expected, b"mac"), _hmac(expected, b"ans"))
    assert len(set(keys)) == 3


def test_random_enrolment_agrees():
    rp = RpKey.generate()
    handle, device_pub, token_pk = crypto.token_enroll(rp.public)
    assert rp.push_key(handle, device_pub) == token_pk
    assert "RpKey(<private>)" == repr(rp)


@pytest.mark.parametrize("low_order", [bytes(32), (1).to_bytes(32, "little")])
def test_all_zero_shared_secret_refused(low_order):
    with pytest.raises(ValueError, match="all zeros"):
        RpKey.generate().push_key(HANDLE, low_order)
    with pytest.raises(ValueError, match="all zeros"):
        crypto.derive_push_key(bytes(32), HANDLE, BOB_PUB, ALICE_PUB)


def test_bad_lengths_refused():
    with pytest.raises(ValueError):
        crypto.derive_push_key(SHARED, HANDLE[:7], BOB_PUB, ALICE_PUB)
    with pytest.raises(ValueError):
        crypto.subkeys(PK[:31])


# --- challenges -----------------------------------------------------------------------------


def test_challenge_layout_and_round_trip():
    data, nonce = crypto.seal_challenge(PK, HANDLE, FIELDS, NONCE)
    assert nonce == NONCE and data[0] == 1 and data[1:9] == HANDLE and data[9:25] == NONCE
    plaintext = json.dumps(FIELDS, separators=(",", ":")).encode()
    assert len(data) == 25 + len(plaintext) + 16
    assert crypto.open_challenge(PK, data) == (HANDLE, NONCE, FIELDS)
    tag = _hmac(crypto.subkeys(PK).mac, data[:-16])[:16]
    assert data[-16:] == tag


def test_fresh_nonce_each_time():
    a, na = crypto.seal_challenge(PK, HANDLE, FIELDS)
    b, nb = crypto.seal_challenge(PK, HANDLE, FIELDS)
    assert na != nb and a != b


def test_ctr_counter_wraps_mod_2_128_as_ecb_built_ctr_does():
    """The firmware builds CTR on ECB: the counter is the whole block, + index, mod 2^128."""
    nonce = b"\xff" * 15 + b"\xfe"
    fields = dict(FIELDS, app="A" * 32, loc="L" * 48)
    data, _ = crypto.seal_challenge(PK, HANDLE, fields, nonce)
    ct = data[25:-16]
    ecb = Cipher(algorithms.AES(crypto.subkeys(PK).enc), modes.ECB()).encryptor()
    stream = b""
    for i in range((len(ct) + 15) // 16):
        counter = (int.from_bytes(nonce, "big") + i) % 2**128
        stream += ecb.update(counter.to_bytes(16, "big"))
    plaintext = bytes(c ^ k for c, k in zip(ct, stream, strict=False))
    assert json.loads(plaintext) == fields


def test_utf8_context_counts_bytes():
    fields = dict(FIELDS, loc="Zürich, CH", app="é" * 16)  # 32 bytes
    data, _ = crypto.seal_challenge(PK, HANDLE, fields)
    assert crypto.open_challenge(PK, data)[2] == fields
    with pytest.raises(ValueError, match="app is longer than 32 bytes"):
        crypto.seal_challenge(PK, HANDLE, dict(FIELDS, app="é" * 17))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"app": "x" * 33}, "app is longer"),
        ({"loc": "y" * 49}, "loc is longer"),
        ({"ip": "1" * 46}, "ip is longer"),
        ({"app": "VPN\x1b[2J"}, "control"),
        ({"loc": "Berlin\u202e ED"}, "control"),  # a right-to-left override
        ({"exp": FIELDS["iat"] + 301}, "exp - iat"),
        ({"exp": FIELDS["iat"]}, "exp - iat"),
        ({"num": 9}, "num"),
        ({"num": 100}, "num"),
        ({"num": True}, "num must be int"),
        ({"seq": 0}, "seq"),
        ({"seq": "1"}, "seq must be int"),
        ({"id": "00112233AABBCCDD"}, "id must be 16"),
        ({"id": "0011"}, "id must be 16"),
        ({"extra": 1}, "exactly"),
    ],
)
def test_seal_refuses_what_the_token_would(change, message):
    with pytest.raises(ValueError, match=message):
        crypto.seal_challenge(PK, HANDLE, dict(FIELDS, **change))


def test_seal_refuses_missing_field_and_bad_handle():
    fields = dict(FIELDS)
    del fields["ip"]
    with pytest.raises(ValueError, match="exactly"):
        crypto.seal_challenge(PK, HANDLE, fields)
    with pytest.raises(ValueError, match="handle"):
        crypto.seal_challenge(PK, HANDLE[:7], FIELDS)
    with pytest.raises(ValueError, match="nonce"):
        crypto.seal_challenge(PK, HANDLE, FIELDS, NONCE[:15])


def test_every_single_bit_flip_of_a_challenge_is_refused():
    data, _ = crypto.seal_challenge(PK, HANDLE, FIELDS, NONCE)
    for bad in flips(data):
        with pytest.raises(ChallengeRejected) as e:
            crypto.open_challenge(PK, bad)
        assert not e.value.authenticated and e.value.reason in ("malformed", "forged")


def test_truncated_and_padded_challenges_refused():
    data, _ = crypto.seal_challenge(PK, HANDLE, FIELDS, NONCE)
    for n in range(len(data)):
        with pytest.raises(ChallengeRejected):
            crypto.open_challenge(PK, data[:n])
    with pytest.raises(ChallengeRejected):
        crypto.open_challenge(PK, data + b"\x00")
    with pytest.raises(ChallengeRejected, match="malformed"):
        crypto.open_challenge(PK, raw_challenge(PK, b"x" * 472))  # 513 bytes


def test_challenge_under_another_key_is_forged():
    data, _ = crypto.seal_challenge(PK, HANDLE, FIELDS, NONCE)
    with pytest.raises(ChallengeRejected, match="forged"):
        crypto.open_challenge(bytes(32), data)


@pytest.mark.parametrize(
    "plaintext, reason",
    [
        (b"not json", "malformed"),
        (b"\xff\xfe", "malformed"),
        (b"[1,2]", "malformed"),
        (json.dumps(dict(FIELDS, app=3)).encode(), "malformed"),
        (json.dumps(dict(FIELDS, exp=FIELDS["iat"] + 301)).encode(), "bad_lifetime"),
        (json.dumps(dict(FIELDS, exp=FIELDS["iat"] - 1)).encode(), "bad_lifetime"),
    ],
)
def test_authentic_but_bad_plaintext(plaintext, reason):
    with pytest.raises(ChallengeRejected, match=reason) as e:
        crypto.open_challenge(PK, raw_challenge(PK, plaintext))
    assert e.value.authenticated


# --- answers ---------------------------------------------------------------------------------


def test_answer_round_trip_and_layout():
    data = crypto.seal_answer(PK, HANDLE, NONCE, approve())
    text = json.dumps(approve(), separators=(",", ":")).encode()
    assert data[:11] == b"\x01" + HANDLE + struct.pack(">H", len(text))
    assert data[-16:] == _hmac(crypto.subkeys(PK).ans, NONCE + data[:-16])[:16]
    answer = crypto.open_answer(PK, HANDLE, NONCE, FIELDS["id"], data)
    assert answer.approved and answer.pick == 42 and answer.device_time == FIELDS["iat"] + 5


@pytest.mark.parametrize("result", ["deny", "report", "wrong_number", "timeout"])
def test_authenticated_failures_are_not_approvals(result):
    data = crypto.seal_answer(PK, HANDLE, NONCE, {"id": FIELDS["id"], "r": result, "t": 1})
    answer = crypto.open_answer(PK, HANDLE, NONCE, FIELDS["id"], data)
    assert answer.result == result and answer.authenticated and not answer.approved


def test_rate_limited_needs_until():
    doc = {"id": FIELDS["id"], "r": "rate_limited", "t": 5, "until": 900}
    answer = crypto.open_answer(
        PK, HANDLE, NONCE, FIELDS["id"], crypto.seal_answer(PK, HANDLE, NONCE, doc)
    )
    assert answer.until == 900 and not answer.approved
    del doc["until"]
    with pytest.raises(PushRejected, match="until"):
        crypto.open_answer(
            PK, HANDLE, NONCE, FIELDS["id"], crypto.seal_answer(PK, HANDLE, NONCE, doc)
        )


def test_authenticated_rejection_with_null_id():
    doc = {"id": None, "r": "rejected", "why": "malformed", "t": 5}
    data = crypto.seal_answer(PK, HANDLE, NONCE, doc)
    answer = crypto.open_answer(PK, HANDLE, NONCE, FIELDS["id"], data)
    assert (answer.result, answer.why, answer.authenticated) == ("rejected", "malformed", True)
    assert not answer.approved


def test_every_single_bit_flip_of_an_answer_is_refused():
    data = crypto.seal_answer(PK, HANDLE, NONCE, approve())
    for bad in flips(data):
        with pytest.raises(PushRejected):
            crypto.open_answer(PK, HANDLE, NONCE, FIELDS["id"], bad)


def test_truncated_and_padded_answers_refused():
    data = crypto.seal_answer(PK, HANDLE, NONCE, approve())
    for n in range(len(data)):
        with pytest.raises(PushRejected):
            crypto.open_answer(PK, HANDLE, NONCE, FIELDS["id"], data[:n])
    with pytest.raises(PushRejected, match="length"):
        crypto.open_answer(PK, HANDLE, NONCE, FIELDS["id"], data + b"\x00")


def test_answer_under_wrong_key_nonce_handle_or_id_refused():
    data = crypto.seal_answer(PK, HANDLE, NONCE, approve())
    with pytest.raises(PushRejected, match="tag"):
        crypto.open_answer(bytes(32), HANDLE, NONCE, FIELDS["id"], data)
    with pytest.raises(PushRejected, match="tag"):  # an old answer replayed to a new challenge
        crypto.open_answer(PK, HANDLE, bytes(16), FIELDS["id"], data)
    other = bytes(8)
    with pytest.raises(PushRejected, match="handle"):
        crypto.open_answer(PK, other, NONCE, FIELDS["id"], data)
    wrong_handle = crypto.seal_answer(PK, other, NONCE, approve())
    with pytest.raises(PushRejected, match="handle"):
        crypto.open_answer(PK, HANDLE, NONCE, FIELDS["id"], wrong_handle)
    with pytest.raises(PushRejected, match="id"):
        crypto.open_answer(PK, HANDLE, NONCE, "ffffffffffffffff", data)
    no_id = crypto.seal_answer(PK, HANDLE, NONCE, dict(approve(), id=None))
    with pytest.raises(PushRejected, match="id"):
        crypto.open_answer(PK, HANDLE, NONCE, FIELDS["id"], no_id)


@pytest.mark.parametrize(
    "doc",
    [
        {"id": FIELDS["id"], "r": "yes"},
        {"id": FIELDS["id"], "r": "approve", "pick": True},
        {"id": FIELDS["id"], "r": "approve", "t": "now"},
        {"id": FIELDS["id"], "r": "deny", "why": "\x1b[31mred"},
        [1, 2],
    ],
)
def test_authenticated_but_malformed_answers_raise(doc):
    data = crypto.seal_answer(PK, HANDLE, NONCE, doc)  # type: ignore[arg-type]
    with pytest.raises(PushRejected):
        crypto.open_answer(PK, HANDLE, NONCE, FIELDS["id"], data)


@pytest.mark.parametrize("handle", [None, HANDLE])
@pytest.mark.parametrize("why", ["forged", "unknown_account", "malformed"])
def test_unauthenticated_rejection_is_a_failure_never_trusted(handle, why):
    data = crypto.seal_answer(None, handle, NONCE, {"id": None, "r": "rejected", "why": why})
    answer = crypto.open_answer(PK, HANDLE, NONCE, FIELDS["id"], data)
    assert answer == crypto.Answer("rejected", authenticated=False, why=why)
    assert not answer.approved


def test_unauthenticated_anything_else_raises():
    for doc in (
        approve(),
        {"id": FIELDS["id"], "r": "rate_limited", "until": 2**40},
        {"id": None, "r": "deny"},
    ):
        data = crypto.seal_answer(None, None, NONCE, doc)
        with pytest.raises(PushRejected, match="unauthenticated"):
            crypto.open_answer(PK, HANDLE, NONCE, FIELDS["id"], data)
    other = crypto.seal_answer(None, b"\x01" * 8, NONCE, {"id": None, "r": "rejected"})
    with pytest.raises(PushRejected):
        crypto.open_answer(PK, HANDLE, NONCE, FIELDS["id"], other)


def test_unauthenticated_reason_is_sanitised():
    doc = {"id": None, "r": "rejected", "why": "\x1b]0;pwned\x07"}
    answer = crypto.open_answer(
        PK, HANDLE, NONCE, FIELDS["id"], crypto.seal_answer(None, None, NONCE, doc)
    )
    assert answer.why == "unknown" and not answer.approved
