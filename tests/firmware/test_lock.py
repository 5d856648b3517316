"""App Lock (firmware/authtok/lock.py) under real MicroPython, on littlefs2."""

import hashlib

from mp_helpers import results, script

KEY = bytes(range(32))
SALT = bytes(range(100, 116))

PBKDF2_CASES = [
    (b"1234", SALT, 2000),
    (b"", b"salt", 1),
    (b"0000", b"", 2),
    (b"x" * 64, SALT, 3),
    (b"y" * 65, SALT, 2),  # longer than the SHA-256 block: the key is hashed first
    (b"z" * 200, b"s" * 40, 5),
    ("é日本".encode() * 5, SALT, 2000),
]

PBKDF2 = """
from authtok.lock import pbkdf2

for n, (pin, salt, it) in enumerate(CASES):
    R("c%d" % n, pbkdf2(pin, salt, it).hex())
R("default", pbkdf2(b"2468", SALT).hex())
"""


def test_pbkdf2_matches_hashlib(run_mp):
    res = results(run_mp(script(PBKDF2, CASES=PBKDF2_CASES, SALT=SALT)))
    for n, (pin, salt, it) in enumerate(PBKDF2_CASES):
        assert res[f"c{n}"] == hashlib.pbkdf2_hmac("sha256", pin, salt, it, 32).hex(), n
    assert res["default"] == hashlib.pbkdf2_hmac("sha256", b"2468", SALT, 2000, 32).hex()


LOCK = """
from authtok.lock import MAX_TRIES, Lock
from authtok.store import Sealed

mount(IMG)


def fresh():
    lk = Lock(Sealed("/flash/lock", KEY, b"lock"))
    lk.load()
    return lk


def status(lk):
    return [lk.pin_set, lk.is_open(), lk.tries_left]


lk = fresh()
R("max", MAX_TRIES)
R("new", status(lk) + [catch(lk.require)[0], catch(lk.verify, "1234")[:2]])

R("formats", [catch(lk.set_pin, p)[:2] for p in BAD_PINS] + [exists("/flash/lock")])

lk.set_pin("2468")
R("set", status(lk) + [status(fresh())])
stored = Sealed("/flash/lock", KEY, b"lock").load()
R("stored", [lk.state["s"], lk.state["h"], b"2468" not in stored])

lk.lock()
R("locked", status(lk) + [catch(lk.require)[:2], catch(lk.set_pin, "1357")[:2]])

first, second = catch(lk.verify, "0000"), catch(lk.verify, "0000")
R("wrong", [first[1], second[3]] + status(lk) + [status(fresh())])
R("right", catch(lk.verify, "2468")[:2] + status(lk) + [status(fresh())])

# Change the PIN while unlocked: the old one stops working.
lk.set_pin("é" * 32)  # 64 bytes of UTF-8
lk.lock()
old_pin = catch(lk.verify, "2468")[:2]
tries = lk.tries_left
R("changed", [old_pin, tries, catch(lk.verify, "é" * 32)[:2], lk.tries_left])
R("not_text", [catch(lk.verify, None)[:2], lk.is_open()])
lk.verify("é" * 32)

# Eight wrong PINs block PIN entry, even for the right PIN, and across a reload.
lk.lock()
R("wrongs", [catch(lk.verify, "%04d" % k)[1::2] for k in range(MAX_TRIES)])
R("blocked", catch(lk.verify, "é" * 32)[1::2] + status(lk))
again = fresh()
R("blocked_reload", catch(again.verify, "é" * 32)[1::2] + status(again))

# A damaged PIN file fails closed: locked, and no PIN opens it.
blob = bytearray(read("/flash/lock"))
blob[-1] ^= 1
write("/flash/lock", blob)
damaged = Lock(Sealed("/flash/lock", KEY, b"lock"))
R("damaged", [catch(damaged.load)[0], damaged.is_open(), catch(damaged.require)[1],
              catch(damaged.verify, "é" * 32)[1], catch(damaged.set_pin, "9999")[1]])
"""

BAD_PINS = ["123", "x" * 65, "é" * 33, "", 1234, None, b"1234", ["1", "2", "3", "4"]]


def test_set_verify_retry_counter_and_blocking(run_mp, tmp_path):
    img = str(tmp_path / "flash.img")
    res = results(run_mp(script(LOCK, IMG=img, KEY=KEY, BAD_PINS=BAD_PINS)))
    assert res["max"] == 8
    assert res["new"] == [False, True, 8, "ok", ["Error", "pin_not_set"]]
    assert res["formats"] == [["Error", "bad_param"]] * len(BAD_PINS) + [False]
    assert res["set"] == [True, True, 8, [True, False, 8]]  # a reboot starts locked
    salt, digest, no_pin = res["stored"]
    assert digest == hashlib.pbkdf2_hmac("sha256", b"2468", bytes.fromhex(salt), 2000, 32).hex()
    assert len(bytes.fromhex(salt)) == 16 and no_pin
    assert res["locked"] == [True, False, 8, ["Error", "locked"], ["Error", "locked"]]
    # two wrong PINs: 7 then 6 tries left, persisted
    assert res["wrong"] == ["bad_pin", {"tries_left": 6}, True, False, 6, [True, False, 6]]
    assert res["right"] == ["ok", None, True, True, 8, [True, False, 8]]
    assert res["changed"] == [["Error", "bad_pin"], 7, ["ok", None], 8]
    assert res["not_text"][0][1] in ("bad_pin", "bad_param") and res["not_text"][1] is False
    assert res["wrongs"] == [["bad_pin", {"tries_left": 7 - k}] for k in range(8)]
    blocked = ["pin_blocked", {"tries_left": 0}]
    assert res["blocked"] == blocked + [True, False, 0]
    assert res["blocked_reload"] == blocked + [True, False, 0]
    loaded, is_open, require, verify, set_pin = res["damaged"]
    assert loaded == "Corrupt" and is_open is False and require == "locked"
    assert verify not in (None, "bad_pin") and set_pin is not None


POWER_CUT = """
import authtok.lock as L
from authtok.store import Sealed

mount(IMG)


def fresh():
    lk = L.Lock(Sealed("/flash/lock", KEY, b"lock"))
    lk.load()
    return lk


class PowerCut(Exception):
    pass


lk = fresh()
lk.set_pin("2468")
lk.lock()
orig = L.pbkdf2
seen = []


def cut(*args):
    # The check is about to run: what does the flash say right now? Then the power goes.
    seen.append(fresh().tries_left)
    raise PowerCut()


L.pbkdf2 = cut
try:
    R("cut_right", catch(lk.verify, "2468")[0])  # even the right PIN
    R("cut_wrong", catch(fresh().verify, "0000")[0])
finally:
    L.pbkdf2 = orig
after = fresh()
R("after_cut", [seen, after.tries_left, after.is_open()])
R("recovers", [catch(after.verify, "2468")[0], after.tries_left, fresh().tries_left])

# A write that fails before the check: no check runs, so nothing is learnt about the PIN.
calls = []


def counted(*args):
    calls.append(1)
    return orig(*args)


class BadFlash:
    def __init__(self, inner):
        self.inner = inner
        self.generation = inner.generation

    def load(self):
        return self.inner.load()

    def save(self, parts):
        raise OSError(28)


L.pbkdf2 = counted
try:
    lk = L.Lock(BadFlash(Sealed("/flash/lock", KEY, b"lock")))
    lk.load()
    outcomes = [catch(lk.verify, "2468")[0], catch(lk.verify, "0000")[0]]
    R("bad_flash", outcomes + [len(calls), lk.is_open()])
finally:
    L.pbkdf2 = orig
R("bad_flash_after", fresh().tries_left)
"""


def test_counter_persisted_before_the_check(run_mp, tmp_path):
    res = results(run_mp(script(POWER_CUT, IMG=str(tmp_path / "flash.img"), KEY=KEY)))
    assert res["cut_right"] == "PowerCut"
    assert res["cut_wrong"] == "PowerCut"
    # At each check the flash already held the decremented counter, and it stayed so.
    assert res["after_cut"] == [[7, 6], 6, False]
    assert res["recovers"] == ["ok", 8, 8]
    assert res["bad_flash"] == ["OSError", "OSError", 0, False]
    assert res["bad_flash_after"] == 8
