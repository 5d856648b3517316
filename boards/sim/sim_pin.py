"""A simulated digital input with the machine.Pin API subset the drivers use: `value()`.

Buttons are wired to GND with pull-ups, so 1 is released and 0 is pressed; `press()` and
`release()` say so. Contact bounce is modelled on the reader's side: `bounce(n)` queues n
toggles of the level, and each read of `value()` applies the next one before returning, so a
driver polling the pin sees every transition, one per read (or per `every` reads). Writing a
level with `value(v)` or press/release cancels any bounce still queued.

Portable Python (MicroPython and CPython): a test or a host-side UI may drive it.
"""


class SimPin:
    def __init__(self, initial=1):
        self._level = 1 if initial else 0
        self._toggles = 0  # bounce transitions still to show
        self._every = 1
        self._reads = 0  # reads since the last bounce transition
        self.reads = 0  # total reads, for tests

    def value(self, v=None):
        if v is not None:
            self._level = 1 if v else 0
            self._toggles = 0
            return None
        self.reads += 1
        if self._toggles:
            self._reads += 1
            if self._reads >= self._every:
                self._reads = 0
                self._toggles -= 1
                self._level ^= 1
        return self._level

    def __call__(self, v=None):  # machine.Pin also reads and writes by calling the pin
        return self.value(v)

    def bounce(self, n_transitions, every=1):
        """Queue n level toggles, shown one per `every` reads. An even n ends on the current
        level, an odd n on the other one."""
        if n_transitions < 0 or every < 1:
            raise ValueError("bounce")
        self._toggles = n_transitions
        self._every = every
        self._reads = 0

    def press(self, bounces=0, every=1):
        """Close the contact (level 0); `bounces` open-close chatters follow (2 per bounce)."""
        self.value(0)
        if bounces:
            self.bounce(2 * bounces, every)

    def release(self, bounces=0, every=1):
        """Open the contact (level 1); `bounces` close-open chatters follow."""
        self.value(1)
        if bounces:
            self.bounce(2 * bounces, every)

    def settled(self):
        """True once every queued bounce transition has been read."""
        return not self._toggles

    def is_pressed(self):
        return self._level == 0
