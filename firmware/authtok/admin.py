"""The owner's and the bench's operations: renaming, moving and removing accounts, the PIN,
fingerprints, settings, the diagnostic log and the factory reset. Rarely used, so
commands.py loads this module for the request and drops it after: its bytecode costs the heap
nothing the rest of the time.
"""

import time

from authtok import commands, vault
from authtok import log as evlog
from authtok.errors import Error, bad_param

_SCREEN = {"brightness": (0, 255), "screen_s": (5, 600)}
_LOCK = ("max_tries", "wipe_after", "auto_lock_s")
_LOG_PAGE = 40


def acct_rename(dev, req):
    from authtok.provision import relabel  # the label checks acct.add makes

    i, rec = commands._ref(dev, req)
    new = relabel(rec, req.get("ni", ""), req.get("nn"))
    acc = vault.Account(new)
    try:
        if dev.vault.find(acc.issuer, acc.name)[0] != i:
            raise Error("duplicate",
                        "account %s already exists" % vault.label(acc.issuer, acc.name))
    except Error as e:
        if e.code != "not_found":
            raise
    dev.vault.replace(i, new)
    _push_follows(dev, rec, (acc.issuer.encode(), acc.name.encode()))
    return {}


def acct_remove(dev, req):
    i, rec = commands._ref(dev, req)
    dev.vault.remove(i)
    _push_follows(dev, rec, None)
    return {"total": dev.vault.count}


def _push_follows(dev, rec, new):
    """A push enrolment follows its account to a new label, or goes with it."""
    import os

    try:
        os.stat("/flash/push")
    except OSError:
        return  # nothing enrolled: push_admin.py need not load
    from authtok import push_admin

    push_admin.relabel(dev, vault._label_of(rec), new)


def acct_move(dev, req):
    to = req.get("to")
    if not commands.is_int(to):
        raise bad_param("position (to) must be an integer")
    dev.vault.move(commands._ref(dev, req)[0], to)
    return {}


def pin_set(dev, req):
    if dev.lock.pin_set:
        raise Error("pin_set", "a PIN is already set: use pin change")
    dev.lock.set_pin(req.get("pin"))
    return {}


def pin_change(dev, req):
    from authtok.lock import check_pin_format

    check_pin_format(req.get("new"))  # refuse a bad new PIN before spending a try
    dev.lock.verify(req.get("old"))
    dev.lock.set_pin(req.get("new"))
    return {}



def _sensor(dev):
    if dev.sensor is None:
        raise Error("no_sensor", "this token has no working fingerprint sensor")
    return dev.sensor


async def fp_enroll(dev, req):
    """Enroll a finger on the token: the screen asks for 3 touches, lifted in between."""
    sensor = _sensor(dev)
    used = sensor.used_ids()
    page = 0
    while page in used:
        page += 1
    screen = dev.screen

    def step(what, n=0, total=0):
        if screen:
            screen.activity()
            text = {"place": "Place finger %d/%d" % (n, total), "lift": "Lift finger",
                    "retry": "Try again", "captured": "Got it"}.get(what, what)
            screen.show_message("Enroll", (text,))

    dev.enrolling = True
    try:
        await sensor.enroll(page, 3, req.get("timeout_ms", 30000), step)
    except Exception as e:
        raise Error("enroll_failed", "enrollment failed: %s" % e) from None
    finally:
        dev.enrolling = False
        if screen:
            screen.clear_message()
    name = req.get("name") or ""
    if not isinstance(name, str) or len(name.encode()) > 24:
        name = ""
    names = dict(dev.conf.get("fingers", {}))
    names[str(page)] = name
    dev.save_conf(dict(dev.conf, fingers=names))
    dev.event(evlog.ENROLL, page)
    return {"fid": page}


def fp_list(dev, req):
    names = dev.conf.get("fingers", {})
    return {"f": [[i, names.get(str(i), "")] for i in _sensor(dev).used_ids()]}


def fp_remove(dev, req):
    fid = req.get("fid")
    sensor = _sensor(dev)
    if fid not in sensor.used_ids():
        raise Error("not_found", "no such finger")
    sensor.delete(fid)
    names = dict(dev.conf.get("fingers", {}))
    names.pop(str(fid), None)
    dev.save_conf(dict(dev.conf, fingers=names))
    dev.event(evlog.FINGER_REMOVED, fid)
    return {}


def settings_get(dev, req):
    st = dev.lock.state()
    out = {k: st[k] for k in _LOCK}
    out["brightness"] = dev.conf.get("brightness", 0x7F)
    out["screen_s"] = dev.conf.get("screen_s", 30)
    return out


def settings_set(dev, req):
    name, value = req.get("name"), req.get("value")
    if name in _LOCK:
        dev.lock.set_setting(name, value)
    elif name in _SCREEN:
        lo, hi = _SCREEN[name]
        if type(value) is not int or not lo <= value <= hi:
            raise bad_param("%s must be %d..%d" % (name, lo, hi))
        dev.save_conf(dict(dev.conf, **{name: value}))
        if dev.display and name == "brightness":
            dev.display.contrast(value)
        if dev.screen and name == "screen_s":
            dev.screen.sleep_s = value
    else:
        raise bad_param("unknown setting")
    dev.event(evlog.SETTINGS)
    return settings_get(dev, req)


def acct_touch(dev, req):
    """Whether an account needs a fresh finger for each code (like a touch-required key)."""
    i, rec = commands._ref(dev, req)
    dev.vault.replace(i, vault.with_touch(rec, bool(req.get("t"))))
    return {}


def log_read(dev, req):
    since = req.get("since", 0)
    if type(since) is not int or since < 0:
        raise bad_param("since must be a sequence number")
    out = []
    records = dev.events.read(since)
    try:
        for rec in records:
            out.append(list(rec))
            if len(out) >= _LOG_PAGE:
                break
    finally:
        records.close()  # MicroPython closes no file on its own
    return {"r": out}


def log_clear(dev, req):
    dev.events.clear()
    return {}


def wipe(dev, req):
    """Factory reset, on purpose only: "confirm": "wipe", and the PIN when one is set."""
    if req.get("confirm") != "wipe":
        raise bad_param('a wipe needs "confirm": "wipe"')
    if dev.lock.pin_set and not dev.lock.corrupt:
        dev.lock.verify(req.get("pin"))
    dev.lock.wipe()
    dev.save_conf({k: v for k, v in dev.conf.items() if k in ("sync", "fp_pw", "bn", "bt")})
    if dev.screen:
        dev.screen.index = 0
    dev.lock.touch(time.ticks_ms())
    return {}
