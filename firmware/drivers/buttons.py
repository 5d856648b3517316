"""Push buttons to GND with pull-ups (active low): debounced short and long presses.

The board builds the pins (machine.Pin, input, PULL_UP) and passes them with their names; this
driver only calls `pin.value()`. The app starts `run()` as a task and reads events with
`await buttons.next()` -> (name, "short" | "long"), or takes one without waiting with `get()`.
Nothing more: its bytecode lives in the heap.

Why polling and not pin IRQs: a bouncing contact fires a burst of IRQs, each of which would
have to be filtered anyway, and an IRQ handler may not allocate or touch asyncio directly
(it would need micropython.schedule or a ThreadSafeFlag). Sampling every poll_ms costs a few
pin reads, is immune to bounce by construction (a level counts only once it has been seen
unchanged for debounce_ms), and keeps all the logic in one asyncio task. Human presses last
far longer than 10 ms, so nothing is missed.

A long press fires once, after long_ms of holding and while still held (as phone UIs do); the
release then emits nothing. A short press fires on release if the long one did not.
`on_activity(name)` is called on every debounced press, before any event: the app uses it to
wake the screen and reset its idle timer.

The poll loop allocates nothing: states are preallocated lists of small ints, events are
one-byte codes in a preallocated ring buffer (when full, the oldest is dropped and `dropped`
counted), and `next()` returns preallocated (name, kind) tuples. The producer is an asyncio
task, not an IRQ, so an asyncio.Event (any number of waiters) wakes the consumers. All tick
arithmetic goes through ticks_diff, so the wrap of ticks_ms (2**30 on the ESP32) is harmless.
"""

import asyncio
import time

from micropython import const

SHORT = "short"
LONG = "long"
_LONG_BIT = const(1)  # event code: button index << 1 | _LONG_BIT for a long press


class Buttons:
    def __init__(
        self,
        pins,
        names,
        debounce_ms=20,
        long_ms=800,
        poll_ms=10,
        ticks_ms=time.ticks_ms,
        queue_len=8,
        on_activity=None,
    ):
        n = len(pins)
        if n != len(names) or not 0 < n <= 127:
            raise ValueError("pins/names")
        if queue_len < 1 or debounce_ms < 0 or long_ms < 1 or poll_ms < 1:
            raise ValueError("timing")
        self.pins = tuple(pins)
        self.names = tuple(names)
        self.debounce_ms = debounce_ms
        self.long_ms = long_ms
        self.poll_ms = poll_ms
        self.on_activity = on_activity
        self._ticks = ticks_ms
        # Per button: last raw level (1 = pressed), when it last changed, the debounced
        # level, and whether this press already fired its long event. All start released.
        self._raw = bytearray(n)
        self._raw_t = [0] * n
        self._stable = bytearray(n)
        self._down_t = [0] * n
        self._fired = bytearray(n)
        ev = []
        for name in self.names:
            ev.append((name, SHORT))
            ev.append((name, LONG))
        self._ev = tuple(ev)
        self._q = bytearray(queue_len)
        self._head = 0  # index of the oldest event
        self._count = 0
        self.dropped = 0  # events lost to overflow since construction
        self._flag = asyncio.Event()

    def _push(self, code):
        q = self._q
        size = len(q)
        if self._count == size:  # full: drop the oldest
            self._head = (self._head + 1) % size
            self._count -= 1
            self.dropped += 1
        q[(self._head + self._count) % size] = code
        self._count += 1
        self._flag.set()

    def poll(self):
        """Sample every pin once and emit what changed. `run()` calls this every poll_ms."""
        now = self._ticks()
        raw = self._raw
        raw_t = self._raw_t
        stable = self._stable
        diff = time.ticks_diff
        for i in range(len(raw)):
            level = 1 if self.pins[i].value() == 0 else 0  # active low
            if level != raw[i]:
                raw[i] = level
                raw_t[i] = now
            if level != stable[i] and diff(now, raw_t[i]) >= self.debounce_ms:
                stable[i] = level
                if level:  # the press dates from when the contact settled
                    self._down_t[i] = raw_t[i]
                    self._fired[i] = 0
                    if self.on_activity is not None:
                        self.on_activity(self.names[i])
                elif not self._fired[i]:
                    self._push(i << 1)
            if stable[i] and not self._fired[i]:
                if diff(now, self._down_t[i]) >= self.long_ms:
                    self._fired[i] = 1
                    self._push(i << 1 | _LONG_BIT)

    async def run(self):
        """The polling task; the app starts it with asyncio.create_task(buttons.run())."""
        while True:
            self.poll()
            await asyncio.sleep_ms(self.poll_ms)

    def get(self):
        """The oldest event as (name, kind), or None if there is none."""
        if not self._count:
            return None
        code = self._q[self._head]
        self._head = (self._head + 1) % len(self._q)
        self._count -= 1
        return self._ev[code]

    async def next(self):
        """Wait for the next event and return it as (name, kind)."""
        while not self._count:
            self._flag.clear()
            await self._flag.wait()
        return self.get()
