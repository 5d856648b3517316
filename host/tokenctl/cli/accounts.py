"""`accounts` and `code`: what the token holds, and the codes it computes.

Secrets only ever travel towards the token; nothing here prints one.
"""

from __future__ import annotations

import dataclasses
import sys

import click
from rich.console import Console
from rich.table import Table

from tokenctl import otpauth, qr
from tokenctl.cli.context import Context, pass_ctx
from tokenctl.errors import InputError


def _label(a: dict) -> str:
    return f"{a['i']}:{a['n']}" if a.get("i") else a["n"]


def _read_secret(secret: str | None) -> str:
    if secret:
        return secret
    if not sys.stdin.isatty():
        raise InputError("give the secret with --secret (no terminal to ask on)")
    return click.prompt("Secret (base32)", hide_input=True, err=True)


def _collect(uri, from_file, issuer, name, secret, kind, algorithm, digits, period, counter, image):
    sources = sum(x is not None for x in (uri, from_file, name, image))
    if sources != 1:
        raise InputError(
            "give exactly one of: an otpauth:// URI, --from FILE, --qr IMAGE or --name"
        )
    if uri is not None:
        return [otpauth.parse_uri(uri)]
    if image is not None:
        return qr.read_accounts(image)
    if from_file is not None:
        text = sys.stdin.read() if from_file == "-" else from_file
        accounts = otpauth.read_uri_file(text if from_file == "-" and text else from_file)
        if not accounts:
            raise InputError("the file holds no otpauth:// URIs")
        return accounts
    return [
        otpauth.from_fields(
            issuer,
            name,
            _read_secret(secret),
            type=kind,
            algorithm=algorithm,
            digits=digits,
            period=period,
            counter=counter,
        )
    ]


@click.group()
def accounts():
    """The accounts on the token (secrets are never shown)."""


@accounts.command("add")
@click.argument("uri", required=False)
@click.option(
    "--from",
    "from_file",
    metavar="FILE",
    help="Add every otpauth:// URI in FILE (one a line; - for stdin) as one batch.",
)
@click.option(
    "--qr", "image", metavar="IMAGE", help="Add the otpauth:// QR code(s) in a screenshot or photo."
)
@click.option("--issuer", help="Issuer, with --name.")
@click.option("--name", help="Account name: add from options instead of a URI.")
@click.option("--secret", help="Base32 secret, with --name (else asked for, hidden).")
@click.option(
    "--type", "kind", type=click.Choice(["totp", "hotp"]), default="totp", show_default=True
)
@click.option(
    "--algorithm",
    type=click.Choice(["SHA1", "SHA256", "SHA512"], case_sensitive=False),
    default="SHA1",
    show_default=True,
)
@click.option("--digits", type=click.IntRange(6, 8), default=6, show_default=True)
@click.option("--period", type=click.IntRange(1, 3600), default=30, show_default=True)
@click.option("--counter", type=click.IntRange(0, 2**64 - 1), default=0, show_default=True)
@click.option("--touch", is_flag=True, help="Each code needs a fresh finger on the token.")
@pass_ctx
def accounts_add(
    ctx: Context,
    uri,
    from_file,
    issuer,
    name,
    secret,
    kind,
    algorithm,
    digits,
    period,
    counter,
    touch,
    image,
):
    """Add accounts from an otpauth:// URI, a file of URIs, a QR code image, or options.

    A batch is added whole or not at all: a duplicate or a bad line adds nothing.

    \b
    Examples:
      tokenctl accounts add 'otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP&issuer=GitHub'
      tokenctl accounts add --from accounts.txt
      tokenctl accounts add --qr screenshot.png
      tokenctl accounts add --issuer Example --name bob --type hotp --counter 5
    """
    new = _collect(
        uri,
        from_file,
        issuer,
        name,
        secret,
        kind,
        algorithm.upper(),
        digits,
        period,
        counter,
        image,
    )
    if touch:
        new = [dataclasses.replace(a, touch=True) for a in new]
    for a in new:
        if a.weak:
            click.echo(
                f"Warning: {a.label} has a secret of {len(a.secret) * 8} bits, "
                "weaker than the 128 recommended (added anyway).",
                err=True,
            )
    answer = ctx.unlocked(lambda c: c.add_accounts(new))
    data = {"added": [a.label for a in new], "total": answer["total"]}
    ctx.emit(
        data,
        lambda d: click.echo(f"Added {len(d['added'])} account(s); the token holds {d['total']}."),
    )


@accounts.command("list")
@pass_ctx
def accounts_list(ctx: Context):
    """List accounts in the token's order (no secrets).

    \b
    Examples:
      tokenctl accounts list
      tokenctl --json accounts list
    """
    items = ctx.unlocked(lambda c: c.accounts())
    data = [
        {
            "position": n,
            "issuer": a["i"],
            "name": a["n"],
            "type": a["k"],
            "algorithm": a["a"],
            "digits": a["d"],
            **({"counter": a["c"]} if a["k"] == "hotp" else {"period": a["p"]}),
            "touch": bool(a.get("t")),
            "push_reverify": bool(a.get("rv")),  # push-enrolled before a restore: enrol again
        }
        for n, a in enumerate(items)
    ]

    def text(rows):
        if not rows:
            click.echo("No accounts.")
            return
        table = Table(
            "#", "Issuer", "Name", "Type", "Algorithm", "Digits", "Period/Counter", "Notes"
        )
        for r in rows:
            notes = ["finger per code"] if r["touch"] else []
            notes += ["push: needs re-verification"] if r["push_reverify"] else []
            table.add_row(
                str(r["position"]),
                r["issuer"],
                r["name"],
                r["type"].upper(),
                r["algorithm"],
                str(r["digits"]),
                f"{r['period']} s" if r["type"] == "totp" else f"#{r['counter']}",
                ", ".join(notes),
            )
        Console().print(table)

    ctx.emit(data, text)


@accounts.command("touch")
@click.argument("account")
@click.argument("state", type=click.Choice(["on", "off"]))
@pass_ctx
def accounts_touch(ctx: Context, account, state):
    """Require (on) or stop requiring (off) a fresh finger for each code of ACCOUNT.

    \b
    Examples:
      tokenctl accounts touch bank on
    """

    def run(c):
        target = c.find(account)
        c.set_touch(target, state == "on")
        return target

    target = ctx.unlocked(run)
    ctx.emit(
        {"account": _label(target), "touch": state == "on"},
        lambda d: click.echo(f"{d['account']}: a finger for each code: {state}."),
    )


@accounts.command("rename")
@click.argument("account")
@click.argument("new_name")
@pass_ctx
def accounts_rename(ctx: Context, account, new_name):
    """Rename ACCOUNT to NEW_NAME ("Issuer:name" or "name").

    \b
    Examples:
      tokenctl accounts rename github GitHub:alice@work
    """
    issuer, _, name = new_name.rpartition(":")

    def run(c):
        target = c.find(account)
        c.rename(target, issuer, name)
        return target

    old = ctx.unlocked(run)
    data = {"old": _label(old), "new": new_name}
    ctx.emit(data, lambda d: click.echo(f"Renamed {d['old']} to {d['new']}."))


@accounts.command("remove")
@click.argument("account")
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def accounts_remove(ctx: Context, account, force):
    """Remove ACCOUNT from the token (it cannot be undone without a backup).

    \b
    Examples:
      tokenctl accounts remove github --force
    """
    target = ctx.unlocked(lambda c: c.find(account))
    if not force:
        if not sys.stdin.isatty():
            raise InputError("removing needs --force when there is no terminal to ask on")
        click.confirm(f"Remove {_label(target)}?", abort=True, err=True)
    ctx.client().remove(target)
    ctx.emit({"removed": _label(target)}, lambda d: click.echo(f"Removed {d['removed']}."))


@accounts.command("move")
@click.argument("account")
@click.argument("position", type=int)
@pass_ctx
def accounts_move(ctx: Context, account, position):
    """Move ACCOUNT to POSITION (0 is the top), keeping the others' order.

    \b
    Examples:
      tokenctl accounts move github 0
    """

    def run(c):
        target = c.find(account)
        c.move(target, position)
        return target

    target = ctx.unlocked(run)
    data = {"moved": _label(target), "position": position}
    ctx.emit(data, lambda d: click.echo(f"Moved {d['moved']} to position {d['position']}."))


@click.command()
@click.argument("account", required=False)
@pass_ctx
def code(ctx: Context, account):
    """Show current codes, computed on the token, with the seconds left.

    HOTP accounts get a code only when named (each code moves their counter on).

    \b
    Examples:
      tokenctl code
      tokenctl code github
    """
    if account:

        def run(c):
            answer = c.code(c.find(account))
            return answer["now"], answer["c"]

        now, items = ctx.unlocked(run)
    else:
        now, items = ctx.unlocked(lambda c: c.codes())
    data = {
        "now": now,
        "codes": [
            {
                "account": _label(a),
                "issuer": a["i"],
                "name": a["n"],
                "code": a.get("code"),
                **({"seconds_left": a["left"]} if "left" in a else {}),
                **({"counter": a["c"]} if "c" in a else {}),
            }
            for a in items
        ],
    }

    def text(d):
        if not d["codes"]:
            click.echo("No accounts.")
        width = max((len(r["account"]) for r in d["codes"]), default=0)
        for r in d["codes"]:
            if r["code"] is None:
                shown = "[HOTP: name it to get a code]"
            elif "seconds_left" in r:
                shown = f"{r['code']}  ({r['seconds_left']:2d} s left)"
            else:
                shown = f"{r['code']}  (counter {r['counter']})"
            click.echo(f"{r['account']:{width}}  {shown}")

    ctx.emit(data, text)


def register(cli: click.Group) -> None:
    cli.add_command(accounts)
    cli.add_command(code)
