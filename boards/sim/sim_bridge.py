"""The simulated board's wires: bus traffic goes over a unix socket to the launcher, where
the simulated parts live (tokenctl/sim/bus.py), transaction by transaction.

So the parts cost the firmware no heap (the ESP32 has them in silicon, not in its RAM), and
the launcher can place a finger, press a button or read the screen while the firmware runs.
Each request is op (1 byte) | length (2) | payload; each answer is status (1, an errno or 0) |
length (2) | payload.
"""

import socket
import struct

from micropython import const

_I2C_WRITE = const(0x57)  # "W": addr, data -> ()
_I2C_READ = const(0x52)  # "R": addr, n -> data
_I2C_SCAN = const(0x53)  # "S": () -> addresses (the launcher's; the drivers never scan)
_UART_WRITE = const(0x77)  # "w": port, data -> ()
_UART_READ = const(0x72)  # "r": port, n -> data (what has arrived, possibly nothing)
_PIN_READ = const(0x70)  # "p": name -> level


class Bridge:
    def __init__(self, path):
        self._s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._s.connect(struct.pack("H", socket.AF_UNIX) + path.encode() + b"\x00")
        self._head = bytearray(3)

    def call(self, op, payload):
        self._s.write(struct.pack(">BH", op, len(payload)) + payload)
        self._s.readinto(self._head)
        status, n = self._head[0], (self._head[1] << 8) | self._head[2]
        data = b""
        if n:
            try:
                data = bytearray(n)
            except MemoryError:
                # Read the answer away, or the next call takes it for its own and the
                # board's every part goes silent (the RTC first).
                while n:
                    n -= self._s.readinto(self._head, min(n, 3))
                raise
            self._s.readinto(data)
        if status:
            raise OSError(status)
        return data


class BridgeI2C:
    """machine.I2C's API, the part of it the drivers use (ssd1306: writeto; ds3231: the *_mem
    pair), over the bridge. Only that: each method costs the token's heap."""

    def __init__(self, bridge):
        self._b = bridge

    def writeto(self, addr, buf, stop=True):
        self._b.call(_I2C_WRITE, bytes((addr,)) + bytes(buf))
        return len(buf)

    def readfrom_into(self, addr, buf, stop=True):
        buf[:] = self._b.call(_I2C_READ, struct.pack(">BH", addr, len(buf)))

    def writeto_mem(self, addr, memaddr, buf, addrsize=8):
        self.writeto(addr, bytes((memaddr,)) + bytes(buf))

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        self.writeto(addr, bytes((memaddr,)), False)
        self.readfrom_into(addr, buf)


class BridgeUART:
    """machine.UART's API (write, read, readinto, any) over the bridge."""

    def __init__(self, bridge, port):
        self._b = bridge
        self._port = port
        self._rx = b""

    def write(self, buf):
        self._b.call(_UART_WRITE, bytes((self._port,)) + bytes(buf))
        return len(buf)

    def _fill(self):
        if not self._rx:
            self._rx = bytes(self._b.call(_UART_READ, struct.pack(">BH", self._port, 512)))

    def any(self):
        self._fill()
        return len(self._rx)

    def read(self, n=-1):
        self._fill()
        if not self._rx:
            return None
        n = len(self._rx) if n < 0 else n
        out, self._rx = self._rx[:n], self._rx[n:]
        return out

    def readinto(self, buf, n=-1):
        data = self.read(len(buf) if n < 0 else n)
        if not data:
            return None
        buf[: len(data)] = data
        return len(data)


class BridgePin:
    """An input pin (a button to GND with a pull-up) read over the bridge."""

    def __init__(self, bridge, name):
        self._b = bridge
        self._name = name.encode()

    def value(self):
        return self._b.call(_PIN_READ, self._name)[0]

    __call__ = value
