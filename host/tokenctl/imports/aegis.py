"""Aegis Authenticator vaults and exports, plain and encrypted (Aegis's docs/vault.md).

    {"version": 1, "header": {"slots": [...] | null, "params": {...} | null}, "db": ...}

Encrypted: a random 256-bit master key encrypts `db` (Base64) with AES-256-GCM; each
password slot holds the master key wrapped with AES-256-GCM under scrypt(password, salt,
N, r, p). The scrypt parameters come from the file, so they are capped: a hostile file must
not make the host spend gigabytes or minutes.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from tokenctl.errors import InputError
from tokenctl.imports import common
from tokenctl.imports.common import AskPassword, Imported

SLOT_PASSWORD = 1
# Aegis uses N=2^15, r=8, p=1 (32 MiB, about 0.1 s). Allow far more, but not without bound.
MAX_SCRYPT_MEMORY = 256 * 1024 * 1024  # 128 * N * r bytes
MAX_SCRYPT_WORK = 2**22  # N * r * p: about 30x Aegis's own cost


def is_vault(obj: Any) -> bool:
    return isinstance(obj, dict) and "header" in obj and "db" in obj


def read(obj: dict, what: str, ask_password: AskPassword) -> Imported:
    """Convert a parsed vault; asks for the password only when the vault is encrypted."""
    if obj.get("version") != 1:
        raise InputError(f"{what}: unsupported Aegis vault version (this reads version 1)")
    header = common.get(obj, "header", dict, what)
    db = obj["db"]
    if header.get("slots") is None and header.get("params") is None:
        if not isinstance(db, dict):
            raise InputError(f"{what}: a plain Aegis vault needs its entries in 'db'")
        return _convert(db, what, "aegis")
    if not isinstance(db, str):
        raise InputError(f"{what}: an encrypted Aegis vault needs 'db' as Base64 text")
    slots = [s for s in common.get(header, "slots", list, what) if isinstance(s, dict)]
    password_slots = [s for s in slots if s.get("type") == SLOT_PASSWORD]
    if not password_slots:
        raise InputError(f"{what}: the vault has no password slot (only biometric or raw keys)")
    params = common.get(header, "params", dict, what)
    ciphertext = _b64(db, what) + _hex(params, "tag", what, 16)
    nonce = _hex(params, "nonce", what, 12)
    password = ask_password(f"Password for the Aegis vault {what}")
    master = _unwrap(password_slots, password, what)
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        plain = AESGCM(master).decrypt(nonce, ciphertext, None)
    except InvalidTag:
        raise InputError(f"{what}: the vault's contents fail their integrity check") from None
    try:
        text = plain.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{what}: the decrypted vault is not UTF-8 text") from None
    db_obj = common.load_json(text, what)
    if not isinstance(db_obj, dict):
        raise InputError(f"{what}: the decrypted vault is not an object")
    return _convert(db_obj, what, "aegis (encrypted)")


def _unwrap(slots: list[dict], password: str, what: str) -> bytes:
    """The master key from the first password slot the password opens."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    for slot in slots:
        n, r, p = (common.get(slot, k, int, what) for k in ("n", "r", "p"))
        if n < 2 or n & (n - 1) or r < 1 or p < 1:
            raise InputError(f"{what}: invalid scrypt parameters in a password slot")
        if 128 * n * r > MAX_SCRYPT_MEMORY or n * r * p > MAX_SCRYPT_WORK:
            raise InputError(f"{what}: scrypt parameters beyond this tool's limit (N*r*p)")
        salt = _hex(slot, "salt", what)
        key_params = common.get(slot, "key_params", dict, what)
        wrapped = _hex(slot, "key", what, 32) + _hex(key_params, "tag", what, 16)
        kek = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode("utf-8"))
        try:
            return AESGCM(kek).decrypt(_hex(key_params, "nonce", what, 12), wrapped, None)
        except InvalidTag:
            continue
    raise InputError(f"{what}: wrong password for the Aegis vault")


def _convert(db: dict, what: str, kind: str) -> Imported:
    result = Imported(formats=[kind])
    for number, entry in enumerate(common.entries(db.get("entries"), what), start=1):
        if not isinstance(entry, dict):
            result.reject(f"entry {number}", "not an Aegis entry")
            continue
        issuer, name = entry.get("issuer"), entry.get("name")
        label = common.label(issuer, name, f"entry {number}")
        info = entry.get("info")
        kind_name = entry.get("type")
        if not isinstance(info, dict) or not isinstance(kind_name, str):
            result.reject(label, "no 'type' and 'info' in the entry")
            continue
        result.take(
            label,
            common.account,
            issuer=issuer,
            name=name,
            secret_b32=info.get("secret"),
            type=kind_name,
            algorithm=info.get("algo"),
            digits=info.get("digits"),
            period=info.get("period"),
            counter=info.get("counter"),
        )
    return result


def _hex(obj: Any, key: str, what: str, size: int | None = None) -> bytes:
    text = common.get(obj, key, str, what)
    try:
        data = bytes.fromhex(text)
    except ValueError:
        raise InputError(f"{what}: '{key}' is not hexadecimal") from None
    if size is not None and len(data) != size:
        raise InputError(f"{what}: '{key}' should be {size} bytes")
    return data


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{what}: 'db' is not valid Base64") from None
