"""Pictures of the simulated OLED: a PNG as a person would look at it, or terminal text.

`pixels` is what boards/sim/sim_ssd1306.py's `SimSSD1306.pixels()` returns: rows, top first,
each a sequence of 0/1 (any truthy value is a lit pixel).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

from PIL import Image, ImageDraw

ON = (150, 235, 255)  # the cyan-white of a lit SSD1306 pixel
OFF = (6, 8, 12)  # unlit glass
BEZEL = (30, 32, 38)


def _size(pixels: Sequence[Sequence[int]]) -> tuple[int, int]:
    height = len(pixels)
    width = len(pixels[0]) if height else 0
    if not width or any(len(row) != width for row in pixels):
        raise ValueError("pixels: need equal, non-empty rows")
    return width, height


def render_png(
    pixels: Sequence[Sequence[int]],
    path_or_file: str | IO[bytes],
    scale: int = 4,
    margin: int | None = None,
    contrast: int | None = None,
    on: tuple[int, int, int] = ON,
    off: tuple[int, int, int] = OFF,
    bezel: tuple[int, int, int] = BEZEL,
) -> tuple[int, int]:
    """Write the panel as a PNG; returns its size in pixels.

    Each panel pixel becomes a scale x scale square (nearest neighbour); the glass sits in a
    bezel `margin` image pixels wide (default 2 * scale), so the image is
    (width * scale + 2 * margin) x (height * scale + 2 * margin). `contrast` (0-255, the
    controller's 0x81 setting) dims lit pixels as the real panel does, if given.
    """
    if scale < 1:
        raise ValueError("scale")
    width, height = _size(pixels)
    m = 2 * scale if margin is None else margin
    if m < 0:
        raise ValueError("margin")
    if contrast is not None:
        level = 0.3 + 0.7 * max(0, min(255, contrast)) / 255
        on = tuple(round(o + (c - o) * level) for c, o in zip(on, off, strict=True))  # type: ignore[assignment]
    mask = Image.frombytes(
        "L", (width, height), bytes(255 if v else 0 for row in pixels for v in row)
    ).resize((width * scale, height * scale), Image.Resampling.NEAREST)
    size = (width * scale + 2 * m, height * scale + 2 * m)
    img = Image.new("RGB", size, bezel)
    glass = Image.new("RGB", mask.size, off)
    glass.paste(on, (0, 0, *mask.size), mask)
    img.paste(glass, (m, m))
    if m >= 2:  # a thin dark rim where the glass meets the bezel
        ImageDraw.Draw(img).rectangle(
            (m - 1, m - 1, m + width * scale, m + height * scale), outline=(12, 13, 16)
        )
    img.save(path_or_file, format="PNG")
    return size


def to_text(pixels: Sequence[Sequence[int]]) -> str:
    """The panel in half-block characters: two pixel rows per line, framed."""
    width, height = _size(pixels)
    glyphs = (" ", "▀", "▄", "█")
    lines = ["┌" + "─" * width + "┐"]
    for y in range(0, height, 2):
        top = pixels[y]
        bottom = pixels[y + 1] if y + 1 < height else [0] * width
        cells = (glyphs[(1 if top[x] else 0) | (2 if bottom[x] else 0)] for x in range(width))
        lines.append("│" + "".join(cells) + "│")
    lines.append("└" + "─" * width + "┘")
    return "\n".join(lines)
