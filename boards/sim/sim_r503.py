"""A packet-level R503 fingerprint module for the simulator (and for tests).

It is the far end of a UART: `write(data)` takes the bytes the driver sends, `read(n)`,
`readinto(buf)` and `any()` give back the module's answers, framed as on the wire (0xEF01,
address, PID, length, payload, checksum). Portable: runs under MicroPython and CPython.

People are modelled, not images: `place_finger(finger_id)` puts a person's finger (any int or
string) on the sensor; its character file is derived deterministically from the id, so the
same finger always matches itself and nothing else. `place_unknown()` is a stranger's finger,
`remove_finger()` lifts it. `place_finger(id, defect="messy" | "small")` gives an image that
Img2Tz rejects (0x06 / 0x07).

What the module keeps in flash (password, template library of `capacity` pages) is persisted
as JSON in `state_path`, written through a temp file and a rename. Volatile state (image
buffer, character buffers 1 and 2, password verified) is lost by `power_cycle()`, after which
the module sends 0x55 as the manual describes.

Tests can break the next response with `fault`: "checksum", "header", "garbage", "silent",
"address", "pid", "truncate", or a callable taking the packet bytes and returning the bytes
to send. `force_code` replaces the next response's confirmation code (checksum kept valid).
"""

import hashlib
import json
import os

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


_PID_CMD = const(0x01)
_PID_ACK = const(0x07)
_READY = const(0x55)  # sent once after power-up
_SECURITY = const(3)
_SIZE_CODE = const(2)  # 128-byte data packets
_BAUD_N = const(6)  # 57600 = 9600 * 6

# instruction -> (method name, parameter bytes)
_COMMANDS = {
    0x01: ("_genimg", 0),
    0x02: ("_img2tz", 1),
    0x04: ("_search", 5),
    0x05: ("_regmodel", 0),
    0x06: ("_store", 3),
    0x0C: ("_delete", 4),
    0x0D: ("_empty", 0),
    0x0F: ("_syspara", 0),
    0x12: ("_setpwd", 4),
    0x13: ("_vfypwd", 4),
    0x1D: ("_templatenum", 0),
    0x1F: ("_indextable", 1),
    0x35: ("_aura", 4),
    0x36: ("_checksensor", 0),
    0x40: ("_handshake", 0),
}


def template_for(finger_id):
    """The character file a finger always yields (hex text): deterministic per finger."""
    if isinstance(finger_id, int):
        key = "int:%d" % finger_id
    else:
        key = "str:" + str(finger_id)
    digest = hashlib.sha256(key.encode()).digest()
    return "".join("%02x" % b for b in digest[:16])


def _be(v, n):
    out = bytearray(n)
    for k in range(n):
        out[n - 1 - k] = (v >> (8 * k)) & 0xFF
    return out


def _num(b):
    v = 0
    for x in b:
        v = (v << 8) | x
    return v


class SimR503:
    def __init__(self, state_path, capacity=200, address=0xFFFFFFFF):
        self.state_path = state_path
        self.capacity = capacity
        self.address = address
        self.finger = None  # (template, defect) of the finger on the glass
        self.fault = None
        self.force_code = None
        self.sensor_ok = True
        self.log = []  # instruction codes received, in order
        self._strangers = 0
        try:
            with open(state_path) as f:
                st = json.load(f)
            self.password = st["password"]
            self.templates = {}
            for k in st["templates"]:
                self.templates[int(k)] = st["templates"][k]
        except (OSError, ValueError, KeyError):  # first power-up: factory state
            self.password = 0
            self.templates = {}
        self.power_cycle()

    # -- the world outside the module ------------------------------------------------------

    def place_finger(self, finger_id, defect=None):
        self.finger = (template_for(finger_id), defect)

    def place_unknown(self):
        """A finger nobody has enrolled (a new one at each call)."""
        self._strangers += 1
        self.finger = (template_for("\x00stranger %d" % self._strangers), None)

    def remove_finger(self):
        self.finger = None

    def power_cycle(self):
        self._in = bytearray()
        self._out = bytearray([_READY])
        self.image = None
        self.buffers = [None, None]
        self.verified = self.password == 0
        self.matched = False
        self.led = None  # the last AuraLedConfig as a dict

    def _save(self):
        lib = {}
        for page in self.templates:
            lib[str(page)] = self.templates[page]
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps({"password": self.password, "templates": lib}))
        os.rename(tmp, self.state_path)

    # -- the UART --------------------------------------------------------------------------

    def any(self):
        return len(self._out)

    def read(self, n=-1):
        if not self._out:
            return None
        if n is None or n < 0:
            n = len(self._out)
        data = bytes(self._out[:n])
        self._out = self._out[n:]
        return data

    def readinto(self, buf):
        data = self.read(len(buf))
        if data is None:
            return None
        buf[: len(data)] = data
        return len(data)

    def write(self, data):
        self._in.extend(data)
        while True:
            buf = self._in
            k = 0
            while k + 1 < len(buf) and not (buf[k] == 0xEF and buf[k + 1] == 0x01):
                k += 1
            if k:
                buf = self._in = buf[k:]
            if len(buf) < 9:
                return len(data)
            n = (buf[7] << 8) | buf[8]
            if len(buf) < 9 + n:
                return len(data)
            self._in = buf[9 + n :]
            self._packet(bytes(buf[: 9 + n]))

    def _packet(self, pkt):
        if _num(pkt[2:6]) != self.address:
            return  # addressed to another module: not answered
        n = len(pkt) - 9
        if n < 3 or pkt[6] != _PID_CMD or sum(pkt[6:-2]) & 0xFFFF != _num(pkt[-2:]):
            self._respond(0x01)
            return
        instr = pkt[9]
        args = pkt[10:-2]
        self.log.append(instr)
        if not self.verified and instr != 0x13:
            self._respond(0x21)
            return
        cmd = _COMMANDS.get(instr)
        if cmd is None:
            self._respond(0xFC)
        elif len(args) != cmd[1]:
            self._respond(0x01)
        else:
            r = getattr(self, cmd[0])(args)
            if isinstance(r, int):
                self._respond(r)
            else:
                self._respond(r[0], r[1])

    def _respond(self, code, extra=b""):
        if self.force_code is not None:
            code, self.force_code = self.force_code, None
        body = bytearray([_PID_ACK]) + _be(len(extra) + 3, 2) + bytearray([code]) + extra
        pkt = bytearray(b"\xef\x01") + _be(self.address, 4) + body + _be(sum(body) & 0xFFFF, 2)
        fault, self.fault = self.fault, None
        if fault == "silent":
            return
        if fault == "checksum":
            pkt[-1] ^= 0x5A
        elif fault == "header":
            pkt[1] = 0x02
        elif fault == "garbage":
            pkt = bytearray(b"\x00\xff\xef\x55\xef") + pkt
        elif fault == "address":
            pkt[5] ^= 0x01
        elif fault == "pid":
            pkt[6] = 0x02
        elif fault == "truncate":
            pkt = pkt[:-3]
        elif fault is not None:
            pkt = fault(bytes(pkt))
        self._out.extend(pkt)

    # -- commands: each returns a confirmation code, or (code, parameter bytes) -------------

    def _vfypwd(self, a):
        if _num(a) != self.password:
            return 0x13
        self.verified = True
        return 0

    def _setpwd(self, a):
        self.password = _num(a)
        self._save()
        return 0

    def _syspara(self, a):
        status = (2 if self.matched else 0) | (4 if self.verified else 0)
        status |= 8 if self.image else 0
        p = _be(status, 2) + _be(0, 2) + _be(self.capacity, 2) + _be(_SECURITY, 2)
        return 0, p + _be(self.address, 4) + _be(_SIZE_CODE, 2) + _be(_BAUD_N, 2)

    def _handshake(self, a):
        return 0

    def _checksensor(self, a):
        return 0 if self.sensor_ok else 0x29

    def _genimg(self, a):
        self.image = self.finger
        return 0 if self.finger else 0x02

    def _img2tz(self, a):
        b = a[0]
        if b not in (1, 2):
            return 0xFE
        if not self.image:
            return 0x15
        if self.image[1] == "messy":
            return 0x06
        if self.image[1] == "small":
            return 0x07
        self.buffers[b - 1] = self.image[0]
        return 0

    def _regmodel(self, a):
        t = self.buffers[0]
        if t is None or t != self.buffers[1]:
            return 0x0A
        return 0  # the combined template is left in both buffers

    def _store(self, a):
        b, page = a[0], _num(a[1:3])
        if b not in (1, 2):
            return 0xFE
        if page >= self.capacity:
            return 0x0B
        if self.buffers[b - 1] is None:
            return 0x22
        self.templates[page] = self.buffers[b - 1]
        self._save()
        return 0

    def _search(self, a):
        b, start, count = a[0], _num(a[1:3]), _num(a[3:5])
        self.matched = False
        none = (0x09, _be(0, 4))  # no match: page id and score both 0
        if b not in (1, 2):
            return 0xFE
        if start >= self.capacity:
            return 0x0B
        t = self.buffers[b - 1]
        if t is None:
            return 0x22
        for page in range(start, min(start + count, self.capacity)):
            if self.templates.get(page) == t:
                self.matched = True
                score = 60 + int(t[:2], 16) % 200
                return 0, _be(page, 2) + _be(score, 2)
        return none

    def _delete(self, a):
        page, count = _num(a[0:2]), _num(a[2:4])
        if count == 0 or page + count > self.capacity:
            return 0x10
        for p in range(page, page + count):
            self.templates.pop(p, None)
        self._save()
        return 0

    def _empty(self, a):
        self.templates = {}
        self._save()
        return 0

    def _templatenum(self, a):
        return 0, _be(len(self.templates), 2)

    def _indextable(self, a):
        if a[0] > 3:
            return 0x0B
        table = bytearray(32)
        for page in self.templates:
            i = page - a[0] * 256
            if 0 <= i < 256:
                table[i >> 3] |= 1 << (i & 7)
        return 0, table

    def _aura(self, a):
        ctrl, speed, color, count = a[0], a[1], a[2], a[3]
        if not (1 <= ctrl <= 6 and 1 <= color <= 7):
            return 0xFE
        self.led = {"ctrl": ctrl, "speed": speed, "color": color, "count": count}
        return 0
