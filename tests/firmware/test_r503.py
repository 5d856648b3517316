"""The R503 fingerprint driver (firmware/drivers/r503.py) against the packet-level model
(boards/sim/sim_r503.py).

The driver tests run under the real MicroPython unix port, talking to the model through a
small UART shim. The model is also tested alone under CPython, with packets framed here
independently of the driver.
"""

import json
import sys
from pathlib import Path

import pytest
from mp_helpers import results, script

ROOT = Path(__file__).resolve().parents[2]

SETUP = """
import asyncio
import time

from sim_r503 import SimR503
from drivers.r503 import R503, R503Error, R503Timeout, _run


class Shim:
    # The machine.UART subset the driver uses, in terms of the model's write/read.
    def __init__(self, model):
        self.m = model

    def write(self, buf):
        return self.m.write(bytes(buf))

    def read(self, n=-1):
        return self.m.read(n)

    def readinto(self, buf):
        data = self.m.read(len(buf))
        if not data:
            return None
        buf[: len(data)] = data
        return len(data)

    def any(self):
        return self.m.any()


def person(m, finger, trace=None, script=None):
    # on_step for enroll: places `finger` (or the next of `script`) and lifts it when asked.
    def step(name, n):
        if trace is not None:
            trace.append([name, n])
        if name == "place":
            f = script.pop(0) if script else finger
            if isinstance(f, list):
                m.place_finger(f[0], f[1])
            else:
                m.place_finger(f)
        elif name == "lift":
            m.remove_finger()
    return step


def enroll(d, m, finger, page, captures=2, trace=None, script=None):
    return asyncio.run(d.enroll(page, captures, 1000, person(m, finger, trace, script)))


def match(d):
    # What the app does on a touch: GenImg, then Img2Tz into buffer 1 and Search.
    if not d.finger_present():
        return "no finger"
    d.img2tz(1)
    return d.search(1)


def ack(payload, address=b"\\xff\\xff\\xff\\xff"):
    # An acknowledge packet (confirmation code + data), framed by hand.
    body = bytes([7, 0, len(payload) + 2]) + payload
    s = sum(body)
    return b"\\xef\\x01" + address + body + bytes([s >> 8, s & 255])


def template_count(d):
    # TemplateNum, the module's own count of its library, to check used_ids() against (the
    # driver has no method for it: the token never asks, and each method costs heap).
    _run(d, 0x1D, 0, 0, 0, 2)
    return d._buf[10] << 8 | d._buf[11]


def led(d, mode, color):
    # AuraLedConfig, medium speed, no count limit (the driver has none either): the model's
    # LED. mode: 1 breathing, 3 on, 4 off, ...; color: 1 red, 2 blue, 3 purple, ...
    _run(d, 0x35, (mode & 0xFF) << 24 | 0x800000 | (color & 0xFF) << 8, 4)


def ecatch(f, *args):
    # [exception type, code, str] or ["ok", value]
    r = catch(f, *args)
    return r[:3]


m = SimR503(STATE)
d = R503(Shim(m))
"""


def run(run_mp, tmp_path, body, **params):
    params.setdefault("STATE", str(tmp_path / "r503.json"))
    return results(run_mp(script(SETUP + body, **params)))


def err(code, text=""):
    return ["R503Error", code, f"fingerprint sensor error 0x{code:02x}" + (text and ": " + text)]


# -- driver under MicroPython ----------------------------------------------------------------


def test_connect_verifies_and_reads_capacity(run_mp, tmp_path):
    res = run(
        run_mp,
        tmp_path,
        """
m = SimR503(STATE, capacity=300)
d = R503(Shim(m))
R("before", d.capacity)
R("connect", catch(d.connect))
R("capacity", d.capacity)
R("log", m.log)
enroll(d, m, "a", 5)
enroll(d, m, "b", 299)
m.log = []
R("ids", d.used_ids())
R("log_ids", m.log)
R("count", template_count(d))
m.place_finger("b")
R("match", match(d))
""",
    )
    assert res["before"] == 200
    assert res["connect"] == ["ok", None]
    assert res["capacity"] == 300
    assert res["log"] == [0x13, 0x0F]  # VfyPwd, ReadSysPara
    assert res["ids"] == [5, 299]
    assert res["log_ids"] == [0x1F, 0x1F]  # ReadIndexTable pages 0 and 1
    assert res["count"] == 2
    assert res["match"] == 299  # Search covers the whole library


def test_password(run_mp, tmp_path):
    res = run(
        run_mp,
        tmp_path,
        """
d.connect()
d.set_password(0xCAFEBABE)                   # the top bit set: 32 bits go out whole
R("stored", m.password == 0xCAFEBABE)
R("after_set", catch(template_count, d))     # still verified in this session
m = SimR503(STATE)                           # power cycle: the password is in flash
d = R503(Shim(m))
R("locked", ecatch(template_count, d))
R("wrong", ecatch(d.connect))                # the driver still thinks it is 0
d = R503(Shim(m), password=0xCAFEBABF)
R("wrong2", ecatch(d.connect))
d = R503(Shim(m), password=0xCAFEBABE)
R("right", catch(d.connect))
R("count", catch(template_count, d))
d.set_password(0)
m = SimR503(STATE)
d = R503(Shim(m))
R("cleared", catch(template_count, d))
""",
    )
    assert res["stored"] is True
    assert res["after_set"] == ["ok", 0]
    assert res["locked"] == err(0x21, "locked")
    assert res["wrong"] == res["wrong2"] == err(0x13, "wrong pwd")
    assert res["right"] == ["ok", None]
    assert res["count"] == ["ok", 0]
    assert res["cleared"] == ["ok", 0]


def test_enroll_with_lift_then_match(run_mp, tmp_path):
    res = run(
        run_mp,
        tmp_path,
        """
d.connect()
m.log = []
trace = []
R("page", enroll(d, m, "alice", 7, captures=3, trace=trace))
R("trace", trace)
R("log", m.log)
R("lib", [template_count(d), d.used_ids()])

m.place_finger("alice")
R("alice", match(d))
m.place_finger("bob")
R("bob", match(d))
m.place_unknown()
R("unknown", match(d))
m.remove_finger()
R("nobody", match(d))

m.place_finger("alice")
asyncio.run(d.wait_finger(500))
d.img2tz(1)
R("waited_match", d.search(1))
R("wait_match", asyncio.run(d.wait_match(500)))
m.place_unknown()
R("wait_match_unknown", asyncio.run(d.wait_match(500)))
m.remove_finger()
R("wait_match_nobody", ecatch(lambda: asyncio.run(d.wait_match(200))))
t0 = time.ticks_ms()
R("wait_nobody", ecatch(lambda: asyncio.run(d.wait_finger(300))))
R("waited", time.ticks_diff(time.ticks_ms(), t0))
m.place_finger("alice")
t0 = time.ticks_ms()
R("stays", ecatch(lambda: asyncio.run(d.wait_lift(200))))
R("waited_lift", time.ticks_diff(time.ticks_ms(), t0))
m.remove_finger()
R("lifted", catch(lambda: asyncio.run(d.wait_lift(200))))
""",
    )
    assert res["page"] == 7
    assert res["trace"] == [
        ["place", 1], ["lift", 1],
        ["place", 2], ["lift", 2],
        ["place", 3],
    ]  # fmt: skip
    # GenImg polls (the last of each lift wait sees no finger), Img2Tz 1, 2, 1 with
    # RegModel after the second and third capture, then Store.
    assert res["log"] == [
        0x01, 0x02,
        0x01, 0x01, 0x02, 0x05,
        0x01, 0x01, 0x02, 0x05,
        0x06,
    ]  # fmt: skip
    assert res["lib"] == [1, [7]]
    assert res["alice"] == 7
    assert res["bob"] is None
    assert res["unknown"] is None
    assert res["nobody"] == "no finger"
    assert res["waited_match"] == 7
    assert res["wait_match"] == 7
    assert res["wait_match_unknown"] is None
    assert res["wait_match_nobody"] == ["R503Timeout", None, "timeout"]
    assert res["wait_nobody"] == ["R503Timeout", None, "timeout"]
    assert 300 <= res["waited"] < 2000
    assert res["stays"] == ["R503Timeout", None, "timeout"]
    assert 200 <= res["waited_lift"] < 2000
    assert res["lifted"] == ["ok", None]


def test_enroll_retries_bad_touches(run_mp, tmp_path):
    res = run(
        run_mp,
        tmp_path,
        """
d.connect()
trace = []
# a smudged touch, a too-small one, then someone else's finger at the second capture
seq = [["carol", "messy"], ["carol", "small"], "carol", "dave", "carol"]
R("page", enroll(d, m, "carol", 3, trace=trace, script=seq))
R("trace", trace)
m.place_finger("carol")
R("match", match(d))
m.place_finger("dave")
R("dave", match(d))
R("exhausted", ecatch(lambda: enroll(d, m, "erin", 4, script=[["erin", "messy"]] * 4)))
R("forgiven", catch(lambda: enroll(d, m, "erin", 4, script=[["erin", "messy"]] * 3)))
m.remove_finger()
R("absent", ecatch(lambda: asyncio.run(d.enroll(5, 2, 200, lambda s, n: None))))
R("bad_args", [ecatch(lambda: enroll(d, m, "x", 5, captures=c))[0] for c in (1, 7)]
  + [ecatch(lambda: enroll(d, m, "x", 200))[0]])
d.capacity = 201  # lets a page beyond the module's library through to Store
R("bad_store", ecatch(lambda: enroll(d, m, "x", 200)))
R("count", template_count(d))
""",
    )
    assert res["page"] == 3
    assert res["trace"] == [
        ["place", 1], ["retry", 1], ["lift", 0],
        ["place", 1], ["retry", 1], ["lift", 0],
        ["place", 1], ["lift", 1],
        ["place", 2], ["retry", 2], ["lift", 1],
        ["place", 2],
    ]  # fmt: skip
    assert res["match"] == 3
    assert res["dave"] is None
    assert res["exhausted"] == err(0x06)  # the fourth bad touch
    assert res["forgiven"] == ["ok", 4]
    assert res["absent"] == ["R503Timeout", None, "timeout"]
    assert res["bad_args"] == ["ValueError"] * 3
    assert res["bad_store"] == err(0x0B)
    assert res["count"] == 2


def test_delete_empty_count_index_table(run_mp, tmp_path):
    res = run(
        run_mp,
        tmp_path,
        """
d.connect()
for finger, page in (("f0", 0), ("f5", 5), ("f9", 9), ("f130", 130), ("f199", 199)):
    enroll(d, m, finger, page)
R("ids", d.used_ids())
R("count", template_count(d))
d.delete(5)
m.place_finger("f5")
R("deleted", [match(d), template_count(d), d.used_ids()])
d.delete(120, 80)
R("range", d.used_ids())
R("bad_delete", ecatch(d.delete, 150, 51))
m.place_finger("f9")
R("f9", match(d))
d.empty()
R("empty", [template_count(d), d.used_ids(), match(d)])
""",
    )
    assert res["ids"] == [0, 5, 9, 130, 199]
    assert res["count"] == 5
    assert res["deleted"] == [None, 4, [0, 9, 130, 199]]
    assert res["range"] == [0, 9]
    assert res["bad_delete"] == err(0x10)
    assert res["f9"] == 9
    assert res["empty"] == [0, [], None]


def test_led(run_mp, tmp_path):
    res = run(
        run_mp,
        tmp_path,
        """
d.connect()
R("fresh", m.led)
led(d, 1, 2)
R("breathing", m.led)
led(d, 3, 3)
R("on", m.led)
led(d, 4, 1)
R("off", m.led)
R("bad", [ecatch(led, d, *a) for a in ((0, 1), (7, 1), (1, 0), (1, 8))])
""",
    )
    assert res["fresh"] is None
    assert res["breathing"] == {"ctrl": 1, "speed": 0x80, "color": 2, "count": 0}
    assert res["on"] == {"ctrl": 3, "speed": 0x80, "color": 3, "count": 0}
    assert res["off"]["ctrl"] == 4
    assert res["bad"] == [err(0xFE)] * 4  # the module refuses them


def test_error_messages(run_mp, tmp_path):
    res = run(
        run_mp,
        tmp_path,
        """
d.connect()
out = []
for code in (0x02, 0x09, 0x0A, 0x13, 0x18, 0x21, 0x01, 0x42, 0xFE):
    m.force_code = code
    out.append(ecatch(d.empty))
R("codes", out)
R("after", catch(d.empty))
e = R503Error(0x18)
R("direct", [e.code, str(e), e.args[0]])
R("link", [R503Error(None, "x").code, str(R503Error(None, "x"))])
R("timeout", [isinstance(R503Timeout(None, "timeout"), R503Error), R503Timeout(None, "t").code])
""",
    )
    assert res["codes"] == [
        err(0x02, "no finger"),
        err(0x09, "no match"),
        err(0x0A, "mismatch"),
        err(0x13, "wrong pwd"),
        err(0x18, "flash fail"),
        err(0x21, "locked"),
        err(0x01),
        err(0x42),
        err(0xFE),
    ]
    assert res["after"] == ["ok", None]
    text = "fingerprint sensor error 0x18: flash fail"
    assert res["direct"] == [0x18, text, text]
    assert res["link"] == [None, "x"]
    assert res["timeout"] == [True, None]


def test_link_faults(run_mp, tmp_path):
    res = run(
        run_mp,
        tmp_path,
        """
R("power_on_byte", [m.any(), catch(template_count, d)])   # the 0x55 sent at power-up is drained
d = R503(Shim(m), timeout_ms=150)
for fault in ("silent", "header", "address", "pid", "truncate", "checksum"):
    m.fault = fault
    t0 = time.ticks_ms()
    R(fault, ecatch(template_count, d) + [time.ticks_diff(time.ticks_ms(), t0)])
    R(fault + "_after", catch(template_count, d))
m.fault = "garbage"   # 00 FF EF 55 EF, then the packet: EF EF 01 must still sync
R("garbage", catch(template_count, d))
# another module's answer, and a data packet (PID 2), before ours
other = ack(b"\\x13", b"\\x12\\x34\\x56\\x78")
m.fault = lambda pkt: other + b"\\xef\\x01\\xff\\xff\\xff\\xff\\x02" + pkt
R("others", catch(template_count, d))
# malformed: length field too short, too long, and a code 0 without the data it must carry
for name, bad in (
    ("short_len", lambda pkt: pkt[:7] + b"\\x00\\x02" + pkt[9:]),
    ("long_len", lambda pkt: pkt[:7] + b"\\x01\\x00" + pkt[9:]),
    ("no_data", lambda pkt: ack(b"\\x00")),
):
    m.fault = bad
    R(name, ecatch(template_count, d))
    R(name + "_after", catch(template_count, d))
# a corrupted answer to a finger search
enroll(d, m, 1, 2)
m.place_finger(1)
d.finger_present()
d.img2tz(1)
m.fault = "checksum"
R("search", ecatch(d.search, 1))
R("search_again", d.search(1))
# a response arriving after its command timed out is not taken for the next one's
m.fault = lambda pkt: b""
R("lost", ecatch(template_count, d)[0])
m._out.extend(ack(b"\\x00\\x00\\x63"))  # TemplateNum's "99 templates", as sent too late
R("stale", template_count(d))
# noise with no header at all: given up on before the timeout
m.fault = lambda pkt: bytes(400)
t0 = time.ticks_ms()
R("noise", ecatch(template_count, d) + [time.ticks_diff(time.ticks_ms(), t0)])
R("noise_after", catch(template_count, d))
""",
    )
    assert res["power_on_byte"] == [1, ["ok", 0]]
    for fault in ("silent", "header", "address", "pid", "truncate"):
        kind, code, text, ms = res[fault]
        # a packet not for us (bad header, address or PID) is skipped like noise
        assert [kind, code] == ["R503Timeout", None], fault
        assert text == ("timeout" if fault == "silent" else "bad packet"), fault
        assert 150 <= ms < 1000, fault
    assert res["checksum"][:3] == ["R503Error", None, "checksum"]
    for fault in ("silent", "header", "address", "pid", "truncate", "checksum"):
        assert res[fault + "_after"] == ["ok", 0], fault
    assert res["garbage"] == ["ok", 0]
    assert res["others"] == ["ok", 0]
    for name in ("short_len", "long_len", "no_data"):
        assert res[name] == ["R503Error", None, "bad packet"], name
        assert res[name + "_after"] == ["ok", 0], name
    assert res["search"] == ["R503Error", None, "checksum"]
    assert res["search_again"] == 2
    assert res["lost"] == "R503Timeout"
    assert res["stale"] == 1
    assert res["noise"][:3] == ["R503Error", None, "bad packet"] and res["noise"][3] < 150
    assert res["noise_after"] == ["ok", 1]


def test_templates_survive_power_cycles(run_mp, tmp_path):
    res = run(
        run_mp,
        tmp_path,
        """
d.connect()
enroll(d, m, "zoe", 42)
m = SimR503(STATE)
d = R503(Shim(m))
d.connect()
m.place_finger("zoe")
R("match", [match(d), d.used_ids()])
R("files", sorted(os.listdir(DIR)))
""",
        DIR=str(tmp_path),
    )
    assert res["match"] == [42, [42]]
    assert res["files"] == ["r503.json"]


# -- the model alone, under CPython ------------------------------------------------------------


@pytest.fixture
def sim(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "boards" / "sim"))
    sys.modules.pop("sim_r503", None)
    import sim_r503

    return sim_r503


def frame(instr, params=b"", pid=1, address=0xFFFFFFFF):
    body = bytes([pid]) + (len(params) + 3).to_bytes(2, "big") + bytes([instr]) + params
    s = sum(body) & 0xFFFF
    return b"\xef\x01" + address.to_bytes(4, "big") + body + s.to_bytes(2, "big")


def answers(model):
    """All acknowledge packets waiting in the model, as (code, params), checked bytewise."""
    data = model.read(1000) or b""
    out = []
    while data:
        assert data[:2] == b"\xef\x01", data
        assert data[2:6] == b"\xff\xff\xff\xff" and data[6] == 7
        n = int.from_bytes(data[7:9], "big")
        body = data[6 : 7 + n]
        assert sum(body) & 0xFFFF == int.from_bytes(data[7 + n : 9 + n], "big")
        out.append((data[9], data[10 : 7 + n]))
        data = data[9 + n :]
    return out


def cmd(model, instr, params=b""):
    model.write(frame(instr, params))
    (ans,) = answers(model)
    return ans


def fresh(sim, path, **kw):
    m = sim.SimR503(str(path), **kw)
    assert m.read(10) == b"\x55"  # the power-up handshake byte
    return m


def test_model_enroll_search_and_persistence(sim, tmp_path):
    path = tmp_path / "lib.json"
    m = fresh(sim, path)
    assert cmd(m, 0x01) == (0x02, b"")  # GenImg, no finger
    assert cmd(m, 0x02, b"\x01") == (0x15, b"")  # Img2Tz without an image
    m.place_finger(5)
    assert cmd(m, 0x01) == (0, b"")
    assert cmd(m, 0x02, b"\x01") == (0, b"")
    assert cmd(m, 0x05) == (0x0A, b"")  # buffer 2 is empty
    m.place_finger(6)
    cmd(m, 0x01)
    cmd(m, 0x02, b"\x02")
    assert cmd(m, 0x05) == (0x0A, b"")  # two different fingers
    m.place_finger(5)
    cmd(m, 0x01)
    cmd(m, 0x02, b"\x02")
    assert cmd(m, 0x05) == (0, b"")
    assert cmd(m, 0x06, b"\x01\x00\x0b") == (0, b"")  # Store buffer 1 at page 11
    assert cmd(m, 0x06, b"\x01\x00\xc8") == (0x0B, b"")  # page 200: beyond the library
    assert not (tmp_path / "lib.json.tmp").exists()
    assert json.loads(path.read_text()) == {
        "password": 0,
        "templates": {"11": sim.template_for(5)},
    }

    m = fresh(sim, path)  # power cycle: buffers are gone, the library is not
    assert cmd(m, 0x04, b"\x01\x00\x00\x00\xc8") == (0x22, b"")  # empty buffer
    m.place_finger(5)
    cmd(m, 0x01)
    cmd(m, 0x02, b"\x01")
    code, params = cmd(m, 0x04, b"\x01\x00\x00\x00\xc8")
    assert code == 0 and params[:2] == b"\x00\x0b" and int.from_bytes(params[2:], "big") > 0
    assert cmd(m, 0x04, b"\x01\x00\x0c\x00\x10") == (0x09, b"\x00" * 4)  # range excludes 11
    m.place_unknown()
    cmd(m, 0x01)
    cmd(m, 0x02, b"\x01")
    assert cmd(m, 0x04, b"\x01\x00\x00\x00\xc8") == (0x09, b"\x00" * 4)
    assert cmd(m, 0x1D) == (0, b"\x00\x01")


def test_model_templates_are_deterministic(sim):
    assert sim.template_for(1) == sim.template_for(1)
    assert sim.template_for(1) != sim.template_for("1") != sim.template_for(2)
    assert len(sim.template_for("alice")) == 32


def test_model_password(sim, tmp_path):
    path = tmp_path / "p.json"
    m = fresh(sim, path)
    assert cmd(m, 0x13, b"\x00\x00\x00\x01") == (0x13, b"")
    assert cmd(m, 0x13, b"\x00\x00\x00\x00") == (0, b"")
    assert cmd(m, 0x12, b"\xca\xfe\xba\xbe") == (0, b"")
    assert cmd(m, 0x1D) == (0, b"\x00\x00")  # this session stays verified
    m = fresh(sim, path)
    for instr in (0x1D, 0x0F, 0x40, 0x01, 0x12):
        assert cmd(m, instr, b"\x00\x00\x00\x00" if instr == 0x12 else b"") == (0x21, b"")
    assert cmd(m, 0x13, b"\xca\xfe\xba\xbf") == (0x13, b"")
    assert cmd(m, 0x13, b"\xca\xfe\xba\xbe") == (0, b"")
    code, params = cmd(m, 0x0F)
    assert code == 0 and len(params) == 16 and params[1] & 4  # PWD verified bit
    assert json.loads(path.read_text())["password"] == 0xCAFEBABE


def test_model_framing(sim, tmp_path):
    m = fresh(sim, tmp_path / "f.json")
    pkt = frame(0x40)
    for b in b"\x00\x13\xef" + pkt:  # garbage, then the packet one byte at a time
        assert m.any() == 0
        m.write(bytes([b]))
    assert answers(m) == [(0, b"")]
    m.write(frame(0x40) + frame(0x1D))  # two in one write
    assert answers(m) == [(0, b""), (0, b"\x00\x00")]
    bad = bytearray(frame(0x40))
    bad[-1] ^= 1
    m.write(bytes(bad))
    assert answers(m) == [(0x01, b"")]  # checksum error: "error when receiving package"
    m.write(frame(0x40, address=0x12345678))
    assert m.any() == 0  # another module's address: no answer
    m.write(frame(0x40, pid=2))
    assert answers(m) == [(0x01, b"")]
    assert cmd(m, 0x77) == (0xFC, b"")  # unsupported command
    assert cmd(m, 0x06, b"\x01") == (0x01, b"")  # wrong parameter length
    assert m.read(5) is None
    assert m.log == [0x40, 0x40, 0x1D, 0x77, 0x06]


def test_model_library_commands(sim, tmp_path):
    m = fresh(sim, tmp_path / "l.json", capacity=300)
    for finger, page in ((1, 0), (2, 9), (3, 255), (4, 256), (5, 299)):
        m.place_finger(finger)
        cmd(m, 0x01)
        cmd(m, 0x02, b"\x01")
        assert cmd(m, 0x06, b"\x01" + page.to_bytes(2, "big")) == (0, b"")
    code, table = cmd(m, 0x1F, b"\x00")
    assert code == 0 and len(table) == 32
    assert table[0] == 0x01 and table[1] == 0x02 and table[31] == 0x80
    assert sum(table) == 0x83
    code, table = cmd(m, 0x1F, b"\x01")
    assert table[0] == 0x01 and table[5] == 0x08 and sum(table) == 0x09  # 256, 299
    assert cmd(m, 0x1F, b"\x04")[0] == 0x0B
    assert cmd(m, 0x1D) == (0, b"\x00\x05")
    assert cmd(m, 0x0C, b"\x00\x09\x00\x01") == (0, b"")
    assert cmd(m, 0x0C, b"\x01\x00\x00\x2d") == (0x10, b"")  # 256 + 45 > 300
    assert cmd(m, 0x0C, b"\x00\x00\x00\x00") == (0x10, b"")  # count 0
    assert cmd(m, 0x1D) == (0, b"\x00\x04")
    assert cmd(m, 0x0D) == (0, b"")
    assert cmd(m, 0x1D) == (0, b"\x00\x00")
    assert json.loads((tmp_path / "l.json").read_text())["templates"] == {}


def test_model_led_and_sensor(sim, tmp_path):
    m = fresh(sim, tmp_path / "s.json")
    assert m.led is None
    assert cmd(m, 0x35, b"\x02\x10\x06\x05") == (0, b"")
    assert m.led == {"ctrl": 2, "speed": 0x10, "color": 6, "count": 5}
    assert cmd(m, 0x35, b"\x07\x10\x06\x05") == (0xFE, b"")
    assert cmd(m, 0x35, b"\x01\x10\x08\x05") == (0xFE, b"")
    assert m.led["ctrl"] == 2
    assert cmd(m, 0x36) == (0, b"")
    m.sensor_ok = False
    assert cmd(m, 0x36) == (0x29, b"")
    m.place_finger("x", "messy")
    cmd(m, 0x01)
    assert cmd(m, 0x02, b"\x01") == (0x06, b"")
    m.place_finger("x", "small")
    cmd(m, 0x01)
    assert cmd(m, 0x02, b"\x01") == (0x07, b"")
    assert cmd(m, 0x02, b"\x03") == (0xFE, b"")


def test_model_faults(sim, tmp_path):
    m = fresh(sim, tmp_path / "x.json")
    good = frame(0x40)
    m.write(good)
    clean = m.read(100)
    m.fault = "checksum"
    m.write(good)
    got = m.read(100)
    assert got[:-1] == clean[:-1] and got[-1] != clean[-1]
    m.fault = "garbage"
    m.write(good)
    got = m.read(100)
    assert got.endswith(clean) and len(got) > len(clean) and b"\xef\x01" not in got[:-12]
    m.fault = "silent"
    m.write(good)
    assert m.any() == 0
    m.write(good)
    assert m.read(100) == clean  # faults hit one response only
    m.fault = lambda pkt: b"\x01" + pkt
    m.write(good)
    assert m.read(100) == b"\x01" + clean
    m.force_code = 0x18
    assert cmd(m, 0x40) == (0x18, b"")
    assert cmd(m, 0x40) == (0, b"")
    m.write(good)
    buf = bytearray(5)
    assert m.readinto(buf) == 5 and bytes(buf) == clean[:5]
    assert m.read(100) == clean[5:]
    assert m.readinto(buf) is None
