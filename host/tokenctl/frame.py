"""Serial protocol v1 framing, host side (docs/protocol.md).

    #TK1:<json>:<crc32 as 8 lowercase hex digits>\\n

The decoder skips everything that is not a whole, checksummed frame (boot banners, REPL
text, noise) and never buffers more than MAX_LINE bytes of one line.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator

MARKER = b"#TK1:"
MAX_LINE = 4096


class FrameError(ValueError):
    """A line held a frame, but a damaged one."""


def encode(obj: dict) -> bytes:
    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return b"%s%s:%08x\n" % (MARKER, body, zlib.crc32(body))


def decode_line(line: bytes) -> dict | None:
    """The frame in a line, None for noise; FrameError for a damaged frame."""
    at = line.find(b"#TK")
    first_error: FrameError | None = None
    while at >= 0:
        try:
            return _parse(line[at:])
        except FrameError as e:
            first_error = first_error or e
        at = line.find(b"#TK", at + 3)
    if first_error:
        raise first_error
    return None


def _parse(text: bytes) -> dict:
    if not text.startswith(MARKER):
        raise FrameError("unsupported protocol version")
    body, sep, crc = text[len(MARKER) :].rstrip(b"\r").rpartition(b":")
    if not sep or len(crc) != 8:
        raise FrameError("truncated frame")
    if crc != b"%08x" % zlib.crc32(body):
        raise FrameError("bad checksum")
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
        raise FrameError("damaged frame: not JSON") from None
    if not isinstance(obj, dict):
        raise FrameError("frame is not an object")
    return obj


class Decoder:
    """Feeds bytes in, yields decoded frames and FrameErrors out, in order."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._dropping = False

    def feed(self, data: bytes) -> Iterator[dict | FrameError]:
        self._buf += data
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > MAX_LINE:
                    self._buf.clear()
                    self._dropping = True
                return
            line = bytes(self._buf[:nl])
            del self._buf[: nl + 1]
            if self._dropping or len(line) > MAX_LINE:
                self._dropping = False
                continue
            try:
                obj = decode_line(line)
            except FrameError as e:
                yield e
                continue
            if obj is not None:
                yield obj
