"""Encrypted backups: `backup create|verify|info` and `restore` (docs/backup.md)."""

from __future__ import annotations

import base64
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress

from tokenctl import backup as fmt
from tokenctl.cli.context import Context, pass_ctx
from tokenctl.client import TokenClient
from tokenctl.errors import EXIT_DEVICE_ERROR, InputError, TokenError

MIN_SCORE = 3  # zxcvbn: "safely unguessable" (offline slow-hash attack), with Argon2id on top


class Refused(TokenError):
    """A restore that would overwrite accounts, or one the user declined."""

    exit_code = EXIT_DEVICE_ERROR


def _passphrase(file: str | None, twice: bool) -> str:
    if file:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read the passphrase file: {e.__class__.__name__}") from None
        phrase = text.splitlines()[0] if text.strip() else ""
    elif sys.stdin.isatty():
        phrase = click.prompt(
            "Backup passphrase", hide_input=True, confirmation_prompt=twice, err=True
        )
    else:
        raise InputError("no terminal to ask for the passphrase: use --passphrase-file")
    if not phrase:
        raise InputError("the passphrase is empty")
    return phrase


def check_strength(phrase: str) -> None:
    """Refuse a passphrase that an offline guesser would find (zxcvbn's estimate)."""
    from zxcvbn import zxcvbn

    result = zxcvbn(phrase[:100])
    if len(phrase) < 10 or result["score"] < MIN_SCORE:
        tips = [result["feedback"].get("warning") or ""] + result["feedback"].get("suggestions", [])
        hint = " ".join(t for t in tips if t) or "Use four or more uncommon words."
        raise InputError(
            f"passphrase too weak (need at least 10 characters and strength "
            f"{MIN_SCORE}/4, got {result['score']}/4). {hint}"
        )


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None


def _when(t: int | None) -> str:
    if not t:
        return "never"
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _progress(ctx: Context, what: str):
    """A progress bar on stderr for people; nothing for scripts."""
    if ctx.as_json or not sys.stderr.isatty():
        return None, None
    bar = Progress(console=Console(stderr=True), transient=True)
    task = bar.add_task(what, total=None)
    return bar, lambda done, total: bar.update(task, completed=done, total=total)


@click.group()
def backup():
    """Encrypted backups of the token's accounts: only the passphrase opens them."""


@backup.command("create")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--passphrase-file", type=click.Path(dir_okay=False), help="First line = passphrase.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@pass_ctx
def create(ctx: Context, file, passphrase_file, force):
    """Back up every account to FILE, sealed on the token under your passphrase.

    Needs the token's PIN. Push keys are never backed up.

    \b
    Examples:
      tokenctl backup create tokens-2026-11.tkb
      tokenctl backup create nightly.tkb --passphrase-file ~/.config/tk-pass --force
    """
    path = Path(file)
    if path.exists() and not force:
        raise InputError(f"{file} exists: choose another name or use --force")
    phrase = _passphrase(passphrase_file, twice=True)
    check_strength(phrase)
    kdf = fmt.new_kdf()
    keys = fmt.derive(phrase, kdf)
    ctx.pin = ctx.ask_pin()  # asked once: the backup itself needs it, even when unlocked
    client = ctx.client()
    info = client.info()
    bar, progress = _progress(ctx, "Backing up")
    with bar or _nothing():
        begin, blob = ctx.unlocked(lambda c: c.backup_blob(keys.device, ctx.pin or "", progress))
    header = fmt.Header(
        kdf=kdf,
        check=base64.b64encode(keys.check).decode(),
        serial=info["serial"],
        fw=info["fw"],
        board=info["board"],
        created=begin["t"],
        generation=begin["gen"],
        accounts=begin["n"],
        push_marked=begin.get("push", 0),
    )
    data = fmt.pack(header, blob, keys)
    opened = fmt.open_backup(data, phrase)  # what we write must open again, before it counts
    _write_atomic(path, data)
    client.backup_done(header.generation, header.created)
    result = {
        "file": str(path),
        "accounts": len(opened.records),
        "generation": header.generation,
        "created": header.created,
        "bytes": len(data),
    }
    ctx.emit(
        result,
        lambda r: click.echo(
            f"Backed up {r['accounts']} accounts to {r['file']} "
            f"(backup #{r['generation']}, {r['bytes']} bytes)."
        ),
    )


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _meta(header: fmt.Header, size: int) -> dict:
    kdf = {k: v for k, v in header.kdf.items() if k != "salt"}
    return {
        "serial": header.serial,
        "fw": header.fw,
        "board": header.board,
        "created": header.created,
        "generation": header.generation,
        "accounts": header.accounts,
        "push_marked": header.push_marked,
        "kdf": kdf,
        "bytes": size,
    }


def _show_meta(m: dict) -> None:
    kdf = m["kdf"]
    click.echo(f"Token:       {m['serial']} ({m['board']}, firmware {m['fw']})")
    click.echo(f"Created:     {_when(m['created'])} (backup #{m['generation']})")
    click.echo(f"Accounts:    {m['accounts']} ({m['push_marked']} push-enrolled, to re-verify)")
    click.echo(
        f"Protection:  {kdf['alg']} {kdf['m_kib'] // 1024} MiB, {kdf['t']} passes, "
        f"{kdf['p']} lanes; AES-256-CBC + HMAC-SHA256"
    )


@backup.command("info")
@click.argument("file", type=click.Path(dir_okay=False))
@pass_ctx
def info(ctx: Context, file):
    """Show a backup's metadata (no passphrase; nothing secret).

    \b
    Examples:
      tokenctl backup info tokens-2026-11.tkb
    """
    data = _read(file)
    header, _, _ = fmt.read_header(data)
    ctx.emit(_meta(header, len(data)), _show_meta)


@backup.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--passphrase-file", type=click.Path(dir_okay=False), help="First line = passphrase.")
@pass_ctx
def verify(ctx: Context, file, passphrase_file):
    """Check offline that FILE is intact and the passphrase opens it.

    Exit 0 when it would restore; 5 for a wrong passphrase; 8 with exactly what is wrong.

    \b
    Examples:
      tokenctl backup verify tokens-2026-11.tkb
    """
    data = _read(file)
    fmt.read_header(data)  # a damaged file says so before a passphrase is asked for
    opened = fmt.open_backup(data, _passphrase(passphrase_file, twice=False))
    result = _meta(opened.header, len(data))
    result["ok"] = True
    result["labels"] = [r.label for r in opened.records]

    def text(r):
        _show_meta(r)
        click.echo(f"OK: passphrase right, file intact, {len(r['labels'])} accounts readable.")

    ctx.emit(result, text)


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--merge",
    type=click.Choice(["skip", "replace"]),
    help="Restore into a token that holds accounts: skip the backup's copies of accounts "
    "already there, or replace them.",
)
@click.option("--passphrase-file", type=click.Path(dir_okay=False), help="First line = passphrase.")
@click.option("--yes", is_flag=True, help="Go on without asking when the backup is out of date.")
@pass_ctx
def restore(ctx: Context, file, merge, passphrase_file, yes):
    """Restore the accounts in FILE to the token, all or nothing.

    Refused while the token holds accounts, unless --merge says how.

    \b
    Examples:
      tokenctl restore tokens-2026-11.tkb
      tokenctl restore tokens-2026-11.tkb --merge skip
    """
    data = _read(file)
    fmt.read_header(data)
    phrase = _passphrase(passphrase_file, twice=False)
    opened = fmt.open_backup(data, phrase)
    header = opened.header
    keys = fmt.derive(phrase, header.kdf)

    def run(client: TokenClient) -> dict:
        info = client.info()
        present = {_label(a): a for a in client.accounts()} if info["vault"] == "ok" else {}
        if present and not merge:
            raise Refused(
                f"the token holds {len(present)} accounts and a restore would overwrite them. "
                "Use --merge skip (keep the token's copies) or --merge replace (take the "
                "backup's), or back them up and `tokenctl wipe` first."
            )
        newest = (info.get("backup") or {}).get("t") or 0
        if header.created < newest:
            click.echo(
                f"Warning: this backup is out of date: made {_when(header.created)}, but this "
                f"token made or restored a newer one ({_when(newest)}).",
                err=True,
            )
            if not yes and not (
                sys.stdin.isatty() and click.confirm("Restore it anyway?", err=True)
            ):
                raise Refused("restore cancelled: the backup is out of date (--yes to go on)")
        labels = [r.label for r in opened.records]
        clash = [x for x in labels if x in present]
        bar, progress = _progress(ctx, "Restoring")
        with bar or _nothing():
            answer = client.restore_blob(
                keys.device, fmt_body(data), header.created, merge, progress
            )
        return {
            "restored": answer["restored"],
            "skipped": clash if merge == "skip" else [],
            "replaced": clash if merge == "replace" else [],
            "total": answer["total"],
            "out_of_date": header.created < newest,
            "push_reverify": header.push_marked,
        }

    result = ctx.unlocked(run)

    def text(r):
        for label in r["skipped"]:
            click.echo(f"Skipped (already on the token): {label}")
        for label in r["replaced"]:
            click.echo(f"Replaced with the backup's copy: {label}")
        click.echo(f"Restored {r['restored']} accounts; the token now holds {r['total']}.")
        if r["push_reverify"]:
            click.echo(f"{r['push_reverify']} push-enrolled accounts need re-verification.")

    ctx.emit(result, text)


def fmt_body(data: bytes) -> bytes:
    return fmt.read_header(data)[1]


def _label(a: dict) -> str:
    return f"{a['i']}:{a['n']}" if a.get("i") else a["n"]


def register(cli: click.Group) -> None:
    cli.add_command(backup)
    cli.add_command(restore)
