"""`info` and `time`: what the token is, and its clock."""

from __future__ import annotations

import time as _time
from datetime import UTC, datetime

import click

from tokenctl.cli.context import Context, pass_ctx


def _iso(t: int | None) -> str:
    if t is None:
        return "never"
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _clock_status(clock: dict) -> str:
    if not clock.get("trusted"):
        return "UNTRUSTED (lost power: run `tokenctl time sync`)"
    return f"ok, last sync {_iso(clock.get('last_sync'))}"


@click.command()
@pass_ctx
def info(ctx: Context):
    """Show the token: serial number, firmware, board, free heap, accounts, clock.

    \b
    Examples:
      tokenctl info
      tokenctl --json info
    """
    data = ctx.client().info()
    data.pop("id", None)
    data.pop("ok", None)

    def text(d):
        lock = "no PIN" if not d["pin"] else ("locked" if d["locked"] else "unlocked")
        rows = [
            ("Serial", d["serial"]),
            ("Firmware", d["fw"]),
            ("Board", d["board"]),
            ("Protocol", d["proto"]),
            ("Free heap", f"{d['heap_free']} bytes"),
            ("Accounts", f"{d['accounts']} of {d['max_accounts']}"),
            ("App Lock", f"{lock} ({d['tries_left']} PIN tries left)" if d["pin"] else lock),
            ("Vault", d["vault"]),
            ("Clock", f"{_iso(d['clock']['now'])}, {_clock_status(d['clock'])}"),
        ]
        for k, v in rows:
            click.echo(f"{k + ':':11} {v}")

    ctx.emit(data, text)


@click.group()
def time():
    """The token's clock (a battery-backed DS3231)."""


@time.command("show")
@pass_ctx
def time_show(ctx: Context):
    """Show the token's time and how far it is from this computer's.

    \b
    Examples:
      tokenctl time show
    """
    clock = ctx.client().time()
    host = _time.time()
    data = {
        "device": clock["now"],
        "host": round(host, 3),
        "drift": round(clock["now"] - host),
        "trusted": clock["trusted"],
        "last_sync": clock.get("last_sync"),
    }

    def text(d):
        click.echo(f"Token:  {_iso(d['device'])} ({d['drift']:+d} s from this computer)")
        click.echo(f"Status: {_clock_status(clock)}")

    ctx.emit(data, text)


@time.command("sync")
@pass_ctx
def time_sync(ctx: Context):
    """Set the token's clock from this computer's clock (keep this one NTP-synced).

    \b
    Examples:
      tokenctl time sync
    """
    answer = ctx.unlocked(lambda c: c.sync_time())
    data = {"now": answer["now"], "offset": answer["offset"]}
    ctx.emit(
        data,
        lambda d: click.echo(f"Clock set to {_iso(d['now'])}; corrected by {d['offset']:+d} s."),
    )


def register(cli: click.Group) -> None:
    cli.add_command(info)
    cli.add_command(time)
