"""The serial protocol's operations (docs/protocol.md): one small function each.

Every handler takes the device and the request and returns the response fields. Handlers
marked as needing the PIN run only while the token is open. No handler returns a secret.
"""

import gc

from authtok import VERSION, otp, vault
from authtok.errors import Error, bad_param

PAGE = 16  # accounts per response page; keeps every response frame well under MAX_LINE


def _ref(dev, req):
    i, n = req.get("i", ""), req.get("n")
    if not isinstance(i, str) or not isinstance(n, str):
        raise bad_param("name the account by issuer (i) and name (n)")
    return dev.vault.index(i, n)


def _page(req, total):
    off = req.get("o", 0)
    if not isinstance(off, int) or off < 0:
        raise bad_param("offset must be a non-negative integer")
    return off, min(total, off + PAGE)


def info(dev, req):
    gc.collect()  # report what is really free, not what garbage happens to hold
    return {
        "proto": 1, "fw": VERSION, "board": dev.board, "serial": dev.serial,
        "heap_free": gc.mem_free(), "accounts": len(dev.vault.records),
        "max_accounts": vault.MAX_ACCOUNTS, "pin": dev.lock.pin_set,
        "locked": not dev.lock.is_open(), "tries_left": dev.lock.tries_left,
        "vault": "corrupt" if dev.corrupt else "ok", "clock": time_get(dev, req),
    }


def time_get(dev, req):
    return {"now": dev.clock.now(), "trusted": dev.clock.trusted(),
            "last_sync": dev.conf.get("sync")}


def time_set(dev, req):
    t = req.get("t")
    if not isinstance(t, int) or not 946684800 <= t < 7258118400:  # the DS3231's 2000..2199
        raise bad_param("time must be Unix seconds between 2000 and 2199")
    offset = dev.clock.set(t)
    dev.conf["sync"] = t
    dev.save_conf()
    return {"offset": offset, "now": t}


def acct_add(dev, req):
    """Add a batch. A batch too big for one frame comes as several with "more": they are
    staged in RAM and written in one atomic save with the last, so it is all or nothing."""
    batch = req.get("a")
    if not isinstance(batch, list) or not batch:
        raise bad_param("a batch of accounts (a) is required")
    records = []
    weak = []
    for n, d in enumerate(batch):
        try:
            rec = vault.encode(d)
        except Error as e:
            e.extra["index"] = n
            raise
        if len(vault.Account(rec).secret) < 16:  # accepted: many services still use 80 bits
            weak.append(n)
        records.append(rec)
    records = dev.staged + records
    dev.staged = []
    dev.vault.check_new(records)
    if req.get("more"):
        dev.staged = records
        return {"staged": len(records), "weak": weak}
    dev.vault.add(records)
    return {"added": len(records), "weak": weak, "total": len(dev.vault.records)}


def acct_list(dev, req):
    total = len(dev.vault.records)
    off, end = _page(req, total)
    return {"total": total, "a": [dev.vault.account(i).public() for i in range(off, end)]}


def acct_rename(dev, req):
    i = _ref(dev, req)
    rec = vault.relabel(dev.vault.records[i], req.get("ni", ""), req.get("nn"))
    acc = vault.Account(rec)
    try:
        if dev.vault.index(acc.issuer, acc.name) != i:
            raise Error("duplicate",
                        "account %s already exists" % vault.label(acc.issuer, acc.name))
    except Error as e:
        if e.code != "not_found":
            raise
    dev.vault.replace(i, rec)
    return {}


def acct_remove(dev, req):
    dev.vault.remove(_ref(dev, req))
    return {"total": len(dev.vault.records)}


def acct_move(dev, req):
    to = req.get("to")
    if not isinstance(to, int):
        raise bad_param("position (to) must be an integer")
    dev.vault.move(_ref(dev, req), to)
    return {}


def _totp(dev, acc, now):
    if not dev.clock.trusted():
        raise Error("clock_untrusted", "the clock lost power: run `tokenctl time sync` first")
    return otp.totp(acc.secret, now, acc.period, acc.alg, acc.digits)


def code(dev, req):
    """One account's code (HOTP advances), or a page of TOTP codes (HOTP only on request)."""
    now = dev.clock.now()
    if "n" in req:
        i = _ref(dev, req)
        acc = dev.vault.account(i)
        item = {"i": acc.issuer, "n": acc.name}
        if acc.hotp:
            # The counter moves on in flash before the code leaves the token.
            dev.vault.replace(i, vault.with_counter(dev.vault.records[i], acc.counter + 1))
            item["code"] = otp.hotp(acc.secret, acc.counter, acc.alg, acc.digits)
            item["c"] = acc.counter
        else:
            item["code"] = _totp(dev, acc, now)
            item["left"] = otp.seconds_left(now, acc.period)
        return {"now": now, "c": [item], "total": 1}
    total = len(dev.vault.records)
    off, end = _page(req, total)
    out = []
    for i in range(off, end):
        acc = dev.vault.account(i)
        item = {"i": acc.issuer, "n": acc.name}
        if acc.hotp:
            item["k"] = "hotp"
        else:
            item["code"] = _totp(dev, acc, now)
            item["left"] = otp.seconds_left(now, acc.period)
            item["p"] = acc.period
        out.append(item)
    return {"now": now, "c": out, "total": total}


def pin_set(dev, req):
    if dev.lock.pin_set:
        raise Error("pin_set", "a PIN is already set: use pin change")
    dev.lock.set_pin(req.get("pin"))
    return {}


def pin_change(dev, req):
    dev.lock.verify(req.get("old"))
    dev.lock.set_pin(req.get("new"))
    return {}


def unlock(dev, req):
    dev.lock.verify(req.get("pin"))
    return {}


def lock(dev, req):
    dev.lock.lock()
    return {}


# op: (handler, needs the token open, allowed while the vault is corrupt)
OPS = {
    "info": (info, False, True),
    "time.get": (time_get, False, True),
    "time.set": (time_set, True, True),
    "acct.add": (acct_add, True, False),
    "acct.list": (acct_list, True, False),
    "acct.rename": (acct_rename, True, False),
    "acct.remove": (acct_remove, True, False),
    "acct.move": (acct_move, True, False),
    "code": (code, True, False),
    "pin.set": (pin_set, False, False),
    "pin.change": (pin_change, False, False),
    "unlock": (unlock, False, False),
    "lock": (lock, False, True),
}


def dispatch(dev, req):
    """The response to one request; errors become {"err": code, "msg": ...}."""
    rid = req.get("id")
    op = req.get("op")
    if op != "acct.add":
        dev.staged = []  # a staged batch ends with its last frame, or not at all
    try:
        entry = OPS.get(op)
        if entry is None:
            raise Error("unknown_op", "unknown operation")
        handler, needs_open, when_corrupt = entry
        if dev.corrupt and not when_corrupt:
            raise Error("vault_corrupt", "the vault failed its integrity check: restore a "
                        "backup or wipe the token")
        if needs_open:
            dev.lock.require()
        resp = handler(dev, req)
        resp["ok"] = 1
    except Error as e:
        resp = {"err": e.code, "msg": e.msg}
        resp.update(e.extra)
    except MemoryError as e:
        import sys

        sys.print_exception(e, sys.stderr)
        gc.collect()
        resp = {"err": "no_memory", "msg": "the token ran out of memory for this request"}
    except OSError as e:
        dev.log("flash error in %s: %r" % (req.get("op"), e))
        resp = {"err": "flash_error", "msg": "the token could not write its flash; nothing changed"}
    resp["id"] = rid
    return resp
