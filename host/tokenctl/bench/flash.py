"""Put MicroPython on a board's flash with esptool: detect the chip, erase, write, reset.

esptool talks to the chip's ROM bootloader (not to our firmware), so this works on a blank or
broken board. esptool's own chatter goes to stderr; write_flash checks the written data by
MD5 itself. Images are checked first: an ESP image starts with 0xE9 and must fit the flash.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import IO

import serial

from tokenctl.bench.boards import Board
from tokenctl.errors import InputError, TokenError, TransportError

ESP_IMAGE_MAGIC = 0xE9
ROM_BAUD = 115200


class FlashError(TokenError):
    """esptool failed after connecting (write, verify, erase)."""


def check_image(image: Path, board: Board) -> bytes:
    try:
        data = image.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {image}: {exc.strerror or type(exc).__name__}") from None
    if not data or data[0] != ESP_IMAGE_MAGIC:
        raise InputError(f"{image} is not an ESP firmware image (no 0xE9 magic byte)")
    room = board.flash_bytes - board.image_offset
    if len(data) > room:
        raise InputError(f"{image} is {len(data):,} bytes; {board.name} has room for {room:,}")
    return data


def flash(
    port: str,
    board: Board,
    image: Path,
    erase: bool = True,
    baud: int | None = None,
    connect_mode: str = "default-reset",
    log: IO[str] | None = None,
) -> dict:
    """Flash `image` at the board's offset; returns what was done (chip, MAC, bytes)."""
    data = check_image(image, board)
    from esptool.cmds import (
        attach_flash,
        detect_chip,
        erase_flash,
        reset_chip,
        run_stub,
        write_flash,
    )
    from esptool.util import FatalError

    with contextlib.redirect_stdout(log or sys.stderr):
        try:
            esp = detect_chip(port, ROM_BAUD, connect_mode, connect_attempts=3)
        except (FatalError, serial.SerialException, OSError) as exc:
            raise TransportError(
                f"no ESP bootloader answers on {port}: {_first_line(exc)} (hold BOOT, tap EN, "
                "and try again)"
            ) from None
        try:
            chip = esp.CHIP_NAME
            if chip.lower().replace("-", "") != board.chip.replace("-", ""):
                raise InputError(f"the chip on {port} is an {chip}; {board.name} has an "
                                 f"{board.chip.upper()}: wrong board?")  # fmt: skip
            done = {"port": port, "board": board.name, "chip": esp.get_chip_description()}
            done["mac"] = ":".join(f"{b:02x}" for b in esp.read_mac())
            esp = run_stub(esp)
            if baud and not port.startswith(("socket://", "rfc2217://")):
                esp.change_baud(baud)
            attach_flash(esp)
            if erase:
                erase_flash(esp)
            write_flash(esp, [(board.image_offset, data)], compress=True)
            reset_chip(esp, "hard-reset")
        except FatalError as exc:
            raise FlashError(
                f"flashing {board.name} on {port} failed: {_first_line(exc)}"
            ) from None
        finally:
            esp._port.close()
    done.update(offset=board.image_offset, bytes=len(data), erased=erase)
    return done


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().split("\n")[0] or type(exc).__name__
