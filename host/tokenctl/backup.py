"""The backup file (docs/backup.md): read, write and verify it without a token.

    magic "TOKNBKUP" | version (2) | header length (4) | header (UTF-8 JSON) |
    body length (4) | body (the token's sealed blob) | HMAC-SHA256 over all before it |
    SHA-256 over all before it

The plain SHA-256 at the end tells a damaged file (a bad disk, a cut download) from a wrong
passphrase without any key; the HMAC catches a file changed on purpose.

The passphrase goes through Argon2id (parameters in the header) to a master key; three keys
are expanded from it: one the token seals the accounts with (it gets only this one, so the
secrets never cross the cable in plaintext), one for the file's MAC, and a check value that
tells a wrong passphrase from a damaged file. Everything here checks a length before it uses
it, and a file's KDF parameters are capped, so a hostile file costs at most a few seconds and
256 MiB.

No click here: the CLI, the bench tools and the tests use this module alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
from dataclasses import asdict, dataclass, field

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from tokenctl.errors import EXIT_AUTH, InputError, TokenError
from tokenctl.otpauth import Account, Algorithm

MAGIC = b"TOKNBKUP"
VERSION = 1
# Argon2id as RFC 9106's second recommendation (64 MiB, 3 passes, 4 lanes): stronger than
# OWASP's minimum (19 MiB, 2 passes) and than Aegis's scrypt (N=2^15, r=8: 32 MiB).
KDF_DEFAULT = {"alg": "argon2id", "m_kib": 64 * 1024, "t": 3, "p": 4}
KDF_CAP = {"m_kib": 256 * 1024, "t": 16, "p": 16}  # what reading a file may cost at most
KDF_FLOOR = {"m_kib": 19 * 1024, "t": 2, "p": 1}  # OWASP: weaker files are refused
HEADER_MAX = 16 * 1024
BODY_MAX = 64 * 1024  # the token refuses larger uploads; 250 accounts need < 53 KiB
_FIXED = len(MAGIC) + 2 + 4  # magic, version, header length
_MAC = 32
_SUM = 32
_LABELS = {
    "device": b"tokenctl backup v1: token key",
    "file": b"tokenctl backup v1: file MAC key",
    "check": b"tokenctl backup v1: passphrase check",
}
_ALGS: tuple[Algorithm, ...] = ("SHA1", "SHA256", "SHA512")


class BackupError(InputError):
    """The file is not a backup, is damaged, or cannot be read by this version."""


class WrongPassphrase(TokenError):
    exit_code = EXIT_AUTH


@dataclass
class Keys:
    device: bytes  # handed to the token for this one backup or restore
    file: bytes
    check: bytes


@dataclass
class Header:
    """What `backup info` shows without the passphrase: nothing secret."""

    kdf: dict
    check: str  # base64 of the passphrase check value
    serial: str
    fw: str
    board: str
    created: int  # the token's clock when it sealed the accounts, Unix seconds
    generation: int  # how many backups this token (and the ones it restored from) made
    accounts: int
    push_marked: int = 0  # push-enrolled accounts: restored without push, to re-verify
    cipher: str = "TKS1 sealed blob: AES-256-CBC, HMAC-SHA256 (encrypt-then-MAC)"
    extra: dict = field(default_factory=dict)

    def to_json(self) -> bytes:
        d = asdict(self)
        d.update(d.pop("extra"))
        return json.dumps(d, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class Record:
    """One account as the token keeps it (vault record V1); secret stays in memory only."""

    hotp: bool
    algorithm: Algorithm
    touch: bool
    reverify: bool  # push-enrolled when backed up: enrol again after a restore
    digits: int
    period: int
    counter: int
    secret: bytes = field(repr=False)
    issuer: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.issuer}:{self.name}" if self.issuer else self.name

    def account(self) -> Account:
        return Account(
            type="hotp" if self.hotp else "totp",
            secret=self.secret,
            issuer=self.issuer,
            name=self.name,
            algorithm=self.algorithm,
            digits=self.digits,
            period=self.period or 30,
            counter=self.counter,
            touch=self.touch,
        )


@dataclass
class Backup:
    header: Header
    records: list[Record]


# --- keys ------------------------------------------------------------------------------------


def new_kdf() -> dict:
    return dict(KDF_DEFAULT, salt=base64.b64encode(os.urandom(16)).decode())


def _check_kdf(kdf: object) -> tuple[bytes, int, int, int]:
    if not isinstance(kdf, dict) or kdf.get("alg") != "argon2id":
        raise BackupError("unknown key derivation (this version reads argon2id)")
    nums = []
    for key in ("m_kib", "t", "p"):
        v = kdf.get(key)
        if not isinstance(v, int) or isinstance(v, bool):
            raise BackupError(f"key derivation parameter {key} missing")
        if v > KDF_CAP[key]:
            raise BackupError(f"key derivation parameter {key}={v} is above the cap {KDF_CAP[key]}")
        if v < KDF_FLOOR[key]:
            raise BackupError(f"key derivation parameter {key}={v} is too weak")
        nums.append(v)
    try:
        salt = base64.b64decode(kdf.get("salt", ""), validate=True)
    except (ValueError, TypeError):
        raise BackupError("key derivation salt is not base64") from None
    if not 16 <= len(salt) <= 64:
        raise BackupError("key derivation salt must be 16 to 64 bytes")
    return salt, nums[0], nums[1], nums[2]


def derive(passphrase: str, kdf: dict) -> Keys:
    salt, m_kib, t, p = _check_kdf(kdf)
    master = Argon2id(salt=salt, length=32, iterations=t, lanes=p, memory_cost=m_kib).derive(
        passphrase.encode()
    )
    k = {name: hmac.digest(master, label, "sha256") for name, label in _LABELS.items()}
    return Keys(device=k["device"], file=k["file"], check=k["check"][:16])


# --- the file ---------------------------------------------------------------------------------


def pack(header: Header, body: bytes, keys: Keys) -> bytes:
    head = header.to_json()
    out = MAGIC + struct.pack(">HI", VERSION, len(head)) + head + struct.pack(">I", len(body))
    out += body
    out += hmac.digest(keys.file, out, "sha256")
    return out + hashlib.sha256(out).digest()


def read_header(data: bytes) -> tuple[Header, bytes, int]:
    """The header, the body and where the MAC starts, checking every length on the way;
    no passphrase needed. Raises BackupError saying exactly what is wrong."""
    if data[: len(MAGIC)] != MAGIC:
        raise BackupError("not a token backup (no TOKNBKUP magic)")
    if len(data) < _FIXED + _SUM:
        raise BackupError(f"truncated: {len(data)} bytes, too short for any backup")
    # Every format version ends with this checksum, so a newer file is told from a damaged one.
    intact = hmac.compare_digest(hashlib.sha256(data[:-_SUM]).digest(), data[-_SUM:])
    version, hlen = struct.unpack_from(">HI", data, len(MAGIC))
    if version != VERSION and intact:
        if version > VERSION:
            raise BackupError(
                f"made by a newer tokenctl (backup format {version}; this one reads "
                f"{VERSION}): update tokenctl"
            )
        raise BackupError(f"unknown backup format {version}")
    if hlen > HEADER_MAX:
        raise BackupError(f"damaged: header length {hlen} is over the limit {HEADER_MAX}")
    at = _FIXED + hlen
    if len(data) < at + 4:
        raise BackupError(f"truncated: {len(data)} bytes, the header alone needs {at + 4}")
    (blen,) = struct.unpack_from(">I", data, at)
    if blen > BODY_MAX:
        raise BackupError(f"damaged: body length {blen} is over the limit {BODY_MAX}")
    end = at + 4 + blen
    size = end + _MAC + _SUM
    if len(data) < size:
        raise BackupError(f"truncated: {len(data)} bytes where the file needs {size}")
    if len(data) > size:
        raise BackupError(f"{len(data) - size} unexpected bytes after the end")
    if not intact or version != VERSION:
        raise BackupError("the file is damaged (checksum mismatch)")
    try:
        raw = json.loads(data[_FIXED:at])
    except (UnicodeDecodeError, ValueError):
        raise BackupError("header is damaged (not JSON)") from None
    return _header(raw), data[at + 4 : end], end


def _header(raw: object) -> Header:
    if not isinstance(raw, dict):
        raise BackupError("header is damaged (not an object)")
    want = {
        "kdf": dict,
        "check": str,
        "serial": str,
        "fw": str,
        "board": str,
        "created": int,
        "generation": int,
        "accounts": int,
    }
    for key, kind in want.items():
        if not isinstance(raw.get(key), kind) or isinstance(raw.get(key), bool):
            raise BackupError(f"header field {key} is missing or damaged")
    known = set(want) | {"push_marked", "cipher"}
    extra = {k: v for k, v in raw.items() if k not in known}
    push = raw.get("push_marked", 0)
    if not isinstance(push, int) or isinstance(push, bool) or push < 0:
        raise BackupError("header field push_marked is damaged")
    return Header(
        **{k: raw[k] for k in want},
        push_marked=push,
        cipher=str(raw.get("cipher", "")),
        extra=extra,
    )


def open_backup(data: bytes, passphrase: str) -> Backup:
    """Verify everything a token would, and more: passphrase, file MAC, the sealed body, every
    record. Raises WrongPassphrase or BackupError with exactly what is wrong."""
    header, body, mac_at = read_header(data)
    keys = derive(passphrase, header.kdf)
    try:
        check = base64.b64decode(header.check, validate=True)
    except ValueError:
        raise BackupError("header field check is damaged") from None
    if not hmac.compare_digest(check, keys.check):
        raise WrongPassphrase("wrong passphrase for this backup")
    mac = data[mac_at : mac_at + _MAC]
    if not hmac.compare_digest(hmac.digest(keys.file, data[:mac_at], "sha256"), mac):
        raise BackupError("the file was changed or damaged after it was written (MAC mismatch)")
    records = unseal(body, keys.device)
    if len(records) != header.accounts:
        raise BackupError(f"header says {header.accounts} accounts, body holds {len(records)}")
    return Backup(header, records)


def unseal(body: bytes, key: bytes) -> list[Record]:
    """The token's sealed blob (firmware/authtok/store.py, kind b"bkup") opened on the host."""
    head, tag = body[:28], body[-32:]
    ct = body[28:-32]
    if len(body) < 28 + 16 + 32 or len(ct) % 16 or head[:8] != b"TKS1bkup":
        raise BackupError("body is not a sealed backup blob")
    enc = hmac.digest(key, b"enc:bkup", "sha256")
    mac = hmac.digest(key, b"mac:bkup", "sha256")
    if not hmac.compare_digest(hmac.digest(mac, head + ct, "sha256"), tag):
        raise BackupError("the token's seal on the accounts does not verify")
    dec = Cipher(algorithms.AES(enc), modes.CBC(head[12:28])).decryptor()
    plain = dec.update(ct) + dec.finalize()
    pad = plain[-1]
    if not 1 <= pad <= 16 or plain[-pad:] != bytes([pad]) * pad:
        raise BackupError("body padding is damaged")
    return parse_records(plain[:-pad])


def seal(records: list[bytes], key: bytes, generation: int = 1) -> bytes:
    """The blob a token would make from raw records (for tests and tools)."""
    plain = b"V1" + b"".join(struct.pack(">H", len(r)) + r for r in records)
    return seal_plain(plain, key, generation)


def seal_plain(plain: bytes, key: bytes, generation: int = 1) -> bytes:
    """A sealed blob (firmware/authtok/store.py, kind b"bkup") around any plaintext."""
    pad = 16 - len(plain) % 16
    plain += bytes([pad]) * pad
    enc = hmac.digest(key, b"enc:bkup", "sha256")
    mac = hmac.digest(key, b"mac:bkup", "sha256")
    iv = os.urandom(16)
    head = b"TKS1bkup" + struct.pack(">I", generation) + iv
    e = Cipher(algorithms.AES(enc), modes.CBC(iv)).encryptor()
    ct = e.update(plain) + e.finalize()
    return head + ct + hmac.digest(mac, head + ct, "sha256")


def parse_records(plain: bytes) -> list[Record]:
    if plain[:2] != b"V1":
        raise BackupError("accounts are in an unknown record format")
    out, at = [], 2
    while at < len(plain):
        if at + 2 > len(plain):
            raise BackupError("accounts are damaged (record length)")
        (n,) = struct.unpack_from(">H", plain, at)
        rec = plain[at + 2 : at + 2 + n]
        if len(rec) != n:
            raise BackupError("accounts are damaged (record cut short)")
        out.append(decode_record(rec))
        at += 2 + n
    return out


def decode_record(rec: bytes) -> Record:
    """firmware/authtok/vault.py's record: flags | digits | period or counter | secret |
    issuer | name, each of the last three with a length byte."""
    try:
        flags, digits = rec[0], rec[1]
        hotp = bool(flags & 1)
        at = 10 if hotp else 4
        var = int.from_bytes(rec[2:at], "big")
        parts = []
        for _ in range(3):
            n = rec[at]
            parts.append(rec[at + 1 : at + 1 + n])
            if len(parts[-1]) != n:
                raise IndexError
            at += 1 + n
        if at != len(rec) or (flags >> 1) & 3 == 3 or flags & ~0x1F:
            raise IndexError
        return Record(
            hotp=hotp,
            algorithm=_ALGS[(flags >> 1) & 3],
            touch=bool(flags & 8),
            reverify=bool(flags & 16),
            digits=digits,
            period=0 if hotp else var,
            counter=var if hotp else 0,
            secret=bytes(parts[0]),
            issuer=parts[1].decode(),
            name=parts[2].decode(),
        )
    except (IndexError, UnicodeDecodeError):
        raise BackupError("an account record is damaged") from None


def encode_record(a: Account) -> bytes:
    """An otpauth Account as a vault record (for tests and tools)."""
    secret = a.secret
    flags = (1 if a.type == "hotp" else 0) | (_ALGS.index(a.algorithm) << 1) | (8 * a.touch)
    var = struct.pack(">Q", a.counter) if a.type == "hotp" else struct.pack(">H", a.period)
    issuer, name = a.issuer.encode(), a.name.encode()
    return (
        bytes([flags, a.digits])
        + var
        + bytes([len(secret)])
        + secret
        + bytes([len(issuer)])
        + issuer
        + bytes([len(name)])
        + name
    )


def digest(data: bytes) -> str:
    """A short fingerprint of a file, to name it in messages (never of a secret)."""
    return hashlib.sha256(data).hexdigest()[:16]
