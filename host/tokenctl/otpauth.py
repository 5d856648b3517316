"""Accounts and the otpauth:// Key Uri Format.

Parses the format described on the Google Authenticator wiki ("Key-Uri-Format"):

    otpauth://TYPE/LABEL?PARAMETERS
    otpauth://totp/Example:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example

URIs carry secrets, so no error message here ever quotes the URI, the secret or any
parameter value: messages name only the part that is wrong.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from tokenctl.errors import InputError

OtpType = Literal["totp", "hotp"]
Algorithm = Literal["SHA1", "SHA256", "SHA512"]

TYPES = ("totp", "hotp")
ALGORITHMS = ("SHA1", "SHA256", "SHA512")
DIGITS = (6, 7, 8)

DEFAULT_ALGORITHM: Final = "SHA1"
DEFAULT_DIGITS = 6
DEFAULT_PERIOD = 30
DEFAULT_COUNTER = 0

MAX_TEXT_BYTES = 64  # issuer and name, UTF-8
MIN_SECRET_BYTES = 10  # 80 bits: the common minimum
MAX_SECRET_BYTES = 64
WEAK_SECRET_BYTES = 16  # below 128 bits the CLI warns
MAX_PERIOD = 3600
MAX_COUNTER = 2**64 - 1

# Parameters whose repetition would make the URI ambiguous.
_SINGLE_PARAMS = ("secret", "issuer", "algorithm", "digits", "period", "counter")
_B32_CHARS = re.compile(r"[A-Z2-7]*")
_UINT = re.compile(r"[0-9]+")
# The label's issuer separator: a literal or percent-encoded colon.
_LABEL_SEP = re.compile(r":|%3[aA]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class _Invalid(Exception):
    """Internal: one reason an input is wrong; the public entry points add context."""


@dataclass(frozen=True)
class Account:
    """One OTP account. Constructing it validates every field (InputError otherwise)."""

    type: OtpType
    issuer: str
    name: str
    secret: bytes = field(repr=False)
    algorithm: Algorithm = DEFAULT_ALGORITHM
    digits: int = DEFAULT_DIGITS
    period: int = DEFAULT_PERIOD
    counter: int = DEFAULT_COUNTER
    touch: bool = False  # each code needs a fresh finger on the token (not in URIs)

    def __post_init__(self):
        try:
            _validate(self)
        except _Invalid as exc:
            raise InputError(f"invalid account: {exc}") from None

    @property
    def label(self) -> str:
        return f"{self.issuer}:{self.name}" if self.issuer else self.name

    @property
    def weak(self) -> bool:
        """The secret is shorter than 128 bits: accepted, but worth a warning."""
        return len(self.secret) < WEAK_SECRET_BYTES

    def to_wire(self) -> dict:
        """The compact form for the device protocol; defaults are left out."""
        wire: dict = {
            "k": 0 if self.type == "totp" else 1,
            "i": self.issuer,
            "n": self.name,
            "s": base64.b32encode(self.secret).decode("ascii").rstrip("="),
        }
        if self.algorithm != DEFAULT_ALGORITHM:
            wire["a"] = self.algorithm
        if self.digits != DEFAULT_DIGITS:
            wire["d"] = self.digits
        if self.type == "totp" and self.period != DEFAULT_PERIOD:
            wire["p"] = self.period
        if self.type == "hotp" and self.counter != DEFAULT_COUNTER:
            wire["c"] = self.counter
        if self.touch:
            wire["t"] = 1
        return wire


def parse_uri(uri: str) -> Account:
    """Parse one otpauth:// URI strictly; InputError says what is wrong, never the secret."""
    try:
        return _parse_uri(uri)
    except _Invalid as exc:
        raise InputError(f"invalid otpauth URI: {exc}") from None


def from_fields(
    issuer: str | None,
    name: str,
    secret_b32: str,
    type: str = "totp",
    algorithm: str | None = DEFAULT_ALGORITHM,
    digits: int | None = DEFAULT_DIGITS,
    period: int | None = DEFAULT_PERIOD,
    counter: int | None = DEFAULT_COUNTER,
) -> Account:
    """Build an Account from separate fields (the CLI's --issuer/--name/--secret options).

    Same rules as parse_uri; None means the default. Issuer and name are trimmed.
    """
    try:
        for what, value in (("issuer", issuer), ("name", name), ("secret", secret_b32)):
            if value is not None and not isinstance(value, str):
                raise _Invalid(f"{what} must be text")
        otp_type = _parse_type(type)
        return _account(
            otp_type,
            (issuer or "").strip(),
            (name or "").strip(),
            _decode_secret(secret_b32 or ""),
            _parse_algorithm(DEFAULT_ALGORITHM if algorithm is None else algorithm),
            DEFAULT_DIGITS if digits is None else digits,
            DEFAULT_PERIOD if period is None else period,
            DEFAULT_COUNTER if counter is None else counter,
        )
    except _Invalid as exc:
        raise InputError(f"invalid account: {exc}") from None


def read_uri_file(path_or_text: str | os.PathLike) -> list[Account]:
    """Read one otpauth URI per line; blank lines and '#' comments are skipped.

    A path-like is read as a file. A str is taken as the text itself when it contains a
    newline or starts with "otpauth:" (or is empty), otherwise as a file path.
    All-or-nothing: every bad line is reported (by number, never content) in one InputError.
    """
    lines = _read_lines(path_or_text)
    accounts: list[Account] = []
    errors: list[str] = []
    for number, line in enumerate(lines, start=1):
        if isinstance(line, _Invalid):
            errors.append(f"line {number}: {line}")
            continue
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            accounts.append(_parse_uri(line))
        except _Invalid as exc:
            errors.append(f"line {number}: {exc}")
    if errors:
        count = f"{len(errors)} bad line" + ("s" if len(errors) > 1 else "")
        raise InputError(
            f"invalid otpauth URI list ({count}, nothing imported):\n  " + "\n  ".join(errors)
        )
    return accounts


# --- internals -----------------------------------------------------------------------------


def _read_lines(path_or_text: str | os.PathLike) -> list[str | _Invalid]:
    if isinstance(path_or_text, str):
        stripped = path_or_text.lstrip()
        if not stripped or "\n" in path_or_text or stripped[:8].lower() == "otpauth:":
            return list(_LINE_BREAK.split(path_or_text))
    elif not isinstance(path_or_text, os.PathLike):
        raise InputError("expected a file path or the text of an otpauth URI list")
    path = Path(path_or_text)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc.__class__.__name__}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines: list[str | _Invalid] = []
    for raw in data.splitlines():
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(_Invalid("not valid UTF-8"))
    return lines


def _parse_uri(uri: str) -> Account:
    if not isinstance(uri, str):
        raise _Invalid("expected text")
    uri = uri.strip()
    if not uri:
        raise _Invalid("empty")
    try:
        parts = urlsplit(uri)
    except ValueError:
        raise _Invalid("malformed URI") from None
    if parts.scheme.lower() != "otpauth":
        raise _Invalid("scheme must be otpauth://")
    otp_type = _parse_type(parts.netloc)

    # Label: split on the first literal or encoded colon while still encoded, then decode.
    raw_label = parts.path[1:] if parts.path.startswith("/") else parts.path
    pieces = _LABEL_SEP.split(raw_label, maxsplit=1)
    if len(pieces) == 2:
        label_issuer, name = (_unquote(p, "label").strip() for p in pieces)
    else:
        label_issuer, name = "", _unquote(pieces[0], "label").strip()

    params = _parse_query(parts.query)

    secret_text = params.get("secret", "")
    if not secret_text.strip():
        raise _Invalid("secret parameter is missing")
    secret = _decode_secret(secret_text)

    issuer = label_issuer
    param_issuer = params.get("issuer", "").strip()
    if param_issuer:
        if label_issuer and label_issuer != param_issuer:
            raise _Invalid("issuer in the label and the issuer parameter differ")
        issuer = param_issuer

    algorithm = _parse_algorithm(params.get("algorithm", DEFAULT_ALGORITHM))
    digits = _parse_uint(params["digits"], "digits") if "digits" in params else DEFAULT_DIGITS
    # period is meaningless for hotp and counter for totp: ignored like unknown parameters.
    period = DEFAULT_PERIOD
    counter = DEFAULT_COUNTER
    if otp_type == "totp" and "period" in params:
        period = _parse_uint(params["period"], "period")
    if otp_type == "hotp":
        if "counter" not in params:
            raise _Invalid("counter parameter is required for hotp")
        counter = _parse_uint(params["counter"], "counter")

    return _account(otp_type, issuer, name, secret, algorithm, digits, period, counter)


def _account(otp_type, issuer, name, secret, algorithm, digits, period, counter) -> Account:
    values = dict(
        type=otp_type,
        issuer=issuer,
        name=name,
        secret=secret,
        algorithm=algorithm,
        digits=digits,
        period=period,
        counter=counter,
    )
    _validate_values(**values)
    return Account(**values)


def _parse_query(query: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict", max_num_fields=64)
    except UnicodeDecodeError:
        raise _Invalid("a parameter is not valid UTF-8 after percent-decoding") from None
    except ValueError:
        raise _Invalid("too many parameters") from None
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in _SINGLE_PARAMS:
            if key in params:
                raise _Invalid(f"{key} parameter appears more than once")
            params[key] = value
        # Anything else (image, encoder, ...) is ignored.
    return params


def _unquote(text: str, what: str) -> str:
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise _Invalid(f"{what} is not valid UTF-8 after percent-decoding") from None


def _parse_type(value) -> str:
    if not isinstance(value, str) or value.lower() not in TYPES:
        raise _Invalid("type must be totp or hotp")
    return value.lower()


def _parse_algorithm(value) -> str:
    if not isinstance(value, str) or value.strip().upper() not in ALGORITHMS:
        raise _Invalid("algorithm must be SHA1, SHA256 or SHA512")
    return value.strip().upper()


def _parse_uint(value: str, what: str) -> int:
    value = value.strip()
    if not _UINT.fullmatch(value):
        raise _Invalid(f"{what} must be a non-negative integer")
    if len(value) > 30:  # far beyond any limit; don't build huge ints
        raise _Invalid(f"{what} is out of range")
    return int(value)


def _decode_secret(text) -> bytes:
    if not isinstance(text, str):
        raise _Invalid("secret must be text")
    compact = re.sub(r"\s+", "", text).upper().rstrip("=")
    if not compact:
        raise _Invalid("secret is empty")
    if len(compact) > (MAX_SECRET_BYTES * 8 + 4) // 5:
        raise _Invalid(f"secret is too long (at most {MAX_SECRET_BYTES} bytes)")
    if not _B32_CHARS.fullmatch(compact) or len(compact) % 8 in (1, 3, 6):
        raise _Invalid("secret is not valid base32")
    try:
        return base64.b32decode(compact + "=" * (-len(compact) % 8))
    except (binascii.Error, ValueError):
        raise _Invalid("secret is not valid base32") from None


def _validate(account: Account) -> None:
    _validate_values(
        type=account.type,
        issuer=account.issuer,
        name=account.name,
        secret=account.secret,
        algorithm=account.algorithm,
        digits=account.digits,
        period=account.period,
        counter=account.counter,
    )


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _validate_values(*, type, issuer, name, secret, algorithm, digits, period, counter) -> None:
    if type not in TYPES:
        raise _Invalid("type must be totp or hotp")
    _check_text(issuer, "issuer")
    if ":" in issuer:
        raise _Invalid("issuer must not contain ':'")
    _check_text(name, "account name")
    if not name:
        raise _Invalid("account name is empty")
    if not isinstance(secret, bytes):
        raise _Invalid("secret must be bytes")
    if len(secret) < MIN_SECRET_BYTES:
        raise _Invalid(
            f"secret is too short ({len(secret)} bytes; at least {MIN_SECRET_BYTES} bytes"
            f" = {MIN_SECRET_BYTES * 8} bits required)"
        )
    if len(secret) > MAX_SECRET_BYTES:
        raise _Invalid(f"secret is too long ({len(secret)} bytes; at most {MAX_SECRET_BYTES})")
    if algorithm not in ALGORITHMS:
        raise _Invalid("algorithm must be SHA1, SHA256 or SHA512")
    if not _is_int(digits) or digits not in DIGITS:
        raise _Invalid("digits must be 6, 7 or 8")
    if not _is_int(period) or not 1 <= period <= MAX_PERIOD:
        raise _Invalid(f"period must be 1..{MAX_PERIOD} seconds")
    if not _is_int(counter) or not 0 <= counter <= MAX_COUNTER:
        raise _Invalid("counter must be an integer 0..2**64-1")
    if type == "totp" and counter != DEFAULT_COUNTER:
        raise _Invalid("counter applies only to hotp accounts")
    if type == "hotp" and period != DEFAULT_PERIOD:
        raise _Invalid("period applies only to totp accounts")


def _check_text(value, what: str) -> None:
    if not isinstance(value, str):
        raise _Invalid(f"{what} must be text")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise _Invalid(f"{what} is not valid Unicode text") from None
    if size > MAX_TEXT_BYTES:
        raise _Invalid(f"{what} is too long ({size} bytes UTF-8; at most {MAX_TEXT_BYTES})")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise _Invalid(f"{what} contains control characters")
