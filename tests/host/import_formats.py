"""Writers for other apps' export formats, made independently of tokenctl's readers.

Google's payload is encoded here by hand (protobuf wire format, field by field), Aegis vaults
follow Aegis's docs/vault.md, 2FAS backups follow the app's files; so the readers are tested
against the formats, not against themselves. Run as a script to rewrite the stored fixtures
in tests/host/data/imports/ (new random salts and nonces, the same content):

    .venv/bin/python tests/host/import_formats.py
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from pathlib import Path
from urllib.parse import quote

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

DATA = Path(__file__).parent / "data" / "imports"
PASSWORD = "correct horse battery staple"

# The accounts in every stored fixture: (issuer, name, base32 secret, type, algo, digits,
# period, counter). Test secrets only.
GOOD = [
    ("Deno", "mason@example.com", "4SJHB4GSD43FZBAI7C2HLRJGPQ", "totp", "SHA1", 6, 30, 0),
    ("SPDX", "james", "5OM4WOOGPLQEF6UGN3CPEOOLWU", "totp", "SHA256", 7, 20, 0),
    ("Airbnb", "elijah", "7ELGJSGA6ERKGS6PCVTWPHCDDE", "totp", "SHA512", 8, 30, 0),
    ("Issuu", "james", "YOOMIXWS5GN6RTBPUFFWKTW5M4", "hotp", "SHA1", 6, 30, 1),
    ("Air Canada", "benjamin", "KUVJJOM753IHTNDSZVCNKL7GII", "hotp", "SHA256", 7, 30, 50),
]
STEAM = ("Boeing", "sophia", "JRZCL47CMXVOQMNPZR2F7J4RGI", "steam", "SHA1", 5, 30, 0)


def secret_bytes(b32: str) -> bytes:
    return base64.b32decode(b32 + "=" * (-len(b32) % 8))


# --- Google Authenticator: otpauth-migration://offline?data=... ----------------------------

_GA_ALGO = {"SHA1": 1, "SHA256": 2, "SHA512": 3, "MD5": 4}
_GA_DIGITS = {6: 1, 8: 2}
_GA_TYPE = {"hotp": 1, "totp": 2}


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64s are ten bytes, as protobuf writes them
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _tag(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _bytes_field(number: int, data: bytes) -> bytes:
    return _tag(number, 2) + _varint(len(data)) + data


def _int_field(number: int, value: int) -> bytes:
    return _tag(number, 0) + _varint(value) if value else b""


def ga_params(
    issuer: str,
    name: str,
    secret: bytes,
    kind: str = "totp",
    algo: str = "SHA1",
    digits: int = 6,
    counter: int = 0,
    *,
    type_number: int | None = None,
    digits_number: int | None = None,
) -> bytes:
    """One OtpParameters message (name, issuer, algorithm, digits, type, counter)."""
    return (
        _bytes_field(1, secret)
        + _bytes_field(2, name.encode())
        + _bytes_field(3, issuer.encode())
        + _int_field(4, _GA_ALGO[algo])
        + _int_field(5, _GA_DIGITS.get(digits, 0) if digits_number is None else digits_number)
        + _int_field(6, _GA_TYPE.get(kind, 0) if type_number is None else type_number)
        + _int_field(7, counter)
    )


def ga_payload(params: list[bytes], batch_size=1, batch_index=0, batch_id=0) -> bytes:
    body = b"".join(_bytes_field(1, p) for p in params)
    return (
        body
        + _int_field(2, 1)
        + _int_field(3, batch_size)
        + _int_field(4, batch_index)
        + _int_field(5, batch_id)
    )


def ga_uri(payload: bytes) -> str:
    return "otpauth-migration://offline?data=" + quote(base64.b64encode(payload).decode(), safe="")


def ga_params_of(row) -> bytes:
    issuer, name, b32, kind, algo, digits, _period, counter = row
    # Google keeps the original label in `name`, issuer prefix and all.
    return ga_params(issuer, f"{issuer}:{name}", secret_bytes(b32), kind, algo, digits, counter)


def ga_export(rows, per_batch: int = 3, batch_id: int = 1234567) -> list[str]:
    """A Google Authenticator export of `rows` (GA keeps 30 s periods, 6 or 8 digits)."""
    chunks = [rows[i : i + per_batch] for i in range(0, len(rows), per_batch)]
    return [
        ga_uri(ga_payload([ga_params_of(r) for r in chunk], len(chunks), index, batch_id))
        for index, chunk in enumerate(chunks)
    ]


# --- Aegis ------------------------------------------------------------------------------------


def aegis_entry(row) -> dict:
    issuer, name, b32, kind, algo, digits, period, counter = row
    info: dict = {"secret": b32, "algo": algo, "digits": digits}
    if kind == "hotp":
        info["counter"] = counter
    else:
        info["period"] = period
    return {
        "type": kind,
        "uuid": str(uuid.uuid4()),
        "name": name,
        "issuer": issuer,
        "note": "",
        "favorite": False,
        "icon": None,
        "info": info,
    }


def aegis_vault(
    entries: list[dict],
    password: str | None = None,
    n: int = 2**15,
    r: int = 8,
    p: int = 1,
    biometric_slot: bool = False,
) -> dict:
    """An Aegis vault as Aegis writes it (docs/vault.md): plain, or password-encrypted."""
    db = {"version": 3, "entries": entries, "groups": []}
    if password is None:
        return {"version": 1, "header": {"slots": None, "params": None}, "db": db}
    master = AESGCM.generate_key(256)
    slots = []
    if biometric_slot:  # a KeyStore-wrapped copy of the master key: unusable off the phone
        slots.append(_slot(0x02, AESGCM.generate_key(256), master))
    salt = os.urandom(32)
    kek = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode())
    slots.append({**_slot(0x01, kek, master), "n": n, "r": r, "p": p, "salt": salt.hex()})
    nonce = os.urandom(12)
    sealed = AESGCM(master).encrypt(nonce, json.dumps(db).encode(), None)
    return {
        "version": 1,
        "header": {"slots": slots, "params": {"nonce": nonce.hex(), "tag": sealed[-16:].hex()}},
        "db": base64.b64encode(sealed[:-16]).decode(),
    }


def _slot(kind: int, kek: bytes, master: bytes) -> dict:
    nonce = os.urandom(12)
    wrapped = AESGCM(kek).encrypt(nonce, master, None)
    return {
        "type": kind,
        "uuid": str(uuid.uuid4()),
        "key": wrapped[:-16].hex(),
        "key_params": {"nonce": nonce.hex(), "tag": wrapped[-16:].hex()},
    }


# --- 2FAS -----------------------------------------------------------------------------------


def twofas_service(row, position: int = 0) -> dict:
    issuer, name, b32, kind, algo, digits, period, counter = row
    otp: dict = {
        "label": name,
        "account": name,
        "issuer": issuer,
        "digits": digits,
        "algorithm": algo,
        "tokenType": kind.upper(),
        "source": "Link",
    }
    if kind == "hotp":
        otp["counter"] = counter
    else:
        otp["period"] = period
    return {
        "name": issuer,
        "secret": b32,
        "updatedAt": 1702934567518,
        "otp": otp,
        "order": {"position": position},
        "icon": {"selected": "Label", "label": {"text": issuer[:2].upper()}},
    }


def twofas_backup(services: list[dict], password: str | None = None) -> dict:
    """A 2FAS backup (schema 4); encrypted: PBKDF2-SHA256 (10,000) + AES-256-GCM."""
    backup: dict = {
        "services": services,
        "groups": [],
        "updatedAt": 1702934782660,
        "schemaVersion": 4,
        "appVersionCode": 5000009,
        "appVersionName": "5.1.0",
        "appOrigin": "android",
    }
    if password is None:
        return backup
    salt, iv = os.urandom(256), os.urandom(12)
    key = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=10_000).derive(
        password.encode()
    )
    sealed = AESGCM(key).encrypt(iv, json.dumps(services).encode(), None)
    b64 = [base64.b64encode(x).decode() for x in (sealed, salt, iv)]
    return {**backup, "services": [], "servicesEncrypted": ":".join(b64)}


# --- otpauth:// ------------------------------------------------------------------------------


def otpauth_uri(row) -> str:
    issuer, name, b32, kind, algo, digits, period, counter = row
    label = quote(f"{issuer}:{name}")
    extra = f"counter={counter}" if kind == "hotp" else f"period={period}"
    return (
        f"otpauth://{kind}/{label}?secret={b32}&issuer={quote(issuer)}"
        f"&algorithm={algo}&digits={digits}&{extra}"
    )


def write_fixtures(folder: Path = DATA) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [*GOOD, STEAM]
    ga_rows = [r for r in GOOD if r[6] == 30 and r[5] in (6, 8)]  # what Google can hold

    def dump(name: str, obj: dict) -> None:
        (folder / name).write_text(json.dumps(obj, indent=2) + "\n")

    dump("aegis_plain.json", aegis_vault([aegis_entry(r) for r in rows]))
    dump("aegis_encrypted.json", aegis_vault([aegis_entry(r) for r in rows], PASSWORD))
    services = [twofas_service(r, n) for n, r in enumerate(rows)]
    dump("twofas_plain.2fas", twofas_backup(services))
    dump("twofas_encrypted.2fas", twofas_backup(services, PASSWORD))
    (folder / "google_authenticator.txt").write_text("\n".join(ga_export(ga_rows, 1)) + "\n")
    uris = "# exported by an authenticator app\n" + "\n".join(otpauth_uri(r) for r in rows)
    (folder / "otpauth.txt").write_text(uris + "\n")


if __name__ == "__main__":
    write_fixtures()
