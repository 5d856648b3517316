"""The backup file format (host/tokenctl/backup.py, docs/backup.md), offline."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct

import pyotp
import pytest

from tokenctl import backup as fmt
from tokenctl.otpauth import parse_uri

PASS = "glacier-mango-tulip-42"
URIS = [
    "otpauth://totp/GitHub:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY&issuer=GitHub",
    "otpauth://hotp/Bank:bob?secret=JBSWY3DPEHPK3PXPJBSW&counter=5&issuer=Bank",
    "otpauth://totp/Mail:carol%C3%A9?secret=JBSWY3DPEHPK3PXPJBSWY3DP&algorithm=SHA512"
    "&digits=8&period=60&issuer=Mail",
]
CHEAP = dict(fmt.KDF_FLOOR, alg="argon2id")  # the weakest a file may ask for: fast tests


def make(passphrase: str = PASS, kdf: dict | None = None, uris=URIS, version=fmt.VERSION):
    kdf = kdf or dict(CHEAP, salt=base64.b64encode(b"s" * 16).decode())
    keys = fmt.derive(passphrase, kdf)
    records = [fmt.encode_record(parse_uri(u)) for u in uris]
    header = fmt.Header(
        kdf=kdf,
        check=base64.b64encode(keys.check).decode(),
        serial="00aa11bb22cc",
        fw="0.1.0",
        board="sim",
        created=1_790_000_000,
        generation=3,
        accounts=len(records),
    )
    data = fmt.pack(header, fmt.seal(records, keys.device, 3), keys)
    if version != fmt.VERSION:
        data = _resum(data[:8] + struct.pack(">H", version) + data[10:])
    return data


def _resum(data: bytes) -> bytes:
    """The same bytes with a fresh checksum: what someone who edits the file on purpose does."""
    body = data[:-32]
    return body + hashlib.sha256(body).digest()


@pytest.fixture(scope="module")
def good() -> bytes:
    return make()


def test_round_trip_gives_the_same_accounts_and_codes(good):
    opened = fmt.open_backup(good, PASS)
    assert opened.header.accounts == 3 and opened.header.generation == 3
    for uri, rec in zip(URIS, opened.records, strict=True):
        want = parse_uri(uri)
        got = rec.account()
        assert got == want
        if want.type == "totp":
            for t in (0, 1_700_000_000, 2_200_000_000, 4_102_444_800):
                assert _code(got, t) == pyotp.parse_uri(uri).at(t)


def _code(a, t):
    digest = {"SHA1": "sha1", "SHA256": "sha256", "SHA512": "sha512"}[a.algorithm]
    secret = base64.b32encode(a.secret).decode()
    return pyotp.TOTP(secret, digits=a.digits, interval=a.period, digest=digest).at(t)


def test_metadata_reads_without_the_passphrase_and_holds_no_secret(good):
    header, body, _ = fmt.read_header(good)
    assert (header.serial, header.accounts, header.created) == ("00aa11bb22cc", 3, 1_790_000_000)
    head = good[: good.index(body)]
    for uri in URIS:
        secret = parse_uri(uri).secret
        for form in (secret, base64.b32encode(secret), secret.hex().encode()):
            assert form not in good
        assert b"alice" not in head and b"GitHub" not in head


def test_wrong_passphrase_is_told_apart_from_damage(good):
    with pytest.raises(fmt.WrongPassphrase):
        fmt.open_backup(good, PASS + "x")


def test_every_truncation_is_refused_with_a_reason(good):
    for n in range(len(good)):
        with pytest.raises(fmt.BackupError) as e:
            fmt.read_header(good[:n])
        assert "truncated" in str(e.value) or "not a token backup" in str(e.value), n


def test_trailing_bytes_are_refused(good):
    with pytest.raises(fmt.BackupError, match="unexpected bytes"):
        fmt.read_header(good + b"\0")


def test_every_single_bit_flip_is_caught_without_a_key(good):
    for i in range(len(good)):
        for bit in range(8):
            bad = bytearray(good)
            bad[i] ^= 1 << bit
            with pytest.raises(fmt.BackupError):
                fmt.read_header(bytes(bad))


@pytest.mark.parametrize("where", ["header", "body", "mac"])
def test_a_change_made_on_purpose_is_caught_by_the_mac(good, where):
    header, body, mac_at = fmt.read_header(good)
    at = {"header": good.index(b'"board":"sim"') + 10, "body": good.index(body) + 40}.get(
        where, mac_at + 5
    )
    bad = bytearray(good)
    bad[at] ^= 0x01
    bad = _resum(bytes(bad))
    with pytest.raises(fmt.BackupError, match="MAC|seal|damaged"):
        fmt.open_backup(bad, PASS)


def test_a_newer_format_version_asks_for_an_update():
    with pytest.raises(fmt.BackupError, match="newer tokenctl"):
        fmt.read_header(make(version=fmt.VERSION + 1))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"m_kib": 4 * 1024 * 1024}, "above the cap"),
        ({"t": 1000}, "above the cap"),
        ({"p": 255}, "above the cap"),
        ({"m_kib": 1024}, "too weak"),
        ({"alg": "pbkdf2"}, "unknown key derivation"),
        ({"salt": "!!"}, "salt"),
        ({"salt": base64.b64encode(b"x").decode()}, "salt"),
    ],
)
def test_a_hostile_kdf_is_refused_before_any_work(good, change, message):
    kdf = dict(CHEAP, salt=base64.b64encode(b"s" * 16).decode())
    kdf.update(change)
    with pytest.raises(fmt.BackupError, match=message):
        fmt.derive(PASS, kdf)


def test_header_that_lies_about_the_count_is_refused():
    data = make()
    header, body, mac_at = fmt.read_header(data)
    raw = json.loads(data[14 : 14 + struct.unpack_from(">I", data, 10)[0]])
    raw["accounts"] = 7
    keys = fmt.derive(PASS, header.kdf)
    forged = fmt.pack(fmt._header(raw), body, keys)
    with pytest.raises(fmt.BackupError, match="header says 7"):
        fmt.open_backup(forged, PASS)


def test_a_damaged_record_inside_a_valid_seal_is_refused():
    keys = fmt.derive(PASS, dict(CHEAP, salt=base64.b64encode(b"s" * 16).decode()))
    with pytest.raises(fmt.BackupError, match="record"):
        fmt.unseal(fmt.seal([b"\x00\x06\x00"], keys.device), keys.device)


def test_the_file_mac_key_is_not_the_token_key():
    keys = fmt.derive(PASS, dict(CHEAP, salt=base64.b64encode(b"s" * 16).decode()))
    assert len({keys.device, keys.file, keys.check}) == 3
    assert not hmac.compare_digest(keys.device, keys.file)
