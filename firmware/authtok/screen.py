"""What the display shows, and when it is refreshed.

The UI task calls `update()` a few times a second. A full redraw happens only when what is
shown changes (another account, a new code at the period boundary, lock state, warnings);
otherwise only the countdown bar's page is sent (128 bytes instead of 1 KiB). The screen
sleeps after an idle time and wakes on a button. Codes are never drawn while the token is
locked or its clock is untrusted.
"""

import time

from authtok import otp, ui, vault


class Screen:
    def __init__(self, display, dev, sleep_s=30):
        self.disp = display
        self.dev = dev
        self.sleep_s = sleep_s
        self.index = 0  # the account shown
        self.revealed = None  # (index, code, counter) shown on demand (HOTP, touch)
        self.message = None  # (title, lines) shown instead of the rest, until cleared
        self._until = None  # when the message clears itself (ticks_ms), if it does
        self.pin = None  # a PIN being typed with the buttons (frontpanel.PinEntry)
        self._shown = None  # what the last full draw showed
        self._bar = None
        self._rec = None  # (generation, index, record) of the account shown
        self.awake = True
        self._active = time.ticks_ms()

    # --- input ------------------------------------------------------------------------------

    def activity(self):
        """A button or the sensor was used: wake up, stay up."""
        self._active = time.ticks_ms()
        if not self.awake:
            self.awake = True
            self.disp.wake()
            self._shown = None

    def move(self, step):
        total = self.dev.vault.count
        if total:
            self.index = (self.index + step) % total
        self.revealed = None

    def show_message(self, title=None, lines=(), ms=0):
        """Show (title, lines) instead of the rest until cleared, or for `ms`; as
        `clear_message()` (no title): clear it (one method for both: each costs heap)."""
        self.message = None if title is None else (title, lines)
        self._until = time.ticks_add(time.ticks_ms(), ms) if ms else None
        self._shown = None

    clear_message = show_message

    # --- output -----------------------------------------------------------------------------

    def record(self):
        """The shown account's record, re-read from flash only when the vault changed."""
        dev = self.dev
        total = dev.vault.count
        if not total:
            return None
        self.index = min(self.index, total - 1)
        key = (dev.vault.generation, self.index)
        if self._rec is None or self._rec[0] != key:
            self._rec = (key, dev.vault.page(self.index, 1)[0])
        return self._rec[1]

    def update(self):
        if not self.awake:
            return
        disp = self.disp
        if time.ticks_diff(time.ticks_ms(), self._active) > self.sleep_s * 1000:
            self.awake = False
            disp.sleep()
            return
        # What to draw (compared with the last full draw), and the countdown bar
        # (seconds_left, period) or None.
        if self._until is not None and time.ticks_diff(time.ticks_ms(), self._until) >= 0:
            self.clear_message()
        dev = self.dev
        bar = None
        shown = ()  # type: tuple
        if self.pin is not None:
            shown = (0, len(self.pin.digits), self.pin.current, dev.lock.tries_left)
        elif self.message:
            shown = (1,) + self.message
        elif dev.corrupt:
            shown = (1, "Vault damaged", ("Restore a backup", "or wipe the token"))
        elif not dev.lock.is_open():
            shown = (2, dev.lock_reason())
        elif self.record() is None:
            shown = (3,)
        else:
            acc = vault.Account(self._rec[1])  # type: ignore[index]
            warnings = dev.warnings()
            code, left = None, 0
            if acc.hotp or acc.touch:
                if self.revealed and self.revealed[0] == self.index:
                    code = self.revealed[1]
            if not acc.hotp and "clock" not in warnings:
                now = dev.clock.now()
                left = otp.seconds_left(now, acc.period)
                if not acc.touch:
                    code = otp.totp(acc.secret, now, acc.period, acc.alg, acc.digits)
                bar = (left, acc.period)
            shown = (
                4,
                acc.issuer,
                acc.name,
                code,
                acc.period,
                self.index + 1,
                dev.vault.count,
                acc.hotp,
                acc.touch,
                warnings,
            )
        if shown != self._shown:
            kind = shown[0]
            if kind == 1:
                ui.draw_message(disp, shown[1], shown[2])
            elif kind == 0:
                ui.draw_pin_entry(disp, shown[1], shown[2], shown[3])
            elif kind == 2:
                ui.draw_locked(disp, shown[1], dev.warnings())
            elif kind == 3:
                ui.draw_empty(disp)
            else:
                ui.draw_account(
                    disp,
                    shown[1],
                    shown[2],
                    code,
                    bar[0] if bar else 0,
                    shown[4],
                    shown[5],
                    shown[6],
                    shown[7],
                    shown[8],
                    warnings,
                )
            disp.show()
            self._shown = shown
            self._bar = bar
        elif bar is not None and bar != self._bar:
            ui.draw_bar(disp, bar[0], bar[1])
            disp.show_pages(ui.BAR_PAGE, ui.BAR_PAGE)
            self._bar = bar
