"""The USB-serial link as MicroPython's stdin and stdout: the ESP32's UART0/USB console, and
in the simulator the pipes the launcher relays to a pty.

`read` waits for the first byte without blocking the asyncio loop, then takes whatever else
has already arrived (stdin's own read(n) would block until n bytes came).
"""

import asyncio
import select
import sys

_CHUNK = 512


class StdioLink:
    def __init__(self):
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._reader = asyncio.StreamReader(self._in)
        self._poll = select.poll()
        self._poll.register(self._in, select.POLLIN)

    async def read(self):
        first = await self._reader.read(1)
        if not first:
            return b""
        buf = bytearray(first)
        while len(buf) < _CHUNK and self._poll.poll(0):
            b = self._in.read(1)
            if not b:
                break
            buf.extend(b)
        return buf

    def write(self, data):
        self._out.write(data)
