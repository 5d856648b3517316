"""Boot-time wiring of app.Device: the device key, the storage, the clock and the front
panel's parts. Used once, then dropped (`drop`), so its bytecode does not stay in the heap."""

import gc
import json
import os

from authtok import log as evlog

_KEY = "/flash/devkey"


def wire(dev, board):
    """The rest of app.Device: the board's parts, and what the flash holds (sealed with the
    device key), loaded; then the front panel."""
    from authtok.clock import Clock
    from authtok.lock import Lock
    from authtok.store import Sealed
    from authtok.vault import Vault
    from drivers.ds3231 import DS3231

    _preload(board)
    board.mount_flash()
    key = device_key()
    clean_transfers()
    dev.serial = board.unique_id().hex()
    # Each lasting part is built into a heap just collected: what building one leaves behind
    # (key derivations, file reads) then never lies below the next, to become holes between
    # them once collected. The free heap after boot stays in one piece, as big requests need
    # (a restore.data frame's 2 KiB string).
    gc.collect()
    dev.clock = Clock(DS3231(board.i2c))
    gc.collect()
    dev.vault = Vault(Sealed("/flash/vault", key, b"valt"))
    gc.collect()
    dev.lock = Lock(Sealed("/flash/lock", key, b"lock"), on_wipe=dev._erase)
    gc.collect()
    dev._conf = Sealed("/flash/conf", key, b"conf")
    gc.collect()
    dev.push_file = Sealed("/flash/push", key, b"push")  # push.py's state, loaded on demand
    gc.collect()
    dev.bonds = Sealed("/flash/bonds", key, b"bond")  # BLE bond keys (ble_bond.py)
    del key
    gc.collect()
    dev.events = evlog.Log(now=dev._log_time)
    gc.collect()
    _load(dev)
    gc.collect()
    front_panel(dev, board)
    dev.bt = getattr(board, "bluetooth", None)  # MicroPython's `bluetooth`, if the board has it
    dev.ble_secure = getattr(board, "ble_secure", True)
    try:
        os.stat("/flash/push")  # the radio stays off until an account is enrolled for push
        from authtok import ble_start
        from authtok.commands import drop as forget

        ble_start.start(dev)
        forget("ble_start")
    except OSError:
        pass
    dev.event(evlog.BOOT)
    if dev.lock.wipe_due():  # a power cut hit a wipe: finish it before anything else
        dev.lock.wipe()


def _load(dev):
    """The lock state, the vault and the settings. Each file on its own: a damaged one never
    hides the state of the others, and nothing is ever reformatted on the token's own
    initiative."""
    from authtok.store import Corrupt

    try:
        dev.lock.load()
    except Corrupt as e:
        dev.log("PIN state integrity check failed (%s): the token stays locked" % e)
    try:
        dev.vault.load()
    except Corrupt as e:
        dev.corrupt = True
        dev.event(evlog.VAULT_CORRUPT)
        dev.log("vault integrity check failed: %s" % e)
    try:
        dev.conf = json.loads(dev._conf.load() or b"{}")
    except (Corrupt, ValueError) as e:
        dev.log("settings integrity check failed (%s): defaults used" % e)


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


def clean_transfers():
    """An interrupted backup or restore leaves its file in flash: it goes at boot (the names
    are backup.OUT and backup.IN; loading that module here would cost heap)."""
    for name in ("out", "in", "out.new", "in.new"):
        try:
            os.remove("/flash/backup." + name)
        except OSError:
            pass


def _preload(board):
    """Load the front panel's modules before anything is read from flash, each into a heap with
    no garbage between the pieces. Loaded after, their bytecode would land among the holes
    that reading leaves, and so would the next block of the qstr pool, which grows by one block
    (~7 KB in the simulator) when the modules' names fill it: a block that may find no room."""
    names = ["authtok.screen", "drivers.ssd1306"]
    if getattr(board, "buttons", None):
        names.append("drivers.buttons")
    if getattr(board, "fingerprint_uart", None) is not None:
        names.append("drivers.r503")
    for name in names:
        gc.collect()
        __import__(name)


def front_panel(dev, board):
    """The display, buttons and fingerprint sensor, where the board has them."""
    from authtok.screen import Screen
    from drivers.ssd1306 import SSD1306

    try:
        dev.display = SSD1306(board.i2c)
        dev.display.contrast(dev.conf.get("brightness", 0x7F))
        dev.screen = Screen(dev.display, dev, dev.conf.get("screen_s", 30))
    except OSError:
        dev.log("no display answers on the I2C bus")
    pins = getattr(board, "buttons", None)
    if pins and dev.screen:
        from drivers.buttons import Buttons

        dev.buttons = Buttons(pins, ("up", "down", "ok"))
    uart = getattr(board, "fingerprint_uart", None)
    if uart is not None:
        _sensor(dev, uart)


def _sensor(dev, uart):
    """The R503, bound to this token by a handshake password set at first boot, so a
    swapped sensor cannot answer "match" for fingers it was given elsewhere."""
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
    """Forget this module. Its names go too: the GC scans the stack conservatively, and a
    stale word there that still points at the module would otherwise keep all of it."""
    import sys

    import authtok

    mod = sys.modules.pop("authtok.boot", None)
    if hasattr(authtok, "boot"):
        del authtok.boot
    if mod is not None:
        mod.__dict__.clear()
