"""What every importer shares: the result type, per-entry validation, careful JSON reading.

Importers never stop at the first bad entry: each entry becomes an Account or a Reject that
says, by label only, why it was left out. Messages never quote a secret or a file's content.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tokenctl import otpauth
from tokenctl.errors import InputError
from tokenctl.otpauth import Account

# Asks for a file's password; the argument says which file ("Aegis vault backup.json").
AskPassword = Callable[[str], str]

MAX_IMPORT_BYTES = 16 * 1024 * 1024  # text and JSON exports: far beyond any real one
MAX_ENTRIES = 10_000
_TYPE_NAMES = {"steam": "Steam", "motp": "mOTP", "yandex": "Yandex", "yaotp": "Yandex"}


class Reject(NamedTuple):
    """One entry that will not be imported: its label (never its secret) and why."""

    entry: str
    reason: str


@dataclass
class Imported:
    """What some input holds: accounts ready for the token, and the entries left out."""

    accounts: list[Account] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)  # "aegis (encrypted)", per input

    def take(self, entry: str, make: Callable[..., Account], **fields: Any) -> None:
        """Add the account `make(**fields)` builds, or a reject with its validation message."""
        try:
            self.accounts.append(make(**fields))
        except InputError as exc:
            self.reject(entry, str(exc).removeprefix("invalid account: "))

    def reject(self, entry: str, reason: str) -> None:
        self.rejects.append(Reject(entry, reason))

    def merge(self, other: Imported) -> None:
        self.accounts += other.accounts
        self.rejects += other.rejects
        self.formats += other.formats


def account(
    *,
    issuer: Any,
    name: Any,
    secret_b32: Any,
    type: Any = "totp",
    algorithm: Any = None,
    digits: Any = None,
    period: Any = None,
    counter: Any = None,
) -> Account:
    """An Account from an export's loosely typed fields (InputError says which is wrong).

    Apps allow an entry with an issuer but no account name; the token needs a name, so the
    issuer becomes the name.
    """
    if (
        isinstance(issuer, str)
        and issuer.strip()
        and (not isinstance(name, str) or not name.strip())
    ):
        issuer, name = "", issuer
    for what, value in (("digits", digits), ("period", period), ("counter", counter)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise InputError(f"invalid account: {what} must be a whole number")
    if not isinstance(type, str):
        raise InputError("invalid account: type must be totp or hotp")
    kind = type.lower()
    if kind not in otpauth.TYPES:
        raise InputError(f"invalid account: {unsupported_type(type)}")
    return otpauth.from_fields(
        issuer,
        name,
        secret_b32,
        type=kind,
        algorithm=algorithm,
        digits=digits,
        period=period if kind == "totp" else None,
        counter=counter if kind == "hotp" else None,
    )


def unsupported_type(kind: str) -> str:
    """The reason for OTP types the token cannot compute (Steam, mOTP, Yandex, ...)."""
    shown = _TYPE_NAMES.get(kind.lower(), kind)
    shown = shown if shown.isascii() and shown.isprintable() and len(shown) <= 16 else "?"
    return f"{shown} codes are not supported (the token computes TOTP and HOTP only)"


def label(issuer: Any, name: Any, fallback: str) -> str:
    """A printable label for an entry, or `fallback` ("entry 3") when it has none."""
    issuer = issuer.strip() if isinstance(issuer, str) else ""
    name = name.strip() if isinstance(name, str) else ""
    if not name and not issuer:
        return fallback
    text = f"{issuer}:{name}" if issuer and name else issuer or name
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= 80 else text[:77] + "..."


def b32(secret: bytes) -> str:
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def load_json(text: str, what: str) -> Any:
    """json.loads with a message that names the file, not its content."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise InputError(f"{what}: not valid JSON") from None


def get(obj: Any, key: str, kind: type | tuple[type, ...], what: str) -> Any:
    """obj[key] checked to be of `kind`; InputError names the field when it is not."""
    if not isinstance(obj, dict) or key not in obj:
        raise InputError(f"{what}: '{key}' is missing")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool) and bool not in _tuple(kind):
        raise InputError(f"{what}: '{key}' has the wrong type")
    return value


def entries(value: Any, what: str) -> list:
    if not isinstance(value, list):
        raise InputError(f"{what}: the list of entries is missing")
    if len(value) > MAX_ENTRIES:
        raise InputError(f"{what}: more than {MAX_ENTRIES} entries")
    return value


def _tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)
