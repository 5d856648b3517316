"""Text exports: one URI a line, otpauth:// (most apps) or otpauth-migration:// (Google).

Unlike `accounts add --from`, which is all or nothing, an import takes the good lines and
reports each bad one by its label (or line number), never by its content.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from tokenctl import otpauth
from tokenctl.errors import InputError
from tokenctl.imports import common, google
from tokenctl.imports.common import Imported


def read_lines(lines: list[str], where: str, batches: google.Batches) -> Imported:
    """otpauth:// lines become accounts; otpauth-migration:// lines go to `batches`."""
    result = Imported()
    saw_otpauth = False
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fallback = f"{where} line {number}" if where else f"line {number}"
        if google.is_migration_uri(line):
            try:
                batches.add_uri(line)
            except InputError as exc:
                result.reject(fallback, str(exc))
        elif line[:8].lower() == "otpauth:":
            saw_otpauth = True
            result.take(_label(line, fallback), _parse, uri=line)
        else:
            result.reject(fallback, "not an otpauth:// or otpauth-migration:// URI")
    result.formats = ["otpauth"] if saw_otpauth else []
    return result


def _parse(uri: str) -> otpauth.Account:
    try:
        kind = urlsplit(uri).netloc
    except ValueError:
        kind = ""
    if kind and kind.lower() not in otpauth.TYPES:
        raise InputError(common.unsupported_type(kind))
    try:
        return otpauth.parse_uri(uri)
    except InputError as exc:
        raise InputError(str(exc).removeprefix("invalid otpauth URI: ")) from None


def _label(uri: str, fallback: str) -> str:
    """The URI's label ("Issuer:name"), for naming a line that fails to parse."""
    try:
        path = urlsplit(uri).path.lstrip("/")
        text = unquote(path, errors="replace")
    except ValueError:
        return fallback
    issuer, sep, name = text.partition(":")
    return common.label(issuer if sep else "", name if sep else issuer, fallback)
