"""The owner's commands: fingerprints, settings, the diagnostic log, and the factory reset."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
from rich.console import Console
from rich.table import Table

from tokenctl.cli.context import Context, pass_ctx
from tokenctl.errors import InputError

SETTINGS = ("max_tries", "wipe_after", "auto_lock_s", "brightness", "screen_s")


@click.group()
def fingerprint():
    """Fingers enrolled on the token's sensor (they unlock it, and release touch codes)."""


@fingerprint.command("enroll")
@click.option("--name", default="", help="A label, e.g. 'right thumb' (kept on the token).")
@click.option("--timeout", "timeout_s", type=float, default=60, show_default=True)
@pass_ctx
def fp_enroll(ctx: Context, name, timeout_s):
    """Enroll a finger: touch the token's sensor three times, lifting in between.

    \b
    Examples:
      tokenctl fingerprint enroll --name "right thumb"
    """
    click.echo(
        "Place your finger on the token's sensor (three times, lifting in between).", err=True
    )
    fid = ctx.unlocked(lambda c: c.enroll_finger(name, timeout_s))
    ctx.emit({"id": fid, "name": name}, lambda d: click.echo(f"Enrolled finger {d['id']}."))


@fingerprint.command("list")
@pass_ctx
def fp_list(ctx: Context):
    """List enrolled fingers.

    \b
    Examples:
      tokenctl fingerprint list
    """
    rows = [{"id": i, "name": n} for i, n in ctx.unlocked(lambda c: c.fingers())]

    def text(rows):
        if not rows:
            click.echo("No fingers enrolled.")
        for r in rows:
            click.echo(f"{r['id']:3d}  {r['name'] or '-'}")

    ctx.emit(rows, text)


@fingerprint.command("remove")
@click.argument("fid", type=int)
@pass_ctx
def fp_remove(ctx: Context, fid):
    """Remove enrolled finger FID.

    \b
    Examples:
      tokenctl fingerprint remove 1
    """
    ctx.unlocked(lambda c: c.remove_finger(fid))
    ctx.emit({"removed": fid}, lambda d: click.echo(f"Removed finger {fid}."))


@click.group()
def settings():
    """App Lock and display settings."""


@settings.command("show")
@pass_ctx
def settings_show(ctx: Context):
    """Show the settings.

    \b
    Examples:
      tokenctl settings show
    """
    data = ctx.unlocked(lambda c: c.settings())

    def text(d):
        for k in SETTINGS:
            if k in d:
                click.echo(f"{k:12} {d[k]}")

    ctx.emit(data, text)


@settings.command("set")
@click.argument("name", type=click.Choice(SETTINGS))
@click.argument("value", type=int)
@pass_ctx
def settings_set(ctx: Context, name, value):
    """Change a setting: max_tries (3-15), wipe_after (0 = off, else max_tries-99 wrong PINs),
    auto_lock_s (0 = never, else 15-86400), brightness (0-255), screen_s (5-600).

    \b
    Examples:
      tokenctl settings set auto_lock_s 120
      tokenctl settings set wipe_after 12
    """
    data = ctx.unlocked(lambda c: c.set_setting(name, value))
    ctx.emit(data, lambda d: click.echo(f"{name} = {d.get(name, value)}"))


@click.command("log")
@click.option("--clear", is_flag=True, help="Clear the log (needs the token unlocked).")
@pass_ctx
def log_cmd(ctx: Context, clear):
    """Show the token's diagnostic log: boots, unlocks, failures, syncs, errors (never secrets).

    \b
    Examples:
      tokenctl log
      tokenctl log --clear
    """
    from tokenctl.events import describe

    if clear:
        ctx.unlocked(lambda c: c.clear_log())
        ctx.emit({"cleared": True}, lambda d: click.echo("Log cleared."))
        return
    rows = [describe(r) for r in ctx.client().log()]

    def text(rows):
        table = Table("#", "Time", "Event", "Detail")
        for r in rows:
            when = (
                datetime.fromtimestamp(r["time"], UTC).strftime("%Y-%m-%d %H:%M:%S")
                if r["time"]
                else "(clock unset)"
            )
            table.add_row(str(r["seq"]), when, r["event"], r["text"])
        Console().print(table)

    ctx.emit(rows, text)


@click.command()
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def wipe(ctx: Context, force):
    """Factory reset: erase every account, fingerprint and the PIN. Needs the PIN if one is set.

    \b
    Examples:
      tokenctl --pin 482913 wipe --force
    """
    client = ctx.client()
    info = client.info()
    if not force:
        if not sys.stdin.isatty():
            raise InputError("wiping needs --force when there is no terminal to ask on")
        click.confirm(
            f"Erase all {info['accounts']} accounts, fingers and the PIN "
            f"of token {info['serial']}?",
            abort=True,
            err=True,
        )
    client.wipe(ctx.ask_pin() if info["pin"] else None)
    ctx.emit({"wiped": info["serial"]}, lambda d: click.echo("Token wiped."))


def register(cli: click.Group) -> None:
    cli.add_command(fingerprint)
    cli.add_command(settings)
    cli.add_command(log_cmd)
    cli.add_command(wipe)
