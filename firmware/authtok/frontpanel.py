"""The token's front panel: the display, the buttons and the fingerprint sensor, each an
asyncio task beside the serial protocol.

Locked: a finger on the sensor unlocks (App Lock); OK starts PIN entry with the buttons.
Unlocked: up/down walk the accounts, OK reveals an HOTP code (its counter moves on first)
or, for a touch-required account, waits for a fresh finger; a long OK locks.
"""

import asyncio
import time

from authtok import log as evlog
from authtok import vault
from authtok.commands import _code_item, code_time
from authtok.errors import Error

_UI_MS = 200  # display refresh: codes change within 0.2 s of the period boundary
_FINGER_MS = 300  # sensor polling while a finger could unlock


class PinEntry:
    """A PIN typed with three buttons: up/down change the digit, OK takes it, long OK sends."""

    def __init__(self):
        self.digits = ""  # the digits taken so far
        self.current = 0

    def key(self, name, kind):
        """Returns the PIN when it is submitted, else None."""
        if name == "up":
            self.current = (self.current + 1) % 10
        elif name == "down":
            self.current = (self.current - 1) % 10
        elif name == "ok" and kind == "short":
            self.digits += str(self.current)
            self.current = 0
        elif name == "ok" and kind == "long":
            if len(self.digits) < 4:
                self.digits += str(self.current)
            return self.digits
        return None


async def ui_loop(dev):
    while True:
        if dev.lock.tick(time.ticks_ms()):
            dev.event(evlog.AUTO_LOCK)
        try:
            dev.screen.update()
        except (Error, OSError, MemoryError):
            pass  # the clock chip did not answer, or the heap was short: next time, then
        await asyncio.sleep_ms(_UI_MS)


async def button_loop(dev):
    while True:
        name, kind = await dev.buttons.next()
        lock = dev.lock
        screen = dev.screen
        screen.activity()
        if dev.prompt is not None:  # a push prompt takes the buttons (prompt.py)
            dev.prompt.key(name, kind)
            continue
        if lock.is_open():
            lock.touch(time.ticks_ms())
            screen.pin = None
            if name == "up":
                screen.move(-1)
            elif name == "down":
                screen.move(1)
            elif name == "ok" and kind == "long":
                lock.lock()
                dev.event(evlog.LOCK)
            elif name == "ok":
                _reveal(dev)
        elif screen.pin is not None:
            entered = screen.pin.key(name, kind)
            if entered is None:
                continue
            screen.pin = None
            try:
                lock.verify(entered)
                dev.event(evlog.UNLOCK_PIN)
            except Error as e:
                dev.event(evlog.BAD_PIN, lock.tries_left)
                screen.show_message("Wrong PIN" if e.code == "bad_pin" else "PIN refused", e.msg)
        elif screen.message:
            screen.clear_message()
        elif name == "ok" and lock.pin_set:
            screen.pin = PinEntry()


def _reveal(dev, index=None):
    """OK on the account shown (index None): an HOTP account's counter moves on in flash,
    then the code shows; a touch-required account waits for a finger instead (finger_loop),
    which then reveals the code of account `index`."""
    screen = dev.screen
    if index is None:
        rec = screen.record()
        if rec is None:
            return
        index = screen.index
        acc = vault.Account(rec)
        if acc.touch:
            dev.touch_pending = index
            return
        if not acc.hotp:
            return
    else:
        rec = dev.vault.page(index, 1)[0]
    try:  # the same code path as over serial: an HOTP counter moves on before it shows
        item = _code_item(dev, rec, code_time(dev)[1], index)
    except Error as e:
        screen.show_message("No code", e.msg)
        return
    screen.revealed = (index, item["code"], item.get("c", 0))


async def finger_loop(dev):
    """A finger unlocks a locked token; while a touch-required code is pending (and the token
    open), a fresh, matching finger reveals it instead."""
    sensor = dev.sensor
    while True:
        await asyncio.sleep_ms(_FINGER_MS)
        lock = dev.lock
        wants = (not lock.is_open() and lock.pin_set) or dev.touch_pending is not None
        if not wants or dev.enrolling:
            continue
        try:
            if not sensor.finger_present():
                continue
            screen = dev.screen
            screen.activity()
            index = dev.touch_pending
            touch = index is not None and lock.is_open()
            title, msg = "Not recognised", None
            if touch:
                dev.touch_pending = None
            else:
                try:
                    lock.finger_begin()  # paid before the sensor's verdict
                except Error as e:
                    title, msg = "Finger refused", e.msg
            if msg is None:
                sensor.img2tz(1)
                page = sensor.search(1)
                if touch and page is None:
                    dev.event(evlog.BAD_FINGER, 0)
                    msg = "No code without your finger"
                elif touch:
                    _reveal(dev, index)
                else:
                    try:
                        lock.finger_result(page is not None, page)
                        dev.event(evlog.UNLOCK_FINGER, page or 0)
                        screen.clear_message()
                    except Error as e:
                        dev.event(evlog.BAD_FINGER, lock.get("f"))
                        msg = e.msg
            if msg is not None:
                screen.show_message(title, msg)
            await sensor.wait_lift(5000)
        except Exception as e:  # a sensor hiccup must not stop the loop
            dev.log("fingerprint: %r" % e)
