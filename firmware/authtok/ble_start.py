"""Turning the radio on (docs/push.md §6): the GATT service, advertising, and on real hardware
LE Secure Connections pairing with the passkey on the display. Run once, dropped after, so
only the running link (ble.py) stays in the heap.

The board hands in MicroPython's `bluetooth` module (or the simulator's stand-in), so this
runs the same on both.
"""

import asyncio
import gc
import json

from micropython import const

from authtok import VERSION, ble

_IO_DISPLAY_ONLY = const(0)
_F_READ = const(0x0002)
_F_WRITE = const(0x0008)
_F_NOTIFY = const(0x0010)
_F_WRITE_ENCRYPTED = const(0x1000)
_F_WRITE_AUTHENTICATED = const(0x2000)

SERVICE = "5a7c0001-8f1e-4b7a-9d2c-3e1f0a6b9c4d"
CHALLENGE = "5a7c0002-8f1e-4b7a-9d2c-3e1f0a6b9c4d"
ANSWER = "5a7c0003-8f1e-4b7a-9d2c-3e1f0a6b9c4d"
INFO = "5a7c0004-8f1e-4b7a-9d2c-3e1f0a6b9c4d"


def start(dev):
    """Radio on: advertise the push service and answer challenges. Called at boot when an
    account is enrolled for push, and by the first enrolment; never without one, so a token
    that does no push has no radio on (less to attack, less battery)."""
    if dev.ble is not None or dev.bt is None:
        return

    def passkey(n):
        if dev.screen:
            dev.screen.activity()
            dev.screen.show_message("Pairing", ("Passkey", "%06d" % n))

    gc.collect()
    info = json.dumps({"serial": dev.serial, "fw": VERSION, "proto": 1, "push": 1})
    try:
        dev.ble = link(dev.bt, "Token-" + dev.serial[-6:], info, dev.bonds, dev.ble_secure,
                       passkey)
    except (OSError, MemoryError) as e:  # no radio is better than no token
        dev.ble = None
        gc.collect()
        dev.log("BLE radio did not start (%r): no push until the next boot" % e)
        return
    asyncio.create_task(ble.serve(dev))


def link(bt, name, info, bonds=None, secure=True, show_passkey=None):
    """bt: the `bluetooth` module; bonds: a store.Sealed for bond keys; secure: refuse
    challenges on a link that is not encrypted (real radios; the simulator has none)."""
    radio = bt.BLE()
    radio.active(True)
    radio.config(gap_name=name)
    if secure:
        radio.config(bond=True, mitm=True, le_secure=True, io=_IO_DISPLAY_ONLY)
    write = _F_WRITE | (_F_WRITE_ENCRYPTED | _F_WRITE_AUTHENTICATED if secure else 0)
    u = bt.UUID
    service = (u(SERVICE), ((u(CHALLENGE), write), (u(ANSWER), _F_READ | _F_NOTIFY),
                            (u(INFO), _F_READ)))
    ((chal, ans, info_h),) = radio.gatts_register_services((service,))
    radio.gatts_write(info_h, info.encode())
    # A written value is kept to 20 bytes unless told: a chunk may fill the largest MTU.
    radio.gatts_set_buffer(chal, 512)
    return ble.PushLink(radio, chal, ans, adv_payloads(name, SERVICE), secure, bonds,
                        show_passkey)


def adv_payloads(name, service):
    """(advertising data, scan response): flags and the service UUID; the name. A legacy
    advertisement holds 31 bytes, too few for both."""
    uuid = bytes(reversed(bytes.fromhex(service.replace("-", ""))))
    adv = b"\x02\x01\x06" + bytes((17, 0x07)) + uuid
    n = name.encode()
    return adv, bytes((len(n) + 1, 0x09)) + n
