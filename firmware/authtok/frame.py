"""Serial protocol v1 framing (docs/protocol.md): one frame per line.

    #TK1:<json>:<crc32 as 8 lowercase hex digits>\n

Anything that is not a whole, checksummed frame (boot banners, REPL text, line noise) is
skipped, and a line longer than 4096 bytes is dropped without ever being held in full, so
garbage on the wire costs bounded memory.
"""

import io
import json
from binascii import crc32

from micropython import const

MARKER = b"#TK1:"
_MAX_LINE = const(4096)
_OUT = const(128)  # bytes _Out gathers before it writes them to the link


class _Out(io.IOBase):
    """json.dump's target: gathers the text in a fixed buffer, sums the CRC as it goes."""

    def __init__(self, link):
        self._link = link
        self._buf = bytearray(_OUT)
        self._n = 0
        self.crc = 0

    def write(self, data):
        n = len(data)
        if self._n + n > _OUT:
            self.flush()
        if n > _OUT:
            self.crc = crc32(data, self.crc)
            self._link.write(data)
        else:
            self._buf[self._n:self._n + n] = data
            self._n += n
        return n

    def flush(self):
        if self._n:
            piece = memoryview(self._buf)[:self._n]
            self.crc = crc32(piece, self.crc)
            self._link.write(piece)
            self._n = 0



def send(link, obj):
    """Write obj as one frame straight onto the link: no copy of the frame is ever made, so
    an answer needs no contiguous heap however long it is."""
    link.write(MARKER)
    out = _Out(link)
    json.dump(obj, out, separators=(",", ":"))  # type: ignore[call-overload]
    out.flush()
    link.write((":%08x\n" % (out.crc & 0xFFFFFFFF)).encode())


def decode(buf, n=None):
    """The frame in buf[:n]: its object, None if it holds no frame, or ValueError if it holds
    only a damaged one (bad checksum, bad JSON, another protocol version). Works in place:
    the JSON is parsed straight from buf."""
    if n is None:
        n = len(buf)
    while n and buf[n - 1] == 13:  # a "\r" before the "\n"
        n -= 1
    at = buf.find(b"#TK", 0, n)
    err = None
    while at >= 0:  # noise before the frame may itself contain the marker
        try:
            return _parse(buf, at, n)
        except ValueError as e:
            err = err or e
        at = buf.find(b"#TK", at + 3, n)
    if err:
        raise err
    return None


def _parse(buf, at, n):
    if buf[at:at + 5] != MARKER:
        raise ValueError("unsupported protocol version")
    end = buf.rfind(b":", 0, n)
    if end <= at + 5 or n - end != 9:
        raise ValueError("truncated frame")
    body = memoryview(buf)[at + 5:end]
    crc = buf[end + 1:n]
    if ("%08x" % (crc32(body) & 0xFFFFFFFF)).encode() != crc:
        raise ValueError("bad checksum")
    try:
        obj = json.loads(body)  # type: ignore[type-var]  # a memoryview parses in place
    except ValueError:
        raise ValueError("damaged frame: not JSON") from None
    if not isinstance(obj, dict):
        raise ValueError("frame is not an object")
    rid = obj.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, int)):
        raise ValueError("id must be an integer")
    return obj


class Lines:
    """Splits a byte stream into lines of at most 4096 bytes; longer lines are dropped.

    The line buffer is allocated once: `feed` yields the length of each complete line, which
    is then in `buf[:n]` until the next call, so receiving costs no heap however much arrives.
    """

    def __init__(self):
        self.buf = bytearray(_MAX_LINE)
        self._n = 0
        self._dropping = False
        self.dropped = 0

    def feed(self, chunk):
        at = 0
        while at < len(chunk):
            nl = chunk.find(b"\n", at)
            end = len(chunk) if nl < 0 else nl
            take = end - at
            if not self._dropping:
                if self._n + take > _MAX_LINE:
                    self._dropping = True
                    self.dropped += 1
                else:
                    self.buf[self._n:self._n + take] = chunk[at:end]
                    self._n += take
            if nl < 0:
                return
            at = nl + 1
            if not self._dropping:
                yield self._n
            self._n = 0
            self._dropping = False
