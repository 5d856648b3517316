"""The simulated token's BLE radio, on the launcher's side: the peer a central talks to.

The firmware's stand-in for MicroPython's `bluetooth` module (boards/sim/sim_bluetooth.py)
sends what the real stack would put on the air (advertising data, its GATT table, attribute
values, notifications) over the board's bridge, and polls for what a central did (connect,
write, disconnect). Here a central (`tokenctl push send`, or a test) drives it through
`control(action, ...)`, the API tokenctl.push.link.SimLink expects. There is no pairing in the
simulator: the link counts as encrypted, and the application layer is what is tested.
"""

from __future__ import annotations

import base64
import struct
import threading
import time
from collections import deque

# Bridge ops (boards/sim/sim_bluetooth.py)
BLE_ADV, BLE_GATTS, BLE_VALUE, BLE_NOTIFY, BLE_EVENTS = 0x41, 0x47, 0x56, 0x4E, 0x45
_CONNECT, _DISCONNECT, _WRITE = 1, 2, 3
_FLAG_READ, _FLAG_WRITE, _FLAG_NOTIFY = 0x0002, 0x0008, 0x0010
_CONN = 1  # the one central's connection handle
MAX_QUEUE = 256  # writes a central may queue before the firmware polls them
# A GATT attribute value is at most 512 bytes (Core spec Vol 3 Part F 3.2.9): a real stack
# answers a longer write with an ATT error, and the firmware never sees it.
MAX_ATTRIBUTE = 512
# Events handed to the firmware per poll, in bytes (at least one event): the real stack
# raises one IRQ per write, and a bridge answer must stay small for the token's heap (and
# within the bridge's 16-bit length).
EVENTS_PER_POLL = 1024


class RadioError(ValueError):
    """A central asked for something the radio cannot do (not connected, no such UUID)."""


def parse_adv(data: bytes) -> dict:
    """The fields of a BLE advertising payload (AD structures) a scanner shows."""
    out: dict = {}
    at = 0
    while at + 1 < len(data):
        n = data[at]
        if n == 0 or at + 1 + n > len(data):
            break
        kind, value = data[at + 1], data[at + 2 : at + 1 + n]
        if kind in (0x08, 0x09):
            out["name"] = value.decode("utf-8", "replace")
        elif kind in (0x06, 0x07):
            uuids = out.setdefault("services", [])
            for i in range(0, len(value) - 15, 16):
                raw = value[i : i + 16][::-1].hex()
                uuids.append(f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}")
        at += 1 + n
    return out


class SimRadio:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.air = bytearray()  # every payload sent either way, for the leak scan (hil_tests)
        self.reset()

    def reset(self) -> None:
        """A power cut: no advertising, no GATT table, no link."""
        with self._cond:
            self.adv = b""
            self.table: dict[str, tuple[int, int]] = {}  # uuid -> (value handle, flags)
            self.values: dict[int, bytes] = {}
            self.events: deque[bytes] = deque()
            self.notes: deque[bytes] = deque()
            self.connected = False
            # When the firmware last took a central's writes, and sent its last notification
            # (time.monotonic()): the device's share of a round trip, for bench/push_bench.py.
            self.taken_at = self.notified_at = 0.0
            self._cond.notify_all()

    # --- the firmware's side (bridge requests) --------------------------------------------

    def handle(self, op: int, payload: bytes) -> bytes | None:
        """One bridge request; None if the op is not the radio's."""
        with self._cond:
            if op == BLE_ADV:
                self.adv = payload
            elif op == BLE_GATTS:
                self.table = {}
                at = 0
                while at < len(payload):
                    handle, flags, n = struct.unpack_from(">HHB", payload, at)
                    uuid = payload[at + 5 : at + 5 + n].decode()
                    self.table[uuid.lower()] = (handle, flags)
                    at += 5 + n
            elif op == BLE_VALUE:
                self.air += payload[2:]
                (handle,) = struct.unpack_from(">H", payload)
                self.values[handle] = payload[2:]
            elif op == BLE_NOTIFY:
                conn, handle = struct.unpack_from(">HH", payload)
                if self.connected and conn == _CONN:
                    self.air += payload[4:]
                    self.notified_at = time.monotonic()
                    self.notes.append(payload[4:])
                    self._cond.notify_all()
            elif op == BLE_EVENTS:
                out = bytearray()
                while self.events and (
                    not out or len(out) + len(self.events[0]) <= EVENTS_PER_POLL
                ):
                    out += self.events.popleft()
                if out:
                    self.taken_at = time.monotonic()
                return bytes(out)
            else:
                return None
            return b""

    def _event(self, kind: int, handle: int = 0, data: bytes = b"") -> None:
        if len(self.events) >= MAX_QUEUE:
            raise RadioError("the token is not taking writes")
        self.events.append(struct.pack(">BHHH", kind, _CONN, handle, len(data)) + data)

    # --- the central's side ----------------------------------------------------------------

    def control(self, action: str, **args) -> dict:
        """adv | connect | disconnect | write(uuid, data: base64) | read(uuid) |
        notify(timeout_s): one notification, or data None after the timeout."""
        with self._cond:
            if action == "adv":
                return parse_adv(self.adv) if self.adv else {}
            if action == "connect":
                if not self.adv:
                    raise RadioError("the token is not advertising")
                self.connected = True
                self.notes.clear()
                self._event(_CONNECT)
                return {}
            if action == "disconnect":
                if self.connected:
                    self.connected = False
                    self._event(_DISCONNECT)
                return {}
            if not self.connected:
                raise RadioError("not connected")
            if action == "write":
                handle = self._handle(args.get("uuid"), _FLAG_WRITE)
                data = base64.b64decode(args.get("data") or "")
                if len(data) > MAX_ATTRIBUTE:
                    raise RadioError(
                        f"write of {len(data)} bytes refused: an attribute value is at most "
                        f"{MAX_ATTRIBUTE} bytes (ATT error 0x0D, invalid attribute value length)"
                    )
                self.air += data
                self._event(_WRITE, handle, data)
                return {}
            if action == "read":
                handle = self._handle(args.get("uuid"), _FLAG_READ)
                return {"data": base64.b64encode(self.values.get(handle, b"")).decode()}
            if action == "notify":
                timeout = float(args.get("timeout_s", 1.0))
                self._cond.wait_for(lambda: self.notes or not self.connected, timeout)
                if not self.notes:
                    return {"data": None}
                return {"data": base64.b64encode(self.notes.popleft()).decode()}
        raise RadioError(f"unknown BLE action {action!r}")

    def _handle(self, uuid: object, flag: int) -> int:
        entry = self.table.get(str(uuid).lower())
        if entry is None:
            raise RadioError(f"no characteristic {uuid}")
        if not entry[1] & flag:
            raise RadioError(f"characteristic {uuid} does not allow that")
        return entry[0]
