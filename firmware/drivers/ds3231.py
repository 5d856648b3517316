"""DS3231 I2C real-time clock (the token's only source of time).

Takes its bus from the board (machine.I2C API) and reuses preallocated buffers for every
transfer. Times are UTC. Years 2000-2199: the month register's century bit selects 2100-2199.
Note the chip's leap-year rule is year % 4 (it would show 2100-02-29); resync before then.
"""

try:
    from micropython import const
except ImportError:  # CPython (host tools, type checkers)

    def const(x):  # type: ignore[misc]
        return x


from authtok import civil

_ADDR = const(0x68)
_REG_TIME = const(0x00)  # seconds, minutes, hours, weekday, date, month/century, year
_REG_AGING = const(0x10)
_REG_STATUS = const(0x0F)
_REG_TEMP = const(0x11)
_OSF = const(0x80)  # status: oscillator stopped (power lost) since last cleared
_CENTURY = const(0x80)  # month register
_H12 = const(0x40)  # hours register: 12-hour mode
_PM = const(0x20)  # hours register in 12-hour mode


def _bcd2bin(b):
    return (b >> 4) * 10 + (b & 0x0F)


def _bin2bcd(v):
    return ((v // 10) << 4) | (v % 10)


class DS3231:
    def __init__(self, i2c, addr=_ADDR):
        self.i2c = i2c
        self.addr = addr
        self._tbuf = bytearray(7)
        self._b1 = bytearray(1)

    def _read1(self, reg):
        self.i2c.readfrom_mem_into(self.addr, reg, self._b1)
        return self._b1[0]

    def _write1(self, reg, v):
        self._b1[0] = v
        self.i2c.writeto_mem(self.addr, reg, self._b1)

    def datetime(self):
        """(year, month, day, hour, minute, second), read in one transfer so it is consistent."""
        b = self._tbuf
        self.i2c.readfrom_mem_into(self.addr, _REG_TIME, b)
        h = b[2]
        if h & _H12:  # someone else set 12-hour mode: 12 AM is 0h, 12 PM is 12h
            hour = _bcd2bin(h & 0x1F) % 12 + (12 if h & _PM else 0)
        else:
            hour = _bcd2bin(h & 0x3F)
        year = 2000 + _bcd2bin(b[6]) + (100 if b[5] & _CENTURY else 0)
        return (
            year,
            _bcd2bin(b[5] & 0x1F),
            _bcd2bin(b[4] & 0x3F),
            hour,
            _bcd2bin(b[1] & 0x7F),
            _bcd2bin(b[0] & 0x7F),
        )

    def set_datetime(self, dt):
        """Set (y, mo, d, h, mi, s) in 24-hour mode, then clear the lost-power flag."""
        y, mo, d, h, mi, s = dt[:6]
        if not 2000 <= y <= 2199:
            raise ValueError("year")
        civil.from_fields(y, mo, d, h, mi, s)  # validates every field
        b = self._tbuf
        b[0] = _bin2bcd(s)
        b[1] = _bin2bcd(mi)
        b[2] = _bin2bcd(h)  # bit 6 clear: 24-hour mode
        b[3] = civil.weekday(y, mo, d) + 1  # 1=Monday..7=Sunday
        b[4] = _bin2bcd(d)
        b[5] = _bin2bcd(mo) | (_CENTURY if y >= 2100 else 0)
        b[6] = _bin2bcd(y % 100)
        # One transaction: writing the seconds restarts the chip's countdown chain.
        self.i2c.writeto_mem(self.addr, _REG_TIME, b)
        self._write1(_REG_STATUS, self._read1(_REG_STATUS) & ~_OSF)

    def unix(self):
        return civil.from_fields(*self.datetime())

    def set_unix(self, t):
        self.set_datetime(civil.to_fields(t))

    def lost_power(self):
        """True if the oscillator stopped (battery removed or flat) since the last set."""
        return bool(self._read1(_REG_STATUS) & _OSF)

    # The die temperature and the aging offset, which nothing on the token uses yet: one small
    # method per register, as each method costs heap.

    def temperature(self):
        """Die temperature in °C, 0.25 °C steps (updated by the chip every 64 s)."""
        b = memoryview(self._tbuf)[:2]
        self.i2c.readfrom_mem_into(self.addr, _REG_TEMP, b)
        raw = (b[0] << 2) | (b[1] >> 6)
        return (raw - 0x400 if raw & 0x200 else raw) * 0.25

    def aging(self, v=None):
        """The aging offset, -128..127 (about 0.1 ppm per step; positive slows the clock);
        given v, set it."""
        if v is None:
            v = self._read1(_REG_AGING)
            return v - 256 if v & 0x80 else v
        if not -128 <= v <= 127:
            raise ValueError("aging")
        self._write1(_REG_AGING, v & 0xFF)
