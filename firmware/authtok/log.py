"""The on-device diagnostic log: a ring of fixed-size records in one preallocated flash file.

It says what happened and when (boots, unlocks, failures, lockouts, time syncs, wipes,
errors), never with what: the API takes an event code, one small integer and a short tag, so
there is no way to hand it a secret, a code or a PIN. A record, 16 bytes, big endian:

    seq (4) | time (4) | code (1) | arg (1) | detail (5) | CRC-8 (1)

- seq: 1, 2, 3, ... over the device's life; the record lives in slot (seq - 1) % records, so
  the newest is the highest valid seq and the order needs no index. Sequence numbers go on
  across reboots and `clear()` (a record with code 0 keeps the count; it is never read out).
- time: Unix seconds from `now()`, or 0 when the clock is untrusted (`now` returned None, 0 or
  something that is not a plausible time) or failed.
- code: one of the constants below (stable: new codes are only ever appended); arg: 0..255.
  Only the numbers live here: their names and descriptions are the host's (tokenctl/events.py).
- detail: at most 5 characters of A-Z a-z 0-9 and `_-.:/`, at most 3 of them digits (no
  numeric PIN or one-time code fits), NUL padded. Anything else raises ValueError: nothing is
  written for a rejected event.
- CRC-8 (polynomial 0x07) over the first 15 bytes.

An event is one seek and one 16-byte write in place. The file is `records * 16` bytes, written
in full once (and again by `clear`, or when `records` changed: the log then starts empty, the
sequence numbers go on). A power cut during a write can at worst lose that record (and the
oldest one it was replacing): a torn or garbled record fails its CRC (or sits in the wrong
slot for its seq) and is skipped, and the number it would have had is not handed out again.
Boot finds the newest record by reading the file one record at a time; no memory grows with
`records`.

Written for the heap (loaded bytecode lives there): few functions, no strings beyond the
default path, errors are bare ValueErrors.
"""

import struct

from micropython import const

_REC = const(16)
_DETAIL = const(10)  # offset of the detail field
_DETAIL_MAX = const(5)
_MAX_DIGITS = const(3)
_MARK = const(0)  # the code of the record `clear` leaves to carry the sequence number
_CRC4 = const(b"\x00\x07\x0e\x09\x1c\x1b\x12\x15\x38\x3f\x36\x31\x24\x23\x2a\x2d")  # per nibble

# Event codes: the numbers are on flash and in the serial protocol. Append only (and move
# _LAST). Public names only for the codes other firmware modules log; the host has them all.
BOOT = const(1)
UNLOCK_PIN = const(2)
UNLOCK_FINGER = const(3)
BAD_PIN = const(4)
BAD_FINGER = const(5)
PIN_BLOCKED = const(6)
PIN_BRAKE = const(7)
FINGER_LIMIT = const(8)
LOCK = const(9)
AUTO_LOCK = const(10)
TIME_SYNC = const(11)
_CLOCK_LOST = const(12)
WIPE = const(13)
VAULT_CORRUPT = const(14)
ERROR = const(15)
ENROLL = const(16)
FINGER_REMOVED = const(17)
SETTINGS = const(18)
RESTORE = const(19)
BACKUP = const(20)
PIN_CHANGE = const(21)
PUSH_ENROLL = const(22)
PUSH_REJECTED = const(23)  # arg: the reason's index in push._REASONS
PUSH_ANSWER = const(24)  # arg: approve, deny, report, wrong_number, timeout
PUSH_CLOCK = const(25)  # arg: minutes the relying party's clock is off
_LAST = const(25)  # the highest code


def _crc(buf):
    """CRC-8 (poly 0x07, init 0) of buf[0:15], a nibble at a time."""
    c = 0
    for i in range(_REC - 1):
        c ^= buf[i]
        c = ((c << 4) & 0xFF) ^ _CRC4[c >> 4]
        c = ((c << 4) & 0xFF) ^ _CRC4[c >> 4]
    return c


def _dlen(buf):
    """The length of the detail in record buf, or -1 unless it is allowed characters (at most
    _MAX_DIGITS digits), then only NUL padding."""
    n = digits = 0
    for i in range(_DETAIL_MAX):
        o = buf[_DETAIL + i]
        if o:
            if n < i:  # a character after the padding
                return -1
            n += 1
            if 0x30 <= o <= 0x39:
                digits += 1
            elif not (0x2D <= o <= 0x3A or 0x41 <= o <= 0x5A or 0x61 <= o <= 0x7A or o == 0x5F):
                return -1  # 0x2D-0x3A: "-./" and ":" around the digits; 0x5F: "_"
    return n if digits <= _MAX_DIGITS else -1


class Log:
    def __init__(self, path="/flash/log", records=128, now=None):
        if not isinstance(records, int) or records < 1:
            raise ValueError
        self.path = path
        self.records = records
        self._now = now
        self._buf = bytearray(_REC)
        seq = n = 0  # the newest record's sequence number (0: none yet); slots in the file
        try:
            f = open(path, "rb")
        except OSError:
            f = None
        if f:
            with f:
                size = f.seek(0, 2)
                n = 0 if size % _REC else size // _REC
                for slot in range(n):
                    seq = max(seq, self._get(f, slot, n))
                # The slot after the newest: empty, or the record it replaces; anything else
                # is a write that was torn, and its number stays burnt.
                if n == records and seq:
                    if self._get(f, seq % n, n) != seq + 1 - n and any(self._buf):
                        seq += 1
        self.seq = seq
        if n != records:
            self.clear()

    def _get(self, f, index, n):
        """Slot `index` of n from file f into self._buf: its seq, or 0 if it is empty, torn
        or garbled."""
        b = self._buf
        f.seek(index * _REC)
        if f.readinto(b) != _REC or _crc(b) != b[_REC - 1] or _dlen(b) < 0:
            return 0
        s = struct.unpack_from(">I", b)[0]
        return s if 0 < s < 0xFFFFFFFF and (s - 1) % n == index else 0

    def _put(self, seq, t, code, arg, data, mode):
        """Record seq (none if 0) with detail bytes data into its slot: in place (mode "r+b"),
        or into a new file of empty slots ("wb", or the file is gone). ValueError, before
        anything is written, if data is not an allowed detail."""
        b = self._buf
        struct.pack_into(">IIBB5s", b, 0, seq, t, code, arg, data)
        if _dlen(b) != len(data):  # also too long (cut by "5s") or with a NUL in it
            raise ValueError
        b[_REC - 1] = _crc(b)
        try:
            f = open(self.path, mode)
        except OSError:  # removed (a wipe): a new file, the numbers go on
            mode = "wb"
            f = open(self.path, mode)
        with f:
            if mode == "wb":
                z = bytes(_REC)
                for _ in range(self.records):
                    f.write(z)
            if seq:
                f.seek((seq - 1) % self.records * _REC)
                f.write(b)

    def event(self, code, arg=0, detail=""):
        """Log one event; returns its sequence number. ValueError if it may not be logged."""
        if (
            not isinstance(code, int)
            or not 0 < code <= _LAST
            or not isinstance(arg, int)
            or not 0 <= arg <= 255
            or not isinstance(detail, str)
        ):
            raise ValueError
        try:
            t = self._now()
        except Exception:  # no clock (None), or it failed: the log goes on, time unknown
            t = 0
        if not isinstance(t, int) or not 0 < t <= 0xFFFFFFFF:
            t = 0
        seq = self.seq + 1
        self._put(seq, t, code, arg, detail.encode(), "r+b")
        self.seq = seq
        return seq

    def clear(self):
        """Empty the log. The sequence numbers go on from where they were."""
        self._put(self.seq, 0, _MARK, 0, b"", "wb")

    def read(self, since_seq=0):
        """A generator of [seq, time, code, arg, detail] for each record newer than since_seq,
        oldest first; torn or garbled records are skipped (ValueError, on the first next(), for
        a bad since_seq). It holds the file open: close it if you stop early."""
        if not isinstance(since_seq, int) or since_seq < 0:
            raise ValueError
        n = self.records
        last = self.seq
        try:
            f = open(self.path, "rb")
        except OSError:
            return
        b = self._buf
        with f:
            for seq in range(max(since_seq + 1, last - n + 1, 1), last + 1):
                if self._get(f, (seq - 1) % n, n) == seq and b[8] != _MARK:
                    _, t, code, arg = struct.unpack_from(">IIBB", b)
                    yield [seq, t, code, arg, str(b[_DETAIL : _DETAIL + _dlen(b)], "ascii")]
