"""2FAS Authenticator backups (.2fas): plain JSON, or with the services encrypted.

    {"services": [{"name", "secret", "otp": {"account", "issuer", "digits", "period",
      "algorithm", "counter", "tokenType"}}, ...], "schemaVersion": 4, ...}

Encrypted backups leave "services" empty and carry "servicesEncrypted":
"CIPHERTEXT+TAG:SALT:IV" (Base64 each): AES-256-GCM under PBKDF2-HMAC-SHA256(password, salt,
10,000 iterations), over the JSON list of services. The iteration count is 2FAS's own
constant, not read from the file, so a hostile file cannot make it larger.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from tokenctl.errors import InputError
from tokenctl.imports import common
from tokenctl.imports.common import AskPassword, Imported

PBKDF2_ITERATIONS = 10_000
MAX_SALT_BYTES = 1024  # 2FAS uses 256


def is_backup(obj: Any) -> bool:
    return isinstance(obj, dict) and "services" in obj and "schemaVersion" in obj


def read(obj: dict, what: str, ask_password: AskPassword) -> Imported:
    """Convert a parsed backup; asks for the password only when it is encrypted."""
    encrypted = obj.get("servicesEncrypted")
    if encrypted is None:
        return _convert(common.entries(obj.get("services"), what), "2fas")
    if not isinstance(encrypted, str):
        raise InputError(f"{what}: 'servicesEncrypted' has the wrong type")
    ciphertext, salt, iv = _split(encrypted, what)
    password = ask_password(f"Password for the 2FAS backup {what}")
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    key = PBKDF2HMAC(
        algorithm=hashes.SHA256(), length=32, salt=salt, iterations=PBKDF2_ITERATIONS
    ).derive(password.encode("utf-8"))
    try:
        plain = AESGCM(key).decrypt(iv, ciphertext, None)
    except InvalidTag:
        raise InputError(
            f"{what}: wrong password for the 2FAS backup (or a damaged file)"
        ) from None
    try:
        services = common.load_json(plain.decode("utf-8"), what)
    except UnicodeDecodeError:
        raise InputError(f"{what}: the decrypted services are not UTF-8 text") from None
    return _convert(common.entries(services, what), "2fas (encrypted)")


def _split(encrypted: str, what: str) -> tuple[bytes, bytes, bytes]:
    parts = encrypted.split(":")
    if len(parts) != 3:
        raise InputError(f"{what}: 'servicesEncrypted' is not CIPHERTEXT:SALT:IV")
    try:
        ciphertext, salt, iv = (base64.b64decode(p, validate=True) for p in parts)
    except (binascii.Error, ValueError):
        raise InputError(f"{what}: 'servicesEncrypted' is not valid Base64") from None
    if len(iv) != 12 or not 8 <= len(salt) <= MAX_SALT_BYTES or len(ciphertext) < 16:
        raise InputError(f"{what}: 'servicesEncrypted' has a bad IV, salt or length")
    return ciphertext, salt, iv


def _convert(services: list, kind: str) -> Imported:
    result = Imported(formats=[kind])
    for number, service in enumerate(services, start=1):
        otp = service.get("otp") if isinstance(service, dict) else None
        if not isinstance(otp, dict):
            result.reject(f"entry {number}", "not a 2FAS service")
            continue
        issuer = otp.get("issuer")
        if not isinstance(issuer, str) or not issuer.strip():
            issuer = service.get("name")  # older backups name the service only
        name = otp.get("account")
        if not isinstance(name, str) or not name.strip():
            name = otp.get("label")
        label = common.label(issuer, name, f"entry {number}")
        token_type = otp.get("tokenType", "TOTP")  # absent in schema versions 1 and 2
        result.take(
            label,
            common.account,
            issuer=issuer,
            name=name,
            secret_b32=service.get("secret"),
            type=token_type,
            algorithm=otp.get("algorithm"),
            digits=otp.get("digits"),
            period=otp.get("period"),
            counter=otp.get("counter"),
        )
    return result
