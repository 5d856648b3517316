"""R503 capacitive fingerprint module (Hangzhou Grow) on a UART, 57600 8N1 by default.

Every exchange is one command packet and one acknowledge packet:

    0xEF01 | address (4) | PID (1) | length (2) = payload + 2 | payload | checksum (2)

big-endian, checksum = PID + both length bytes + payload bytes, mod 65536. Responses are read
by polling the UART against a deadline; bytes before the 0xEF01 header (the 0x55 the module
sends at power-up, line noise) are skipped. Confirmation codes other than 0x00 raise
R503Error(code, message); a silent module raises R503Timeout; a malformed response raises
R503Error with code None. The async helpers (wait_finger, enroll, wait_match) yield to the
event loop while a finger is awaited.
"""

import asyncio
import time

try:
    from micropython import const
except ImportError:  # CPython (host tools, type checkers)

    def const(x):  # type: ignore[misc]
        return x


_PID_CMD = const(0x01)
_PID_ACK = const(0x07)
_GENIMG = const(0x01)
_IMG2TZ = const(0x02)
_SEARCH = const(0x04)
_REGMODEL = const(0x05)
_STORE = const(0x06)
_DELETE = const(0x0C)
_EMPTY = const(0x0D)
_SYSPARA = const(0x0F)
_SETPWD = const(0x12)
_VFYPWD = const(0x13)
_TEMPLATENUM = const(0x1D)
_INDEXTABLE = const(0x1F)
_AURA = const(0x35)
_CHECKSENSOR = const(0x36)
_HANDSHAKE = const(0x40)
_RX_MAX = const(64)  # longest acknowledge here: ReadIndexTable, 1 + 32 + 2 checksum
_MAX_SKIP = const(300)  # garbage bytes tolerated before a header
_POLL_MS = const(50)

# AuraLedConfig (0x35) control codes and colour indexes, as numbered in the R503 manual
LED_BREATHING, LED_FLASHING, LED_ON, LED_OFF, LED_GRADUAL_ON, LED_GRADUAL_OFF = 1, 2, 3, 4, 5, 6
RED, BLUE, PURPLE, GREEN, YELLOW, CYAN, WHITE = 1, 2, 3, 4, 5, 6, 7

OK = const(0x00)
NO_FINGER = const(0x02)
NOT_FOUND = const(0x09)

MESSAGES = {
    0x00: "ok",
    0x01: "packet receive error",
    0x02: "no finger on the sensor",
    0x03: "failed to enroll the finger image",
    0x06: "image too messy to extract features",
    0x07: "too few feature points (image too small)",
    0x08: "finger doesn't match",
    0x09: "no match found in the library",
    0x0A: "failed to combine the character files (not the same finger)",
    0x0B: "page id beyond the finger library",
    0x0C: "template read error or invalid template",
    0x0D: "template upload error",
    0x0E: "module cannot receive the following data packets",
    0x0F: "image upload error",
    0x10: "failed to delete the template",
    0x11: "failed to clear the finger library",
    0x13: "wrong password",
    0x15: "no valid primary image",
    0x18: "flash write error",
    0x19: "undefined error",
    0x1A: "invalid register number",
    0x1B: "incorrect register configuration",
    0x1C: "wrong notepad page number",
    0x1D: "failed to operate the communication port",
    0x1F: "finger library is full",
    0x20: "address code incorrect",
    0x21: "must verify password",
    0x22: "fingerprint template is empty",
    0x24: "finger library is empty",
    0x26: "timeout",
    0x27: "fingerprint already exists",
    0x29: "sensor hardware error",
    0xFC: "unsupported command",
    0xFD: "hardware error",
    0xFE: "command execution failure",
}

# Capture problems worth asking the user for another touch during enrollment.
_RETRY = (0x03, 0x06, 0x07, 0x0A, 0x15)


def message(code):
    return MESSAGES.get(code) or "unknown confirmation code 0x%02X" % code


class R503Error(Exception):
    """code: the module's confirmation code, or None for a link-level problem."""

    def __init__(self, code, msg=None):
        if msg is None:
            msg = message(code)
        super().__init__(code, msg)
        self.code = code
        self.message = msg

    def __str__(self):
        if self.code is None:
            return self.message
        return "R503 0x%02X: %s" % (self.code, self.message)


class R503Timeout(R503Error):
    def __init__(self, msg="no response from the fingerprint module"):
        super().__init__(None, msg)


class R503:
    def __init__(self, uart, address=0xFFFFFFFF, password=0, timeout_ms=2000):
        self.uart = uart
        self.address = address
        self.password = password
        self.timeout_ms = timeout_ms
        self.capacity = 200  # updated by read_sys_para()
        self.score = 0  # match score of the last successful search
        self.skipped = 0  # garbage bytes before the last response's header
        self.last_error = None  # confirmation code of the last retried enrollment touch
        self._tx = bytearray(20)
        self._txmv = memoryview(self._tx)
        self._hdr = bytearray(7)  # address, PID, length of a response
        self._hdrmv = memoryview(self._hdr)
        self._rx = bytearray(_RX_MAX)
        self._rxmv = memoryview(self._rx)
        self._b1 = bytearray(1)
        self._b1mv = memoryview(self._b1)
        self._tx[0] = 0xEF
        self._tx[1] = 0x01
        self._put(2, address, 4)

    # -- packets ---------------------------------------------------------------------------

    def _put(self, i, v, n):
        """Big-endian v into n bytes of the command at i; returns the next index."""
        for k in range(n):
            self._tx[i + n - 1 - k] = (v >> (8 * k)) & 0xFF
        return i + n

    def _op(self, instr):
        self._tx[9] = instr
        return 10

    def _send(self, end):
        """Frame and write the command whose instruction and parameters end at tx[end]."""
        t = self._tx
        n = end - 7  # payload + checksum
        t[6] = _PID_CMD
        t[7] = n >> 8
        t[8] = n & 0xFF
        s = 0
        for i in range(6, end):
            s += t[i]
        self._put(end, s, 2)
        u = self.uart
        while u.any():  # a late answer to an earlier command must not pass for this one
            if not u.readinto(self._rx):
                break
        u.write(self._txmv[: end + 2])

    def _fill(self, mv, start, timeout):
        got = 0
        while got < len(mv):
            r = self.uart.readinto(mv[got:])
            if r:
                got += r
            elif time.ticks_diff(time.ticks_ms(), start) >= timeout:
                return False
            else:
                time.sleep_ms(1)
        return True

    def _receive(self, want, start, timeout):
        """Read one acknowledge packet; returns its confirmation code (payload in _rx)."""
        prev = seen = 0
        while True:
            if not self._fill(self._b1mv, start, timeout):
                if seen:
                    raise R503Error(None, "bad response header: %d bytes, no 0xEF01" % seen)
                raise R503Timeout()
            c = self._b1[0]
            seen += 1
            if prev == 0xEF and c == 0x01:
                break
            if seen > _MAX_SKIP:
                raise R503Error(None, "bad response header: %d bytes, no 0xEF01" % seen)
            prev = c
        self.skipped = seen - 2
        h = self._hdr
        if not self._fill(self._hdrmv, start, timeout):
            raise R503Timeout("truncated response")
        for k in range(4):
            if h[k] != self._tx[2 + k]:
                raise R503Error(None, "response from another module address")
        if h[4] != _PID_ACK:
            raise R503Error(None, "unexpected packet id 0x%02X in response" % h[4])
        n = (h[5] << 8) | h[6]
        if not 3 <= n <= _RX_MAX:
            raise R503Error(None, "bad response length %d" % n)
        rx = self._rx
        if not self._fill(self._rxmv[:n], start, timeout):
            raise R503Timeout("truncated response")
        s = h[4] + h[5] + h[6]
        for i in range(n - 2):
            s += rx[i]
        if s & 0xFFFF != (rx[n - 2] << 8) | rx[n - 1]:
            raise R503Error(None, "response checksum mismatch")
        if rx[0] == OK and n - 2 < want:
            raise R503Error(None, "response too short (%d bytes)" % (n - 2))
        return rx[0]

    def _code(self, end, want=1, timeout_ms=None):
        self._send(end)
        return self._receive(want, time.ticks_ms(), timeout_ms or self.timeout_ms)

    async def _acode(self, end, want=1, timeout_ms=None):
        """As _code, but waits for the answer in the event loop (GenImg, Search are slow)."""
        t = timeout_ms or self.timeout_ms
        self._send(end)
        start = time.ticks_ms()
        while self.uart.any() < 12 and time.ticks_diff(time.ticks_ms(), start) < t:
            await asyncio.sleep_ms(_POLL_MS // 5)
        return self._receive(want, time.ticks_ms(), 50)

    def _run(self, end, want=1):
        code = self._code(end, want)
        if code != OK:
            raise R503Error(code)

    async def _arun(self, end):
        code = await self._acode(end)
        if code != OK:
            raise R503Error(code)

    def _u16(self, i):
        return (self._rx[i] << 8) | self._rx[i + 1]

    # -- system ----------------------------------------------------------------------------

    def verify_password(self, password=None):
        """VfyPwd; needed first after power-up once a non-zero password is set."""
        self._run(self._put(self._op(_VFYPWD), self.password if password is None else password, 4))

    def set_password(self, password):
        self._run(self._put(self._op(_SETPWD), password, 4))
        self.password = password

    def handshake(self):
        """HandShake (0x40): raises unless the module is working normally."""
        self._run(self._op(_HANDSHAKE))

    def check_sensor(self):
        """CheckSensor (0x36): raises R503Error(0x29) if the sensor is abnormal."""
        self._run(self._op(_CHECKSENSOR))

    def connect(self):
        """Password handshake, then the system parameters (sets capacity)."""
        self.verify_password()
        return self.read_sys_para()

    def read_sys_para(self):
        self._run(self._op(_SYSPARA), 17)
        u = self._u16
        self.capacity = u(5)
        return {
            "status": u(1),
            "system_id": u(3),
            "capacity": self.capacity,
            "security_level": u(7),
            "address": (u(9) << 16) | u(11),
            "packet_size": 32 << u(13),
            "baud": 9600 * u(15),
        }

    def led(self, ctrl, color=BLUE, speed=0x80, count=0):
        """AuraLedConfig: ctrl LED_*, colour RED..WHITE, speed 0-255, count 0 (forever)-255."""
        if not (1 <= ctrl <= 6 and 1 <= color <= 7 and 0 <= speed <= 255 and 0 <= count <= 255):
            raise ValueError("led")
        i = self._op(_AURA)
        for v in (ctrl, speed, color, count):
            i = self._put(i, v, 1)
        self._run(i)

    # -- images, character files, library --------------------------------------------------

    def _img2tz(self, buffer):
        if buffer not in (1, 2):
            raise ValueError("buffer")
        return self._put(self._op(_IMG2TZ), buffer, 1)

    def _store(self, page_id, buffer):
        return self._put(self._put(self._op(_STORE), buffer, 1), page_id, 2)

    def _search(self, buffer, start, count):
        if count is None:
            count = self.capacity - start
        return self._put(self._put(self._put(self._op(_SEARCH), buffer, 1), start, 2), count, 2)

    def _found(self, code):
        if code == NOT_FOUND:
            return None
        if code != OK:
            raise R503Error(code)
        self.score = self._u16(3)
        return self._u16(1)

    def finger_present(self):
        """GenImg: True with a fresh image in the image buffer, False if no finger."""
        code = self._code(self._op(_GENIMG))
        if code not in (OK, NO_FINGER):
            raise R503Error(code)
        return code == OK

    def gen_img(self):
        self._run(self._op(_GENIMG))

    def img2tz(self, buffer=1):
        self._run(self._img2tz(buffer))

    def reg_model(self):
        self._run(self._op(_REGMODEL))

    def store(self, page_id, buffer=1):
        self._run(self._store(page_id, buffer))

    def search(self, buffer=1, start=0, count=None):
        """Page id of the matching template (score in self.score), or None."""
        return self._found(self._code(self._search(buffer, start, count), 5))

    def delete(self, page_id, count=1):
        self._run(self._put(self._put(self._op(_DELETE), page_id, 2), count, 2))

    def empty(self):
        self._run(self._op(_EMPTY))

    def template_count(self):
        self._run(self._op(_TEMPLATENUM), 3)
        return self._u16(1)

    def read_index_table(self, page=0):
        """Used page ids among page*256 .. page*256+255 (bit i of byte j is id 8*j + i)."""
        self._run(self._put(self._op(_INDEXTABLE), page, 1), 33)
        rx = self._rx
        return [page * 256 + i for i in range(256) if rx[1 + (i >> 3)] & (1 << (i & 7))]

    def used_ids(self):
        ids = []
        for page in range((self.capacity + 255) // 256):
            ids.extend(self.read_index_table(page))
        return ids

    def match(self):
        """One attempt: GenImg, Img2Tz(1), Search. Page id or None; no finger raises 0x02."""
        self.gen_img()
        self.img2tz(1)
        return self.search(1)

    # -- waiting for a person (async) ------------------------------------------------------

    async def _wait(self, want, timeout_ms):
        start = time.ticks_ms()
        while True:
            code = await self._acode(self._op(_GENIMG))
            if code not in (OK, NO_FINGER):
                raise R503Error(code)
            if code == want:
                return
            if time.ticks_diff(time.ticks_ms(), start) >= timeout_ms:
                raise R503Timeout("finger not placed" if want == OK else "finger not lifted")
            await asyncio.sleep_ms(_POLL_MS)

    async def wait_finger(self, timeout_ms=10000):
        """Poll GenImg until a finger gives an image (left in the image buffer)."""
        await self._wait(OK, timeout_ms)

    async def wait_lift(self, timeout_ms=10000):
        await self._wait(NO_FINGER, timeout_ms)

    async def wait_match(self, timeout_ms=10000):
        """Wait for a finger, then Img2Tz(1) and Search: page id or None."""
        await self.wait_finger(timeout_ms)
        await self._arun(self._img2tz(1))
        return self._found(await self._acode(self._search(1, 0, None), 5))

    async def enroll(self, page_id, captures=2, timeout_ms=10000, on_step=None, retries=3):
        """Capture `captures` (2-6) touches into buffers 1 and 2 alternately, folding each
        new one into the template with RegModel, the finger lifted in between; then Store.

        on_step(step, n) lets the UI follow: "place" (touch n awaited), "captured" (n done),
        "retry" (touch n unusable: the error code is in self.last_error), "lift", "stored"
        (n = page id). A bad touch is retried up to `retries` times in all.
        """
        if not 2 <= captures <= 6:
            raise ValueError("captures")
        if not 0 <= page_id < self.capacity:
            raise ValueError("page_id")
        step = on_step or (lambda s, n: None)
        n = fails = 0
        while n < captures:
            step("place", n + 1)
            await self.wait_finger(timeout_ms)
            try:
                await self._arun(self._img2tz(1 + (n & 1)))
                if n:  # the other buffer holds the template so far
                    await self._arun(self._op(_REGMODEL))
            except R503Error as e:
                if e.code not in _RETRY or fails >= retries:
                    raise
                fails += 1
                self.last_error = e.code
                step("retry", n + 1)
            else:
                n += 1
                step("captured", n)
                if n == captures:
                    break
            step("lift", n)
            await self.wait_lift(timeout_ms)
        await self._arun(self._store(page_id, 1))
        step("stored", page_id)
        return page_id
