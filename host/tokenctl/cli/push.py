"""`tokenctl push`: the relying party's side of push approval (docs/push.md).

Enrolment goes over USB serial; challenges go over BLE (a real radio with --ble, else the
simulated token's BLE). The push key stays in the local store and is never shown.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from tokenctl.cli.context import Context, pass_ctx
from tokenctl.errors import InputError
from tokenctl.push.api import DEFAULT_LIFETIME_S, DEFAULT_TIMEOUT_S, PushResult, PushServer
from tokenctl.push.link import BleakLink, Link, SimLink, advert_name
from tokenctl.push.store import PushStore
from tokenctl.sim import registry

_store_option = click.option(
    "--store",
    "store_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Push store (SQLite). Default: $TOKENCTL_PUSH_DB, else ~/.local/share/tokenctl/push.db.",
)


def _when(t: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) if t else "-"


def _sim_link(ctx: Context, serial: str) -> SimLink:
    """The simulated token on --port, else the only simulator running."""
    if ctx.port:
        record = registry.find(ctx.port)
    else:
        running = registry.list_running()
        if len(running) != 1:
            raise registry.SimNotFound(
                "no simulator is running: give --ble NAME|ADDRESS for a real token"
                if not running
                else "several simulators are running: name one with --port"
            )
        record = running[0]

    def ble_call(action: str, **args: Any) -> dict:
        wait = float(args.get("timeout_s", 0)) + 10
        return registry.control(record, "ble", timeout=wait, action=action, **args)

    return SimLink(ble_call, name=advert_name(serial))


@click.group()
def push():
    """Push sign-in approval: enrol accounts, send challenges over BLE, revoke.

    Exit codes of `push send`: 0 approved, 10 denied, 11 wrong number picked, 12 reported
    as fraud, 13 timed out, 14 rate-limited, 15 rejected (or a bad answer).
    """


@push.command()
@click.argument("account")
@_store_option
@pass_ctx
def enroll(ctx: Context, account, store_path):
    """Enrol ACCOUNT on the token (over USB serial) for push approval.

    Re-enrolling an account replaces its push key.

    \b
    Examples:
      tokenctl push enroll Example:alice
      tokenctl --port /dev/ttyUSB0 push enroll alice --store ./rp.db
    """
    with PushStore.open(store_path) as store:
        enrolment = ctx.unlocked(lambda c: PushServer(store).enroll(c, account))
    data = enrolment.public()
    ctx.emit(
        data,
        lambda d: click.echo(
            f"Enrolled {d['account']} on token {d['serial']} for push "
            f"(it advertises as {advert_name(d['serial'])})."
        ),
    )


@push.command()
@click.option("--account", required=True, help="The enrolled account (issuer:name or name).")
@click.option("--serial", help="The token, when the account is enrolled on several.")
@click.option("--app", required=True, help="The application signing in (at most 32 bytes).")
@click.option("--location", required=True, help='Where from, e.g. "Berlin, DE" (48 bytes).')
@click.option("--ip", default="", help="The client's address (at most 45 bytes).")
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=1),
    default=DEFAULT_TIMEOUT_S,
    show_default=True,
    help="Seconds to wait for the answer.",
)
@click.option(
    "--lifetime",
    "lifetime_s",
    type=click.IntRange(1, 300),
    default=DEFAULT_LIFETIME_S,
    show_default=True,
    help="Seconds the challenge stays valid.",
)
@click.option(
    "--ble",
    metavar="ADDRESS|NAME",
    help="A real token over BLE (auto: Token-<serial's last 6>). Default: the simulated token.",
)
@_store_option
@pass_ctx
def send(ctx: Context, account, serial, app, location, ip, timeout_s, lifetime_s, ble, store_path):
    """Send a push challenge and wait for the answer on the token.

    The number to match is printed at once; the sign-in page shows it, the user picks it
    on the token and confirms with a finger.

    \b
    Examples:
      tokenctl push send --account Example:alice --app VPN --location "Berlin, DE"
      tokenctl push send --account alice --app SSH --location Home --ip 192.0.2.7 --ble auto
    """
    with PushStore.open(store_path) as store:
        enrolment = store.find(account, serial)
        link: Link
        if ble:
            link = BleakLink(advert_name(enrolment.serial) if ble == "auto" else ble)
        else:
            link = _sim_link(ctx, enrolment.serial)

        def show(number: int) -> None:
            click.echo(f"Number to match: {number}", err=ctx.as_json)

        result = PushServer(store).send(
            link,
            enrolment.serial,
            enrolment.label,
            app,
            location,
            ip,
            timeout_s=timeout_s,
            lifetime_s=lifetime_s,
            on_number=show,
        )
    _show_result(ctx, result)
    result.raise_for_result()


def _show_result(ctx: Context, result: PushResult) -> None:
    def text(d: dict) -> None:
        if d["approved"]:
            click.echo(f"Approved (number {d['number']}, token time {_when(d['device_time'])}).")

    ctx.emit(result.to_dict(), text)


@push.command()
@click.argument("account")
@click.option("--serial", help="The token (default: the one on the port with --on-token).")
@click.option("--on-token", is_flag=True, help="Also end the enrolment on the token (USB).")
@_store_option
@pass_ctx
def revoke(ctx: Context, account, serial, on_token, store_path):
    """End ACCOUNT's push enrolment here (enough for a lost token), and on the token.

    \b
    Examples:
      tokenctl push revoke Example:alice
      tokenctl push revoke alice --on-token
    """
    with PushStore.open(store_path) as store:
        if on_token:
            token_serial = ctx.client().info().get("serial")
            if serial and serial != token_serial:
                raise InputError(f"the token on the port is {token_serial}, not {serial}")
            serial = token_serial
        enrolment = store.find(account, serial)
        store.revoke(enrolment.id)
        click.echo(f"Revoked {enrolment.label} on token {enrolment.serial} here.", err=True)
        if on_token:
            ctx.unlocked(lambda c: c.call("push.revoke", i=enrolment.issuer, n=enrolment.name))
            click.echo("Revoked on the token too.", err=True)
        data = store.get(enrolment.id).public()
    ctx.emit(data, lambda d: None)


@push.command(name="list")
@click.option("--all", "show_all", is_flag=True, help="Include revoked enrolments.")
@_store_option
@pass_ctx
def list_(ctx: Context, show_all, store_path):
    """List push enrolments (never a key).

    \b
    Examples:
      tokenctl push list
      tokenctl --json push list --all
    """
    with PushStore.open(store_path) as store:
        rows = [e.public() for e in store.enrolments(include_revoked=show_all)]
    ctx.emit(rows, _table)


def _table(rows: list[dict]) -> None:
    if not rows:
        click.echo("No push enrolments.", err=True)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("Account", "Token", "Handle", "Next seq", "Enrolled", "Revoked", box=None)
    for r in rows:
        table.add_row(
            r["account"],
            r["serial"],
            r["handle"],
            str(r["next_seq"]),
            _when(r["created"]),
            _when(r["revoked"]),
        )
    Console(soft_wrap=True).print(table)


def register(cli: click.Group) -> None:
    cli.add_command(push)
