"""R503 capacitive fingerprint module (Hangzhou Grow) on a UART, 57600 8N1, address FFFFFFFF.

Every exchange is one command packet and one acknowledge packet, big-endian:

    0xEF01 | address (4) | PID (1) | length (2) = payload + 2 | payload | checksum (2)

where the payload is instruction + parameters (command, PID 1) or confirmation code + data
(acknowledge, PID 7), and checksum = PID + both length bytes + payload bytes, mod 65536. Both
go through one buffer made once. Whatever comes before an acknowledge's header (the 0x55 sent at
power-up, line noise, another module's packet) is skipped. A confirmation code other than 0
raises R503Error(code); a module that stays silent or stops mid-packet raises R503Timeout; a
bad length or checksum raises R503Error(None, why).

Commands block until answered (GenImg, Search: a few hundred ms at most); wait_finger, wait_lift,
wait_match and enroll yield to the event loop while a person is awaited.

Kept small on purpose, as loaded bytecode lives in the heap (this costs under 4 KB): only the
methods the token calls (no LED control, no TemplateNum: used_ids() counts), few names and
strings (each costs heap), message texts for what a user may see only.
"""

import time

from micropython import const

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
_INDEXTABLE = const(0x1F)
_NO_FINGER = const(0x02)
_NOT_FOUND = const(0x09)
_LEN_MAX = const(64)  # longest acknowledge length field accepted (ReadIndexTable: 35)
_MAX_SKIP = const(300)  # garbage bytes tolerated before a header
_POLL_MS = const(50)
_RETRIES = const(3)  # bad touches tolerated in one enrollment
# confirmation codes worth another touch (bit n: code n; a bitmask costs no heap, a tuple
# does): no image taken, messy, too few features, not the same finger, no valid image
_RETRY = const(1 << 0x03 | 1 << 0x06 | 1 << 0x07 | 1 << 0x0A | 1 << 0x15)


class R503Error(Exception):
    """code: the module's confirmation code, or None for a link-level problem (message says)."""

    def __init__(self, code, message=None):
        if code is not None:
            message = "fingerprint sensor error 0x%02x" % code
            # Built when raised: a constant tuple would keep its strings as objects on the heap
            # and a string over 10 characters costs several times what a short one does.
            for c, t in [
                [0x02, "no finger"],
                [0x09, "no match"],
                [0x0A, "mismatch"],  # enrollment: the touches are not the same finger
                [0x13, "wrong pwd"],
                [0x18, "flash fail"],
                [0x21, "locked"],  # the password must be verified first
            ]:
                if c == code:
                    message += ": %s" % t
        super().__init__(message)
        self.code = code


class R503Timeout(R503Error):
    pass


# R503's one method outside the class: one more class attribute would cost ~100 bytes of heap.
def _run(self, code, value=0, n=0, accept=0, length=0):
    """R503 self: send instruction `code` with n parameter bytes (value, big-endian), read the
    acknowledge and return its confirmation code if 0 or `accept`, else raise R503Error.
    length: data bytes a code 0 must carry (left in _buf[10:])."""
    u = self.uart
    b = self._buf
    h = b"\xef\x01\xff\xff\xff\xff\x07"  # an acknowledge's header (a command's: PID 1)
    while u.any() and u.readinto(b):  # a late answer must not pass for this one's
        pass
    b[:7] = h
    b[6] = 1
    b[7] = 0
    b[8] = n + 3
    b[9] = code
    e = 10 + n
    while n:
        n -= 1
        b[10 + n] = value & 0xFF
        value >>= 8
    for i in range(6, e):
        n += b[i]
    b[e] = n >> 8
    b[e + 1] = n & 0xFF
    u.write(b[: e + 2])

    t = time.ticks_ms()
    k = n = 0  # bytes of the packet in b, garbage bytes skipped
    e = 9  # bytes wanted: up to the length field, then the whole packet
    while k < e:
        if not u.readinto(b[k : k + 1]):
            if time.ticks_diff(time.ticks_ms(), t) >= self.timeout_ms:
                raise R503Timeout(None, "bad packet" if k + n else "timeout")
            time.sleep_ms(1)
        elif k < 7 and b[k] != h[k]:  # not (yet) our header: skip what came so far
            n += 1
            if n > _MAX_SKIP:
                raise R503Error(None, "bad packet")
            if b[k] == 0xEF:  # this one may start the header
                b[0] = 0xEF
                k = 1
            else:
                k = 0
        else:
            k += 1
            if k == 9:
                e = b[7] << 8 | b[8]
                if not 2 < e <= _LEN_MAX:
                    raise R503Error(None, "bad packet")
                e += 9
    n = 0
    for i in range(6, e - 2):
        n += b[i]
    if n & 0xFFFF != b[e - 2] << 8 | b[e - 1]:
        raise R503Error(None, "checksum")
    n = b[9]
    if n and n != accept:
        raise R503Error(n)
    if not n and e < 12 + length:
        raise R503Error(None, "bad packet")
    return n


class R503:
    def __init__(self, uart, password=0, timeout_ms=2000):
        self.uart = uart
        self.password = password
        self.timeout_ms = timeout_ms
        self.capacity = 200  # read by connect()
        # [0:2] 0xEF01, [2:6] address, [6] PID, [7:9] length, [9] instruction or
        # confirmation code, then parameters or data, then the checksum
        self._buf = memoryview(bytearray(9 + _LEN_MAX))

    def connect(self):
        """VfyPwd (needed first after power-up once a password is set), then ReadSysPara for
        the library capacity."""
        _run(self, _VFYPWD, self.password, 4)
        _run(self, _SYSPARA, 0, 0, 0, 16)
        self.capacity = self._buf[14] << 8 | self._buf[15]

    def set_password(self, password):
        _run(self, _SETPWD, password, 4)
        self.password = password

    def finger_present(self):
        """GenImg: True with a fresh image in the image buffer, False if no finger."""
        return not _run(self, _GENIMG, 0, 0, _NO_FINGER)

    def img2tz(self, buf):
        """Character file of the image into buffer 1 or 2."""
        _run(self, _IMG2TZ, buf, 1)

    def search(self, buf):
        """Page id of the template matching character buffer buf, or None."""
        if _run(self, _SEARCH, buf << 32 | self.capacity, 5, _NOT_FOUND, 4):
            return None
        return self._buf[10] << 8 | self._buf[11]

    def delete(self, page_id, count=1):
        _run(self, _DELETE, page_id << 16 | count, 4)

    def empty(self):
        _run(self, _EMPTY)

    def used_ids(self):
        """Page ids holding a template, from ReadIndexTable (bit i of byte j: id 8j + i)."""
        ids = []
        for i in range(self.capacity):
            if not i & 0xFF:
                _run(self, _INDEXTABLE, i >> 8, 1, 0, 32)
            if self._buf[10 + (i >> 3 & 31)] >> (i & 7) & 1:
                ids.append(i)
        return ids

    async def wait_finger(self, timeout_ms, code=0):
        """Poll GenImg until it answers code: 0 (the default) a finger gave an image, left in
        the image buffer; 2 no finger is there. Raises R503Timeout after timeout_ms."""
        import asyncio  # here, not at the top: importing the driver does not load it

        t = time.ticks_ms()
        while _run(self, _GENIMG, 0, 0, _NO_FINGER) != code:
            if time.ticks_diff(time.ticks_ms(), t) >= timeout_ms:
                raise R503Timeout(None, "timeout")
            await asyncio.sleep_ms(_POLL_MS)

    def wait_lift(self, timeout_ms):
        return self.wait_finger(timeout_ms, _NO_FINGER)

    async def wait_match(self, timeout_ms):
        """Wait for a finger, then Img2Tz into buffer 1 and Search: page id or None."""
        await self.wait_finger(timeout_ms)
        self.img2tz(1)
        return self.search(1)

    async def enroll(self, page_id, captures, timeout_ms, on_step):
        """Capture `captures` (2-6) touches into character buffers 1 and 2 alternately, folding
        each new one into the template with RegModel, the finger lifted in between; then Store
        the template at page_id, which is returned.

        on_step(step, n) tells the UI what to ask for: "place" (touch n), "retry" (touch n was
        unusable: place again), "lift" (n touches taken). Up to 3 bad touches are forgiven;
        a finger awaited over timeout_ms raises R503Timeout.
        """
        if not (1 < captures < 7 and 0 <= page_id < self.capacity):
            raise ValueError
        n = 0
        retries = _RETRIES
        while True:
            on_step("place", n + 1)
            await self.wait_finger(timeout_ms)
            try:
                _run(self, _IMG2TZ, 1 + (n & 1), 1)
                if n:  # the other buffer holds the template so far
                    _run(self, _REGMODEL)
            except R503Error as e:
                if e.code is None or not _RETRY >> e.code & 1 or retries < 1:
                    raise
                retries -= 1
                on_step("retry", n + 1)
            else:
                n += 1
                if n == captures:
                    break
            on_step("lift", n)
            await self.wait_lift(timeout_ms)
        _run(self, _STORE, 0x10000 | page_id, 3)
        return page_id
