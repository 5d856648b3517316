"""Which serial port is the token: named, from the environment, or the only one attached."""

from __future__ import annotations

import os

from serial.tools import list_ports

from tokenctl.errors import TransportError

ENV_PORT = "TOKENCTL_PORT"
# USB-serial bridges found on ESP32 boards (vendor id, product id).
ESP32_USB_IDS = {
    (0x10C4, 0xEA60),  # Silicon Labs CP210x
    (0x1A86, 0x7523),  # WCH CH340
    (0x1A86, 0x55D4),  # WCH CH9102
    (0x0403, 0x6001),  # FTDI FT232R
    (0x303A, 0x1001),  # Espressif USB-Serial/JTAG
}


def usb_token_ports() -> list[str]:
    return [p.device for p in list_ports.comports() if (p.vid, p.pid) in ESP32_USB_IDS]


def sim_ports() -> list[str]:
    from tokenctl.sim.registry import list_running

    return [r["port"] for r in list_running()]


def resolve(port: str | None) -> str:
    """The port to talk to; auto-detection only when exactly one token is attached."""
    if port:
        return port
    if os.environ.get(ENV_PORT):
        return os.environ[ENV_PORT]
    found = usb_token_ports() + sim_ports()
    if len(found) == 1:
        return found[0]
    if not found:
        raise TransportError(
            "no token found: attach one, start one with `tokenctl sim start`, or name it "
            f"with --port or {ENV_PORT}"
        )
    raise TransportError(
        "several tokens are attached (" + ", ".join(found) + "): choose one with --port"
    )
