"""The diagnostic log (firmware/authtok/log.py) under real MicroPython, on littlefs2."""

from pathlib import Path

from mp_helpers import results, script

ROOT = Path(__file__).resolve().parents[2]

# The codes other firmware modules log, by the names they use there. The numbers are on flash:
# they must never change (tests/host/test_events.py checks every code, named or not, against
# the host's table of names).
PUBLIC = {
    "BOOT": 1,
    "UNLOCK_PIN": 2,
    "UNLOCK_FINGER": 3,
    "BAD_PIN": 4,
    "BAD_FINGER": 5,
    "PIN_BLOCKED": 6,
    "PIN_BRAKE": 7,
    "FINGER_LIMIT": 8,
    "LOCK": 9,
    "AUTO_LOCK": 10,
    "TIME_SYNC": 11,
    "WIPE": 13,
    "VAULT_CORRUPT": 14,
    "ERROR": 15,
    "ENROLL": 16,
    "FINGER_REMOVED": 17,
    "SETTINGS": 18,
    "RESTORE": 19,
    "BACKUP": 20,
    "PIN_CHANGE": 21,
    "PUSH_ENROLL": 22,
    "PUSH_REJECTED": 23,
    "PUSH_ANSWER": 24,
    "PUSH_CLOCK": 25,
}
LAST = 25  # the highest code: 12 has no name on the device
BAD_PIN, ERROR, SETTINGS = PUBLIC["BAD_PIN"], PUBLIC["ERROR"], PUBLIC["SETTINGS"]

RING = """
from authtok import log
from authtok.log import Log

mount(IMG)
lg = Log("/flash/log", records=8)
R("fresh", [lg.seq, list(lg.read()), os.stat("/flash/log")[6]])
seqs = [lg.event(log.BAD_PIN, i % 256, "n%d" % i) for i in range(1, 21)]
R("seqs", seqs)
R("ring", [list(r) for r in lg.read()])
R("since", [r[0] for r in lg.read(17)] + [r[0] for r in lg.read(3)][:2])
R("since_end", [list(lg.read(20)), list(lg.read(99))])
R("size", os.stat("/flash/log")[6])

# A "reboot": a new Log object on the same file, then a remount, as a power cycle does.
again = Log("/flash/log", records=8)
R("reboot", [again.seq, [r[0] for r in again.read()]])
R("reboot_event", again.event(log.BOOT))
mount(IMG, fresh=False)
third = Log("/flash/log", records=8)
R("remount", [third.seq, [r[0] for r in third.read()], third.event(log.UNLOCK_PIN)])
for _ in range(13):
    third.event(log.LOCK)
R("wrapped_again", [[r[0] for r in Log("/flash/log", records=8).read()], third.seq])

# The default: 128 records of 16 bytes at /flash/log.
mount(IMG)
d = Log()
R("default", [d.path, d.records, os.stat("/flash/log")[6], d.seq])
"""


def test_ring_wraps_keeps_newest_and_seq_survives_reboot(run_mp, tmp_path):
    res = results(run_mp(script(RING, IMG=str(tmp_path / "flash.img"))))
    assert res["fresh"] == [0, [], 8 * 16]
    assert res["seqs"] == list(range(1, 21))
    assert res["ring"] == [[i, 0, BAD_PIN, i, f"n{i}"] for i in range(13, 21)]
    assert res["since"] == [18, 19, 20, 13, 14]
    assert res["since_end"] == [[], []]
    assert res["size"] == 8 * 16  # preallocated once, never grows
    assert res["reboot"] == [20, list(range(13, 21))]
    assert res["reboot_event"] == 21
    assert res["remount"] == [21, list(range(14, 22)), 22]
    assert res["wrapped_again"] == [list(range(28, 36)), 35]
    assert res["default"] == ["/flash/log", 128, 128 * 16, 0]


TORN = """
from authtok import log
from authtok.log import Log


def poke(offset, data):
    with open("/flash/log", "r+b") as f:
        f.seek(offset)
        f.write(data)


def peek(offset, n):
    with open("/flash/log", "rb") as f:
        f.seek(offset)
        return f.read(n)


def seqs(lg):
    return [r[0] for r in lg.read()]


mount(IMG)
lg = Log(records=8)
for i in range(1, 21):
    lg.event(log.TIME_SYNC, i)
# Slots hold seq (slot + 1) mod 8: seq 13 is in slot 4, seq 16 in slot 7, seq 20 in slot 3.
poke(4 * 16 + 9, b"\\x63")  # one garbled byte (the arg) of seq 13
rec15 = peek(6 * 16, 16)
poke(7 * 16, b"\\x00\\x01\\x00\\x10")  # one flipped bit in seq 16's sequence number
R("garbled", [seqs(lg), seqs(Log(records=8))])

# A valid record copied into another slot is not where its number says: skipped.
poke(5 * 16, rec15)
R("moved", seqs(Log(records=8)))

# A write torn halfway: the new record's first bytes over the old one.
lg.event(log.WIPE)  # 21 -> slot 4
torn = bytearray(peek(4 * 16, 16))
torn[0:4] = (22).to_bytes(4, "big")
poke(5 * 16, torn[:7])  # 22 -> slot 5, the power went after 7 bytes
after = Log(records=8)
R("torn", [seqs(after), after.seq])

# The newest record torn: it is lost, and its number is never handed out again.
mount(IMG)
lg = Log(records=8)
for i in range(1, 11):
    lg.event(log.BOOT, i)
poke(1 * 16 + 2, b"\\xee\\xee\\xee")  # seq 10 lives in slot 1
boot = Log(records=8)
R("newest_torn", [seqs(boot), boot.seq, boot.event(log.BOOT), seqs(boot)])

# Erased flash (0xFF) and random garbage are no records.
poke(3 * 16, b"\\xff" * 16)  # seq 4
poke(4 * 16, bytes(range(16)))  # seq 5
R("garbage", seqs(Log(records=8)))
"""


def test_torn_and_garbled_records_are_skipped(run_mp, tmp_path):
    res = results(run_mp(script(TORN, IMG=str(tmp_path / "flash.img"))))
    assert res["garbled"] == [[14, 15, 17, 18, 19, 20]] * 2
    assert res["moved"] == [15, 17, 18, 19, 20]
    # 22 was never written in full: the record it tore is gone, and 22 is burnt.
    assert res["torn"] == [[15, 17, 18, 19, 20, 21], 22]
    assert res["newest_torn"] == [
        [3, 4, 5, 6, 7, 8, 9],
        10,  # 10 is the burnt number, the next event gets 11
        11,
        [4, 5, 6, 7, 8, 9, 11],
    ]
    assert res["garbage"] == [6, 7, 8, 9, 11]


CLEAR = """
from authtok import log
from authtok.log import Log

mount(IMG)
lg = Log(records=8)
for i in range(11):
    lg.event(log.UNLOCK_FINGER, i)
lg.clear()
R("cleared", [list(lg.read()), lg.seq, os.stat("/flash/log")[6]])
R("reboot", [list(Log(records=8).read()), Log(records=8).seq])
R("next", [lg.event(log.SETTINGS, 1, "beep"), [list(r) for r in lg.read()]])
lg.clear()
R("again", [Log(records=8).seq, list(Log(records=8).read())])

# A file from a log of another size: resized, empty, the numbers go on.
big = Log(records=16)
R("resized", [big.seq, list(big.read()), os.stat("/flash/log")[6], big.event(log.BOOT)])

# A wipe that removed the file: the next event makes a new one.
os.remove("/flash/log")
R("removed", [big.event(log.WIPE), [r[0] for r in big.read()], os.stat("/flash/log")[6]])
"""


def test_clear_empties_and_numbers_go_on(run_mp, tmp_path):
    res = results(run_mp(script(CLEAR, IMG=str(tmp_path / "flash.img"))))
    assert res["cleared"] == [[], 11, 8 * 16]
    assert res["reboot"] == [[], 11]
    assert res["next"] == [12, [[12, 0, SETTINGS, 1, "beep"]]]
    assert res["again"] == [12, []]
    assert res["resized"] == [12, [], 16 * 16, 13]
    assert res["removed"] == [14, [14], 16 * 16]


LIMITS = """
from authtok import log
from authtok.log import Log

mount(IMG)
lg = Log(records=8)
lg.event(log.ERROR, 5, "vault")
bad = [
    (log.ERROR, 0, "x" * 20),
    (log.ERROR, 0, "x" * 6),
    (log.ERROR, 0, "\\u00e9"),
    (log.ERROR, 0, "ab\\u65e5"),
    (log.ERROR, 0, "a\\nb"),
    (log.ERROR, 0, "a b"),
    (log.ERROR, 0, "a\\x00"),
    (log.ERROR, 0, "~"),
    (log.BAD_PIN, 0, "1234"),
    (log.BAD_PIN, 0, "12a34"),
    (log.ERROR, 0, b"vault"),
    (log.ERROR, 0, None),
    (log.ERROR, 256, ""),
    (log.ERROR, -1, ""),
    (log.ERROR, 1.5, ""),
    (log.ERROR, "1", ""),
    (0, 0, ""),
    (26, 0, ""),
    (99, 0, ""),
    (-1, 0, ""),
    ("boot", 0, ""),
    (None, 0, ""),
]
R("bad", [catch(lg.event, *b)[0] for b in bad])
R("unchanged", [lg.seq, [list(r) for r in lg.read()]])
ok = [
    (log.ERROR, 255, "x" * 5),
    (log.ERROR, 0, ""),
    (log.ERROR, 0, "r503"),
    (log.ERROR, 0, "a-b.:"),
    (log.ERROR, 0, "A_z/9"),
    (12, 0, "abc"),  # a code with no name on the device is still logged
]
R("ok", [catch(lg.event, *o) for o in ok])
R("logged", [list(r) for r in lg.read(1)])
R("read_since", [catch(lambda: list(lg.read(-1)))[0], catch(lambda: list(lg.read("1")))[0]])
R("records", [catch(Log, "/flash/x", 0)[0], exists("/flash/x")])
"""


def test_detail_arg_and_code_limits(run_mp, tmp_path):
    img = tmp_path / "flash.img"
    res = results(run_mp(script(LIMITS, IMG=str(img))))
    assert res["bad"] == ["ValueError"] * 22
    assert res["unchanged"] == [1, [[1, 0, ERROR, 5, "vault"]]]
    assert res["ok"] == [["ok", n] for n in range(2, 8)]
    assert res["logged"] == [
        [2, 0, ERROR, 255, "xxxxx"],
        [3, 0, ERROR, 0, ""],
        [4, 0, ERROR, 0, "r503"],
        [5, 0, ERROR, 0, "a-b.:"],
        [6, 0, ERROR, 0, "A_z/9"],
        [7, 0, 12, 0, "abc"],
    ]
    assert res["read_since"] == ["ValueError", "ValueError"]
    assert res["records"] == ["ValueError", False]
    image = img.read_bytes()
    assert b"xxxxxx" not in image and b"1234" not in image


HEAP = """
from authtok import log
from authtok.log import Log

mount(IMG)
t = [1700000000]


def now():
    t[0] += 1
    return t[0]


lg = Log(records=128, now=now)
for i in range(300):  # past the wrap, so the steady state is measured
    lg.event(log.UNLOCK_PIN, i & 255, "ab")
frees = []
for _ in range(3):
    gc.collect()
    frees.append(gc.mem_free())
    for i in range(200):
        lg.event(log.BAD_FINGER, i & 255, "r503")
gc.collect()
frees.append(gc.mem_free())
R("free", frees)
R("seq", lg.seq)

# A log far bigger than the heap could hold in one piece, written here record by record as
# the module docstring lays it out (with a CRC-8 of its own), then scanned and read.
import struct


def crc8(data):
    c = 0
    for x in data:
        c ^= x
        for _ in range(8):
            c = ((c << 1) ^ 0x07) & 0xFF if c & 0x80 else (c << 1) & 0xFF
    return c


mount(IMG, blocks=64, fresh=True)
N = 4096
rec = bytearray(16)
with open("/flash/log", "wb") as f:
    for slot in range(N):
        seq = slot + 1 + (N if slot < 4 else 0)  # wrapped: 5 .. 4100
        struct.pack_into(">IIBB5s", rec, 0, seq, 1700000000 + seq, log.LOCK, seq & 255, b"ab")
        rec[15] = crc8(memoryview(rec)[:15])
        f.write(rec)
gc.collect()
again = Log(records=N)
n = 0
first = None
bad = 0
for s, t, e, a, d in again.read():
    if first is None:
        first = s
    n += 1
    if t != 1700000000 + s or e != log.LOCK or a != s & 255 or d != "ab":
        bad += 1
R("big", [again.seq, n, first, bad, os.stat("/flash/log")[6]])
"""


def test_event_heap_is_constant(run_mp, tmp_path):
    # A 48K heap: the 64K log file could never be read whole.
    res = results(run_mp(script(HEAP, IMG=str(tmp_path / "flash.img")), heap="48K"))
    frees = res["free"]
    assert max(frees) - min(frees) <= 16, frees
    assert res["seq"] == 900
    assert res["big"] == [4100, 4096, 5, 0, 4096 * 16]


STREAM = """
from authtok.log import Log

mount(IMG)


class FakeClock:
    def __init__(self):
        self.t = START
        self.calls = 0

    def now(self):
        self.calls += 1
        self.t += STEP
        k = self.calls % 25
        if k == 0:
            return None  # untrusted
        if k == 1:
            raise OSError(5)  # the RTC did not answer
        return self.t


clock = FakeClock()
lg = Log(now=clock.now)
for code, arg, detail in EVENTS:
    lg.event(code, arg, detail)
R("all", list(lg.read()))
R("since", list(lg.read(190)))
R("type", type(next(lg.read())).__name__)
rebooted = Log(now=clock.now)
R("rebooted", [rebooted.seq, list(rebooted.read(150))])
"""


def test_stream_of_200_events_with_fake_clock(run_mp, tmp_path):
    start, step = 1_700_000_000, 7
    events = []
    expect = []
    for i in range(1, 201):
        code = (i * 7) % LAST + 1  # every code, named on the device or not
        detail = ["", "ab", "r503", "E:io", "x.y/z"][i % 5]
        events.append((code, (i * 13) & 255, detail))
        k = i % 25
        t = 0 if k in (0, 1) else start + step * i
        expect.append([i, t, code, (i * 13) & 255, detail])
    res = results(
        run_mp(
            script(STREAM, IMG=str(tmp_path / "flash.img"), START=start, STEP=step, EVENTS=events)
        )
    )
    assert res["all"] == expect[-128:]
    assert res["since"] == expect[190:]
    assert res["type"] == "list"  # as the protocol sends it: [seq, time, code, arg, detail]
    assert res["rebooted"] == [200, expect[150:]]


CONSTANTS = """
from authtok import log

R("codes", {n: getattr(log, n, None) for n in NAMES})
# Names the device does without (the host has them: tokenctl/events.py).
R("gone", [n for n in GONE if hasattr(log, n)])
"""


def test_code_constants_are_stable(run_mp):
    gone = ["NAMES", "code_name", "to_dict", "to_dicts", "CLOCK_LOST"]
    res = results(run_mp(script(CONSTANTS, NAMES=list(PUBLIC), GONE=gone)))
    # On flash: the numbers must never change.
    assert res["codes"] == PUBLIC
    assert res["gone"] == []
