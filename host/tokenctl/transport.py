"""The serial link to a token: one request out, its answer back, over pyserial.

Real boards and simulated tokens look the same here: `serial.serial_for_url` opens a device
path, a pty, or `socket://host:port`. Every blocking read has a deadline.
"""

from __future__ import annotations

import random
import time

import serial

from tokenctl import frame
from tokenctl.errors import DeviceTimeout, TransportError

DEFAULT_TIMEOUT_S = 5.0
RETRIES = 2


class SerialTransport:
    """Request/response over a serial port; retries a lost answer under the same id, which
    the device answers from its cache instead of acting twice."""

    def __init__(self, port: str, baudrate: int = 115200, timeout_s: float = DEFAULT_TIMEOUT_S):
        self.port = port
        self.timeout_s = timeout_s
        try:
            self._ser = serial.serial_for_url(port, baudrate=baudrate, timeout=0.05)
        except (serial.SerialException, OSError, ValueError) as e:
            raise TransportError(f"no device on {port}: {_reason(e)}") from None
        self._decoder = frame.Decoder()
        self._next_id = random.randrange(1, 1 << 30)
        self.bytes_out = 0
        self.bytes_in = 0

    def close(self) -> None:
        self._ser.close()

    def __enter__(self) -> SerialTransport:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def request(self, op: str, timeout_s: float | None = None, **args) -> dict:
        """Send one request; return the device's answer (which may carry an error code)."""
        rid = self._next_id
        self._next_id += 1
        data = frame.encode({"id": rid, "op": op, **args})
        if len(data) - 1 > frame.MAX_LINE:  # the limit counts the line without its newline
            raise ValueError(f"request too large for one frame ({len(data)} bytes)")
        per_try = timeout_s or self.timeout_s
        for _ in range(RETRIES + 1):
            self._write(data)
            answer = self._wait(rid, per_try)
            if answer is not None:
                return answer
        raise DeviceTimeout(
            f"the token on {self.port} stopped answering ({op}, {RETRIES + 1} tries)"
        )

    def _write(self, data: bytes) -> None:
        try:
            self._ser.write(data)
            self._ser.flush()
        except (serial.SerialException, OSError) as e:
            raise TransportError(f"writing to {self.port} failed: {_reason(e)}") from None
        self.bytes_out += len(data)

    def _wait(self, rid: int, timeout_s: float) -> dict | None:
        """The answer to `rid`, or None on a timeout or when the device saw a damaged frame."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                chunk = self._ser.read(self._ser.in_waiting or 1)
            except (serial.SerialException, OSError) as e:
                raise TransportError(f"reading from {self.port} failed: {_reason(e)}") from None
            self.bytes_in += len(chunk)
            for item in self._decoder.feed(chunk):
                if isinstance(item, frame.FrameError):
                    continue  # a damaged answer: wait for the retry's
                if item.get("id") == rid:
                    return item
                if item.get("id") is None and item.get("err") == "bad_frame":
                    return None  # our request was damaged on the way: send it again
                if item.get("id") is None and item.get("err") == "no_memory":
                    return item  # the token could not even read it: no use sending it again
        return None


def _reason(e: Exception) -> str:
    return str(e).split("\n")[0] or e.__class__.__name__
