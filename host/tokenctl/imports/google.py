"""Google Authenticator's export: otpauth-migration://offline?data=BASE64 (one per QR code).

The data is a protobuf MigrationPayload. Google has published no .proto; the schema below
is the one every importer uses (Aegis, KeePassXC, extract_otp_secrets). It is built as a
descriptor at run time and decoded by the `protobuf` library, so there is no generated code
to keep in step and no hand-written wire decoder to get wrong.

A large export is split over several QR codes ("batches" sharing a batch_id); each code is a
complete payload, and a missing one is reported rather than silently dropped.
"""

from __future__ import annotations

import base64
import binascii
from functools import cache
from typing import Any
from urllib.parse import unquote, urlsplit

from tokenctl.errors import InputError
from tokenctl.imports import common
from tokenctl.imports.common import Imported

SCHEME = "otpauth-migration"
MAX_DATA_CHARS = 64 * 1024  # one QR code holds under 3 KB

_ALGORITHMS = {0: "SHA1", 1: "SHA1", 2: "SHA256", 3: "SHA512", 4: "MD5"}  # 0: unspecified
_DIGITS = {0: 6, 1: 6, 2: 8}  # 0: unspecified
_TYPES = {1: "hotp", 2: "totp"}  # 0: unspecified


@cache
def _payload_class() -> Any:
    """The MigrationPayload message class, from a descriptor built here (see module doc)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fdp = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="tokenctl/google_auth_migration.proto", package="tokenctl.gam", syntax="proto3"
    )
    payload = file.message_type.add(name="MigrationPayload")
    for enum_name, values in (
        ("Algorithm", ["UNSPECIFIED", "SHA1", "SHA256", "SHA512", "MD5"]),
        ("DigitCount", ["UNSPECIFIED", "SIX", "EIGHT"]),
        ("OtpType", ["UNSPECIFIED", "HOTP", "TOTP"]),
    ):
        enum = payload.enum_type.add(name=enum_name)
        for number, value in enumerate(values):
            enum.value.add(name=f"{enum_name.upper()}_{value}", number=number)
    params = payload.nested_type.add(name="OtpParameters")
    for name, number, kind, type_name in (
        ("secret", 1, fdp.TYPE_BYTES, ""),
        ("name", 2, fdp.TYPE_STRING, ""),
        ("issuer", 3, fdp.TYPE_STRING, ""),
        ("algorithm", 4, fdp.TYPE_ENUM, ".tokenctl.gam.MigrationPayload.Algorithm"),
        ("digits", 5, fdp.TYPE_ENUM, ".tokenctl.gam.MigrationPayload.DigitCount"),
        ("type", 6, fdp.TYPE_ENUM, ".tokenctl.gam.MigrationPayload.OtpType"),
        ("counter", 7, fdp.TYPE_INT64, ""),
    ):
        field = params.field.add(name=name, number=number, type=kind, label=fdp.LABEL_OPTIONAL)
        if type_name:
            field.type_name = type_name
    payload.field.add(
        name="otp_parameters",
        number=1,
        type=fdp.TYPE_MESSAGE,
        type_name=".tokenctl.gam.MigrationPayload.OtpParameters",
        label=fdp.LABEL_REPEATED,
    )
    for name, number in (("version", 2), ("batch_size", 3), ("batch_index", 4), ("batch_id", 5)):
        payload.field.add(name=name, number=number, type=fdp.TYPE_INT32, label=fdp.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("tokenctl.gam.MigrationPayload")
    )


def is_migration_uri(text: str) -> bool:
    return text[: len(SCHEME) + 1].lower() == SCHEME + ":"


def payload_bytes(uri: str) -> bytes:
    """The protobuf bytes in an otpauth-migration:// URI (InputError, without quoting it)."""
    try:
        parts = urlsplit(uri.strip())
    except ValueError:
        raise InputError("malformed otpauth-migration URI") from None
    if parts.scheme.lower() != SCHEME or parts.netloc.lower() != "offline":
        raise InputError("not an otpauth-migration://offline URI")
    values = [v for k, _, v in (p.partition("=") for p in parts.query.split("&")) if k == "data"]
    if len(values) != 1:
        raise InputError("otpauth-migration URI needs exactly one data parameter")
    if len(values[0]) > MAX_DATA_CHARS:
        raise InputError("otpauth-migration data is too long")
    # Standard base64, percent-encoded; a '+' that lost its encoding arrives as a space.
    data = unquote(values[0]).replace(" ", "+").strip()
    try:
        return base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InputError("otpauth-migration data is not valid base64") from None


class Batches:
    """Collects the payloads of one or more exports (QR codes in any order), then converts."""

    def __init__(self) -> None:
        self._payloads: dict[tuple[int, int], Any] = {}
        self._sizes: dict[int, int] = {}

    def __len__(self) -> int:
        """How many distinct QR codes (payloads) were added."""
        return len(self._payloads)

    def add_uri(self, uri: str) -> None:
        self.add_payload(payload_bytes(uri))

    def add_payload(self, data: bytes) -> None:
        from google.protobuf.message import DecodeError

        try:
            payload = _payload_class().FromString(data)
        except (DecodeError, RecursionError, ValueError):
            raise InputError(
                "otpauth-migration data is not a Google Authenticator export"
            ) from None
        size = max(payload.batch_size, 1)
        self._sizes[payload.batch_id] = max(self._sizes.get(payload.batch_id, 0), size)
        # The same QR code scanned twice counts once.
        self._payloads.setdefault((payload.batch_id, payload.batch_index), payload)

    def finish(self) -> Imported:
        result = Imported(formats=["google-authenticator"] if self._payloads else [])
        for key in sorted(self._payloads):
            for params in self._payloads[key].otp_parameters:
                _convert(params, result)
        for batch_id, size in self._sizes.items():
            for index in range(size):
                if (batch_id, index) not in self._payloads:
                    result.reject(
                        f"Google Authenticator QR code {index + 1} of {size}",
                        "missing from the input: give every QR code of the export",
                    )
        return result


def _convert(params: Any, result: Imported) -> None:
    issuer, name = params.issuer.strip(), params.name.strip()
    # Names often keep the original label's "Issuer:" prefix; drop it when it says the same.
    prefix, sep, rest = name.partition(":")
    if sep and (not issuer or prefix.strip() == issuer):
        issuer, name = prefix.strip(), rest.strip()
    entry = common.label(
        issuer, name, f"Google Authenticator entry {len(result.accounts) + len(result.rejects) + 1}"
    )
    kind = _TYPES.get(params.type)
    algorithm = _ALGORITHMS.get(params.algorithm)
    digits = _DIGITS.get(params.digits)
    if kind is None:
        result.reject(entry, "unknown OTP type (the token computes TOTP and HOTP only)")
    elif algorithm not in ("SHA1", "SHA256", "SHA512"):
        result.reject(entry, "unsupported algorithm (SHA1, SHA256 or SHA512 only)")
    elif digits is None:
        result.reject(entry, "unknown number of digits")
    elif not params.secret:
        result.reject(entry, "the secret is empty")
    else:
        result.take(
            entry,
            common.account,
            issuer=issuer,
            name=name,
            secret_b32=common.b32(params.secret),
            type=kind,
            algorithm=algorithm,
            digits=digits,
            counter=params.counter,
        )
