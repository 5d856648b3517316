"""ESP32-DevKitC token. The pin map is data (board.json, deployed beside this file); this is
the only code that turns it into buses. The drivers get their buses from here."""

import json
import os

import machine
import micropython

from drivers.stdio_link import StdioLink


class Board:
    name = "esp32-devkitc"

    def __init__(self, config="/board.json"):
        with open(config) as f:
            cfg = json.load(f)
        bus = cfg["i2c"]
        self.i2c = machine.I2C(
            bus["id"], scl=machine.Pin(bus["scl"]), sda=machine.Pin(bus["sda"]), freq=bus["freq"]
        )
        parts = cfg["parts"]
        pin = machine.Pin
        self.buttons = [
            pin(parts["buttons"][name], pin.IN, pin.PULL_UP) for name in ("up", "down", "ok")
        ]
        fp = parts["r503"]
        self.fingerprint_uart = machine.UART(
            fp["uart"], baudrate=fp["baud"], tx=fp["tx"], rx=fp["rx"], timeout=0
        )
        import bluetooth

        self.bluetooth = bluetooth  # LE Secure Connections pairing with the passkey shown
        self.ble_secure = True
        self.link = StdioLink()
        if not cfg.get("repl_on_serial"):
            # Only the framed protocol on the serial port: Ctrl-C in line noise (or from an
            # attacker) must not drop the token into a REPL.
            micropython.kbd_intr(-1)

    def mount_flash(self):
        """The ESP32 port mounts its littlefs2 partition at / at boot; keep ours in /flash."""
        try:
            os.mkdir("/flash")
        except OSError:
            pass  # already there

    def unique_id(self):
        return machine.unique_id()
