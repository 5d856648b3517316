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
R("stored", [lk.saved["s"], lk.saved["h"], b"2468" not in stored])

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

# Eight wrong PINs block PIN entry, even for the right PIN, and across a reload. A power cycle
# after every third releases the brake (tested on its own below).
lk.lock()
wrongs = []
for k in range(MAX_TRIES):
    if k and k % 3 == 0:
        lk = fresh()
    wrongs.append(catch(lk.verify, "%04d" % k)[1::2])
R("wrongs", wrongs)
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


# The full policy. KIT: the sealed lock file behind a switch that cuts the power at a chosen
# save (before it writes anything), boot() for a power cycle (a new Lock from the same file,
# RAM gone), an on_wipe that records its calls, and a count of PIN checks (PBKDF2 runs).
KIT = """
import time

import authtok.lock as L
from authtok.store import Sealed

wipes = []
checks = []
_pbkdf2 = L.pbkdf2


def counting(*args):
    checks.append(1)
    return _pbkdf2(*args)


L.pbkdf2 = counting


class PowerCut(Exception):
    pass


class Flash:
    saves_left = None  # None: no cut planned; n: n more saves succeed, the next one is cut
    wipe_cut = False  # the power goes inside on_wipe, before it erased anything

    def __init__(self):
        self.inner = Sealed("/flash/lock", KEY, b"lock")

    def load(self):
        return self.inner.load()

    def save(self, parts):
        if Flash.saves_left is not None:
            if Flash.saves_left == 0:
                Flash.saves_left = None
                raise PowerCut()
            Flash.saves_left -= 1
        return self.inner.save(parts)


def cut_after(n):
    Flash.saves_left = n


def erase():
    if Flash.wipe_cut:
        Flash.wipe_cut = False
        raise PowerCut()
    wipes.append(len(checks))


def boot(on_wipe=True):
    Flash.saves_left = None
    lk = L.Lock(Flash(), on_wipe=erase if on_wipe else None)
    try:
        lk.load()
    except Exception:
        pass  # a damaged file: lk.corrupt
    return lk


def code(f, *args):
    # "ok", the Error's code, or the other exception's type
    r = catch(f, *args)
    return r[1] if r[0] == "Error" else r[0]


def wrongs(lk, n, pin="0000"):
    # n wrong PINs, power-cycling whenever the brake is on; returns the Lock and
    # [code, wipes so far] per attempt
    out = []
    for _ in range(n):
        if lk.state()["brake"]:
            lk = boot()
        out.append([code(lk.verify, pin), len(wipes)])
    return lk, out
"""


def run_kit(run_mp, tmp_path, body):
    return results(run_mp(script(body, KIT, IMG=str(tmp_path / "flash.img"), KEY=KEY)))


BRAKE = """
mount(IMG)
lk = boot()
lk.set_pin("2468")
lk = boot()
three = [code(lk.verify, "0000") for _ in range(3)]
R("three", three + [lk.tries_left, lk.state()["brake"], lk.state()["brake"]])
n = len(checks)
refused = [catch(lk.verify, "0000")[1::2], catch(lk.verify, "2468")[1::2]]
R("refused", refused + [len(checks) - n, lk.tries_left, boot().tries_left, lk.is_open()])
lk = boot()  # the brake is RAM only: a power cycle releases it, the tries stay spent
R("cycled", [lk.state()["brake"], lk.tries_left, code(lk.verify, "2468"), lk.tries_left])
lk.lock()
R("row", [code(lk.verify, p) for p in ["0000", "0000", "2468", "0000", "0000", "2468"]])
lk.lock()
lk, spent = wrongs(lk, 6)  # 3, power cycle, 3: all counted on flash
R("counted", [spent, lk.tries_left, code(lk.verify, "2468"), boot().tries_left])
lk.finger_result(True)  # a finger match releases the brake too
R("finger", [lk.is_open(), lk.state()["brake"], lk.tries_left, code(lk.verify, "0000")])
"""


def test_brake_needs_a_power_cycle_and_the_counter_survives_it(run_mp, tmp_path):
    res = run_kit(run_mp, tmp_path, BRAKE)
    assert res["three"] == ["bad_pin"] * 3 + [5, True, True]
    brake = ["pin_brake", {"tries_left": 5}]
    # neither PIN is checked nor paid for while braked, the right one included
    assert res["refused"] == [brake, brake, 0, 5, 5, False]
    assert res["cycled"] == [False, 5, "ok", 8]
    assert res["row"] == ["bad_pin", "bad_pin", "ok", "bad_pin", "bad_pin", "ok"]
    assert res["counted"] == [[["bad_pin", 0]] * 6, 2, "pin_brake", 2]
    assert res["finger"] == [True, False, 8, "bad_pin"]


FINGER = """
mount(IMG)
lk = boot()
lk.set_pin("2468")
lk = boot()
lk, spent = wrongs(lk, 8)
R("blocked", [spent[-1][0], code(lk.verify, "2468"), code(boot().verify, "2468"), lk.state()])
lk.finger_result(True, 3)
again = boot()
R("unblocked", [lk.is_open(), lk.tries_left, lk.finger_id, again.tries_left, again.is_open()])
lk = again
R("fails", [catch(lk.finger_result, False)[1::2] for _ in range(5)])
R("limit", [code(lk.finger_result, True), code(lk.finger_result, False), code(lk.finger_begin),
            lk.get("f"), lk.is_open()])
lk = boot()
R("limit_boot", [code(lk.finger_result, True), lk.state()["finger_locked"],
                 lk.state()["finger_fails"], lk.is_open()])
R("pin_frees", [code(lk.verify, "2468"), lk.get("f"), boot().get("f")])
lk.lock()
R("match_again", [code(lk.finger_result, True, 1), lk.is_open(), lk.finger_id])
# A mismatch locks an open token; a match resets the count, so the limit needs 5 in a row.
mixed = [code(lk.finger_result, m) for m in [False] * 4 + [True] + [False] * 4]
R("mixed", mixed + [lk.get("f"), lk.state()["finger_locked"], lk.is_open()])
lk.finger_result(True)
nopin = L.Lock(Sealed("/flash/other", KEY, b"lock"))
nopin.load()
R("no_pin", [code(nopin.finger_result, True), code(nopin.finger_begin), nopin.is_open()])
"""


def test_finger_unlock_restores_tries_and_its_limit_needs_the_pin(run_mp, tmp_path):
    res = run_kit(run_mp, tmp_path, FINGER)
    *codes, state = res["blocked"]
    assert codes == ["bad_pin", "pin_blocked", "pin_blocked"]
    assert state == {
        "pin": True,
        "locked": True,
        "tries_left": 0,
        "max_tries": 8,
        "wipe_after": 0,
        "brake": False,
        "finger_fails": 0,
        "finger_locked": False,
        "auto_lock_s": 300,
    }
    # the finger opens a blocked token and restores the PIN tries, persisted
    assert res["unblocked"] == [True, 8, 3, 8, False]
    assert res["fails"] == [["bad_finger", {"finger_tries_left": k}] for k in (4, 3, 2, 1, 0)]
    assert res["limit"] == ["finger_limit"] * 3 + [5, False]
    assert res["limit_boot"] == ["finger_limit", True, 5, False]
    assert res["pin_frees"] == ["ok", 0, 0]
    assert res["match_again"] == ["ok", True, 1]
    assert res["mixed"] == ["bad_finger"] * 4 + ["ok"] + ["bad_finger"] * 4 + [4, False, False]
    assert res["no_pin"] == ["pin_not_set", "pin_not_set", True]


POWER_CUTS = """
mount(IMG)
lk = boot()
lk.set_pin("2468")
lk = boot()
# PIN: a cut at the payment -> nothing checked, nothing spent; a cut at the success's write ->
# the try stays spent and the token stays locked.
n = len(checks)
cut_after(0)
R("pin_pay", [code(lk.verify, "2468"), len(checks) - n, lk.tries_left, boot().tries_left])
lk = boot()
cut_after(1)
R("pin_success", [code(lk.verify, "2468"), lk.is_open(), lk.tries_left, boot().tries_left])
lk = boot()
lk.verify("2468")
lk.lock()
# Finger: finger_begin pays before the sensor searches, so a cut during the search still
# counts; a mismatch is reported only once paid for; a match whose reset was cut stays counted.
lk.finger_begin()
lk = boot()
R("finger_search", [lk.get("f"), lk.is_open()])
cut_after(0)
R("finger_pay", [code(lk.finger_result, False), lk.get("f"), boot().get("f")])
lk = boot()
cut_after(1)
R("finger_match", [code(lk.finger_result, True), lk.is_open(), boot().get("f")])
lk = boot()
lk.finger_begin()
R("finger_paid", [boot().get("f"), code(lk.finger_result, False), boot().get("f")])
# Settings: a cut write changes nothing, in RAM or on flash.
lk = boot()
lk.verify("2468")
cut_after(0)
R("setting", [code(lk.set_setting, "max_tries", 5), lk.get("m"), boot().get("m")])
"""


def test_a_power_cut_never_gives_an_extra_attempt(run_mp, tmp_path):
    res = run_kit(run_mp, tmp_path, POWER_CUTS)
    assert res["pin_pay"] == ["PowerCut", 0, 8, 8]
    assert res["pin_success"] == ["PowerCut", False, 7, 7]
    assert res["finger_search"] == [1, False]
    assert res["finger_pay"] == ["PowerCut", 1, 1]
    assert res["finger_match"] == ["PowerCut", False, 2]
    assert res["finger_paid"] == [3, "bad_finger", 3]
    assert res["setting"] == ["PowerCut", 8, 8]


WIPE = """
mount(IMG)
lk = boot(on_wipe=False)
lk.set_pin("2468")
R("no_handler", code(lk.set_setting, "wipe_after", 10))
lk = boot()
lk.verify("2468")
lk.set_setting("wipe_after", 10)
lk.set_setting("auto_lock_s", 60)
lk.lock()
lk, log = wrongs(lk, 8)
lk.finger_result(True)  # the tries come back, the wrong-PIN count does not
lk.lock()
lk, more = wrongs(lk, 1)
R("before", [log + more, lk.tries_left, lk.saved["w"], lk.state()["wipe_after"]])
lk = boot()
n = len(checks)
R("fires", [code(lk.verify, "0000"), wipes, n, lk.state(), sorted(boot().saved)])

# A correct PIN restarts the count (here wipe_after == max_tries: wipe when blocked).
lk.set_pin("2468")
lk.set_setting("wipe_after", 8)
lk.lock()
lk, first = wrongs(lk, 7)
ok = code(lk.verify, "2468")
lk.lock()
lk, second = wrongs(lk, 8)
R("restart", [first, ok, second, len(wipes)])

# The power goes inside the wipe: it stays due and the token stays locked (even without a
# handler: fails closed); the next attempt, right PIN or finger, finishes it unchecked.
def due(attempt):
    lk = boot()
    lk.set_pin("2468")
    lk.lock()
    lk, _ = wrongs(lk, 7)
    Flash.wipe_cut = True
    first = code(lk.verify, "0000")
    bare = boot(on_wipe=False)
    lk = boot()
    seen = [first, lk.wipe_due(), lk.is_open(), code(lk.require), lk.state()["locked"],
            code(bare.verify, "2468"), bare.is_open()]
    n, w = len(checks), len(wipes)
    return seen + [code(attempt(lk)), len(checks) - n, len(wipes) - w, lk.pin_set, lk.is_open()]


R("due_pin", due(lambda lk: lambda: lk.verify("2468")))
R("due_finger", due(lambda lk: lambda: lk.finger_result(True)))

# A cut during the decisive check counts as a wrong PIN, even for the right PIN.
lk = boot()
lk.set_pin("2468")
lk.lock()
lk, _ = wrongs(lk, 7)
L.pbkdf2 = lambda *a: (_ for _ in ()).throw(PowerCut())
cut = code(lk.verify, "2468")
L.pbkdf2 = counting
lk = boot()
w = len(wipes)
R("cut_check", [cut, lk.wipe_due(), code(lk.verify, "2468"), len(wipes) - w])

# wipe() also replaces a damaged lock state (the only way out of lock_corrupt).
lk = boot()
lk.set_pin("2468")
blob = bytearray(read("/flash/lock"))
blob[-1] ^= 1
write("/flash/lock", blob)
lk = boot()
before = [lk.corrupt, lk.is_open(), code(lk.finger_result, True), code(lk.set_setting,
          "auto_lock_s", 0)]
lk.wipe()
again = boot()
R("corrupt", before + [lk.corrupt, lk.is_open(), again.corrupt, again.state()])
"""


def test_wipe_after_fires_exactly_when_reached(run_mp, tmp_path):
    res = run_kit(run_mp, tmp_path, WIPE)
    assert res["no_handler"] == "bad_param"
    log, tries, w, wipe_after = res["before"]
    assert log == [["bad_pin", 0]] * 9 and tries == 7 and w == 9 and wipe_after == 10
    codes, wipes, checks_before, state, kept = res["fires"]
    assert codes == "wiped" and wipes == [checks_before + 1]  # once, after the 10th check
    assert state == {
        "pin": False,
        "locked": False,
        "tries_left": 8,
        "max_tries": 8,
        "wipe_after": 10,
        "brake": False,
        "finger_fails": 0,
        "finger_locked": False,
        "auto_lock_s": 60,
    }
    assert kept == ["a", "x"]  # the settings survive the wipe, nothing else
    first, ok, second, n_wipes = res["restart"]
    assert first == [["bad_pin", 1]] * 7 and ok == "ok"
    assert second == [["bad_pin", 1]] * 7 + [["wiped", 2]] and n_wipes == 2
    for key in ("due_pin", "due_finger"):
        # PowerCut, due, locked, require: locked, state locked, no handler: fails closed,
        # then the attempt wipes without a check and the token is blank
        assert res[key] == [
            "PowerCut",
            True,
            False,
            "locked",
            True,
            "RuntimeError",
            False,
            "wiped",
            0,
            1,
            False,
            True,
        ], key
    assert res["cut_check"] == ["PowerCut", True, "wiped", 1]
    assert res["corrupt"][:4] == [True, False, "lock_corrupt", "locked"]
    assert res["corrupt"][4:7] == [False, True, False]
    assert res["corrupt"][7]["pin"] is False and res["corrupt"][7]["max_tries"] == 8


SETTINGS = """
mount(IMG)
lk = boot()
R("defaults", lk.state())
out = []
for name, value in CASES:
    lk.save({})
    out.append(code(lk.set_setting, name, value))
R("cases", out)
lk.save({})
R("pairs", [code(lk.set_setting, n, v) for n, v in [
    ("wipe_after", 10), ("max_tries", 11), ("max_tries", 10), ("wipe_after", 9),
    ("wipe_after", 0), ("max_tries", 15), ("auto_lock_s", 15)]])
lk.set_pin("2468")
lk.set_setting("max_tries", 3)
lk.set_setting("wipe_after", 20)
lk = boot()
R("kept", [lk.state(), code(lk.set_setting, "max_tries", 5)])
lk, spent = wrongs(lk, 3)
R("blocked_first", [spent, catch(lk.verify, "2468")[1::2], lk.state()["brake"]])
lk.finger_result(True)
lk.set_setting("max_tries", 5)
R("max_changed", [lk.tries_left, boot().tries_left])
lk.lock()
lk, _ = wrongs(lk, 2)
lk.finger_result(True)  # open again; finger unlocks left all 5 wrong PINs counted
counted = lk.saved["w"]
lk.set_setting("wipe_after", 20)
R("wipe_restart", [counted, lk.saved["w"], boot().saved["w"]])
"""

SETTING_CASES = [
    ("max_tries", 2, "bad_param"),
    ("max_tries", 3, "ok"),
    ("max_tries", 15, "ok"),
    ("max_tries", 16, "bad_param"),
    ("max_tries", "8", "bad_param"),
    ("max_tries", True, "bad_param"),
    ("max_tries", None, "bad_param"),
    ("max_tries", 8.0, "bad_param"),
    ("wipe_after", 7, "bad_param"),
    ("wipe_after", 8, "ok"),
    ("wipe_after", 99, "ok"),
    ("wipe_after", 100, "bad_param"),
    ("wipe_after", -1, "bad_param"),
    ("wipe_after", 0, "ok"),
    ("wipe_after", None, "ok"),
    ("wipe_after", False, "bad_param"),
    ("auto_lock_s", -1, "bad_param"),
    ("auto_lock_s", 0, "ok"),
    ("auto_lock_s", 14, "bad_param"),
    ("auto_lock_s", 15, "ok"),
    ("auto_lock_s", 86400, "ok"),
    ("auto_lock_s", 86401, "bad_param"),
    ("nope", 1, "bad_param"),
    (None, 1, "bad_param"),
]


def test_settings_are_validated_and_persisted(run_mp, tmp_path):
    cases = [(n, v) for n, v, _ in SETTING_CASES]
    body = SETTINGS.replace("CASES", repr(cases))
    res = run_kit(run_mp, tmp_path, body)
    assert res["defaults"] == {
        "pin": False,
        "locked": False,
        "tries_left": 8,
        "max_tries": 8,
        "wipe_after": 0,
        "brake": False,
        "finger_fails": 0,
        "finger_locked": False,
        "auto_lock_s": 300,
    }
    assert res["cases"] == [want for _, _, want in SETTING_CASES]
    # max_tries may not exceed wipe_after, nor wipe_after fall below max_tries
    assert res["pairs"] == ["ok", "bad_param", "ok", "bad_param", "ok", "ok", "ok"]
    state, locked = res["kept"]
    assert state["max_tries"] == 3 and state["wipe_after"] == 20 and state["auto_lock_s"] == 15
    assert state["tries_left"] == 3 and state["locked"] and locked == "locked"
    # with max_tries 3 the third wrong PIN blocks: pin_blocked is reported before the brake
    assert res["blocked_first"] == [[["bad_pin", 0]] * 3, ["pin_blocked", {"tries_left": 0}], True]
    assert res["max_changed"] == [5, 5]
    # 3 + 2 wrong PINs with finger unlocks between: still counted; setting wipe_after restarts
    assert res["wipe_restart"] == [5, 0, 0]


AUTO_LOCK = """
mount(IMG)
lk = boot()
T = time.ticks_add(0, -1000)  # a second before the ticks wrap


def at(ms):
    return time.ticks_add(T, ms)


R("no_pin", [lk.tick(T), lk.tick(at(10**7)), lk.is_open()])
lk.set_pin("2468")
R("idle", [lk.tick(T), lk.tick(at(299999)), lk.is_open(), lk.tick(at(300000)), lk.is_open(),
           lk.tick(at(300001))])
lk.verify("2468")
lk.tick(T)
lk.touch(at(200000))
R("touch", [lk.tick(at(300000)), lk.tick(at(499999)), lk.is_open(), lk.tick(at(500000))])
lk.touch(T)  # long ago, while locked: an unlock restarts the idle time
lk.verify("2468")
R("unlock", [lk.tick(at(10**6)), lk.tick(at(10**6 + 299999)), lk.is_open()])
lk.lock()
lk.finger_result(True)
R("finger", [lk.tick(at(10**7)), lk.tick(at(10**7 + 299999)), lk.is_open(),
             lk.tick(at(10**7 + 300000))])
lk.verify("2468")
lk.set_setting("auto_lock_s", 0)
R("never", [lk.tick(T), lk.tick(at(10**8)), lk.is_open()])
lk.set_setting("auto_lock_s", 15)
lk = boot()
lk.verify("2468")
R("short", [lk.get("a"), lk.tick(T), lk.tick(at(14999)), lk.tick(at(15000)), lk.is_open()])
"""


def test_auto_lock_after_idle_time(run_mp, tmp_path):
    res = run_kit(run_mp, tmp_path, AUTO_LOCK)
    assert res["no_pin"] == [False, False, True]
    assert res["idle"] == [False, False, True, True, False, False]
    assert res["touch"] == [False, False, True, True]
    assert res["unlock"] == [False, False, True]
    assert res["finger"] == [False, False, True, True]
    assert res["never"] == [False, False, True]
    assert res["short"] == [15, False, False, True, False]
