"""Real boards as the bench tools see them: boards/NAME/board.json (the pin map the firmware
reads) and boards/NAME/flash.json (chip, image offset, flash size: host-side only)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tokenctl.errors import InputError
from tokenctl.sim.build import repo_root


@dataclass(frozen=True)
class Board:
    name: str  # as the firmware reports it (info.board), e.g. "esp32-devkitc"
    folder: Path
    chip: str  # esptool's name: "esp32"
    image_offset: int  # where the MicroPython .bin goes
    flash_bytes: int
    flash_baud: int
    mpy_march: str  # mpy-cross -march for this chip


def names(root: Path | None = None) -> list[str]:
    base = (root or repo_root()) / "boards"
    return sorted(p.parent.name for p in base.glob("*/flash.json"))


def load(name: str, root: Path | None = None) -> Board:
    """The board by folder name (esp32_devkitc) or by its own name (esp32-devkitc)."""
    base = (root or repo_root()) / "boards"
    folder = base / name.replace("-", "_")
    if not (folder / "flash.json").is_file():
        known = ", ".join(names(root)) or "none"
        raise InputError(f"no real board named {name!r} (boards with flash.json: {known})")
    try:
        cfg = json.loads((folder / "flash.json").read_text())
        pins = json.loads((folder / "board.json").read_text())
        return Board(
            name=pins["name"],
            folder=folder,
            chip=cfg["chip"],
            image_offset=int(cfg["image_offset"]),
            flash_bytes=int(cfg["flash_bytes"]),
            flash_baud=int(cfg.get("flash_baud", 460800)),
            mpy_march=cfg["mpy_march"],
        )
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"board {name}: bad board.json or flash.json ({exc})") from None
