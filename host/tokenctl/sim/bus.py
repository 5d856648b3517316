"""The simulated board's parts, on the launcher's side of its wires.

The firmware's sim board (boards/sim/sim_bridge.py) sends every I2C transaction, UART write
and pin read over a unix socket; here they reach register-level models of the parts
(boards/sim/sim_*.py, portable Python that also runs under MicroPython). Living here, the
parts cost the firmware no heap, and the launcher can place a finger, press a button, move
the clock or read the screen while the firmware runs.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import threading
from pathlib import Path

from tokenctl.sim.build import repo_root
from tokenctl.sim.radio import SimRadio

_I2C_WRITE, _I2C_READ, _I2C_SCAN = 0x57, 0x52, 0x53
_UART_WRITE, _UART_READ, _PIN_READ = 0x77, 0x72, 0x70
_ENODEV, _EINVAL = 19, 22
BUTTONS = ("up", "down", "ok")
FINGERPRINT_UART = 2


def _models():
    """Import the portable part models from boards/sim (and authtok.civil they use)."""
    root = repo_root()
    if not (root / "boards" / "sim" / "sim_ds3231.py").exists():  # a stripped-down test tree
        root = Path(__file__).resolve().parents[3]
    for sub in (root / "boards" / "sim", root / "firmware"):
        if str(sub) not in sys.path:
            sys.path.append(str(sub))
    import sim_ds3231
    import sim_i2c
    import sim_pin
    import sim_r503
    import sim_ssd1306

    return sim_i2c, sim_ds3231, sim_pin, sim_r503, sim_ssd1306


class Parts:
    """What is wired to the simulated ESP32. Battery-backed and non-volatile state (the RTC)
    lives in the token's state folder; the rest starts afresh at every power-on."""

    def __init__(self, state_dir: Path):
        sim_i2c, sim_ds3231, sim_pin, sim_r503, sim_ssd1306 = _models()
        self._sim_i2c = sim_i2c
        self._sim_ssd1306 = sim_ssd1306
        self.state_dir = Path(state_dir)
        self.lock = threading.RLock()  # the firmware's bus and the control channel share parts
        self.ds3231 = sim_ds3231.SimDS3231(str(self.state_dir / "ds3231.json"))
        # The sensor keeps its templates and password in its own flash.
        self.r503 = sim_r503.SimR503(str(self.state_dir / "r503.json"))
        self.uarts = {FINGERPRINT_UART: self.r503}
        self.pins = {name: sim_pin.SimPin() for name in BUTTONS}
        self.i2c = sim_i2c.SimI2C()
        self.ssd1306 = sim_ssd1306.SimSSD1306()
        self.ble = SimRadio()  # the central's side of the token's BLE radio
        self.power_on()

    def power_on(self) -> None:
        """What a power cut clears: the bus, the sensor's buffers (not its templates)."""
        with self.lock:
            self.i2c = self._sim_i2c.SimI2C()
            self.i2c.attach(0x68, self.ds3231)
            # The display's RAM holds noise after a power cut, until the firmware draws.
            self.ssd1306 = self._sim_ssd1306.SimSSD1306(noise=True)
            self.i2c.attach(0x3C, self.ssd1306)
            self.r503.power_cycle()
            self.ble.reset()

    # --- what a person (or a test) does to the parts --------------------------------------

    def clock(self, op: str, value: float | None = None) -> float:
        """set (Unix seconds), skew (seconds), rate (times real time) or show; returns the
        RTC's time."""
        with self.lock:
            rtc = self.ds3231
            if op == "set" and value is not None:
                rtc.set_time(value)
            elif op == "skew" and value is not None:
                rtc.set_time(rtc.device_time() + value)
            elif op == "rate" and value is not None:
                if not 0 < value <= 1_000_000:
                    raise ValueError("rate must be above 0 and at most 1,000,000")
                rtc.set_rate(value)
            elif op != "show":
                raise ValueError(f"unknown clock operation {op!r}")
            return rtc.device_time()

    def screen(self) -> list[bytearray]:
        """What the panel shows now: 64 rows of 128 pixels, 1 = lit."""
        with self.lock:
            return self.ssd1306.pixels()

    def screenshot(self, path: str | Path, scale: int = 4) -> tuple[int, int]:
        """The panel as a PNG, scaled up for a person to look at."""
        from tokenctl.sim.screen import render_png

        with self.lock:
            pixels, contrast = self.ssd1306.pixels(), self.ssd1306.contrast
        return render_png(pixels, str(path), scale=scale, contrast=contrast)

    def finger(self, action: str, finger_id: int | str | None = None) -> None:
        """place (a person's finger: an id), unknown (nobody enrolled), or remove."""
        with self.lock:
            if action == "place" and finger_id is not None:
                self.r503.place_finger(finger_id)
            elif action == "unknown":
                self.r503.place_unknown()
            elif action == "remove":
                self.r503.remove_finger()
            else:
                raise ValueError("finger: place ID, unknown, or remove")

    def press(self, name: str, hold_s: float = 0.15) -> None:
        """Hold a button down for hold_s (in the background), as a finger would."""
        pin = self.pins.get(name)
        if pin is None:
            raise ValueError(f"no button {name!r} (buttons: {', '.join(BUTTONS)})")
        pin.press()
        timer = threading.Timer(hold_s, pin.release)
        timer.daemon = True
        timer.start()

    def handle(self, op: int, payload: bytes) -> tuple[int, bytes]:
        """One bridge request -> (errno or 0, answer)."""
        with self.lock:
            try:
                radio = self.ble.handle(op, payload)
                if radio is not None:
                    return 0, radio
                if op == _I2C_WRITE:
                    self.i2c.writeto(payload[0], payload[1:])
                    return 0, b""
                if op == _I2C_READ:
                    addr, n = struct.unpack(">BH", payload)
                    return 0, bytes(self.i2c.readfrom(addr, n))
                if op == _I2C_SCAN:
                    return 0, bytes(self.i2c.scan())
                if op == _PIN_READ:
                    pin = self.pins.get(payload.decode())
                    return (0, bytes((pin.value(),))) if pin else (_ENODEV, b"")
                if op == _UART_WRITE:
                    uart = self.uarts.get(payload[0])
                    if uart is None:
                        return _ENODEV, b""
                    uart.write(payload[1:])
                    return 0, b""
                if op == _UART_READ:
                    port, n = struct.unpack(">BH", payload)
                    uart = self.uarts.get(port)
                    if uart is None:
                        return _ENODEV, b""
                    return 0, bytes(uart.read(n) or b"")
            except OSError as e:
                return (e.errno or _ENODEV), b""
            return _EINVAL, b""


class BusServer:
    """Serves the bridge socket: one firmware process at a time, a new one after each
    power-on."""

    def __init__(self, path: Path, parts: Parts):
        self.path = path
        self.parts = parts
        if path.exists():
            path.unlink()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(path))
        self._sock.listen(2)
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closing = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def _accept(self) -> None:
        while not self._closing:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            while True:
                head = _recv(conn, 3)
                if head is None:
                    return
                op, n = head[0], (head[1] << 8) | head[2]
                payload = _recv(conn, n) if n else b""
                if payload is None:
                    return
                status, data = self.parts.handle(op, payload)
                try:
                    conn.sendall(struct.pack(">BH", status, len(data)) + data)
                except OSError:
                    return


def _recv(conn: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        try:
            chunk = conn.recv(n - len(buf))
        except OSError:
            return None
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)
