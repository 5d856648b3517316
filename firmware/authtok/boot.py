"""Boot-time wiring: the device key and the front panel's parts. Used once, then dropped
(`drop`), so its bytecode does not stay in the heap."""

import gc
import os

from authtok import log as evlog

_KEY = "/flash/devkey"


def device_key():
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


def front_panel(dev, board):
    """The display, buttons and fingerprint sensor, where the board has them."""
    gc.collect()  # load each module into a heap with no garbage between the pieces
    from authtok.screen import Screen

    gc.collect()
    from drivers.ssd1306 import SSD1306

    try:
        dev.display = SSD1306(board.i2c)
        dev.display.contrast(dev.conf.get("brightness", 0x7F))
        dev.screen = Screen(dev.display, dev, dev.conf.get("screen_s", 30))
    except OSError:
        dev.log("no display answers on the I2C bus")
    pins = getattr(board, "buttons", None)
    if pins and dev.screen:
        gc.collect()
        from drivers.buttons import Buttons

        dev.buttons = Buttons(pins, ("up", "down", "ok"))
    uart = getattr(board, "fingerprint_uart", None)
    if uart is not None:
        _sensor(dev, uart)


def _sensor(dev, uart):
    """The R503, bound to this token by a handshake password set at first boot, so a
    swapped sensor cannot answer "match" for fingers it was given elsewhere."""
    gc.collect()
    from drivers.r503 import R503, R503Error

    password = dev.conf.get("fp_pw")
    try:
        sensor = R503(uart, password=password or 0)
        sensor.connect()
        if not password:
            password = int.from_bytes(os.urandom(4), "big") or 1
            sensor.set_password(password)
            dev.save_conf(dict(dev.conf, fp_pw=password))
        dev.sensor = sensor
    except R503Error as e:
        dev.event(evlog.ERROR, 1, "fp")
        dev.log("fingerprint sensor refused (%s): fingers disabled" % e)


def drop():
    import sys

    import authtok

    sys.modules.pop("authtok.boot", None)
    if hasattr(authtok, "boot"):
        del authtok.boot
