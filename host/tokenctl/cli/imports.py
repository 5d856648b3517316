"""`import`: accounts from other authenticators' exports, added to the token in one batch.

The import shows what it adds, skips what the token already holds, and says which entries
it cannot take and why. Labels only: no secret is ever printed.
"""

from __future__ import annotations

import sys

import click

from tokenctl import imports
from tokenctl.cli.context import Context, pass_ctx
from tokenctl.errors import InputError

MAX_PASSWORD_FILE_BYTES = 4096


def _password_source(password_file: str | None) -> imports.AskPassword:
    """Reads --password-file when given, else asks on the terminal (hidden)."""

    def ask(prompt: str) -> str:
        if password_file is not None:
            return _read_password_file(password_file)
        if not sys.stdin.isatty():
            raise InputError(f"{prompt}: give --password-file FILE (no terminal to ask on)")
        return click.prompt(prompt, hide_input=True, err=True)

    return ask


def _read_password_file(name: str) -> str:
    try:
        if name == "-":
            data = sys.stdin.buffer.read(MAX_PASSWORD_FILE_BYTES + 1)
        else:
            with open(name, "rb") as f:
                data = f.read(MAX_PASSWORD_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror or exc.__class__.__name__}") from None
    if len(data) > MAX_PASSWORD_FILE_BYTES:
        raise InputError("the password file is too long (the password is its first line)")
    try:
        lines = data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise InputError("the password file is not UTF-8 text") from None
    if not lines or not lines[0]:
        raise InputError("the password file is empty (the password is its first line)")
    return lines[0]


def _show_plan(d: dict) -> None:
    formats = ", ".join(d["formats"]) or "no known format"
    click.echo(f"Read {len(d['files'])} file(s): {formats}.")
    verb = "Would add" if d["dry_run"] else "Adding"
    for title, key, mark in (
        (verb, "added", "+"),
        ("Already on the token, skipped", "duplicates", "="),
        ("More than once in the input, taken once", "repeated", "="),
    ):
        if d[key]:
            click.echo(f"{title} ({len(d[key])}):")
            for entry in d[key]:
                click.echo(f"  {mark} {entry}")
    if d["rejected"]:
        click.echo(f"Cannot import ({len(d['rejected'])}):")
        for r in d["rejected"]:
            click.echo(f"  ! {r['entry']}: {r['reason']}")


def _show_result(d: dict) -> None:
    if d["dry_run"]:
        click.echo(f"Dry run: nothing added ({len(d['added'])} would be).")
    elif d["added"]:
        click.echo(f"Added {len(d['added'])} account(s); the token holds {d['total']}.")
    else:
        click.echo("Nothing new to add.")


@click.command("import")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option(
    "--password-file",
    metavar="FILE",
    help="Read the password of an encrypted Aegis or 2FAS file from FILE's first line "
    "(- for stdin). Else it is asked for on the terminal, hidden.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be added; add nothing.")
@pass_ctx
def import_(ctx: Context, files: tuple[str, ...], password_file: str | None, dry_run: bool):
    """Import accounts from other authenticators' exports.

    The format is recognised from the content: Google Authenticator's export
    (otpauth-migration:// QR codes, as images or text; give every QR code of a multi-part
    export), Aegis vaults (plain or encrypted), 2FAS backups (.2fas, plain or encrypted),
    text files of otpauth:// URIs, and screenshots or photos of otpauth:// QR codes.

    Accounts the token already holds (same issuer and name) are skipped; entries the
    token cannot take (Steam or mOTP codes, bad secrets, too many digits ...) are listed
    with the reason; the rest are added in one batch.

    \b
    Examples:
      tokenctl import aegis-export.json
      tokenctl import --password-file pw.txt 2fas-backup.2fas
      tokenctl import --dry-run ga-export-1.png ga-export-2.png
    """
    found = imports.read_files(files, _password_source(password_file))
    if not found.accounts:  # refused before the token is even opened
        reasons = "".join(f"\n  {r.entry}: {r.reason}" for r in found.rejects)
        raise InputError(f"nothing to import{':' if reasons else ''}{reasons}")
    existing = ctx.unlocked(lambda c: c.accounts())
    plan = imports.plan(found.accounts, existing)
    data = {
        "files": list(files),
        "formats": sorted(set(found.formats)),
        "added": [a.label for a in plan.add],
        "duplicates": plan.duplicates,
        "repeated": plan.repeated,
        "rejected": [{"entry": r.entry, "reason": r.reason} for r in found.rejects],
        "dry_run": dry_run,
        "total": len(existing),
    }
    if not ctx.as_json:
        _show_plan(data)
    for a in plan.add:
        if a.weak:
            click.echo(
                f"Warning: {a.label} has a secret of {len(a.secret) * 8} bits, "
                "weaker than the 128 recommended.",
                err=True,
            )
    if plan.add and not dry_run:
        answer = ctx.unlocked(lambda c: c.add_accounts(plan.add))
        data["total"] = answer["total"]
    if ctx.as_json:
        ctx.emit(data, _show_result)
    else:
        _show_result(data)


def register(cli: click.Group) -> None:
    cli.add_command(import_)
