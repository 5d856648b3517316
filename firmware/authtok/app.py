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
from authtok.clock import Clock
from authtok.lock import Lock
from authtok.store import Corrupt, Sealed
from authtok.vault import Vault

_KEY = "/flash/devkey"


def _device_key():
    """The per-device key: 32 bytes from the hardware RNG at first boot, then kept in flash."""
    try:
        with open(_KEY, "rb") as f:
            key = f.read()
        if len(key) == 32:
            return key
    except OSError:
        pass
    key = os.urandom(32)
    with open(_KEY + ".new", "wb") as f:
        f.write(key)
    os.rename(_KEY + ".new", _KEY)
    return key


class Device:
    """What the protocol handlers work on."""

    def __init__(self, board):
        from drivers.ds3231 import DS3231

        board.mount_flash()
        key = _device_key()
        self.board = board.name
        self.serial = board.unique_id().hex()
        self.clock = Clock(DS3231(board.i2c))
        self.vault = Vault(Sealed("/flash/vault", key, b"valt"))
        self.lock = Lock(Sealed("/flash/lock", key, b"lock"))
        self._conf = Sealed("/flash/conf", key, b"conf")
        self.conf = {}
        self.corrupt = False
        self.batch = None  # a multi-frame batch add in progress (vault.Batch)
        self.batch_seq = 0  # the last frame of it that arrived
        # Each file on its own: a damaged one never hides the state of the others, and
        # nothing is ever reformatted on the token's own initiative.
        try:
            self.lock.load()
        except Corrupt as e:
            self.log("PIN state integrity check failed (%s): the token stays locked" % e)
        try:
            self.vault.load()
        except Corrupt as e:
            self.corrupt = True
            self.log("vault integrity check failed: %s" % e)
        try:
            self.conf = json.loads(self._conf.load() or b"{}")
        except (Corrupt, ValueError) as e:
            self.log("settings integrity check failed (%s): defaults used" % e)
        del key

    def drop_batch(self):
        if self.batch is not None:
            self.batch.abort()
            self.batch = None

    def save_conf(self, conf):
        """Persist new settings; RAM follows only a successful write."""
        self._conf.save((json.dumps(conf).encode(),))
        self.conf = conf

    def log(self, msg):
        sys.stderr.write("[token] %s\n" % msg)


def _no_memory(rid):
    return {"id": rid, "err": "no_memory", "msg": "the token ran out of memory for this request"}


async def serve(dev, link):
    """Answer framed requests on the link until it closes."""
    lines = frame.Lines()
    last_id, last = None, None
    while True:
        chunk = await link.read()
        if not chunk:
            return
        for n in lines.feed(chunk):
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
                last = commands.dispatch(dev, req)
                last_id = rid
            req = None
            try:
                frame.send(link, last)
            except MemoryError:
                gc.collect()
                frame.send(link, _no_memory(rid))
            gc.collect()


def run(board):
    dev = Device(board)
    dev.log("ready: %d accounts, %d bytes free" % (dev.vault.count, gc.mem_free()))
    asyncio.run(serve(dev, board.link))
