"""The token's front panel: the display, the buttons and the fingerprint sensor, each an
asyncio task beside the serial protocol.

Locked: a finger on the sensor unlocks (App Lock); OK starts PIN entry with the buttons.
Unlocked: up/down walk the accounts, OK reveals an HOTP code (its counter moves on first)
or, for a touch-required account, waits for a fresh finger; a long OK locks.
"""

import asyncio
import time

from authtok import log as evlog
from authtok import otp, vault
from authtok.errors import Error

_UI_MS = 200  # display refresh: codes change within 0.2 s of the period boundary
_FINGER_MS = 300  # sensor polling while a finger could unlock


class PinEntry:
    """A PIN typed with three buttons: up/down change the digit, OK takes it, long OK sends."""

    def __init__(self):
        self.digits = []
        self.current = 0

    def key(self, name, kind):
        """Returns the PIN when it is submitted, else None."""
        if name == "up":
            self.current = (self.current + 1) % 10
        elif name == "down":
            self.current = (self.current - 1) % 10
        elif name == "ok" and kind == "short":
            self.digits.append(self.current)
            self.current = 0
        elif name == "ok" and kind == "long":
            if len(self.digits) < 4:
                self.digits.append(self.current)
            return "".join(str(d) for d in self.digits)
        return None


async def ui_loop(dev):
    while True:
        if dev.lock.tick(time.ticks_ms()):
            dev.event(evlog.AUTO_LOCK)
        try:
            dev.screen.update()
        except Error:
            pass  # e.g. the clock chip did not answer: try again next time
        except OSError:
            pass
        await asyncio.sleep_ms(_UI_MS)


async def button_loop(dev):
    while True:
        name, kind = await dev.buttons.next()
        screen = dev.screen
        screen.activity()
        if dev.lock.is_open():
            dev.lock.touch(time.ticks_ms())
            screen.pin = None
            if name == "up":
                screen.move(-1)
            elif name == "down":
                screen.move(1)
            elif name == "ok" and kind == "long":
                dev.lock.lock()
                dev.event(evlog.LOCK)
            elif name == "ok":
                _reveal(dev)
            continue
        if screen.message and screen.pin is None:
            screen.clear_message()
            continue
        if screen.pin is None:
            if name == "ok" and dev.lock.pin_set:
                screen.pin = PinEntry()
            continue
        entered = screen.pin.key(name, kind)
        if entered is None:
            continue
        screen.pin = None
        try:
            dev.lock.verify(entered)
            dev.event(evlog.UNLOCK_PIN)
        except Error as e:
            dev.event(evlog.BAD_PIN, dev.lock.tries_left)
            screen.show_message("Wrong PIN" if e.code == "bad_pin" else "PIN refused", e.msg)


def _reveal(dev):
    """OK on an HOTP account: its counter moves on in flash, then the code shows. A
    touch-required account waits for a finger instead (finger_loop)."""
    screen = dev.screen
    rec = screen.record()
    if rec is None:
        return
    acc = vault.Account(rec)
    if acc.touch:
        dev.touch_pending = screen.index
        return
    if acc.hotp:
        if acc.counter >= 0xFFFFFFFFFFFFFFFF:
            return
        dev.vault.replace(screen.index, vault.with_counter(rec, acc.counter + 1))
        code = otp.hotp(acc.secret, acc.counter, acc.alg, acc.digits)
        screen.revealed = (screen.index, code, acc.counter)


async def finger_loop(dev):
    sensor = dev.sensor
    while True:
        await asyncio.sleep_ms(_FINGER_MS)
        wants = (not dev.lock.is_open() and dev.lock.pin_set) or dev.touch_pending is not None
        if not wants or dev.enrolling:
            continue
        try:
            if not sensor.finger_present():
                continue
            dev.screen.activity()
            if dev.touch_pending is not None and dev.lock.is_open():
                await _touch_code(dev)
            else:
                await _finger_unlock(dev)
            await sensor.wait_lift(5000)
        except Exception as e:  # a sensor hiccup must not stop the loop
            dev.log("fingerprint: %r" % e)


async def _finger_unlock(dev):
    try:
        dev.lock.finger_begin()  # paid before the sensor's verdict
    except Error as e:
        dev.screen.show_message("Finger refused", e.msg)
        return
    dev.sensor.img2tz(1)
    page = dev.sensor.search(1)
    try:
        dev.lock.finger_result(page is not None, page)
        dev.event(evlog.UNLOCK_FINGER, page or 0)
        dev.screen.clear_message()
    except Error as e:
        dev.event(evlog.BAD_FINGER, dev.lock.get("f"))
        dev.screen.show_message("Not recognised", e.msg)


async def _touch_code(dev):
    """A fresh, matching finger reveals the pending touch-required code."""
    index, dev.touch_pending = dev.touch_pending, None
    dev.sensor.img2tz(1)
    if dev.sensor.search(1) is None:
        dev.event(evlog.BAD_FINGER, 0)
        dev.screen.show_message("Not recognised", "No code without your finger")
        return
    rec = dev.vault.page(index, 1)[0]
    acc = vault.Account(rec)
    if acc.hotp:
        dev.vault.replace(index, vault.with_counter(rec, acc.counter + 1))
        code = otp.hotp(acc.secret, acc.counter, acc.alg, acc.digits)
    else:
        code = otp.totp(acc.secret, dev.clock.now(), acc.period, acc.alg, acc.digits)
    dev.screen.revealed = (index, code, acc.counter)
