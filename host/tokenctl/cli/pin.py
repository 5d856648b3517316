"""App Lock over serial: `pin set`, `pin change`, `unlock`, `lock`."""

from __future__ import annotations

import sys

import click

from tokenctl.cli.context import Context, pass_ctx
from tokenctl.errors import InputError


def _new_pin(value: str | None) -> str:
    if value:
        return value
    if not sys.stdin.isatty():
        raise InputError("give the new PIN with --new-pin (no terminal to ask on)")
    return click.prompt("New PIN", hide_input=True, confirmation_prompt=True, err=True)


@click.group()
def pin():
    """The token's PIN (App Lock). Until one is set, the token is open."""


@pin.command("set")
@click.option("--new-pin", help="The PIN to set (else asked for twice).")
@pass_ctx
def pin_set(ctx: Context, new_pin):
    """Set the first PIN; from then on, codes and changes need it.

    \b
    Examples:
      tokenctl pin set
      tokenctl pin set --new-pin 482913
    """
    ctx.client().set_pin(_new_pin(new_pin))
    ctx.emit({"pin": "set"}, lambda d: click.echo("PIN set. The token now needs it for codes."))


@pin.command("change")
@click.option("--new-pin", help="The new PIN (else asked for twice).")
@pass_ctx
def pin_change(ctx: Context, new_pin):
    """Change the PIN; the current one comes from --pin, TOKENCTL_PIN or a prompt.

    \b
    Examples:
      tokenctl --pin 482913 pin change --new-pin 913482
    """
    old = ctx.ask_pin("Current PIN")
    ctx.client().change_pin(old, _new_pin(new_pin))
    ctx.emit({"pin": "changed"}, lambda d: click.echo("PIN changed."))


@click.command()
@pass_ctx
def unlock(ctx: Context):
    """Unlock the token with its PIN until it locks again (idle, `lock`, power off).

    \b
    Examples:
      tokenctl unlock
      TOKENCTL_PIN=482913 tokenctl unlock
    """
    ctx.client().unlock(ctx.ask_pin())
    ctx.emit({"locked": False}, lambda d: click.echo("Unlocked."))


@click.command()
@pass_ctx
def lock(ctx: Context):
    """Lock the token now.

    \b
    Examples:
      tokenctl lock
    """
    ctx.client().lock()
    ctx.emit({"locked": True}, lambda d: click.echo("Locked."))


def register(cli: click.Group) -> None:
    cli.add_command(pin)
    cli.add_command(unlock)
    cli.add_command(lock)
