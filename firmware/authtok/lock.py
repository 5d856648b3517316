"""App Lock: the PIN, its counters, the finger unlock, auto-lock and wipe-after.

Until a PIN is set the token is open. Once set, codes and changes need an unlock, by PIN or by
finger. The PIN is kept only as a salted PBKDF2-HMAC-SHA256 hash inside a sealed file, next to
the counters and the policy settings (keys of the sealed JSON object):

    s, h  PIN salt and hash             t  PIN tries left (max_tries after a success)
    w     wrong PINs since the last     f  failed finger matches since the last success
          correct one (for wipe_after)  m, x, a  max_tries, wipe_after, auto_lock_s

`get(key)` reads them with their defaults (one method, not a property each: each costs heap);
`pin_set` and `tries_left` are plain attributes that `load` and `save` keep up to date.

Rules (docs/protocol.md §9):

- Every attempt is paid for before it is judged: a PIN check first saves t-1 and w+1, a finger
  match first saves f+1 (`finger_begin`). Cutting the power between a check and its counter
  update therefore never buys an extra attempt; it only costs one. A success writes the
  counters back. RAM follows flash only after a successful write.
- verify() checks in this order, none of which costs a try: damaged state (lock_corrupt), no
  PIN (pin_not_set), a wipe already due (wiped), no tries left (pin_blocked), the brake
  (pin_brake); then it pays, then compares. The persistent refusals come before the brake
  because power-cycling does not help with them, so they are what the user must be told.
- Brake: after BRAKE wrong PINs in a row, no PIN is checked until a power cycle (or a finger
  match). The counter lives in RAM only and restarts at boot by design (as on FIDO2 keys);
  t still counts the wrong PINs.
- At 0 tries PIN entry stays blocked until a finger match (which restores max_tries) or a wipe.
- A wrong PIN or finger locks the token. FINGER_LIMIT failed matches in a row disable the
  finger unlock until a correct PIN.
- wipe_after (0 = off, else max_tries..99): when w reaches it, on_wipe() erases the vault,
  then the PIN and counters are cleared (the settings stay) and verify raises `wiped`. Only a
  correct PIN resets w; a finger match restores the tries but not w, so wipe_after counts
  wrong PINs across finger unlocks (otherwise any value above max_tries could never be
  reached). A power cut before the wipe finished leaves it due (`wipe_due()`): the token
  stays locked and the next PIN or finger attempt, or the app at boot (`wipe()`), finishes it.
- Settings change only while open (the owner is present): a new max_tries also resets t, a
  new wipe_after also resets w.
- Auto-lock: an open token locks itself after auto_lock_s seconds (0 = never) without
  `touch`; the app calls `tick` with ticks_ms.
"""

import json
import os
from time import ticks_diff

from authtok.errors import Error
from authtok.store import Corrupt, same

# Heap: the firmware runs from .mpy, whose bytecode lives in the heap; every function, long
# string and module-level entry costs there (tests/firmware/test_heap.py).
MAX_TRIES = 8  # default of the max_tries setting
BRAKE = 3  # wrong PINs in a row before a power cycle is needed
FINGER_LIMIT = 5  # failed finger matches in a row before the PIN is needed
_SETTINGS = {"max_tries": "m", "wipe_after": "x", "auto_lock_s": "a"}  # a wipe keeps "mxa"


def pbkdf2(pin, salt, iterations=2000):
    """PBKDF2-HMAC-SHA256, one 32-byte block (RFC 8018), on hashlib alone."""
    from hashlib import sha256

    key = pin if len(pin) <= 64 else sha256(pin).digest()
    key = key + bytes(64 - len(key))
    ipad = bytearray(64)
    opad = bytearray(64)
    for i in range(64):
        ipad[i] = key[i] ^ 0x36
        opad[i] = key[i] ^ 0x5C
    u = salt + b"\x00\x00\x00\x01"
    acc = 0
    for _ in range(iterations):  # U1 = PRF(salt || INT(1)), then Un = PRF(Un-1)
        u = sha256(opad + sha256(ipad + u).digest()).digest()
        acc ^= int.from_bytes(u, "big")
    return acc.to_bytes(32, "big")


def check_pin_format(pin):
    """The PIN as bytes: 4 characters or more, at most 64 bytes, and no half of a JSON
    surrogate pair (send UTF-8 instead)."""
    raw = pin.encode() if isinstance(pin, str) else b""
    ok = bool(raw) and 4 <= len(pin) and len(raw) <= 64
    at = raw.find(b"\xed")  # bytes, not characters: iterating a str interns each one
    while ok and at >= 0:  # ED A0..BF: U+D800..DFFF in MicroPython's UTF-8
        ok = raw[at + 1] < 0xA0
        at = raw.find(b"\xed", at + 1)
    if not ok:
        raise Error("bad_param", "PIN: 4 chars to 64 bytes")
    return raw


class Lock:
    def __init__(self, sealed, random=os.urandom, on_wipe=None):
        """`on_wipe()` erases everything the lock protects (the vault); without it the token
        refuses to turn wipe_after on, and a due wipe keeps it locked (fails closed)."""
        self._sealed = sealed
        self._random = random
        self._on_wipe = on_wipe
        self.unlocked = self.corrupt = self._charged = False
        # _charged: finger_begin paid for the attempt finger_result reports
        self.finger_id = None  # the sensor's id of the finger that last unlocked (RAM only)
        self._row = 0  # wrong PINs in a row since boot: the brake (RAM only, by design)
        self._idle = None  # ticks_ms of the last activity; None: start at the next tick
        self.saved = {}  # type: dict
        self.save({}, False)  # sets saved, pin_set and tries_left

    def load(self):
        """Read the lock state. A damaged one fails closed: locked, and no PIN can open it."""
        try:
            plain = self._sealed.load()
        except Corrupt:
            self.corrupt = self.pin_set = True
            raise
        self.save(json.loads(plain) if plain else {}, False)

    def save(self, new_state=None, write=True):
        """Persist `new_state` (default: the current one); RAM (`saved`, `pin_set`,
        `tries_left`) follows only a successful write. `write=False`: RAM only (load)."""
        new_state = self.saved if new_state is None else new_state
        if write:
            self._sealed.save((json.dumps(new_state).encode(),))
        self.saved = new_state  # the sealed state as last read or written
        self.pin_set = self.corrupt or "h" in new_state
        self.tries_left = self.get("t")

    def get(self, key):
        """A number from the saved state (module docstring), or its default."""
        if key == "t":
            return self.saved.get("t", self.get("m"))
        default = MAX_TRIES if key == "m" else 300 if key == "a" else 0  # auto_lock_s 300
        return self.saved.get(key, default)

    def wipe_due(self, refuse=False):
        """The wrong PIN that reached wipe_after was paid for, but the wipe did not finish:
        the token stays locked until it is done (app at boot, or the next attempt).

        `refuse=True` (private): raise the refusals PIN and finger share, in the order of the
        module docstring, finishing a due wipe (one method: each costs heap)."""
        due = self.pin_set and 0 < self.get("x") <= self.get("w")
        if refuse:
            if self.corrupt:
                raise Error("lock_corrupt", "PIN state damaged")
            if not self.pin_set:
                raise Error("pin_not_set", "no PIN set")
            if due:
                self.wipe()
                raise Error("wiped", "wiped after wrong PINs")
        return due

    def is_open(self):
        return not self.corrupt and not self.wipe_due() and (self.unlocked or not self.pin_set)

    def require(self):
        if not self.is_open():
            raise Error("locked", "token locked: enter PIN")

    def state(self):
        """The lock's state for the protocol (no secret in it)."""
        f = self.get("f")
        return dict(
            pin=self.pin_set,
            locked=not self.is_open(),
            tries_left=self.tries_left,
            max_tries=self.get("m"),
            wipe_after=self.get("x"),
            brake=self._row >= BRAKE,
            finger_fails=f,
            finger_locked=f >= FINGER_LIMIT,
            auto_lock_s=self.get("a"),
        )

    # -- PIN

    def set_pin(self, pin):
        """Set the first PIN (token open), or a new one after `verify` (pin change)."""
        raw = check_pin_format(pin)
        self.require()
        salt = self._random(16)
        self.save(dict(self.saved, s=salt.hex(), h=pbkdf2(raw, salt).hex(), t=self.get("m")))
        self.unlocked = True

    def verify(self, pin):
        """Check a PIN: refusals that cost nothing first, then pay the try, then compare."""
        self.wipe_due(True)
        t = self.tries_left
        if t <= 0:
            raise Error("pin_blocked", "too many wrong PINs", tries_left=0)
        if self._row >= BRAKE:  # the message says BRAKE (3)
            raise Error("pin_brake", "3 wrong PINs: power-cycle", tries_left=t)
        self.save(dict(self.saved, t=t - 1, w=self.get("w") + 1))
        self._row += 1  # after the save: an attempt that was not paid for is not counted
        raw = pin.encode() if isinstance(pin, str) else b""
        if not same(pbkdf2(raw, bytes.fromhex(self.saved["s"])), bytes.fromhex(self.saved["h"])):
            self.unlocked = False
            self.wipe_due(True)  # wipes now if this wrong PIN reached wipe_after
            raise Error("bad_pin", "wrong PIN", tries_left=self.tries_left)
        self.finger_result(True, self.finger_id, 0)  # a success, as a finger's (below)

    # -- finger

    def finger_begin(self):
        """Pay for a finger attempt before the sensor searches (call it once the sensor holds
        an image), so a power cut after the sensor's verdict cannot hide a failed match."""
        self.wipe_due(True)
        f = self.get("f")
        if f >= FINGER_LIMIT:
            raise Error("finger_limit", "too many fails: use PIN")
        self.save(dict(self.saved, f=f + 1))
        self._charged = True

    def finger_result(self, matched, finger_id=None, w=None):
        """Report the sensor's verdict. A match opens the token and restores the PIN tries
        and the finger counter; a mismatch locks it and raises bad_finger. Pays first if
        finger_begin was not called.

        A success (also `verify`'s, which passes w=0: a correct PIN restarts the wipe_after
        count, a finger does not): tries restored, fingers freed, open, brake released, and
        the idle timer restarts at the next tick."""
        if w is None and not self._charged:
            self.finger_begin()
        self._charged = False
        if not matched:
            self.unlocked = False
            left = FINGER_LIMIT - self.get("f")
            raise Error("bad_finger", "finger not recognised", finger_tries_left=left)
        new = dict(self.saved, t=self.get("m"), f=0)
        if w is not None:
            new["w"] = w
        self.save(new)
        self.unlocked = True
        self._row = 0
        self._idle = None
        self.finger_id = finger_id

    # -- wipe

    def wipe(self):
        """Erase the vault, then the PIN and counters (settings stay; a damaged state is
        replaced by a blank one). Vault first: a cut in between leaves a due wipe due."""
        if self._on_wipe is None:
            raise RuntimeError("no on_wipe")  # a wiring bug: stay locked
        self._on_wipe()
        old = self.saved  # {} when damaged: nothing of it is trusted
        new = {}
        for k in "mxa":  # the settings
            if k in old:
                new[k] = old[k]
        self.save(new)
        self.corrupt = self.unlocked = self.pin_set = self._charged = False
        self._row = 0

    # -- auto-lock

    def touch(self, now_ms=None):
        """User activity or an authenticated request: the idle time starts over. As `lock()`
        (no time): lock now (one method for both: each costs heap)."""
        if now_ms is None:
            self.unlocked = False
        else:
            self._idle = now_ms

    lock = touch

    def tick(self, now_ms):
        """Call often with time.ticks_ms(); True if the token just locked itself for being
        idle auto_lock_s seconds. Calls must come less than ~6 days apart (ticks wrap)."""
        limit = self.get("a") * 1000
        if not (self.unlocked and self.pin_set and limit):
            return False
        if self._idle is None:  # just unlocked: the idle time starts now
            self._idle = now_ms
            return False
        if ticks_diff(now_ms, self._idle) < limit:
            return False
        self.unlocked = False
        return True

    # -- settings

    def set_setting(self, name, value):
        """Change one policy setting; the token must be open (it is its owner's policy).
        max_tries 3..15 (at most wipe_after) now also sets the tries (the owner is present);
        wipe_after 0 or max_tries..99, only with an on_wipe (or a due wipe could never
        happen), restarts its count of wrong PINs; auto_lock_s 0 or 15..86400."""
        self.require()
        key = _SETTINGS.get(name) if isinstance(name, str) else None
        if key == "x" and value is None:
            value = 0
        ok = type(value) is int
        if key == "m":
            ok = ok and 3 <= value <= 15 and not 0 < self.get("x") < value
        elif key == "x":
            ok = ok and (value == 0 or bool(self._on_wipe) and self.get("m") <= value <= 99)
        else:
            ok = ok and bool(key) and (value == 0 or 15 <= value <= 86400)
        if not ok:
            raise Error("bad_param", "unknown setting or bad value")
        new = dict(self.saved)
        new[key] = value
        if key == "m":
            new["t"] = value
        elif key == "x":
            new["w"] = 0
        self.save(new)
