"""The push service over BLE (docs/push.md §6), while the radio is on: chunked messages in and
out, and each challenge taken through its steps. ble_start.py turns the radio on; ble_bond.py
pairs on real hardware.

A challenge is reassembled from its chunks in the IRQ handler into one buffer allocated at
start; push.py and prompt.py, loaded per step, answer it.
"""

import asyncio

from micropython import const

_IRQ_CONNECT = const(1)
_IRQ_DISCONNECT = const(2)
_IRQ_WRITE = const(3)
_IRQ_MTU = const(21)
_IRQ_ENCRYPTION = const(28)
_IRQ_GET_SECRET = const(29)
_LAST = const(0x80)
MAX_MESSAGE = const(512)
_ROOM = const(2048)

# An unauthenticated rejection built in advance: out of memory, the token still says so.
_NO_MEMORY = (b'\x01' + bytes(8) + b'\x00>{"id":null,"r":"rejected","pick":null,"t":0,'
              b'"why":"no_memory"}' + bytes(16))


async def serve(dev):
    """Challenges arriving over BLE, one at a time."""
    import gc

    link = dev.ble
    while True:
        await link.ready.wait()
        msg = link.message()
        try:  # each step collects before it loads (_step)
            answer = await challenge(dev, msg)
        except Exception as e:  # a bad challenge must cost one answer, never the radio
            dev.log("push: %r" % e)
            answer = _NO_MEMORY if isinstance(e, MemoryError) else None
        gc.collect()
        if answer:
            link.send(answer)


async def challenge(dev, msg):
    """A challenge in, its answer out: push.py checks it, prompt.py asks the person,
    push_reply.py counts the answer. Each is loaded for its step and dropped before the next,
    so the heap never holds two of them."""
    ask, ctx = _step("push", "accept", dev, msg)
    if ask is None:  # rejected
        return _step("push_reply", "reject", *ctx)
    if dev.ask_push is not None:  # tests stand in for the person here
        result, pick = await dev.ask_push(ask)
    elif dev.screen is not None and dev.buttons is not None:
        result, pick = await _step("prompt", "ask", dev, ask)
    else:
        result, pick = "timeout", None  # nobody to ask
    ask = None
    return _step("push_reply", "settle", dev, ctx, result, pick)


def _step(name, fn, *args):
    """fn of module `name`, loaded for the call and dropped after (a coroutine it returns
    keeps what it runs)."""
    import gc

    from authtok.commands import drop

    gc.collect()
    try:  # a hole kept for the step's own work while its bytecode loads around it
        room = bytearray(_ROOM)
    except MemoryError:
        room = None
    try:
        mod = __import__("authtok." + name, None, None, (name,))
        del room  # the step's work takes the hole back
        gc.collect()
        return getattr(mod, fn)(*args)
    finally:
        for done in (name, "push_reply", "push_state"):
            drop(done)


class PushLink:
    """A connected radio's GATT service: ble_start.py builds it."""

    def __init__(self, ble, chal, ans, adv, secure, bonds, show_passkey):
        self.ble = ble
        self._chal, self._ans, self._adv = chal, ans, adv
        self._secure = secure
        self.bonds = bonds  # a store.Sealed for bond keys (ble_bond.py)
        self.show_passkey = show_passkey
        self._buf = bytearray(MAX_MESSAGE)
        self._n = 0
        self._next = -1  # the chunk index expected next; -1: waiting for a first chunk
        self.size = 0  # bytes of the last whole message
        self.ready = asyncio.ThreadSafeFlag()
        self.conn = None
        self.mtu = 23
        self.encrypted = not secure  # secure: challenges only on an encrypted link
        ble.irq(self._irq)
        self.advertise()

    def advertise(self):
        self.ble.gap_advertise(250_000, adv_data=self._adv[0], resp_data=self._adv[1])

    def _irq(self, event, data):
        if event == _IRQ_WRITE:
            if data[1] == self._chal and (self.encrypted or not self._secure):
                self._chunk(self.ble.gatts_read(self._chal))
        elif event == _IRQ_CONNECT:
            self.conn = data[0]
            self._next = -1
        elif event == _IRQ_DISCONNECT:
            self.conn = None
            self.encrypted = not self._secure
            self.mtu = 23
            self.advertise()
        elif event == _IRQ_MTU:
            self.mtu = data[1]
        elif event == _IRQ_ENCRYPTION:
            self.encrypted = bool(data[1])
        elif event >= _IRQ_GET_SECRET:  # pairing and bonding: real radios only
            from authtok import ble_bond

            return ble_bond.irq(self, event, data)
        return None

    def _chunk(self, chunk):
        """One chunk of a challenge: bit 7 of its first byte marks the last, bits 0-6 count."""
        if not chunk:
            return
        head = chunk[0]
        index = head & ~_LAST
        if index == 0:
            self._n, self._next = 0, 0
        n = len(chunk) - 1
        if index != self._next or self._n + n > MAX_MESSAGE:
            self._next = -1  # a gap or an overflow: drop the message
            return
        self._buf[self._n : self._n + n] = chunk[1:]
        self._n += n
        self._next += 1
        if head & _LAST:
            self.size, self._next = self._n, -1
            self.ready.set()

    def message(self):
        return bytes(self._buf[: self.size])

    def send(self, data):
        """An answer, as notifications of MTU-sized chunks; also the characteristic's value."""
        step = max(self.mtu - 4, 8)
        for i, at in enumerate(range(0, max(len(data), 1), step)):
            last = at + step >= len(data)
            chunk = bytes((i | (_LAST if last else 0),)) + data[at : at + step]
            self.ble.gatts_write(self._ans, chunk)
            if self.conn is not None:
                self.ble.gatts_notify(self.conn, self._ans, chunk)
