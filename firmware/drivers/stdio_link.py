"""The USB-serial link as MicroPython's stdin and stdout: the ESP32's UART0/USB console, and
in the simulator the pipes the launcher relays to a pty.

`read` waits for the first byte without blocking the asyncio loop, then takes whatever else
has already arrived (stdin's own read(n) would block until n bytes came). It waits on
asyncio's I/O queue itself: asyncio.stream would cost its bytecode for one call.
"""

import select
import sys
from asyncio import core  # type: ignore[attr-defined]  # not in the stubs: internal

_CHUNK = 512


def _readable(stream):
    """Awaitable: suspends the task until `stream` has bytes (what asyncio.stream does)."""
    yield core._io_queue.queue_read(stream)


class StdioLink:
    def __init__(self):
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(self._in, select.POLLIN)
        # Filled in place by every read, so a read allocates nothing: a bytearray cut short
        # keeps its allocation, and grows back into it.
        self._buf = bytearray(_CHUNK)
        self._byte = bytearray(1)

    async def read(self):
        """What has arrived (empty once stdin closes), in a buffer the next read reuses."""
        await _readable(self._in)
        buf = self._buf
        buf[0:] = b""
        while len(buf) < _CHUNK and (not buf or self._poll.poll(0)):
            if not self._in.readinto(self._byte):
                break
            buf.append(self._byte[0])
        return buf

    def write(self, data):
        self._out.write(data)
