"""Importing accounts from other authenticators' exports.

Formats are recognised from the content, not the file name: images (QR codes holding
otpauth:// or otpauth-migration:// URIs), Aegis vaults, 2FAS backups, and text files of URIs.
Each importer returns an `Imported`: accounts ready for the token and the entries it had to
leave out, with the reason. `plan` then sets aside what the token already holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tokenctl import qr
from tokenctl.errors import InputError
from tokenctl.imports import aegis, common, google, twofas, uris
from tokenctl.imports.common import AskPassword, Imported, Reject
from tokenctl.otpauth import Account

__all__ = ["AskPassword", "Imported", "Plan", "Reject", "plan", "read_files", "read_data"]


def read_files(paths: Sequence[str | Path], ask_password: AskPassword) -> Imported:
    """Everything the files hold, as one import (a Google export may span several files)."""
    batches = google.Batches()
    result = Imported()
    for path in paths:
        path = Path(path)
        result.merge(read_data(_read(path), path.name, ask_password, batches))
    result.merge(batches.finish())
    return result


def read_data(
    data: bytes, what: str, ask_password: AskPassword, batches: google.Batches | None = None
) -> Imported:
    """One file's content. Google payloads go to `batches` (converted here if None)."""
    own = batches is None
    batches = google.Batches() if batches is None else batches
    payloads = len(batches)
    if qr.looks_like_image(data):
        lines = [line for text in qr.decode(data, what) for line in text.splitlines()]
        result = uris.read_lines(lines, f"{what} QR code", batches)
    else:
        result = _read_text(_text(data, what), what, ask_password, batches)
    added_payloads = len(batches) > payloads
    if own:
        result.merge(batches.finish())
    if not (result.accounts or result.rejects or added_payloads):
        raise InputError(f"{what}: holds no accounts")
    return result


def _read_text(
    text: str, what: str, ask_password: AskPassword, batches: google.Batches
) -> Imported:
    if text.lstrip().startswith("{"):
        obj = common.load_json(text, what)
        if aegis.is_vault(obj):
            return aegis.read(obj, what, ask_password)
        if twofas.is_backup(obj):
            return twofas.read(obj, what, ask_password)
        raise InputError(f"{what}: a JSON file, but not an Aegis vault or a 2FAS backup")
    return uris.read_lines(text.splitlines(), what, batches)


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > qr.MAX_FILE_BYTES:
            raise InputError(f"{path.name}: too large to be an export ({size // 2**20} MiB)")
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc.__class__.__name__}") from None


def _text(data: bytes, what: str) -> str:
    if len(data) > common.MAX_IMPORT_BYTES:
        raise InputError(f"{what}: too large for a text export")
    if b"\x00" in data[:4096]:
        raise InputError(f"{what}: not an image, a JSON export or a text file of URIs")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{what}: not an image, a JSON export or a text file of URIs") from None


@dataclass
class Plan:
    """What an import will do on a token: add these, skip those already there."""

    add: list[Account] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # labels the token already has
    repeated: list[str] = field(default_factory=list)  # labels seen earlier in the input


def plan(accounts: Iterable[Account], existing: Iterable[dict]) -> Plan:
    """Leave out accounts whose issuer and name the token (or an earlier entry) has.

    Issuer and name are compared exactly, as the token does when it refuses a duplicate."""
    on_token = {(a["i"], a["n"]) for a in existing}
    taken: set[tuple[str, str]] = set()
    result = Plan()
    for account in accounts:
        key = (account.issuer, account.name)
        if key in on_token:
            if key not in taken:
                result.duplicates.append(account.label)
                taken.add(key)
        elif key in taken:
            result.repeated.append(account.label)
        else:
            taken.add(key)
            result.add.append(account)
    return result
