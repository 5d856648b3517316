"""One simulated token: the compiled firmware on the MicroPython unix port behind a serial port.

The firmware's serial link is the process's stdin/stdout. Two relays copy it to the master side
of a pty (or to one TCP client at a time), optionally throttled to the baud rate of an 8N1 line.
The pty and the listener outlive the process, so the port stays the same across power cycles;
bytes the host sends while the token is off are dropped, as a real UART would drop them.
"""

import fcntl
import os
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import tty
from pathlib import Path
from typing import IO

from tokenctl.errors import TokenError
from tokenctl.sim.build import build_firmware, find_tool
from tokenctl.sim.bus import BusServer, Parts

# The simulated ESP32's MicroPython heap. bench/run.py measures the smallest that works.
DEFAULT_HEAP = "128K"  # the bar (bench/run.py: "Smallest heap")
CHUNK = 4096
TICK = 0.1  # how often blocked relays look at the stop flag


class _Bucket:
    """Token bucket: at most `rate` bytes per second, bursts of at most 20 ms worth."""

    def __init__(self, rate: float):
        self.rate, self.cap = rate, max(1.0, rate / 50)
        self.tokens, self.stamp = self.cap, time.monotonic()

    def take(self, want: int) -> int:
        """Wait for at least one byte of credit; returns how many bytes (<= want) may pass."""
        while True:
            now = time.monotonic()
            self.tokens = min(self.cap, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                n = min(want, int(self.tokens))
                self.tokens -= n
                return n
            time.sleep((1 - self.tokens) / self.rate)

    def refund(self, n: int) -> None:
        self.tokens += n


WIRE_MAX = 16 * 1024 * 1024  # bytes of each direction kept for the leak scan (hil_tests)
STARTED: list["SimToken"] = []  # every token started in this process, for the leak scan


class SimToken:
    def __init__(
        self,
        state_dir: str | Path,
        baud: int | None = None,
        heap: str = DEFAULT_HEAP,
        entry: str = "main",
        tcp: bool = False,
        extra_path: str | Path | None = None,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.baud, self.heap, self.entry, self.tcp = baud, heap, entry, tcp
        self.extra_path = extra_path
        self.build_dir: Path | None = None
        self.exit_code: int | None = None  # of a process that ended on its own
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()  # guards _proc and writes to its stdin
        self._host_lock = threading.Lock()  # guards writes to the host side and _client
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []
        self._master: int | None = None
        self._slave: int | None = None
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self._lockfile: IO[str] | None = None
        self._port: str | None = None
        self._bus: BusServer | None = None
        self._bus_dir = ""
        # Every byte that crossed the serial line, each way (hil_tests/leaks.py scans them).
        self.wire_in = bytearray()
        self.wire_out = bytearray()

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> "SimToken":
        self.state_dir.mkdir(parents=True, exist_ok=True)
        lockfile = self._lockfile = open(self.state_dir / "lock", "w")  # held until stop()
        try:
            fcntl.flock(lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lockfile.close()
            self._lockfile = None
            raise TokenError(f"{self.state_dir} is in use by another simulator") from None
        try:
            self._open()
        except BaseException:
            self.stop()
            raise
        STARTED.append(self)
        return self

    def _open(self) -> None:
        self.build_dir = build_firmware()
        if self.tcp:
            listener = self._listener = socket.create_server(("127.0.0.1", 0), backlog=1)
            self._port = f"socket://127.0.0.1:{listener.getsockname()[1]}"
        else:
            master, slave = self._master, self._slave = os.openpty()
            tty.setraw(slave)  # bytes pass untouched; kept open so the master never HUPs
            os.set_blocking(master, False)
            self._port = os.ttyname(slave)
        self._mp = find_tool("micropython")
        self.parts = Parts(self.state_dir)
        # A short path: unix socket paths are limited to about 100 bytes.
        self._bus_dir = tempfile.mkdtemp(prefix="tokenbus-")
        self._bus = BusServer(Path(self._bus_dir) / "bus.sock", self.parts)
        self._up = self._bucket() if self.baud else None
        self._spawn(self._host_to_device)
        self.power_on()

    def power_on(self) -> None:
        """Start the firmware (if it is not running) on the same state folder and port."""
        with self._lock:
            if self.alive():
                return
            # The firmware runs in the build folder with "" on its path: a module's __file__ (a
            # qstr, heap never freed) is then "authtok/vault.mpy", as short as on a device, and
            # the heap it costs does not depend on where the repository is checked out.
            path = ["", ".frozen"]
            if self.extra_path:
                path.insert(0, str(self.extra_path))
            env = dict(os.environ, MICROPYPATH=os.pathsep.join(path))
            env["TOKEN_SIM_DIR"] = str(self.state_dir)
            assert self._bus is not None
            env["TOKEN_SIM_BUS"] = str(self._bus.path)
            self.parts.power_on()
            with open(self.state_dir / "console.log", "ab") as log:
                self._proc = subprocess.Popen(
                    [self._mp, "-X", f"heapsize={self.heap}", "-m", self.entry],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    env=env,
                    cwd=self.build_dir,
                )
            self.exit_code = None
            self._spawn(self._device_to_host, self._proc)

    def power_cut(self) -> None:
        """SIGKILL the firmware at once, as pulling the battery."""
        proc = self._proc  # kill before taking the lock: a relay may be blocked writing to it
        if proc is None:
            return
        proc.kill()
        proc.wait()
        with self._lock:
            if proc.stdin:
                proc.stdin.close()
            if self._proc is proc:
                self._proc = None
                self.exit_code = None

    def restart(self) -> None:
        self.power_cut()
        self.power_on()

    def stop(self) -> None:
        """Kill the firmware and close the port."""
        self.power_cut()
        self._closing.set()
        for thread in self._threads:
            thread.join()
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        if self._bus is not None:
            self._bus.close()
            self._bus = None
            shutil.rmtree(self._bus_dir, ignore_errors=True)
        for closable in (self._client, self._listener, self._lockfile):
            if closable is not None:
                closable.close()
        self._master = self._slave = self._client = self._listener = self._lockfile = None

    def alive(self) -> bool:
        proc = self._proc
        if proc is None:
            return False
        code = proc.poll()
        if code is not None:
            self.exit_code = code
        return code is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc and self.alive() else None

    @property
    def port(self) -> str | None:
        return self._port

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- relays ----------------------------------------------------------------------------

    def _bucket(self) -> _Bucket:
        assert self.baud
        return _Bucket(self.baud / 10)  # 8N1: start + 8 data + stop bits per byte

    def _spawn(self, target, *args) -> None:
        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _host_to_device(self) -> None:
        """Host -> firmware stdin, for the token's whole life; dropped while it is off."""
        while not self._closing.is_set():
            if self.tcp and self._client is None:
                assert self._listener is not None
                if select.select([self._listener], [], [], TICK)[0]:
                    client, _ = self._listener.accept()
                    client.setblocking(False)
                    self._client = client
                continue
            fd = self._client.fileno() if self._client else self._master
            assert fd is not None
            if not select.select([fd], [], [], TICK)[0]:
                continue
            want = self._up.take(CHUNK) if self._up else CHUNK
            try:
                data = os.read(fd, want)
            except BlockingIOError:
                data = None
            except OSError:
                data = b""
            if self._up:
                self._up.refund(want - len(data or b""))
            if data is None:
                continue
            if not data:  # the TCP client went away; wait for the next one
                with self._host_lock:
                    if self._client:
                        self._client.close()
                    self._client = None
                continue
            if len(self.wire_in) < WIRE_MAX:
                self.wire_in += data
            with self._lock:
                if self._proc and self._proc.stdin and self.alive():
                    try:
                        _write_all(self._proc.stdin.fileno(), data)
                    except OSError:
                        pass  # the firmware died mid-write: the bytes are lost

    def _device_to_host(self, proc: subprocess.Popen) -> None:
        """One process's stdout -> host, until that process ends."""
        assert proc.stdout is not None
        out = proc.stdout.fileno()
        bucket = self._bucket() if self.baud else None
        while not self._closing.is_set():
            if not select.select([out], [], [], TICK)[0]:
                continue
            want = bucket.take(CHUNK) if bucket else CHUNK
            data = os.read(out, want)
            if not data:
                break
            if bucket:
                bucket.refund(want - len(data))
            if len(self.wire_out) < WIRE_MAX:
                self.wire_out += data
            with self._host_lock:
                fd = self._client.fileno() if self._client else self._master
                if fd is None:
                    continue  # no TCP client: the bytes go out on an unplugged wire
                while data and not self._closing.is_set():
                    if select.select([], [fd], [], TICK)[1]:
                        try:
                            data = data[os.write(fd, data) :]
                        except BlockingIOError:
                            pass
                        except OSError:
                            break  # the client went away
        proc.stdout.close()


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]
