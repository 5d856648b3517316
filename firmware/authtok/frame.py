"""Serial protocol v1 framing (docs/protocol.md): one frame per line.

    #TK1:<json>:<crc32 as 8 lowercase hex digits>\n

Anything that is not a whole, checksummed frame (boot banners, REPL text, line noise) is
skipped, and a line longer than MAX_LINE is dropped without ever being held in full, so
garbage on the wire costs bounded memory.
"""

import json
from binascii import crc32

MARKER = b"#TK1:"
MAX_LINE = 4096


def encode(obj):
    body = json.dumps(obj, separators=(",", ":")).encode()
    return MARKER + body + b":" + ("%08x" % (crc32(body) & 0xFFFFFFFF)).encode() + b"\n"


def decode(line):
    """Return the frame's object, None if the line holds no frame, or raise ValueError if it
    holds only a damaged frame (bad checksum, bad JSON, another protocol version)."""
    at = line.find(b"#TK")
    err = None
    while at >= 0:  # noise before the frame may itself contain the marker
        try:
            return _parse(line, at)
        except ValueError as e:
            err = err or e
        at = line.find(b"#TK", at + 3)
    if err:
        raise err
    return None


def _parse(line, at):
    if line[at:at + 5] != MARKER:
        raise ValueError("unsupported protocol version")
    end = line.rfind(b":")
    if end <= at + 5 or len(line) - end < 9:
        raise ValueError("truncated frame")
    body = line[at + 5:end]
    try:
        crc = int(line[end + 1:end + 9], 16)
    except ValueError:
        raise ValueError("bad checksum") from None
    if crc32(body) & 0xFFFFFFFF != crc:
        raise ValueError("bad checksum")
    obj = json.loads(body)
    if not isinstance(obj, dict):
        raise ValueError("frame is not an object")
    return obj


class Lines:
    """Splits a byte stream into lines of at most MAX_LINE bytes; longer lines are dropped."""

    def __init__(self):
        self._buf = bytearray()
        self._dropping = False
        self.dropped = 0

    def feed(self, chunk):
        self._buf.extend(chunk)
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > MAX_LINE:
                    self._buf = bytearray()
                    if not self._dropping:
                        self.dropped += 1
                    self._dropping = True
                return
            line = bytes(self._buf[:nl])
            self._buf = self._buf[nl + 1:]
            if self._dropping or len(line) > MAX_LINE:
                self._dropping = False
                if len(line) > MAX_LINE:
                    self.dropped += 1
                continue
            yield line
