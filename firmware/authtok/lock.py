"""App Lock: the PIN, its counters, the finger unlock, auto-lock and wipe-after.

Until a PIN is set the token is open. Once set, codes and changes need an unlock, by PIN or by
finger. The PIN is kept only as a salted PBKDF2-HMAC-SHA256 hash inside a sealed file, next to
the counters and the policy settings (keys of the sealed JSON object):

    s, h  PIN salt and hash             t  PIN tries left (max_tries after a success)
    w     wrong PINs since the last     f  failed finger matches since the last success
          correct one (for wipe_after)  m, x, a  max_tries, wipe_after, auto_lock_s

`get(key)` reads them with their defaults (one method, not a property each: each costs heap).

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

MAX_TRIES = 8  # default of the max_tries setting
BRAKE = 3  # wrong PINs in a row before a power cycle is needed
FINGER_LIMIT = 5  # failed finger matches in a row before the PIN is needed
AUTO_LOCK_S = 300  # default of the auto_lock_s setting
_ITERATIONS = 2000
_DEFAULTS = {"m": MAX_TRIES, "a": AUTO_LOCK_S}  # every other number defaults to 0
_SETTINGS = {"max_tries": "m", "wipe_after": "x", "auto_lock_s": "a"}  # a wipe keeps these


def pbkdf2(pin, salt, iterations=_ITERATIONS):
    """PBKDF2-HMAC-SHA256, one 32-byte block (RFC 8018), on hashlib alone."""
    import hashlib

    key = pin if len(pin) <= 64 else hashlib.sha256(pin).digest()
    key = key + bytes(64 - len(key))
    ipad = bytes(b ^ 0x36 for b in key)
    opad = bytes(b ^ 0x5C for b in key)

    def prf(msg):
        return hashlib.sha256(opad + hashlib.sha256(ipad + msg).digest()).digest()

    u = prf(salt + b"\x00\x00\x00\x01")
    acc = int.from_bytes(u, "big")
    for _ in range(iterations - 1):
        u = prf(u)
        acc ^= int.from_bytes(u, "big")
    return acc.to_bytes(32, "big")


def check_pin_format(pin):
    if not isinstance(pin, str) or not 4 <= len(pin) or len(pin.encode()) > 64:
        raise Error("bad_param", "PIN must be 4 characters or more, and at most 64 bytes")
    for ch in pin:
        if 0xD800 <= ord(ch) <= 0xDFFF:  # half a JSON surrogate pair: send UTF-8 instead
            raise Error("bad_param", "PIN must be valid text")
    return pin.encode()


class Lock:
    def __init__(self, sealed, random=os.urandom, on_wipe=None):
        """`on_wipe()` erases everything the lock protects (the vault); without it the token
        refuses to turn wipe_after on, and a due wipe keeps it locked (fails closed)."""
        self._sealed = sealed
        self._random = random
        self._on_wipe = on_wipe
        self.saved = {}  # the sealed state as last read or written
        self.unlocked = False
        self.corrupt = False
        self.finger_id = None  # the sensor's id of the finger that last unlocked (RAM only)
        self._row = 0  # wrong PINs in a row since boot: the brake (RAM only, by design)
        self._idle = None  # ticks_ms of the last activity; None: start at the next tick
        self._charged = False  # finger_begin paid for the attempt finger_result reports

    def load(self):
        """Read the lock state. A damaged one fails closed: locked, and no PIN can open it."""
        try:
            plain = self._sealed.load()
        except Corrupt:
            self.corrupt = True
            raise
        self.saved = json.loads(plain) if plain else {}

    def save(self, new_state=None):
        """Persist `new_state` (default: the current one); RAM (`saved`) follows only a
        successful write."""
        new_state = self.saved if new_state is None else new_state
        self._sealed.save((json.dumps(new_state).encode(),))
        self.saved = new_state

    # -- what the state says (plain lookups: every property would cost the heap)

    def get(self, key):
        """A number from the saved state (module docstring), or its default."""
        if key == "t":
            return self.saved.get("t", self.get("m"))
        return self.saved.get(key, _DEFAULTS.get(key, 0))

    @property
    def pin_set(self):
        return self.corrupt or "h" in self.saved

    @property
    def tries_left(self):
        return self.get("t")

    def wipe_due(self):
        """The wrong PIN that reached wipe_after was paid for, but the wipe did not finish:
        the token stays locked until it is done (app at boot, or the next attempt)."""
        return self.pin_set and 0 < self.get("x") <= self.get("w")

    def is_open(self):
        return not self.corrupt and not self.wipe_due() and (self.unlocked or not self.pin_set)

    def require(self):
        if not self.is_open():
            raise Error("locked", "the token is locked: unlock it with the PIN")

    def state(self):
        """The lock's state for the protocol (no secret in it)."""
        f = self.get("f")
        return {
            "pin": self.pin_set,
            "locked": not self.is_open(),
            "tries_left": self.get("t"),
            "max_tries": self.get("m"),
            "wipe_after": self.get("x"),
            "brake": self._row >= BRAKE,
            "finger_fails": f,
            "finger_locked": f >= FINGER_LIMIT,
            "auto_lock_s": self.get("a"),
        }

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
        self._usable()
        if self.get("t") <= 0:
            raise Error("pin_blocked", "too many wrong PINs: PIN entry is blocked", tries_left=0)
        if self._row >= BRAKE:
            msg = "%d wrong PINs in a row: power-cycle the token to try again" % BRAKE
            raise Error("pin_brake", msg, tries_left=self.get("t"))
        self.save(dict(self.saved, t=self.get("t") - 1, w=self.get("w") + 1))
        self._row += 1  # after the save: an attempt that was not paid for is not counted
        raw = pin.encode() if isinstance(pin, str) else b""
        if not same(pbkdf2(raw, bytes.fromhex(self.saved["s"])), bytes.fromhex(self.saved["h"])):
            self.unlocked = False
            self._usable()  # wipes now if this wrong PIN reached wipe_after
            raise Error("bad_pin", "wrong PIN", tries_left=self.get("t"))
        self.save(dict(self.saved, t=self.get("m"), w=0, f=0))  # the PIN also frees fingers
        self._opened()

    def _usable(self):
        """The refusals PIN and finger share, in the order of the module docstring."""
        if self.corrupt:
            raise Error("lock_corrupt", "the PIN state failed its integrity check")
        if not self.pin_set:
            raise Error("pin_not_set", "no PIN is set")
        if self.wipe_due():
            self.wipe()
            raise Error("wiped", "too many wrong PINs: the token was wiped")

    def lock(self):
        self.unlocked = False

    def _opened(self):
        """A success: open, brake released, and the idle timer restarts at the next tick."""
        self.unlocked = True
        self._row = 0
        self._idle = None
        self._charged = False

    # -- finger

    def finger_begin(self):
        """Pay for a finger attempt before the sensor searches (call it once the sensor holds
        an image), so a power cut after the sensor's verdict cannot hide a failed match."""
        self._usable()
        if self.get("f") >= FINGER_LIMIT:
            raise Error("finger_limit", "too many failed fingers: enter the PIN")
        self.save(dict(self.saved, f=self.get("f") + 1))
        self._charged = True

    def finger_result(self, matched, finger_id=None):
        """Report the sensor's verdict. A match opens the token and restores the PIN tries
        and the finger counter; a mismatch locks it and raises bad_finger. Pays first if
        finger_begin was not called."""
        if not self._charged:
            self.finger_begin()
        self._charged = False
        if not matched:
            self.unlocked = False
            left = FINGER_LIMIT - self.get("f")
            raise Error("bad_finger", "finger not recognised", finger_tries_left=left)
        self.save(dict(self.saved, t=self.get("m"), f=0))
        self._opened()
        self.finger_id = finger_id

    # -- wipe

    def wipe(self):
        """Erase the vault, then the PIN and counters (settings stay; a damaged state is
        replaced by a blank one). Vault first: a cut in between leaves a due wipe due."""
        if self._on_wipe is None:
            raise RuntimeError("no on_wipe")  # a wiring bug: stay locked
        self._on_wipe()
        old = self.saved  # {} when damaged: nothing of it is trusted
        self.save({k: old[k] for k in _SETTINGS.values() if k in old})
        self.corrupt = False
        self.unlocked = False
        self._row = 0
        self._charged = False

    # -- auto-lock

    def touch(self, now_ms):
        """User activity or an authenticated request: the idle time starts over."""
        self._idle = now_ms

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
        self.lock()
        return True

    # -- settings

    def set_setting(self, name, value):
        """Change one policy setting; the token must be open (it is its owner's policy).
        max_tries now also sets the tries (the owner is present), and wipe_after restarts
        its count of wrong PINs."""
        self.require()
        key = _SETTINGS.get(name) if isinstance(name, str) else None
        if key == "x" and value is None:
            value = 0
        if key is None or type(value) is not int or not self._allowed(key, value):
            msg = "max_tries 3..15, wipe_after 0 or max_tries..99, auto_lock_s 0 or 15..86400"
            raise Error("bad_param", msg)
        new = dict(self.saved)
        new[key] = value
        if key == "m":
            new["t"] = value
        elif key == "x":
            new["w"] = 0
        self.save(new)

    def _allowed(self, key, value):
        """The ranges; wipe_after only with an on_wipe, or a due wipe could never happen."""
        if key == "m":
            return 3 <= value <= 15 and not 0 < self.get("x") < value
        if key == "x":
            return value == 0 or self._on_wipe is not None and self.get("m") <= value <= 99
        return value == 0 or 15 <= value <= 86400
