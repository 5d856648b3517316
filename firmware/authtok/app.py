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
        self.staged = []  # records of a multi-frame batch add, not yet written
        try:
            self.vault.load()
            self.lock.load()
            self.conf = json.loads(self._conf.load() or b"{}")
        except Corrupt as e:
            # Never reformat on our own: the user chooses restore or wipe.
            self.corrupt = True
            self.log("vault integrity check failed: %s" % e)
        del key

    def save_conf(self):
        self._conf.save((json.dumps(self.conf).encode(),))

    def log(self, msg):
        sys.stderr.write("[token] %s\n" % msg)


async def serve(dev, link):
    """Answer framed requests on the link until it closes."""
    lines = frame.Lines()
    last_id, last_resp = None, None
    while True:
        chunk = await link.read()
        if not chunk:
            return
        for line in lines.feed(chunk):
            try:
                req = frame.decode(line)
            except ValueError as e:
                link.write(frame.encode({"id": None, "err": "bad_frame", "msg": str(e)}))
                continue
            if req is None:
                continue  # noise: not a frame
            rid = req.get("id")
            if rid is None or rid != last_id:
                # A repeated id is the host retrying after a lost answer: answer again, do
                # not act twice (an HOTP counter must not move on twice for one code).
                last_resp = frame.encode(commands.dispatch(dev, req))
                last_id = rid
            link.write(last_resp)
            gc.collect()


def run(board):
    dev = Device(board)
    dev.log("ready: %d accounts, %d bytes free" % (len(dev.vault.records), gc.mem_free()))
    asyncio.run(serve(dev, board.link))
