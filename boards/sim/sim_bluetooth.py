"""A stand-in for MicroPython's `bluetooth` module on the simulated board (the unix port has
none): the part of its API the firmware uses, with what the stack would put on the air sent
over the board's bridge to the launcher's radio (host/tokenctl/sim/radio.py).

Events (a central connecting, writing, leaving) are polled from the bridge by a task and
handed to the IRQ handler as the real stack does, with the written value in place for
gatts_read. No pairing: the simulated link counts as encrypted.
"""

import asyncio
import struct
import sys

from micropython import const

_ADV = const(0x41)
_GATTS = const(0x47)
_VALUE = const(0x56)
_NOTIFY = const(0x4E)
_EVENTS = const(0x45)
_POLL_MS = const(25)

_NOTIFY_FLAG = const(0x0010)

_bridge = None


def attach(bridge):
    """The board wires the radio to its bridge once."""
    global _bridge
    _bridge = bridge


class UUID:
    def __init__(self, text):
        self.text = text


class BLE:
    def __init__(self):
        self._irq = None
        self._values = {}

    def active(self, on=None):
        return True

    def config(self, *names, **values):
        return 23 if names else None  # the default MTU is all a query here asks for

    def irq(self, handler):
        if self._irq is None:
            asyncio.create_task(self._pump())
        self._irq = handler

    def gatts_register_services(self, services):
        table = b""
        handles = []
        h = 0
        for _service, chars in services:
            h += 1  # the service declaration
            mine = []
            for uuid, flags in chars:
                h += 2  # declaration, value
                mine.append(h)
                text = uuid.text.encode()
                table += struct.pack(">HHB", h, flags, len(text)) + text
                if flags & _NOTIFY_FLAG:
                    h += 1  # the client configuration descriptor
            handles.append(tuple(mine))
        _bridge.call(_GATTS, table)
        return tuple(handles)

    def gatts_write(self, handle, data, send_update=False):
        self._values[handle] = bytes(data)
        _bridge.call(_VALUE, struct.pack(">H", handle) + data)

    def gatts_set_buffer(self, handle, size, append=False):
        pass  # the bridge carries each write whole

    def gatts_read(self, handle):
        return self._values.get(handle, b"")

    def gatts_notify(self, conn, handle, data):
        _bridge.call(_NOTIFY, struct.pack(">HH", conn, handle) + data)

    def gap_advertise(self, interval_us, adv_data=None, resp_data=None, connectable=True):
        _bridge.call(_ADV, adv_data + resp_data if interval_us else b"")

    async def _pump(self):
        while True:
            try:
                self._poll()
            except Exception as e:  # as on the real stack, an IRQ's error (out of memory,
                # a bug in the handler) costs that event, never the radio
                sys.print_exception(e, sys.stderr)
            await asyncio.sleep_ms(_POLL_MS)

    def _poll(self):
        try:
            events = _bridge.call(_EVENTS, b"")
        except OSError:
            return
        at = 0
        while at + 7 <= len(events):
            kind, conn, handle, n = struct.unpack_from(">BHHH", events, at)
            data = bytes(events[at + 7 : at + 7 + n])
            at += 7 + n
            if kind == 3:
                self._values[handle] = data
                self._irq(3, (conn, handle))  # _IRQ_GATTS_WRITE
            elif self._irq:
                self._irq(kind, (conn, 0, b"\x00" * 6))  # (dis)connect
