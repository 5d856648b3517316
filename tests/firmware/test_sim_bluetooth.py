"""The simulated board's radio plumbing under real MicroPython: the `bluetooth` stand-in's
event pump (boards/sim/sim_bluetooth.py) and the bridge under it (boards/sim/sim_bridge.py)
must survive running out of memory, as the real stack does: the event is lost, the radio is
not."""

from mp_helpers import results, script

PUMP = """
import asyncio
import struct

import sim_bluetooth


class Bridge:
    # Answers each events poll from a script: an exception to raise, or events to hand over.
    def __init__(self, answers):
        self.answers = answers

    def call(self, op, payload):
        if op != 0x45 or not self.answers:
            return b""
        a = self.answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a


def write_event(handle, data):
    return struct.pack(">BHHH", 3, 1, handle, len(data)) + data


seen = []


def irq(event, data):
    if event == 3 and ble.gatts_read(data[1]) == b"boom":
        raise MemoryError("the handler ran out")
    seen.append([event, ble.gatts_read(data[1]).decode()])


sim_bluetooth.attach(Bridge([MemoryError("bridge"), write_event(7, b"boom"),
                             write_event(7, b"one") + write_event(7, b"two")]))
ble = sim_bluetooth.BLE()


async def main():
    ble.irq(irq)
    await asyncio.sleep_ms(200)


asyncio.run(main())
R("seen", seen)
"""

BRIDGE = """
import sim_bridge


class Wire:
    # A socket's side: what it was sent is dropped; reads serve `answer` byte by byte,
    # a long run of filler produced on the fly (no heap for it).
    def __init__(self, parts):
        self.parts = parts  # [bytes, or an int: that many zero bytes]

    def write(self, data):
        return len(data)

    def readinto(self, buf, n=None):
        n = len(buf) if n is None else n
        got = 0
        while got < n and self.parts:
            p = self.parts[0]
            if isinstance(p, int):
                k = min(p, n - got)
                for i in range(got, got + k):
                    buf[i] = 0
                self.parts[0] = p - k
            else:
                k = min(len(p), n - got)
                buf[got : got + k] = p[:k]
                self.parts[0] = p[k:]
            got += k
            if not self.parts[0]:
                self.parts.pop(0)
        return got


class Bridge(sim_bridge.Bridge):
    def __init__(self, wire):  # no unix socket: the wire above
        self._s = wire
        self._head = bytearray(3)


b = Bridge(Wire([b"\\x00\\xea\\x60", 60000, b"\\x00\\x00\\x02ok"]))
R("big", catch(b.call, 0x45, b""))
R("next", catch(lambda: bytes(b.call(0x52, b"")).decode()))
"""


def test_the_event_pump_outlives_a_memory_error(run_mp):
    """A MemoryError on the bridge or in the IRQ handler costs that poll's event; the writes
    polled after it still reach the handler."""
    out = results(run_mp(script(PUMP)))
    assert out["seen"] == [[3, "one"], [3, "two"]]


def test_the_bridge_stays_in_step_when_an_answer_does_not_fit(run_mp):
    """An answer too big for the heap raises MemoryError, and is read away: the next call
    gets its own answer, not the rest of that one."""
    out = results(run_mp(script(BRIDGE), heap="32K"))
    assert out["big"][0] == "MemoryError"
    assert out["next"] == ["ok", "ok"]
