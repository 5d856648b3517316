"""The token's application: storage, App Lock and the serial protocol on one asyncio loop.

The board hands in everything that touches hardware, so this runs the same on the ESP32 and
in the simulator.
"""

import asyncio
import gc
import json
import os
import sys

from authtok import commands, frame
from authtok import log as evlog

if False:  # for the type checker only: MicroPython compiles this away
    from authtok.clock import Clock
    from authtok.lock import Lock
    from authtok.log import Log
    from authtok.store import Sealed
    from authtok.vault import Vault


class Device:
    """What the protocol handlers and the front panel work on."""

    # Set by boot.wire. Declared for the type checker: annotations cost MicroPython nothing.
    serial: str
    clock: "Clock"
    vault: "Vault"
    lock: "Lock"
    _conf: "Sealed"
    push_file: "Sealed"
    bonds: "Sealed"
    bt: object  # the board's `bluetooth` module, or None
    ble_secure: bool
    events: "Log"

    def __init__(self, board, lines):
        # The wiring runs once: it lives in boot.py, whose bytecode leaves the heap after.
        from authtok import boot

        self.lines = lines
        self.board = board.name
        self.conf = {}
        self.corrupt = False
        self.batch = None  # a multi-frame batch add in progress (provision.Batch)
        self.batch_seq = 0  # the last frame of it that arrived
        self.touch_pending = None  # account waiting for a finger to show its code
        self.enrolling = False
        self.xfer = None  # a restore upload in progress: (key, size) (backup.py)
        self.ask_push = None  # push.py asks the person with prompt.py; tests stand in here
        self.prompt = None  # the push prompt on the screen, which takes the buttons
        self.ble = None  # the push service over BLE (ble.PushLink), on once push is enrolled
        self.display = self.screen = self.buttons = self.sensor = None
        boot.wire(self, board)
        boot.drop()

    def _erase(self):
        """Factory reset of what App Lock protects: the vault and the enrolled fingers."""
        for path in ("/flash/vault", "/flash/vault.new"):
            try:
                os.remove(path)
            except OSError:
                pass
        self.vault.count = 0
        self.corrupt = False
        if self.sensor:
            try:
                self.sensor.empty()
            except Exception:
                self.log("could not empty the fingerprint library")
        self.event(evlog.WIPE)

    def drop_batch(self):
        if self.batch is not None:
            self.batch.abort()
            self.batch = None

    def save_conf(self, conf):
        """Persist new settings; RAM follows only a successful write."""
        self._conf.save((json.dumps(conf).encode(),))
        self.conf = conf

    def warnings(self):
        """What the screen should warn about: an untrusted clock, a sync long ago, low heap."""
        out = []
        if not self.clock.trusted():
            out.append("clock")
        else:
            sync = self.conf.get("sync")
            # The DS3231 drifts up to ~2 ppm (a minute a year): after 90 days it may be 15 s
            # off, half a TOTP step, before it can cost a code.
            if sync and self.clock.now() - sync > 90 * 86400:
                out.append("drift")
        if gc.mem_free() < 8192:
            gc.collect()  # garbage is not a shortage: look again after collecting it
            if gc.mem_free() < 8192:
                out.append("memory")
        return tuple(out)

    def lock_reason(self):
        st = self.lock.state()
        if st["brake"]:
            return "Power-cycle to retry PIN"
        if st["pin"] and st["tries_left"] <= 0:
            return "PIN blocked: use finger"
        if st["finger_locked"]:
            return "Too many fingers: PIN"
        return None

    def event(self, code, arg=0, detail=""):
        """A line in the on-device diagnostic log; a full or failing flash never stops us."""
        try:
            self.events.event(code, arg, detail)
        except (OSError, ValueError):
            pass

    def _log_time(self):
        try:
            return self.clock.now() if self.clock.trusted() else 0
        except OSError:
            return 0

    def log(self, msg):
        sys.stderr.write("[token] %s\n" % msg)


def _no_memory(rid):
    return {"id": rid, "err": "no_memory", "msg": "the token ran out of memory for this request"}


async def serve(dev, link):
    """Answer framed requests on the link until it closes."""
    lines = dev.lines
    last_id, last = None, None
    while True:
        chunk = await link.read()
        if not chunk:
            return
        for n in lines.feed(chunk):
            # Collected first, so the request's objects fill the heap's low holes, not the
            # free space above wherever the UI tasks' garbage left the allocator.
            gc.collect()
            try:
                req = frame.decode(lines.buf, n)
            except ValueError as e:
                frame.send(link, {"id": None, "err": "bad_frame", "msg": str(e)})
                continue
            except MemoryError:  # a frame too rich for the heap: answer, do not die
                req = None
                gc.collect()
                frame.send(link, _no_memory(None))
                continue
            if req is None:
                continue  # noise: not a frame
            rid = req.get("id")
            if rid is None or rid != last_id:
                # A repeated id is the host retrying after a lost answer: answer again, do
                # not act twice (an HOTP counter must not move on twice for one code).
                last = None
                gc.collect()
                last = await commands.dispatch_async(dev, req)
                last_id = rid
            req = None
            try:
                frame.send(link, last)
            except MemoryError:
                gc.collect()
                frame.send(link, _no_memory(rid))
            gc.collect()


async def main(dev, link):
    from authtok import frontpanel

    tasks = []
    if dev.screen:
        tasks.append(asyncio.create_task(frontpanel.ui_loop(dev)))
    if dev.buttons:
        tasks.append(asyncio.create_task(dev.buttons.run()))
        tasks.append(asyncio.create_task(frontpanel.button_loop(dev)))
    if dev.sensor:
        tasks.append(asyncio.create_task(frontpanel.finger_loop(dev)))
    await serve(dev, link)  # the token lives as long as its link (the simulator's stdin)
    for t in tasks:
        t.cancel()


def run(board):
    lines = frame.Lines()  # the largest buffer, taken first while the heap is whole
    dev = Device(board, lines)
    gc.collect()
    dev.log("ready: %d accounts, %d bytes free" % (dev.vault.count, gc.mem_free()))
    asyncio.run(main(dev, board.link))
