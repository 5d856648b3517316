"""A register-level DS3231 for the simulator (attach it to a SimI2C at 0x68).

The time registers are not stored: they are computed from the host clock, so the simulated
token keeps time while the simulator is not running, as the real one does on its coin cell.
What the battery keeps (clock offset, status/OSF, control, aging, alarms) is persisted as JSON
in `state_path` on every write. No state file means a first power-up: OSF set and the clock at
2000-01-01 00:00:00, like the silicon.

device time = now + offset + (rate - 1) * (now - anchor); `rate` lets tests run the clock fast.
"""

import json
import os
import time

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


from authtok import civil

_NREGS = const(19)  # 0x00-0x12; the register pointer wraps from 0x12 to 0x00
_REG_CONTROL = const(0x0E)
_REG_STATUS = const(0x0F)
_REG_AGING = const(0x10)
_REG_TEMP_MSB = const(0x11)
_REG_TEMP_LSB = const(0x12)
_OSF = const(0x80)
_STATUS_FLAGS = const(0x83)  # OSF, A2F, A1F: a write can only clear them
_EN32KHZ = const(0x08)
_CONV = const(0x20)  # control: start a temperature conversion (finishes at once here)
_POWER_ON = const(946684800)  # 2000-01-01T00:00:00Z, the chip's reset time


def _bcd(v):
    return ((v // 10) << 4) | (v % 10)


def _unbcd(b):
    return (b >> 4) * 10 + (b & 0x0F)


class SimDS3231:
    def __init__(self, state_path, now=time.time, temperature=25.25):
        self.state_path = state_path
        self.now = now
        self.temperature = temperature
        self._ptr = 0
        try:
            with open(state_path) as f:
                self.state = json.load(f)
        except (OSError, ValueError):  # missing or torn: the battery was out
            t = now()
            self.state = {
                "offset": _POWER_ON - t,
                "anchor": t,
                "rate": 1.0,
                "h12": False,  # hours register in 12-hour mode
                "dow": 0,  # weekday register minus the true weekday, mod 7
                "alarms": [0] * 7,  # 0x07-0x0D
                "control": 0x1C,
                "status": _OSF | _EN32KHZ,
                "aging": 0,
            }
            self._save()

    # -- battery-backed state --------------------------------------------------------------

    def _save(self):
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps(self.state))
        os.rename(tmp, self.state_path)

    def device_time(self):
        """The chip's time as float Unix seconds."""
        s = self.state
        t = self.now()
        return t + s["offset"] + (s["rate"] - 1.0) * (t - s["anchor"])

    def _set_device_time(self, dev):
        t = self.now()
        self.state["anchor"] = t
        self.state["offset"] = dev - t

    def set_time(self, unix):
        """Move the chip's clock to `unix` (a person or a test, not the I2C bus)."""
        self._set_device_time(unix)
        self._save()

    def set_rate(self, rate):
        """Run the clock `rate` times as fast as the host's from now on (tests)."""
        dev = self.device_time()
        self.state["rate"] = rate
        self._set_device_time(dev)
        self._save()

    # -- registers -------------------------------------------------------------------------

    def registers(self):
        """All 19 registers as the chip would latch them now (for tests; pointer unchanged)."""
        s = self.state
        y, mo, d, h, mi, sec, wd = civil.to_fields(int(self.device_time() // 1))
        if s["h12"]:
            hreg = 0x40 | (0x20 if h >= 12 else 0) | _bcd(h % 12 or 12)
        else:
            hreg = _bcd(h)
        century = 0x80 if (y - 2000) % 200 >= 100 else 0
        q = int(round(self.temperature * 4))  # 10-bit two's complement, 0.25 °C
        regs = bytearray(_NREGS)
        regs[0:7] = bytes(
            (
                _bcd(sec),
                _bcd(mi),
                hreg,
                (wd + s["dow"]) % 7 + 1,
                _bcd(d),
                _bcd(mo) | century,
                _bcd(y % 100),
            )
        )
        regs[7:14] = bytes(s["alarms"])
        regs[_REG_CONTROL] = s["control"]
        regs[_REG_STATUS] = s["status"]
        regs[_REG_AGING] = s["aging"]
        regs[_REG_TEMP_MSB] = (q >> 2) & 0xFF
        regs[_REG_TEMP_LSB] = (q & 3) << 6
        return bytes(regs)

    def read(self, n):
        """Read transaction: registers latched at the START, from the pointer, wrapping."""
        regs = self.registers()
        out = bytearray(n)
        p = self._ptr
        for i in range(n):
            out[i] = regs[p]
            p = (p + 1) % _NREGS
        self._ptr = p
        return bytes(out)

    def write(self, data):
        """Write transaction: first byte is the register pointer, the rest are stored."""
        if not data:
            return
        p = data[0] % _NREGS
        if len(data) == 1:
            self._ptr = p
            return
        regs = bytearray(self.registers())
        written = 0  # bitmask of registers written in this transaction
        for b in data[1:]:
            regs[p] = b
            written |= 1 << p
            p = (p + 1) % _NREGS
        self._ptr = p
        s = self.state
        if written & 0x7F:
            self._write_time(regs, written)
        if written & 0x3F80:
            s["alarms"] = list(regs[7:14])
        if written & (1 << _REG_CONTROL):
            s["control"] = regs[_REG_CONTROL] & ~_CONV
        if written & (1 << _REG_STATUS):
            v = regs[_REG_STATUS]
            s["status"] = (s["status"] & v & _STATUS_FLAGS) | (v & _EN32KHZ)
        if written & (1 << _REG_AGING):
            s["aging"] = regs[_REG_AGING]
        self._save()  # temperature registers are read-only: writes are dropped

    def _write_time(self, regs, written):
        """Make the clock read what was written, as the driver writes all 7 bytes at once."""
        hreg = regs[2]
        if hreg & 0x40:
            h = _unbcd(hreg & 0x1F) % 12 + (12 if hreg & 0x20 else 0)
        else:
            h = _unbcd(hreg & 0x3F)
        y = 2000 + _unbcd(regs[6]) + (100 if regs[5] & 0x80 else 0)
        mo, d = _unbcd(regs[5] & 0x1F), _unbcd(regs[4] & 0x3F)
        t = civil.from_fields(y, mo, d, h, _unbcd(regs[1] & 0x7F), _unbcd(regs[0] & 0x7F))
        frac = 0.0
        if not written & 1:  # only writing the seconds resets the countdown chain
            dev = self.device_time()
            frac = dev - dev // 1
        self._set_device_time(t + frac)
        # Mode and weekday are the chip's own: keep whatever the registers now hold.
        self.state["h12"] = bool(hreg & 0x40)
        self.state["dow"] = (regs[3] - 1 - civil.weekday(y, mo, d)) % 7
