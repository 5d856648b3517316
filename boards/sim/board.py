"""The simulated board: the firmware's view of a token with simulated parts.

Pins and buses live here and nowhere else. The buses are wires to the launcher
(sim_bridge.py), where register-level models of the parts answer (the DS3231's BCD
registers, ...), so the firmware's drivers are what runs. State that survives a power cut
lives in TOKEN_SIM_DIR: the littlefs2 flash image here, the RTC's battery-backed registers
on the launcher's side.
"""

import os

from sim_blockdev import FileBlockDevice
from sim_bridge import Bridge, BridgeI2C, BridgePin, BridgeUART

from drivers.stdio_link import StdioLink

FLASH_BLOCKS = 512  # 2 MiB of 4 KiB blocks, the vfs partition of a 4 MB ESP32 module


class _Radio:
    """sim_bluetooth, imported at its first use. The ESP32's `bluetooth` lives in flash and
    costs no heap; the stand-in's bytecode would, on every token, radio on or not."""

    def __init__(self, bridge):
        self._bridge = bridge

    def __getattr__(self, name):
        import sim_bluetooth

        sim_bluetooth.attach(self._bridge)
        return getattr(sim_bluetooth, name)


class Board:
    name = "sim"

    def __init__(self, state_dir=None):
        self.dir = state_dir or os.getenv("TOKEN_SIM_DIR") or "."
        bridge = Bridge(os.getenv("TOKEN_SIM_BUS") or self.dir + "/bus.sock")
        self.i2c = BridgeI2C(bridge)
        self.buttons = [BridgePin(bridge, name) for name in ("up", "down", "ok")]
        self.fingerprint_uart = BridgeUART(bridge, 2)
        self.bluetooth = _Radio(bridge)  # MicroPython's `bluetooth`, as far as the app uses it
        self.ble_secure = False  # the simulated link has no pairing: it counts as encrypted
        self.link = StdioLink()

    def mount_flash(self):
        dev = FileBlockDevice(self.dir + "/flash.img", FLASH_BLOCKS)
        try:
            vfs = os.VfsLfs2(dev)
        except OSError:
            if not dev.blank():
                raise  # a damaged filesystem is never reformatted behind the user's back
            os.VfsLfs2.mkfs(dev)
            vfs = os.VfsLfs2(dev)
        os.mount(vfs, "/flash")

    def unique_id(self):
        """Stands in for the ESP32's factory MAC: random once per simulated token."""
        path = self.dir + "/uid"
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError:
            uid = os.urandom(6)
            with open(path, "wb") as f:
                f.write(uid)
            return uid
