"""What the display should show, rendered by the firmware's own ui module under MicroPython,
to compare byte for byte with the simulated panel's GDDRAM (pages 0-6: page 7 is the
countdown bar, checked on its own)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tokenctl.sim.build import find_tool, repo_root

BAR_PAGE = 7


def render(call: str, **args) -> bytes:
    """The 1 KiB frame buffer after ui.<call>(fb, **args)."""
    root = repo_root()
    script = (
        "import framebuf, json, sys\n"
        "from authtok import ui\n"
        "buf = bytearray(1024)\n"
        "fb = framebuf.FrameBuffer(buf, 128, 64, framebuf.MONO_VLSB)\n"
        f"ui.{call}(fb, **json.loads({json.dumps(json.dumps(args))}))\n"
        "sys.stdout.write(buf.hex())\n"
    )
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([str(root / "firmware"), ".frozen"]))
    out = subprocess.run(
        [find_tool("micropython"), "-c", script],
        capture_output=True,
        env=env,
        check=True,
        timeout=30,
    )
    return bytes.fromhex(out.stdout.decode())


def pages(buf: bytes | bytearray, first: int = 0, last: int = BAR_PAGE - 1) -> bytes:
    return bytes(buf[first * 128 : (last + 1) * 128])


def lit_in_page(buf: bytes | bytearray, page: int) -> int:
    return sum(bin(b).count("1") for b in buf[page * 128 : (page + 1) * 128])


__all__ = ["BAR_PAGE", "Path", "lit_in_page", "pages", "render"]
