"""App Lock over serial: the PIN and its retry counter.

Until a PIN is set the token is open. Once set, codes and changes need an unlock. The retry
counter is decremented and persisted *before* the PIN is checked, so cutting the power
between the check and the update never buys an extra guess; a right PIN restores it.
The PIN is kept only as a salted PBKDF2-HMAC-SHA256 hash inside a sealed file.
"""

import json
import os

from authtok.errors import Error
from authtok.store import Corrupt, same

MAX_TRIES = 8
_ITERATIONS = 2000


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
    def __init__(self, sealed, random=os.urandom):
        self._sealed = sealed
        self._random = random
        self.state = {}
        self.unlocked = False
        self.corrupt = False

    def load(self):
        """Read the PIN state. A damaged one fails closed: locked, and no PIN can open it."""
        try:
            plain = self._sealed.load()
        except Corrupt:
            self.corrupt = True
            raise
        self.state = json.loads(plain) if plain else {}

    def save(self, state=None):
        """Persist `state` (default: the current one); RAM follows only a successful write."""
        state = self.state if state is None else state
        self._sealed.save((json.dumps(state).encode(),))
        self.state = state

    @property
    def pin_set(self):
        return self.corrupt or "h" in self.state

    @property
    def tries_left(self):
        return self.state.get("t", MAX_TRIES)

    def is_open(self):
        return not self.corrupt and (self.unlocked or not self.pin_set)

    def require(self):
        if not self.is_open():
            raise Error("locked", "the token is locked: unlock it with the PIN")

    def set_pin(self, pin):
        """Set the first PIN (token open), or a new one after `verify` (pin change)."""
        raw = check_pin_format(pin)
        self.require()
        salt = self._random(16)
        self.save(dict(self.state, s=salt.hex(), h=pbkdf2(raw, salt).hex(), t=MAX_TRIES))
        self.unlocked = True

    def verify(self, pin):
        if self.corrupt:
            raise Error("lock_corrupt", "the PIN state failed its integrity check")
        if not self.pin_set:
            raise Error("pin_not_set", "no PIN is set")
        if self.tries_left <= 0:
            raise Error("pin_blocked", "too many wrong PINs: PIN entry is blocked", tries_left=0)
        self.save(dict(self.state, t=self.tries_left - 1))
        raw = pin.encode() if isinstance(pin, str) else b""
        good = same(pbkdf2(raw, bytes.fromhex(self.state["s"])), bytes.fromhex(self.state["h"]))
        if not good:
            self.unlocked = False
            raise Error("bad_pin", "wrong PIN", tries_left=self.tries_left)
        self.save(dict(self.state, t=MAX_TRIES))
        self.unlocked = True

    def lock(self):
        self.unlocked = False
