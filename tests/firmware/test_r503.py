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
from drivers.r503 import MESSAGES, R503, R503Error, R503Timeout
import drivers.r503 as r503


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


def enroll(d, m, finger, page, captures=2, trace=None, script=None, **kw):
    return asyncio.run(d.enroll(page, captures, on_step=person(m, finger, trace, script), **kw))


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


# -- driver under MicroPython ----------------------------------------------------------------


def test_handshake_and_system_parameters(run_mp, tmp_path):
    res = run(
        run_mp,
        tmp_path,
        """
R("connect", d.connect())
R("handshake", catch(d.handshake))
R("check", catch(d.check_sensor))
m.sensor_ok = False
R("broken", ecatch(d.check_sensor))
R("log", m.log)
""",
    )
    assert res["connect"] == {
        "status": 4,  # PWD bit: the (default) password is verified
        "system_id": 0,
        "capacity": 200,
        "security_level": 3,
        "address": 0xFFFFFFFF,
        "packet_size": 128,
        "baud": 57600,
    }
    assert res["handshake"] == ["ok", None]
    assert res["check"] == ["ok", None]
    assert res["broken"] == ["R503Error", 0x29, "R503 0x29: sensor hardware error"]
    assert res["log"] == [0x13, 0x0F, 0x40, 0x36, 0x36]


def test_password_handshake(run_mp, tmp_path):
    res = run(
        run_mp,
        tmp_path,
        """
d.connect()
d.set_password(0x12345678)
R("after_set", catch(d.template_count))     # still verified in this session
m = SimR503(STATE)                           # power cycle: the password is in flash
d = R503(Shim(m))
R("locked", ecatch(d.template_count))
R("locked_sys", ecatch(d.read_sys_para))
R("wrong", ecatch(d.verify_password))        # the driver still thinks it is 0
d = R503(Shim(m), password=0x12345679)
R("wrong2", ecatch(d.connect))
d = R503(Shim(m), password=0x12345678)
R("right", d.connect()["status"] & 4)
R("count", catch(d.template_count))
d.set_password(0)
m = SimR503(STATE)
d = R503(Shim(m))
R("cleared", catch(d.template_count))
""",
    )
    must = ["R503Error", 0x21, "R503 0x21: must verify password"]
    wrong = ["R503Error", 0x13, "R503 0x13: wrong password"]
    assert res["after_set"] == ["ok", 0]
    assert res["locked"] == must and res["locked_sys"] == must
    assert res["wrong"] == wrong and res["wrong2"] == wrong
    assert res["right"] == 4
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
R("lib", [d.template_count(), d.used_ids()])

m.place_finger("alice")
R("alice", [d.match(), d.score])
m.place_finger("bob")
R("bob", d.match())
m.place_unknown()
R("unknown", d.match())
m.remove_finger()
R("nobody", ecatch(d.match))
m.place_finger("alice")
R("wait_match", asyncio.run(d.wait_match(500)))
m.place_unknown()
R("wait_unknown", asyncio.run(d.wait_match(500)))
m.remove_finger()
t0 = time.ticks_ms()
R("wait_nobody", ecatch(lambda: asyncio.run(d.wait_match(300))))
R("waited", time.ticks_diff(time.ticks_ms(), t0))
R("present", [d.finger_present(), m.place_finger(3), d.finger_present()])
""",
    )
    assert res["page"] == 7
    assert res["trace"] == [
        ["place", 1], ["captured", 1], ["lift", 1],
        ["place", 2], ["captured", 2], ["lift", 2],
        ["place", 3], ["captured", 3], ["stored", 7],
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
    page, score = res["alice"]
    assert page == 7 and 0 < score < 65536
    assert res["bob"] is None
    assert res["unknown"] is None
    assert res["nobody"] == ["R503Error", 0x02, "R503 0x02: no finger on the sensor"]
    assert res["wait_match"] == 7
    assert res["wait_unknown"] is None
    assert res["wait_nobody"] == ["R503Timeout", None, "finger not placed"]
    assert 300 <= res["waited"] < 2000
    assert res["present"] == [False, None, True]


def test_enroll_retries_bad_touches(run_mp, tmp_path):
    res = run(
        run_mp,
        tmp_path,
        """
d.connect()
trace = []
# a smudged touch, a too-small one, then someone else's finger at the second capture
seq = [["carol", "messy"], ["carol", "small"], "carol", "dave", "carol"]
R("page", enroll(d, m, "carol", 3, captures=2, trace=trace, script=seq))
R("trace", trace)
m.place_finger("carol")
R("match", d.match())
m.place_finger("dave")
R("dave", d.match())
seq = [["erin", "messy"]] * 3
R("exhausted", ecatch(lambda: enroll(d, m, "erin", 4, script=seq, retries=2)))
m.remove_finger()
R("absent", ecatch(lambda: asyncio.run(d.enroll(4, 2, timeout_ms=200))))
R("bad_args", [ecatch(lambda: enroll(d, m, "x", 4, captures=c))[0] for c in (1, 7)]
  + [ecatch(lambda: enroll(d, m, "x", 200))[0]])
R("count", d.template_count())
""",
    )
    assert res["page"] == 3
    assert res["trace"] == [
        ["place", 1], ["retry", 1], ["lift", 0],
        ["place", 1], ["retry", 1], ["lift", 0],
        ["place", 1], ["captured", 1], ["lift", 1],
        ["place", 2], ["retry", 2], ["lift", 1],
        ["place", 2], ["captured", 2], ["stored", 3],
    ]  # fmt: skip
    assert res["match"] == 3
    assert res["dave"] is None
    assert res["exhausted"][:2] == ["R503Error", 0x06]
    assert res["absent"] == ["R503Timeout", None, "finger not placed"]
    assert res["bad_args"] == ["ValueError"] * 3
    assert res["count"] == 1


def test_delete_empty_count_index_table(run_mp, tmp_path):
    res = run(
        run_mp,
        tmp_path,
        """
d.connect()
for finger, page in (("f0", 0), ("f5", 5), ("f9", 9), ("f130", 130), ("f199", 199)):
    enroll(d, m, finger, page)
R("ids", d.used_ids())
R("table0", d.read_index_table(0))
R("count", d.template_count())
d.delete(5)
m.place_finger("f5")
R("deleted", [d.match(), d.template_count(), d.used_ids()])
d.delete(120, 80)
R("range", d.used_ids())
R("bad_delete", ecatch(d.delete, 150, 51))
R("bad_store", ecatch(d.store, 200))
m.place_finger("f9")
R("f9", d.match())
d.empty()
R("empty", [d.template_count(), d.used_ids(), d.match()])
""",
    )
    assert res["ids"] == [0, 5, 9, 130, 199]
    assert res["table0"] == [0, 5, 9, 130, 199]
    assert res["count"] == 5
    assert res["deleted"] == [None, 4, [0, 9, 130, 199]]
    assert res["range"] == [0, 9]
    assert res["bad_delete"] == ["R503Error", 0x10, "R503 0x10: failed to delete the template"]
    assert res["bad_store"][:2] == ["R503Error", 0x0B]
    assert res["f9"] == 9
    assert res["empty"] == [0, [], None]


def test_led_config(run_mp, tmp_path):
    res = run(
        run_mp,
        tmp_path,
        """
d.connect()
R("fresh", m.led)
d.led(r503.LED_BREATHING, r503.BLUE, speed=100, count=3)
R("breathing", m.led)
d.led(r503.LED_ON, r503.PURPLE)
R("on", m.led)
d.led(r503.LED_OFF)
R("off", m.led)
R("bad", [ecatch(d.led, *a)[0] for a in ((0, 1), (7, 1), (1, 0), (1, 8), (1, 1, 256))])
R("consts", [r503.LED_FLASHING, r503.LED_GRADUAL_ON, r503.LED_GRADUAL_OFF, r503.RED,
             r503.GREEN, r503.YELLOW, r503.CYAN, r503.WHITE])
""",
    )
    assert res["fresh"] is None
    assert res["breathing"] == {"ctrl": 1, "speed": 100, "color": 2, "count": 3}
    assert res["on"] == {"ctrl": 3, "speed": 0x80, "color": 3, "count": 0}
    assert res["off"]["ctrl"] == 4
    assert res["bad"] == ["ValueError"] * 5
    assert res["consts"] == [2, 5, 6, 1, 4, 5, 6, 7]


def test_every_confirmation_code_has_its_message(run_mp, tmp_path):
    res = run(
        run_mp,
        tmp_path,
        """
d.connect()
out = {}
for code in sorted(MESSAGES):
    if code:
        m.force_code = code
        out["%d" % code] = ecatch(d.handshake) + [MESSAGES[code]]
R("codes", out)
m.force_code = 0x42
R("unknown", ecatch(d.handshake))
R("after", catch(d.handshake))
""",
    )
    assert len(res["codes"]) >= 30
    for code, (kind, got, text, message) in res["codes"].items():
        assert kind == "R503Error" and got == int(code)
        assert message and text == f"R503 0x{int(code):02X}: {message}"
    assert res["unknown"] == ["R503Error", 0x42, "R503 0x42: unknown confirmation code 0x42"]
    assert res["after"] == ["ok", None]


def test_link_faults(run_mp, tmp_path):
    res = run(
        run_mp,
        tmp_path,
        """
R("power_on_byte", [m.any(), catch(d.handshake)])   # the 0x55 sent at power-up is drained
d = R503(Shim(m), timeout_ms=150)
for fault in ("checksum", "header", "address", "pid"):
    m.fault = fault
    R(fault, ecatch(d.handshake) + [catch(d.handshake)[0]])
m.fault = "garbage"
R("garbage", [catch(d.template_count), d.skipped])
for fault in ("silent", "truncate"):
    m.fault = fault
    t0 = time.ticks_ms()
    R(fault, ecatch(d.handshake) + [time.ticks_diff(time.ticks_ms(), t0)])
    R(fault + "_after", catch(d.handshake))
# a corrupted answer to a finger search
enroll(d, m, 1, 2)
m.place_finger(1)
d.gen_img()
d.img2tz(1)
m.fault = "checksum"
R("search", ecatch(d.search))
R("search_again", d.search())
# a response arriving after its command timed out is not taken for the next one's
m.fault = lambda pkt: b""
R("lost", ecatch(d.template_count)[0])
# (TemplateNum's answer "99 templates", as the module would have sent it)
m._out.extend(b"\\xef\\x01\\xff\\xff\\xff\\xff\\x07\\x00\\x05\\x00\\x00\\x63\\x00\\x6f")
R("stale", d.template_count())
# noise with no header at all
m.fault = lambda pkt: bytes(400)
R("noise", ecatch(d.handshake))
""",
    )
    assert res["power_on_byte"] == [1, ["ok", None]]
    assert res["checksum"] == ["R503Error", None, "response checksum mismatch", "ok"]
    assert res["header"][:2] == ["R503Error", None] and "header" in res["header"][2]
    assert res["header"][3] == "ok"
    assert res["address"] == ["R503Error", None, "response from another module address", "ok"]
    assert res["pid"] == ["R503Error", None, "unexpected packet id 0x02 in response", "ok"]
    assert res["garbage"] == [["ok", 0], 5]
    kind, code, text, ms = res["silent"]
    assert [kind, code, text] == ["R503Timeout", None, "no response from the fingerprint module"]
    assert 150 <= ms < 1000
    assert res["truncate"][:3] == ["R503Timeout", None, "truncated response"]
    assert res["silent_after"] == res["truncate_after"] == ["ok", None]
    assert res["search"] == ["R503Error", None, "response checksum mismatch"]
    assert res["search_again"] == 2
    assert res["lost"] == "R503Timeout"
    assert res["stale"] == 1
    assert res["noise"][:2] == ["R503Error", None] and "header" in res["noise"][2]


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
R("match", [d.match(), d.used_ids()])
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


def test_driver_message_table_under_cpython(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "firmware"))
    sys.modules.pop("drivers.r503", None)
    from drivers.r503 import MESSAGES, R503Error, R503Timeout, message

    brief = [0x00, 0x01, 0x02, 0x03, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E]
    brief += [0x0F, 0x10, 0x11, 0x13, 0x15, 0x18, 0x1A, 0x21]
    assert set(brief) <= set(MESSAGES)
    assert len(set(MESSAGES.values())) == len(MESSAGES)
    assert MESSAGES[0x13] == "wrong password" and MESSAGES[0x21] == "must verify password"
    assert message(0x99) == "unknown confirmation code 0x99"
    e = R503Error(0x02)
    assert e.code == 2 and e.message == MESSAGES[2] and str(e) == "R503 0x02: " + MESSAGES[2]
    assert isinstance(R503Timeout(), R503Error) and R503Timeout().code is None
