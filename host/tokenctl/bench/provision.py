"""Provision many tokens at once, one thread per serial port, as the manifest says.

Each token goes through STEPS in order. A flaky cable (any TransportError: the port vanished,
the token stopped answering) closes the port, waits, reopens it and resumes at the step that
failed; every step is safe to run again (the accounts step adds only what is missing, the PIN
step unlocks a PIN it set itself). A token that answers with a refusal fails at once: that is
not the cable. Reopening checks the serial number, so a token swapped mid-run is caught.

No click and no rich here: progress goes to a callback (cli/bench.py draws it) and each token
ends in an Outcome, which the caller turns into an inventory Record.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial

from serial.tools import list_ports

from tokenctl.bench.manifest import Manifest, TokenPlan
from tokenctl.client import TokenClient
from tokenctl.errors import AuthError, DeviceError, TokenError, TransportError
from tokenctl.ports import ESP32_USB_IDS

STEPS = ("connect", "check", "clock", "settings", "accounts", "pin", "verify", "lock")
ATTEMPTS = 3  # connections per token: the first and two reconnects
BACKOFF_S = 0.5  # wait before reconnect n: n * BACKOFF_S


@dataclass(frozen=True)
class Slot:
    """A serial port on the bench; `slot` is its place (a hub port), None when unknown."""

    port: str
    slot: int | None = None

    @property
    def key(self) -> str:
        return f"slot {self.slot}" if self.slot is not None else self.port


@dataclass
class Outcome:
    slot: Slot
    result: str = "failed"  # ok, failed, skipped
    detail: str = ""
    serial: str = ""
    firmware: str = ""
    board: str = ""
    entry: str = ""  # which manifest entry applied
    accounts: list[dict] = field(default_factory=list)  # issuer, name, type, touch
    push: list[str] = field(default_factory=list)
    attempts: int = 0
    duration_s: float = 0.0


Progress = Callable[[Slot, str, int, str], None]  # slot, step, steps done, status text


def usb_slots() -> list[Slot]:
    """Real tokens by their USB-serial bridge, in order of USB location (hub port), so a
    token's slot is the hub port it sits in."""
    found = [p for p in list_ports.comports() if (p.vid, p.pid) in ESP32_USB_IDS]
    found.sort(key=lambda p: (p.location or "", p.device))
    return [Slot(p.device, n) for n, p in enumerate(found)]


class Provisioner:
    def __init__(
        self,
        manifest: Manifest,
        open_client: Callable[[str, float], TokenClient] | None = None,
        timeout_s: float = 5.0,
        attempts: int = ATTEMPTS,
        backoff_s: float = BACKOFF_S,
        progress: Progress | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.manifest = manifest
        self.open_client = open_client or (lambda port, t: TokenClient.open(port, timeout_s=t))
        self.timeout_s, self.attempts, self.backoff_s = timeout_s, attempts, backoff_s
        self.progress = progress or (lambda *a: None)
        self.now = now
        self._claimed: dict[str, Slot] = {}  # serial -> the slot that has it, across threads
        self._lock = threading.Lock()

    def run(
        self, slots: Iterable[Slot], on_done: Callable[[Outcome], None] | None = None
    ) -> list[Outcome]:
        """Provision every slot in parallel; `on_done` runs in the caller's thread as each
        token finishes (the inventory is written there, one writer). Outcomes in slot order."""
        slots = list(slots)
        if not slots:
            return []
        first: dict[str, Slot] = {}
        with ThreadPoolExecutor(max_workers=len(slots), thread_name_prefix="token") as pool:
            futures = []
            for slot in slots:
                other = first.setdefault(_device(slot.port), slot)
                job = self.provision if other is slot else partial(self.alias, other)
                futures.append(pool.submit(job, slot))
            for future in as_completed(futures):
                if on_done:
                    on_done(future.result())
        return [f.result() for f in futures]

    def provision(self, slot: Slot) -> Outcome:
        """One token, with reconnects on transport errors; never raises a TokenError."""
        out = Outcome(slot)
        job = _Job(self, slot, out)
        started = time.monotonic()
        try:
            job.run()
        except _Skip as why:
            out.result, out.detail = "skipped", str(why)
            self.progress(slot, "skipped", len(STEPS), str(why))
        except TokenError as exc:
            out.result, out.detail = "failed", _message(exc, job.step)
            self.progress(slot, "failed", job.done, out.detail)
        else:
            out.result = "ok"
            self.progress(slot, "ok", len(STEPS), "done")
        finally:
            job.close()
            out.duration_s = time.monotonic() - started
        return out

    def alias(self, other: Slot, slot: Slot) -> Outcome:
        """A second path to a port already in the run (e.g. a /dev/serial/by-id link): not
        opened, as two readers on one port would take each other's answers."""
        detail = f"connect: {slot.port} is the same port as {other.key} ({other.port})"
        self.progress(slot, "failed", 0, detail)
        return Outcome(slot, "failed", detail, attempts=0)

    def claim(self, serial: str, slot: Slot) -> Slot | None:
        """Mark a serial as provisioned in `slot`; the slot that had it first, if another (two
        paths to one device, e.g. /dev/ttyUSB0 and its /dev/serial/by-id link)."""
        with self._lock:
            other = self._claimed.setdefault(serial, slot)
        return None if other == slot else other


class _Skip(Exception):
    """The token is left alone (not in the manifest, or provisioned already)."""


class _Job:
    """One token's run: the steps, and the reconnect loop around them."""

    def __init__(self, owner: Provisioner, slot: Slot, out: Outcome) -> None:
        self.owner, self.slot, self.out = owner, slot, out
        self.client: TokenClient | None = None
        self.plan: TokenPlan | None = None
        self.step = STEPS[0]
        self.done = 0
        self.pin_set_by_us = False

    def run(self) -> None:
        while True:
            self.out.attempts += 1
            try:
                self.connect()
                for n in range(self.done, len(STEPS)):
                    self.step = STEPS[n]
                    if self.step != "connect":
                        self.owner.progress(self.slot, self.step, n, self.step)
                        getattr(self, "step_" + self.step)()
                    self.done = n + 1
                return
            except TransportError as exc:
                self.close()
                if self.out.attempts >= self.owner.attempts:
                    raise
                text = f"{self.step}: {exc}; reconnecting ({self.out.attempts})"
                self.owner.progress(self.slot, "retry", self.done, text)
                time.sleep(self.owner.backoff_s * self.out.attempts)

    def connect(self) -> None:
        self.step = "connect"
        self.owner.progress(self.slot, "connect", self.done, f"opening {self.slot.port}")
        self.client = self.owner.open_client(self.slot.port, self.owner.timeout_s)
        info = self.client.info()
        serial = str(info["serial"]).lower()
        if self.out.serial and serial != self.out.serial:
            raise DeviceError("swapped", f"token {serial} is not {self.out.serial}, seen before")
        if not self.out.serial:
            other = self.owner.claim(serial, self.slot)
            if other:
                where = f"{other.key} ({other.port})" if other.slot is not None else other.port
                raise DeviceError("duplicate", f"token {serial} is already in {where}")
        self.out.serial, self.out.firmware, self.out.board = serial, info["fw"], info["board"]
        self.done = max(self.done, 1)
        if self.pin_set_by_us and info.get("locked"):
            assert self.plan and self.plan.pin
            self.client.unlock(self.plan.pin)  # ours: set before the line dropped

    def step_check(self) -> None:
        plan = self.owner.manifest.plan_for(self.out.serial, self.slot.slot)
        if plan is None:
            raise _Skip('not in the manifest (unlisted = "skip")')
        self.plan, self.out.entry = plan, plan.entry
        info = self.c.info()
        if info.get("vault") != "ok" or info.get("lock_state") != "ok":
            raise DeviceError("corrupt", "the token reports damaged storage: wipe it first")
        if info.get("pin") or info.get("accounts"):
            held = f"PIN {'set' if info.get('pin') else 'not set'}, {info.get('accounts')} accounts"
            raise _Skip(f"already provisioned ({held}): wipe it first to provision it again")

    def step_clock(self) -> None:
        self.c.sync_time(self.owner.now())

    def step_settings(self) -> None:
        for name, value in self.p.settings:
            self.c.set_setting(name, value)

    def step_accounts(self) -> None:
        on_token = {(a["i"], a["n"]) for a in self.c.accounts()}
        missing = [a for a in self.p.accounts if (a.issuer, a.name) not in on_token]
        if missing:
            self.c.add_accounts(missing)

    def step_pin(self) -> None:
        if self.p.pin is None:
            return
        if self.c.info().get("pin"):  # set by us before the line dropped (checked: empty)
            self.pin_set_by_us = True
            return
        self.pin_set_by_us = True  # from here on, a locked token is ours to unlock
        self.c.set_pin(self.p.pin)

    def step_verify(self) -> None:
        listed = self.c.accounts()
        want = [(a.issuer, a.name, bool(a.touch)) for a in self.p.accounts]
        got = [(a["i"], a["n"], bool(a.get("t"))) for a in listed]
        if got != want:
            what = f"the token lists {len(got)} accounts, not the {len(want)} planned"
            raise DeviceError("verify", what + " in order (or a touch flag differs)")
        settings = self.c.settings()
        wrong = [name for name, value in self.p.settings if settings.get(name) != value]
        if wrong:
            raise DeviceError("verify", f"setting {wrong[0]} did not take")
        info = self.c.info()
        if bool(info.get("pin")) != (self.p.pin is not None):
            raise DeviceError("verify", "the token's PIN state is not what was planned")
        self.out.accounts = [
            {"issuer": a["i"], "name": a["n"], "type": a["k"], "touch": bool(a.get("t"))}
            for a in listed
        ]
        self.out.push = self.push_enrolments()

    def push_enrolments(self) -> list[str]:
        """Accounts enrolled for push approval, as the token lists them. Informational: a
        firmware without push (unknown_op) has none; another refusal is noted, not fatal."""
        try:
            return [_label(e) for e in self.c.call("push.list").get("p", [])]
        except DeviceError as exc:
            if exc.code != "unknown_op":
                self.out.detail = f"push enrolments unreadable ({exc.code})"
            return []

    def step_lock(self) -> None:
        if self.p.pin is not None:
            self.c.lock()

    @property
    def c(self) -> TokenClient:
        assert self.client is not None
        return self.client

    @property
    def p(self) -> TokenPlan:
        assert self.plan is not None
        return self.plan

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.close()
            except (OSError, TokenError):
                pass
            self.client = None


def _device(port: str) -> str:
    """The device behind a port name (symlinks resolved); URLs as they are."""
    return port if "://" in port else os.path.realpath(port)


def _label(a: dict) -> str:
    return f"{a['i']}:{a['n']}" if a.get("i") else a["n"]


def _message(exc: TokenError, step: str) -> str:
    """A per-token failure line; device messages never hold secrets (protocol.md §11)."""
    if isinstance(exc, AuthError):
        return f"{step}: the token refused: {exc}"
    if isinstance(exc, DeviceError):
        return f"{step}: {exc} ({exc.code})"
    return f"{step}: {exc}"
