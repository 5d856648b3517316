"""Links to a token's push service (docs/push.md §6): one challenge out, one answer back.

`SimLink` drives the simulator's BLE central through a `ble_call(action, **args)` function;
`BleakLink` uses a real radio through bleak. Both chunk with tokenctl.push.chunks. A link
carries bytes only: what they mean is checked above it (tokenctl.push.crypto).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import Callable
from typing import Any, Protocol

from tokenctl.errors import DeviceTimeout, TransportError
from tokenctl.push import chunks

SERVICE_UUID = "5a7c0001-8f1e-4b7a-9d2c-3e1f0a6b9c4d"
CHALLENGE_UUID = "5a7c0002-8f1e-4b7a-9d2c-3e1f0a6b9c4d"
ANSWER_UUID = "5a7c0003-8f1e-4b7a-9d2c-3e1f0a6b9c4d"
INFO_UUID = "5a7c0004-8f1e-4b7a-9d2c-3e1f0a6b9c4d"
_ADDRESS = re.compile(r"([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}|[0-9A-Fa-f-]{36}")  # MAC, or macOS UUID
_NOTIFY_SLICE_S = 5.0  # one simulator call waits at most this long, so Ctrl-C stays prompt


class AnswerTimeout(DeviceTimeout):
    """No complete answer arrived in time (the token may still be showing the prompt)."""


class Link(Protocol):
    def exchange(self, message: bytes, timeout_s: float) -> bytes:
        """Send one message and return the one answer, or raise AnswerTimeout/TransportError."""
        ...


def advert_name(serial: str) -> str:
    """The name a token advertises under: Token-<last 6 hex digits of its serial>."""
    return "Token-" + serial[-6:].lower()


BleCall = Callable[..., dict[str, Any]]


class SimLink:
    """The simulated token's push service, through the launcher's BLE central."""

    def __init__(self, ble_call: BleCall, mtu: int = chunks.DEFAULT_MTU, name: str | None = None):
        self.ble_call = ble_call
        self.mtu = mtu
        self.name = name  # when given, the advertised name must be this one

    def info(self) -> dict:
        """The device-info characteristic: {"serial", "fw", "proto", "push"}."""
        self._check_advert()
        self.ble_call("connect")
        try:
            raw = base64.b64decode(self.ble_call("read", uuid=INFO_UUID)["data"])
        finally:
            self._disconnect()
        try:
            return json.loads(raw)
        except ValueError:
            raise TransportError("the token's device info is not JSON") from None

    def exchange(self, message: bytes, timeout_s: float) -> bytes:
        pieces = chunks.split(message, self.mtu)
        deadline = time.monotonic() + timeout_s
        self._check_advert()
        self.ble_call("connect")
        try:
            self._drain()
            for piece in pieces:
                self.ble_call("write", uuid=CHALLENGE_UUID, data=base64.b64encode(piece).decode())
            return self._gather(deadline, timeout_s)
        finally:
            self._disconnect()

    def _check_advert(self) -> None:
        adv = self.ble_call("adv")
        if not adv.get("name"):
            raise TransportError("the simulated token is not advertising (push off, or no BLE)")
        if SERVICE_UUID not in [str(u).lower() for u in adv.get("services", [])]:
            raise TransportError(f"{adv['name']} does not advertise the push service")
        if self.name and adv["name"] != self.name:
            raise TransportError(
                f"the simulated token advertises as {adv['name']}, not {self.name}"
            )

    def _drain(self) -> None:
        """Drop notifications left from an earlier exchange, so they are not taken as ours."""
        for _ in range(256):
            if self.ble_call("notify", timeout_s=0)["data"] is None:
                return

    def _gather(self, deadline: float, timeout_s: float) -> bytes:
        r = chunks.Reassembler()
        while (left := deadline - time.monotonic()) > 0:
            data = self.ble_call("notify", timeout_s=min(left, _NOTIFY_SLICE_S))["data"]
            if data is None:
                continue
            try:
                message = r.feed(base64.b64decode(data))
            except chunks.ChunkError as e:
                raise TransportError(f"the token's answer arrived broken: {e}") from None
            if message is not None:
                return message
        raise AnswerTimeout(f"no answer from the token within {timeout_s:g} s")

    def _disconnect(self) -> None:
        try:
            self.ble_call("disconnect")
        except Exception:  # the answer (or the first error) matters more than this
            pass


class BleakLink:
    """A real token over BLE (bleak): pairs with LE Secure Connections as the OS asks (the
    token shows the passkey), writes chunks with response, gathers answer notifications."""

    def __init__(self, address_or_name: str, scan_timeout_s: float = 15.0):
        self.target = address_or_name
        self.scan_timeout_s = scan_timeout_s

    def exchange(self, message: bytes, timeout_s: float) -> bytes:
        return asyncio.run(self.exchange_async(message, timeout_s))

    async def exchange_async(self, message: bytes, timeout_s: float) -> bytes:
        """exchange() for a caller already in an event loop (an asyncio login server)."""
        from bleak.exc import BleakError

        chunks.split(message)  # refuse a bad message before touching the radio
        try:
            return await self._exchange(message, timeout_s)
        except (BleakError, OSError, TimeoutError, chunks.ChunkError) as e:
            raise TransportError(f"BLE {self.target}: {e or type(e).__name__}") from None

    async def _exchange(self, message: bytes, timeout_s: float) -> bytes:
        from bleak import BleakClient, BleakScanner

        if _ADDRESS.fullmatch(self.target):
            device = await BleakScanner.find_device_by_address(self.target, self.scan_timeout_s)
        else:
            device = await BleakScanner.find_device_by_name(self.target, self.scan_timeout_s)
        if device is None:
            raise TransportError(f"no BLE token {self.target!r} in range")
        async with BleakClient(device, pair=True, timeout=self.scan_timeout_s) as client:
            answers: asyncio.Queue[bytes] = asyncio.Queue()
            await client.start_notify(ANSWER_UUID, lambda _c, d: answers.put_nowait(bytes(d)))
            char = client.services.get_characteristic(CHALLENGE_UUID)
            if char is None:
                raise TransportError(f"{self.target} has no push service")
            mtu = char.max_write_without_response_size + 3  # the negotiated ATT MTU
            for piece in chunks.split(message, mtu):
                await client.write_gatt_char(char, piece, response=True)
            try:
                return await asyncio.wait_for(_gather(answers), timeout_s)
            except TimeoutError:  # only the wait for the answer: a slow connect is a link error
                raise AnswerTimeout(f"no answer from the token within {timeout_s:g} s") from None


async def _gather(answers: asyncio.Queue[bytes]) -> bytes:
    r = chunks.Reassembler()
    while True:
        message = r.feed(await answers.get())
        if message is not None:
            return message
