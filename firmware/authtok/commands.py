"""The serial protocol's operations (docs/protocol.md): one small function each.

Every handler takes the device and the request and returns the response fields. Handlers
marked as needing the PIN run only while the token is open. No handler returns a secret.
"""

import gc
import json

from authtok import VERSION, otp, vault
from authtok.errors import Error, bad_param
from authtok.lock import check_pin_format

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


def time_set(dev, req):
    t = req.get("t")
    if not is_int(t) or not 946684800 <= t < 7258118400:  # the DS3231's 2000..2199
        raise bad_param("time must be Unix seconds between 2000 and 2199")
    try:
        offset = dev.clock.set(t)
    except OSError:
        raise Error("rtc_error", "the clock chip did not answer; run time sync again") from None
    dev.save_conf(dict(dev.conf, sync=t))
    return {"offset": offset, "now": t}


def acct_add(dev, req):
    """Add a batch. A batch too big for one frame comes as several with "more": each frame
    streams into the next vault and the last one commits it, so it is all or nothing."""
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
    seq = req.get("seq", 0)
    if not is_int(seq) or seq < 0:
        raise bad_param("seq must be a non-negative integer")
    if seq == 0:
        dev.drop_batch()  # a new batch: whatever an abandoned one staged goes
        dev.batch = dev.vault.begin_add()
        dev.batch_seq = 0
    elif dev.batch is None or seq != dev.batch_seq + 1:
        raise Error("batch_lost", "this batch was interrupted: send it again from its start")
    dev.batch_seq = seq
    dev.batch.add(records)
    if req.get("more"):
        return {"staged": dev.batch.count - dev.vault.count, "weak": weak}
    before = dev.vault.count
    b, dev.batch = dev.batch, None
    b.commit()
    return {"added": dev.vault.count - before, "weak": weak, "total": dev.vault.count}


def acct_list(dev, req):
    return {"total": dev.vault.count, "a": _page(dev, req, lambda r: vault.Account(r).public())}


def acct_rename(dev, req):
    i, rec = _ref(dev, req)
    new = vault.relabel(rec, req.get("ni", ""), req.get("nn"))
    acc = vault.Account(new)
    try:
        if dev.vault.find(acc.issuer, acc.name)[0] != i:
            raise Error("duplicate",
                        "account %s already exists" % vault.label(acc.issuer, acc.name))
    except Error as e:
        if e.code != "not_found":
            raise
    dev.vault.replace(i, new)
    return {}


def acct_remove(dev, req):
    dev.vault.remove(_ref(dev, req)[0])
    return {"total": dev.vault.count}


def acct_move(dev, req):
    to = req.get("to")
    if not is_int(to):
        raise bad_param("position (to) must be an integer")
    dev.vault.move(_ref(dev, req)[0], to)
    return {}


def _code_item(dev, rec, now, i=None):
    """The code of one record; `i` (its position) when the user named it: HOTP then counts."""
    acc = vault.Account(rec)
    item = {"i": acc.issuer, "n": acc.name}  # type: dict
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
        return {"now": now, "c": [_code_item(dev, rec, now, i)], "total": 1}
    return {"now": now, "c": _page(dev, req, lambda r: _code_item(dev, r, now)),
            "total": dev.vault.count}


def pin_set(dev, req):
    if dev.lock.pin_set:
        raise Error("pin_set", "a PIN is already set: use pin change")
    dev.lock.set_pin(req.get("pin"))
    return {}


def pin_change(dev, req):
    check_pin_format(req.get("new"))  # refuse a bad new PIN before spending a try
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
        dev.drop_batch()  # a batch ends with its last frame, or not at all
    try:
        if not isinstance(op, str):
            raise Error("unknown_op", "unknown operation")
        entry = OPS.get(op)
        if entry is None:
            raise Error("unknown_op", "unknown operation")
        handler, needs_open, when_corrupt = entry
        if dev.corrupt and not when_corrupt:
            raise Error("vault_corrupt", "the vault failed its integrity check; it is kept "
                        "untouched, and accounts stay unavailable until it is restored or wiped")
        if needs_open:
            dev.lock.require()
        resp = handler(dev, req)
        resp["ok"] = 1
    except Error as e:
        dev.drop_batch()  # a failed frame ends its batch: nothing of it is kept
        resp = {"err": e.code, "msg": e.msg}
        resp.update(e.extra)
    except MemoryError as e:
        import sys

        dev.drop_batch()
        sys.print_exception(e, sys.stderr)
        gc.collect()
        resp = {"err": "no_memory", "msg": "the token ran out of memory for this request"}
    except OSError as e:
        dev.drop_batch()
        dev.log("flash error in %s: %r" % (op, e))
        resp = {"err": "flash_error", "msg": "the token could not write its flash; nothing changed"}
    except Exception as e:  # a bug must cost one answer, never the serve loop
        import sys

        dev.drop_batch()
        sys.print_exception(e, sys.stderr)
        resp = {"err": "internal", "msg": "internal error in the token"}
    resp["id"] = rid
    return resp
