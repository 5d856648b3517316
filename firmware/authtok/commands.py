"""The serial protocol's operations (docs/protocol.md): one small function each.

Every handler takes the device and the request and returns the response fields. Handlers
marked as needing the PIN run only while the token is open. No handler returns a secret.
"""

import gc
import json
import sys
import time

from authtok import VERSION, otp, vault
from authtok import log as evlog
from authtok.errors import Error, bad_param

PAGE = 16  # at most this many accounts per response page ...
_PAGE_BYTES = 3000  # ... and at most this much JSON, so a page frame stays under MAX_LINE


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _ref(dev, req):
    """(position, record) of the account the request names."""
    i, n = req.get("i", ""), req.get("n")
    if not isinstance(i, str) or not isinstance(n, str):
        raise bad_param("name the account by issuer (i) and name (n)")
    return dev.vault.find(i, n)


def _page(dev, req, item):
    """item(record) for the accounts from offset `o` on, as many as fit one response frame."""
    off = req.get("o", 0)
    if not is_int(off) or off < 0:
        raise bad_param("offset must be a non-negative integer")
    out = []  # type: list[dict]
    size = 0
    for rec in dev.vault.page(off, PAGE):
        it = item(rec)
        size += len(json.dumps(it))
        if out and size > _PAGE_BYTES:
            break
        out.append(it)
    return out


def info(dev, req):
    gc.collect()  # report what is really free, not what garbage happens to hold
    return {
        "proto": 1, "fw": VERSION, "board": dev.board, "serial": dev.serial,
        "heap_free": gc.mem_free(), "accounts": dev.vault.count,
        "max_accounts": vault.MAX_ACCOUNTS, "pin": dev.lock.pin_set,
        "locked": not dev.lock.is_open(), "tries_left": dev.lock.tries_left,
        "vault": "corrupt" if dev.corrupt else "ok",
        "lock_state": "corrupt" if dev.lock.corrupt else "ok", "clock": time_get(dev, req),
        "app_lock": dev.lock.state(), "display": dev.display is not None,
        "sensor": dev.sensor is not None,
    }


def _now(dev):
    try:
        return dev.clock.now()
    except OSError:
        raise Error("rtc_error", "the clock chip did not answer") from None


def _trusted(dev):
    try:
        return dev.clock.trusted()
    except OSError:
        raise Error("rtc_error", "the clock chip did not answer") from None


def time_get(dev, req):
    return {"now": _now(dev), "trusted": _trusted(dev), "last_sync": dev.conf.get("sync")}


def acct_list(dev, req):
    return {"total": dev.vault.count, "a": _page(dev, req, lambda r: vault.Account(r).public())}


def _code_item(dev, rec, now, i=None):
    """The code of one record; `i` (its position) when the user named it: HOTP then counts."""
    acc = vault.Account(rec)
    item = {"i": acc.issuer, "n": acc.name}  # type: dict
    if acc.touch and i is None:
        item["k"] = "touch"  # a code only for a fresh finger, asked for by name
        return item
    if acc.hotp:
        item["k"] = "hotp"
        if i is not None:
            if acc.counter >= 0xFFFFFFFFFFFFFFFF:
                raise Error("counter_exhausted", "this HOTP account has used every counter")
            # The counter moves on in flash before the code leaves the token.
            dev.vault.replace(i, vault.with_counter(rec, acc.counter + 1))
            item["code"] = otp.hotp(acc.secret, acc.counter, acc.alg, acc.digits)
            item["c"] = acc.counter
    else:
        if not _trusted(dev):
            raise Error("clock_untrusted", "the clock lost power: run `tokenctl time sync` first")
        item["code"] = otp.totp(acc.secret, now, acc.period, acc.alg, acc.digits)
        item["left"] = otp.seconds_left(now, acc.period)
        item["p"] = acc.period
    return item


def code(dev, req):
    """One account's code (HOTP advances), or a page of TOTP codes (HOTP only on request)."""
    now = _now(dev)
    if "n" in req:
        i, rec = _ref(dev, req)
        if vault.Account(rec).touch:
            return _touched(dev, i, req)
        return {"now": now, "c": [_code_item(dev, rec, now, i)], "total": 1}
    return {"now": now, "c": _page(dev, req, lambda r: _code_item(dev, r, now)),
            "total": dev.vault.count}


async def _touched(dev, i, req):
    """A touch-required account: its code only after a fresh, matching finger on the token,
    as a YubiKey asks for a touch."""
    sensor = dev.sensor
    if sensor is None:
        raise Error("no_sensor", "this account needs a finger, and the sensor does not answer")
    if dev.screen:
        dev.screen.activity()
        dev.screen.show_message("Touch sensor", ("for a code",))
    dev.enrolling = True  # keep the unlock loop off the sensor
    try:
        try:
            page = await sensor.wait_match(req.get("timeout_ms", 20000))
        except Exception:
            raise Error("touch_timeout", "no finger was placed on the token in time") from None
        if page is None:
            dev.event(evlog.BAD_FINGER, 0)
            raise Error("bad_finger", "finger not recognised: no code")
    finally:
        dev.enrolling = False
        if dev.screen:
            dev.screen.clear_message()
    rec = dev.vault.page(i, 1)[0]  # read again: the flash is the truth after a wait
    now = _now(dev)
    return {"now": now, "c": [_code_item(dev, rec, now, i)], "total": 1}


def unlock(dev, req):
    try:
        dev.lock.verify(req.get("pin"))
    except Error as e:
        dev.event(evlog.BAD_PIN if e.code == "bad_pin" else evlog.PIN_BLOCKED,
                  dev.lock.tries_left)
        raise
    dev.event(evlog.UNLOCK_PIN)
    return {}


def lock(dev, req):
    dev.lock.lock()
    dev.event(evlog.LOCK)
    return {}


# op: (handler, needs the token open, allowed while the vault is corrupt); a handler of
# None is in admin.py, loaded for the request and dropped after.
OPS = {
    "info": (info, False, True),
    "time.get": (time_get, False, True),
    "time.set": ("provision", True, True),
    "acct.add": ("provision", True, False),
    "acct.list": (acct_list, True, False),
    "acct.rename": ("provision", True, False),
    "acct.remove": ("provision", True, False),
    "acct.move": ("provision", True, False),
    "acct.touch": ("admin", True, False),
    "code": (code, True, False),
    "pin.set": ("provision", False, False),
    "pin.change": ("provision", False, False),
    "unlock": (unlock, False, False),
    "lock": (lock, False, True),
    "fp.enroll": ("admin", True, True),
    "fp.list": ("admin", True, True),
    "fp.remove": ("admin", True, True),
    "settings.get": ("admin", True, True),
    "settings.set": ("admin", True, True),
    "log.read": ("admin", False, True),  # no secret is ever logged: readable while locked
    "log.clear": ("admin", True, True),
    "wipe": ("admin", False, True),  # asks for the PIN itself
}


def _handler(entry, op):
    """The function for op; a module named by a string is loaded now (and dropped after)."""
    if not isinstance(entry, str):
        return entry
    mod = __import__("authtok." + entry, None, None, (entry,))
    return getattr(mod, op.replace(".", "_"))


def drop(name):
    """Forget a module loaded for one request, so its bytecode leaves the heap."""
    import authtok

    key = "authtok." + name
    if key in sys.modules:
        del sys.modules[key]
        if hasattr(authtok, name):
            delattr(authtok, name)


def dispatch(dev, req):
    """The response to a request that needs no waiting (tests and tools call this)."""
    coro = dispatch_async(dev, req)
    try:
        coro.send(None)
    except StopIteration as e:
        return e.value
    coro.close()
    raise RuntimeError("this operation waits for a person: use dispatch_async")


async def dispatch_async(dev, req):
    """The response to one request; errors become {"err": code, "msg": ...}. Operations that
    wait for a finger await here while the display and buttons keep running."""
    rid = req.get("id")
    op = req.get("op")
    if op != "acct.add":
        dev.drop_batch()  # a batch ends with its last frame, or not at all
    try:
        entry = OPS.get(op) if isinstance(op, str) else None
        if entry is None:
            raise Error("unknown_op", "unknown operation")
        handler, needs_open, when_corrupt = entry
        if dev.corrupt and not when_corrupt:
            raise Error("vault_corrupt", "the vault failed its integrity check; it is kept "
                        "untouched, and accounts stay unavailable until it is restored or wiped")
        if needs_open:
            dev.lock.require()
            dev.lock.touch(time.ticks_ms())
        resp = _handler(handler, op)(dev, req)
        if not isinstance(resp, dict):
            resp = await resp
        resp["ok"] = 1
    except Error as e:
        dev.drop_batch()  # a failed frame ends its batch: nothing of it is kept
        resp = {"err": e.code, "msg": e.msg}
        resp.update(e.extra)
    except MemoryError as e:
        dev.drop_batch()
        sys.print_exception(e, sys.stderr)
        gc.collect()
        resp = {"err": "no_memory", "msg": "the token ran out of memory for this request"}
    except OSError as e:
        dev.drop_batch()
        dev.log("flash error in %s: %r" % (op, e))
        resp = {"err": "flash_error", "msg": "the token could not write its flash; nothing changed"}
    except Exception as e:  # a bug must cost one answer, never the serve loop
        dev.drop_batch()
        sys.print_exception(e, sys.stderr)
        resp = {"err": "internal", "msg": "internal error in the token"}
    if op != "acct.add" or not req.get("more"):  # a batch keeps provision until its end
        drop("provision")
    drop("admin")
    resp["id"] = rid
    return resp
