"""The serial protocol's operations (docs/protocol.md): one small function each.
Kept small: its bytecode lives in the heap (tests/firmware/test_heap.py).

Every handler takes the device and the request and returns the response fields. Handlers
marked as needing the PIN run only while the token is open. No handler returns a secret.
"""

import gc
import json
import sys
import time

from micropython import const

from authtok import VERSION, otp, vault
from authtok import log as evlog
from authtok.errors import Error, bad_param

PAGE = 16  # at most this many accounts per response page ...
_PAGE_BYTES = const(3000)  # ... and at most this much JSON, so a page frame fits a 4 KiB line


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _ref(dev, req):
    """(position, record) of the account the request names."""
    i, n = req.get("i", ""), req.get("n")
    if not isinstance(i, str) or not isinstance(n, str):
        raise bad_param("need i and n")
    return dev.vault.find(i, n)


def _page(dev, req, codes=False, now=None):
    """The accounts from offset `o` on (or their codes at `now`), as many as fit one
    response frame."""
    off = req.get("o", 0)
    if not is_int(off) or off < 0:
        raise bad_param("bad offset")
    out = []  # type: list[dict]
    size = 0
    recs = dev.vault.records()  # streamed: the page's records are never all held at once
    try:
        for i, rec in enumerate(recs):
            if len(out) == PAGE:
                break
            if i >= off:
                it = _code_item(dev, rec, now) if codes else vault.Account(rec).public()
                size += len(json.dumps(it))
                if out and size > _PAGE_BYTES:
                    break
                out.append(it)
    finally:
        recs.close()
    return out


def info(dev, req):
    gc.collect()  # report what is really free, not what garbage happens to hold
    return {
        "proto": 1,
        "fw": VERSION,
        "board": dev.board,
        "serial": dev.serial,
        "heap_free": gc.mem_free(),
        "accounts": dev.vault.count,
        "max_accounts": vault.MAX_ACCOUNTS,
        "pin": dev.lock.pin_set,
        "locked": not dev.lock.is_open(),
        "tries_left": dev.lock.tries_left,
        "vault": "corrupt" if dev.corrupt else "ok",
        "lock_state": "corrupt" if dev.lock.corrupt else "ok",
        "clock": time_get(dev, req),
        "backup": {"gen": dev.conf.get("bn", 0), "t": dev.conf.get("bt")},
        "app_lock": dev.lock.state(),
        "display": dev.display is not None,
        "sensor": dev.sensor is not None,
    }


def _now(dev, trusted=False):
    try:
        return dev.clock.trusted() if trusted else dev.clock.now()
    except OSError:
        raise Error("rtc_error", "clock chip silent") from None


def code_time(dev):
    """(device time, the time codes use: None while the clock is untrusted), read once per
    request rather than once per account."""
    now = _now(dev)
    return now, now if _now(dev, 1) else None


def time_get(dev, req):
    return {"now": _now(dev), "trusted": _now(dev, 1), "last_sync": dev.conf.get("sync")}


def acct_list(dev, req):
    return {"total": dev.vault.count, "a": _page(dev, req)}


def _code_item(dev, rec, now, i=None):
    """The code of one record at `now` (None: the clock is untrusted); `i` (its position)
    when the user named it: HOTP then counts."""
    acc = vault.Account(rec)
    item = {"i": acc.issuer, "n": acc.name}  # type: dict
    if acc.touch and i is None:
        item["k"] = "touch"  # a code only for a fresh finger, asked for by name
        return item
    if acc.hotp:
        item["k"] = "hotp"
        if i is not None:
            if acc.counter >= 0xFFFFFFFFFFFFFFFF:
                raise Error("counter_exhausted", "no counter left")
            # The counter moves on in flash before the code leaves the token.
            dev.vault.replace(i, vault.with_counter(rec, acc.counter + 1))
            item["code"] = otp.hotp(acc.secret, acc.counter, acc.alg, acc.digits)
            item["c"] = acc.counter
    else:
        if now is None:
            raise Error("clock_untrusted", "clock lost: time sync")
        item["code"] = otp.totp(acc.secret, now, acc.period, acc.alg, acc.digits)
        item["left"] = otp.seconds_left(now, acc.period)
        item["p"] = acc.period
    return item


def code(dev, req):
    """One account's code (HOTP advances), or a page of TOTP codes (HOTP only on request)."""
    now, t = code_time(dev)
    if "n" in req:
        i, rec = _ref(dev, req)
        if vault.Account(rec).touch:
            return _touched(dev, i, req)
        return {"now": now, "c": [_code_item(dev, rec, t, i)], "total": 1}
    return {"now": now, "c": _page(dev, req, True, t), "total": dev.vault.count}


async def _touched(dev, i, req):
    """A touch-required account: its code only after a fresh, matching finger on the token,
    as a YubiKey asks for a touch."""
    sensor = dev.sensor
    if sensor is None:
        raise Error("no_sensor", "no sensor")
    if dev.screen:
        dev.screen.activity()
        dev.screen.show_message("Touch sensor", ("for a code",))
    dev.enrolling = True  # keep the unlock loop off the sensor
    try:
        try:
            page = await sensor.wait_match(req.get("timeout_ms", 20000))
        except Exception:
            raise Error("touch_timeout", "no finger") from None
        if page is None:
            dev.event(evlog.BAD_FINGER, 0)
            raise Error("bad_finger", "bad finger")
    finally:
        dev.enrolling = False
        if dev.screen:
            dev.screen.clear_message()
    rec = dev.vault.page(i, 1)[0]  # read again: the flash is the truth after a wait
    now, t = code_time(dev)
    return {"now": now, "c": [_code_item(dev, rec, t, i)], "total": 1}


def unlock(dev, req):
    try:
        dev.lock.verify(req.get("pin"))
    except Error as e:
        dev.event(evlog.BAD_PIN if e.code == "bad_pin" else evlog.PIN_BLOCKED, dev.lock.tries_left)
        raise
    dev.event(evlog.UNLOCK_PIN)
    return {}


def lock(dev, req):
    dev.lock.lock()
    dev.event(evlog.LOCK)
    return {}


# op: flags. The handler is the op's name with "_" for ".": here, or in a module loaded for
# the request and dropped after.
_OPEN = const(1)  # needs the token open
_CORRUPT_OK = const(2)  # allowed while the vault is corrupt
_PROV = const(4)  # in provision.py
_ADMIN = const(8)  # in admin.py
_BKUP = const(16)  # in backup.py
_PUSH = const(32)  # in push_admin.py
OPS = {
    "info": _CORRUPT_OK,
    "time.get": _CORRUPT_OK,
    "time.set": _OPEN | _CORRUPT_OK | _PROV,
    "acct.add": _OPEN | _PROV,
    "acct.list": _OPEN,
    "acct.rename": _OPEN | _ADMIN,
    "acct.remove": _OPEN | _ADMIN,
    "acct.move": _OPEN | _ADMIN,
    "acct.touch": _OPEN | _ADMIN,
    "code": _OPEN,
    "pin.set": _ADMIN,
    "pin.change": _ADMIN,
    "unlock": 0,
    "lock": _CORRUPT_OK,
    "fp.enroll": _OPEN | _CORRUPT_OK | _ADMIN,
    "fp.list": _OPEN | _CORRUPT_OK | _ADMIN,
    "fp.remove": _OPEN | _CORRUPT_OK | _ADMIN,
    "settings.get": _OPEN | _CORRUPT_OK | _ADMIN,
    "settings.set": _OPEN | _CORRUPT_OK | _ADMIN,
    "log.read": _CORRUPT_OK | _ADMIN,  # no secret is ever logged: readable while locked
    "log.clear": _OPEN | _CORRUPT_OK | _ADMIN,
    "wipe": _CORRUPT_OK | _ADMIN,  # asks for the PIN itself
    "backup.begin": _OPEN | _BKUP,  # asks for the PIN itself
    "backup.read": _OPEN | _BKUP,
    "backup.done": _OPEN | _BKUP,
    "restore.begin": _OPEN | _CORRUPT_OK | _BKUP,  # the way out of a damaged vault
    "restore.data": _OPEN | _CORRUPT_OK | _BKUP,
    "restore.commit": _OPEN | _CORRUPT_OK | _BKUP,
    "push.enroll": _OPEN | _PUSH,
    "push.list": _OPEN | _PUSH,
    "push.revoke": _OPEN | _PUSH,
}
_MODS = ((_PROV, "provision"), (_ADMIN, "admin"), (_BKUP, "backup"), (_PUSH, "push_admin"))


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
    raise RuntimeError("use dispatch_async")


async def dispatch_async(dev, req):
    """The response to one request; errors become {"err": code, "msg": ...}. Operations that
    wait for a finger await here while the display and buttons keep running."""
    rid = req.get("id")
    op = req.get("op")
    if op != "acct.add":
        dev.drop_batch()  # a batch ends with its last frame, or not at all
    try:
        flags = OPS.get(op) if isinstance(op, str) else None
        if flags is None:
            raise Error("unknown_op", "unknown op")
        if dev.corrupt and not flags & _CORRUPT_OK:
            raise Error("vault_corrupt", "vault corrupt: restore or wipe")
        if flags & _OPEN:
            dev.lock.require()
            dev.lock.touch(time.ticks_ms())
        name = op.replace(".", "_")
        for bit, mod in _MODS:
            if flags & bit:
                handler = getattr(__import__("authtok." + mod, None, None, (mod,)), name)
                break
        else:
            handler = globals()[name]
        resp = handler(dev, req)
        if not isinstance(resp, dict):
            resp = await resp
        resp["ok"] = 1
    except Exception as e:  # a bug must cost one answer, never the serve loop
        dev.drop_batch()  # a failed frame ends its batch: nothing of it is kept
        if isinstance(e, Error):
            resp = {"err": e.code, "msg": e.msg}
            resp.update(e.extra)
        elif isinstance(e, OSError):
            dev.log("flash error in %s: %r" % (op, e))
            resp = {"err": "flash_error", "msg": "flash error: no change"}
        else:
            sys.print_exception(e, sys.stderr)
            gc.collect()
            resp = (
                {"err": "no_memory", "msg": "out of memory"}
                if isinstance(e, MemoryError)
                else {"err": "internal", "msg": "internal error"}
            )
    if op != "acct.add" or not req.get("more"):  # a batch keeps provision until its end
        drop("provision")
    for name in ("admin", "backup", "push_admin", "push_state", "x25519"):
        drop(name)
    if op == "push.enroll" and "ok" in resp and dev.ble is None:
        # The first enrolment turns the radio on, once the enrolment's code left the heap.
        gc.collect()
        from authtok import ble_start

        ble_start.start(dev)
        drop("ble_start")
    resp["id"] = rid
    return resp
