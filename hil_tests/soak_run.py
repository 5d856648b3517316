"""The soak (issue 7, "Prove it"): one simulated token runs hours or days of simulated time on
an accelerated clock while every TOTP code is checked against pyotp at every period boundary,
push challenges arrive over the simulated BLE radio and are answered by a simulated person,
and the heap is sampled. Used by hil_tests/test_soak.py (CI-sized) and bench/soak.py (days).

How the checks are made strict:
- Codes: the `code` reply carries the device time `now` the firmware computed its codes at
  (read once per request), so each code (and its seconds left) is compared with pyotp at
  exactly that time. HOTP: each code at the counter the token reports, one up each time.
- Boundaries: the clock runs at Soak.rate to just past the next 30 s boundary, then at
  SLOW_RATE while the codes are read. For each period, every counter value from the first
  reading to the last must have been read: a skipped period counts as missed and fails.
- Clock: the token's `now` must lie between the DS3231 model's time read just before and just
  after the request (floored): the firmware neither loses nor invents time against its RTC.
- Push: while a challenge is in flight the clock runs at SLOW_RATE (a person answers in
  seconds; iat/exp are checked on the token's clock) and the relying party's clock is the
  token's. Outcomes cycle so no three failures come in a row (docs/push.md §5), and
  challenges are spaced beyond the rate limits: an unexpected answer, rate_limited included,
  is a failure.
- Heap: info()["heap_free"] (after gc.collect on the token) while no challenge is in flight
  and the last prompt's closing note is gone, after a warm-up (an HOTP code and one challenge
  of each outcome take every path once; the names they intern stay, as qstrs always do, and
  a path first taken mid-run would read as a step down). Growth is a
  negative least-squares slope over the run's second half or a last sample below the first
  (bounds below).
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
from accounts import uri
from screen import pages, render
from test_device import enroll, touch
from test_push import PUSH_HEAP

from tokenctl.client import TokenClient
from tokenctl.otpauth import parse_uri
from tokenctl.push.api import PushServer
from tokenctl.push.link import SimLink
from tokenctl.push.store import PushStore

# The soak sends push challenges: it runs at the push tests' heap (hil_tests/test_push.py).
SOAK_HEAP = PUSH_HEAP
PERIODS = (30, 60)
STEP = min(PERIODS)  # the loop wakes just past every multiple of this
# (issuer, algorithm, digits, period) of the TOTP accounts; then one HOTP account.
TOTP_MIX = [
    ("Acme", "SHA1", 6, 30),
    ("Globex", "SHA256", 8, 30),
    ("Initech", "SHA512", 6, 30),
    ("Umbrella", "SHA1", 8, 60),
    ("Hooli", "SHA256", 6, 60),
    ("Stark", "SHA512", 8, 60),
]
HOTP_ISSUER = "Vandelay"
SECRET_BYTES = {"SHA1": 20, "SHA256": 32, "SHA512": 64}  # RFC 6238's seed sizes
PUSH_ISSUER = "Acme"  # the push account (the prompt's title is "Sign in Acme")
APP, WHERE, IP = "VPN", "Lisbon, PT", "198.51.100.23"
FINGER = 2
# Each challenge's expected answer; an approval between failures, so never 3 in a row.
# No three failures in a row (a pause, docs/push.md §5); the first three are the warm-up.
OUTCOMES = ("approve", "deny", "stranger", "approve")
# The clock runs at Soak.rate between boundaries, and at SLOW_RATE from the moment a boundary
# is reached while the codes are read, an HOTP code or heap sample is taken, and a challenge
# is in flight (a person answers in seconds; its iat/exp are checked on the token's clock).
# A reading's time (30 ms median here, 110 ms seen under load) is then no part of the margin
# to the next boundary: only how late the loop wakes is.
SLOW_RATE = 10.0
NOTE_S = 3.5  # real seconds a finished prompt's last note stays up (prompt.py: 3 s)
NAME = "soak@example.com"
LIFETIME_S = 300  # the longest the token accepts (docs/push.md §3)
WAKE_S = 0.002  # real seconds past the computed boundary the loop wakes

# No growth: heap_free's least-squares slope at least -SLOPE_BOUND bytes per simulated hour,
# and the last sample at most LAST_TOLERANCE below the first. A leak of one GC block (32 bytes
# on this 64-bit port, the smallest allocation) per codes reading is 3.8 KB per simulated hour,
# 80 times the bound; per push challenge at one an hour, 32 B/h, which a day's run still shows
# as ~770 bytes lost (over LAST_TOLERANCE). 48 B/h is 1.1 KB a day, under 1% of the heap.
# What a steady heap does: it settles (seen: one or two steps of 128 B in the first hour, after
# the first challenges, then flat for the rest of a simulated day), then samples differ by a
# few blocks now and then (a log entry, the screen's state). So the slope is taken over the
# run's second half (`Report.settled`): a leak goes on there, a settling heap does not. One
# step of NOISE_B in the middle of an H-hour half reads as a slope of 1.5 * NOISE_B / H, so a
# run shorter than 8 hours gets that bound instead (384 B/h for a 1-hour run, 192 B/h for the
# suite's 2 hours: a leak per reading is still 10 to 20 times over it). The whole run's last
# sample must also stay within LAST_TOLERANCE of its first.
SLOPE_BOUND = 48.0
NOISE_B = 128
LAST_TOLERANCE = 512


@dataclass
class Soak:
    hours: float = 6.0  # simulated
    rate: float = 720.0  # the clock's speed between boundaries, times real time
    push_every_min: float = 60.0  # simulated minutes between challenges (0: none)
    heap_every_min: float = 15.0  # simulated minutes between heap samples
    hotp_every_min: float = 60.0  # simulated minutes between HOTP codes
    start: float | None = None  # Unix time the token's clock starts at (None: now)


@dataclass
class PeriodLog:
    period: int
    first: int | None = None  # the first and last counter (time // period) read
    last: int | None = None
    checked: int = 0  # boundaries crossed with a reading in the new period
    missed: int = 0  # periods that passed without a reading
    max_lag: float = 0.0  # simulated seconds from a boundary to its first reading

    @property
    def expected(self) -> int:
        return 0 if self.first is None or self.last is None else self.last - self.first

    def see(self, now: int) -> int:
        """Log a reading at device time `now`; returns how many periods it found skipped."""
        counter = now // self.period
        if self.last is None:
            self.first = self.last = counter
            return 0
        if counter < self.last:
            raise SoakError(f"the token's clock went back across a {self.period} s boundary")
        skipped = max(0, counter - self.last - 1)
        if counter > self.last:
            self.checked += 1
            self.missed += skipped
            self.max_lag = max(self.max_lag, now - counter * self.period)
            self.last = counter
        return skipped


@dataclass
class Report:
    soak: Soak
    sim_start: float = 0.0
    sim_end: float = 0.0
    real_s: float = 0.0
    readings: int = 0
    codes_checked: int = 0
    mismatches: int = 0
    problems: list[str] = field(default_factory=list)  # what went wrong, never a code
    periods: dict[int, PeriodLog] = field(default_factory=dict)
    clock_off: int = 0  # readings whose time fell outside the RTC's window
    max_clock_off: float = 0.0
    hotp_checked: int = 0
    hotp_mismatches: int = 0
    sent: int = 0
    results: dict[str, int] = field(default_factory=dict)  # approve / deny / ... counts
    failed: int = 0  # answers that were not the expected one, or errors
    expected_challenges: int = 0
    heap: list[tuple[float, int]] = field(default_factory=list)  # (simulated hour, free)
    latency: list[float] = field(default_factory=list)  # real seconds of each codes reading

    @property
    def sim_hours(self) -> float:
        return (self.sim_end - self.sim_start) / 3600

    def settled(self) -> list[tuple[float, int]]:
        """The heap samples of the run's second half: the first settles (see NOISE_B)."""
        if not self.heap:
            return []
        mid = (self.heap[0][0] + self.heap[-1][0]) / 2
        return [(x, y) for x, y in self.heap if x >= mid]

    def slope(self) -> float:
        """Least-squares slope of heap_free over the settled half, bytes per simulated hour
        (0 with < 2 samples)."""
        heap = self.settled()
        if len(heap) < 2:
            return 0.0
        n = len(heap)
        mx = sum(x for x, _ in heap) / n
        my = sum(y for _, y in heap) / n
        sxx = sum((x - mx) ** 2 for x, _ in heap)
        sxy = sum((x - mx) * (y - my) for x, y in heap)
        return sxy / sxx if sxx else 0.0

    def slope_bound(self) -> float:
        """SLOPE_BOUND, or what the settled half of a run this short can resolve (NOISE_B)."""
        return max(SLOPE_BOUND, 1.5 * NOISE_B / max(self.sim_hours / 2, 1 / 60))

    def verdicts(self) -> dict[str, bool]:
        frees = [y for _, y in self.heap]
        return {
            "codes": self.codes_checked > 0 and self.mismatches == 0 and self.hotp_mismatches == 0,
            "boundaries": all(p.expected > 0 and p.missed == 0 for p in self.periods.values()),
            "clock": self.readings > 0 and self.clock_off == 0,
            "push": self.failed == 0 and self.sent >= self.expected_challenges,
            "heap": len(frees) >= 3
            and len(self.settled()) >= 2
            and self.slope() >= -self.slope_bound()
            and frees[-1] >= frees[0] - LAST_TOLERANCE,
        }

    def ok(self) -> bool:
        return all(self.verdicts().values())


class SoakError(Exception):
    """The soak could not go on (the token stopped answering sensibly)."""


@dataclass
class _Account:
    issuer: str
    kind: str
    algorithm: str
    digits: int
    period: int
    secret_b32: str = field(repr=False)

    @property
    def uri(self) -> str:
        return uri(self.issuer, NAME, self.secret_b32, self.kind, self.algorithm,
                   self.digits, self.period)  # fmt: skip

    def totp(self, at: int) -> str:
        digest = getattr(hashlib, self.algorithm.lower())
        return pyotp.TOTP(self.secret_b32, digits=self.digits, digest=digest,
                          interval=self.period).at(at)  # fmt: skip

    def hotp(self, counter: int) -> str:
        digest = getattr(hashlib, self.algorithm.lower())
        return pyotp.HOTP(self.secret_b32, digits=self.digits, digest=digest).at(counter)


def make_accounts() -> list[_Account]:
    """The TOTP mix and one HOTP account, fresh random secrets (never printed)."""
    out = []
    for issuer, alg, digits, period in TOTP_MIX:
        secret = base64.b32encode(os.urandom(SECRET_BYTES[alg])).decode().rstrip("=")
        out.append(_Account(issuer, "totp", alg, digits, period, secret))
    secret = base64.b32encode(os.urandom(20)).decode().rstrip("=")
    out.append(_Account(HOTP_ISSUER, "hotp", "SHA1", 6, 30, secret))
    return out


class _Person:
    """Reads the push prompt off the panel and answers it with the buttons and the sensor."""

    def __init__(self, sim):
        self.sim = sim
        self._frames: dict[str, bytes] = {}
        deny = self.frame("Deny")
        report = self.frame("Report fraud")
        # The pages every option's frame shares: title, app, place, address.
        self._same = [p for p in range(len(deny) // 128) if deny[p * 128 : (p + 1) * 128]
                      == report[p * 128 : (p + 1) * 128]]  # fmt: skip

    def frame(self, option: str) -> bytes:
        if option not in self._frames:
            self._frames[option] = pages(
                render(
                    "draw_message",
                    title=f"Sign in {PUSH_ISSUER}",
                    lines=[APP, WHERE, IP, f"< {option} >"],
                )
            )
        return self._frames[option]

    def _panel(self) -> bytes:
        return pages(bytes(self.sim.parts.ssd1306.gddram))

    def _prompt_up(self, panel: bytes) -> bool:
        ref = self.frame("Deny")
        return all(panel[p * 128 : (p + 1) * 128] == ref[p * 128 : (p + 1) * 128]
                   for p in self._same)  # fmt: skip

    def answer(self, outcome: str, number: int, timeout_s: float = 20) -> None:
        """Wait for the prompt, walk down to the option and press OK; a finger after a
        number (FINGER for approve, a stranger's otherwise)."""
        option = "Deny" if outcome == "deny" else str(number)
        wanted = self.frame(option)
        deadline = time.monotonic() + timeout_s
        while not self._prompt_up(self._panel()):
            if time.monotonic() > deadline:
                raise SoakError("the push prompt never showed")
            time.sleep(0.05)
        for _ in range(6):  # 3 numbers, Deny, Report fraud: at most 4 steps to any
            if self._panel() == wanted:
                break
            self.sim.parts.press("down", 0.1)
            time.sleep(0.35)
        else:
            raise SoakError("the prompt never offered the option wanted")
        self.sim.parts.press("ok", 0.1)
        time.sleep(0.3)
        if outcome == "approve":
            touch(self.sim, FINGER)
        elif outcome == "stranger":
            touch(self.sim, None)


class _Challenge(threading.Thread):
    """One challenge, delivered over the simulated radio while the person answers it."""

    def __init__(self, db: Path, link, serial, person, outcome, clock, done: threading.Event):
        super().__init__(daemon=True)
        self.db, self.link, self.serial = db, link, serial
        self.person, self.outcome, self.clock, self.done = person, outcome, clock, done
        self.result = None
        self.problem: str | None = None

    def run(self) -> None:
        try:
            self._run()
        except Exception as e:  # reported as a failed challenge; the soak goes on
            self.problem = f"{self.outcome}: {type(e).__name__}: {e}"
        finally:
            self.done.set()

    def _run(self) -> None:
        # The relying party's store, opened in this thread (sqlite3 objects stay in theirs).
        with PushStore.open(self.db) as store:
            self._deliver(PushServer(store, clock=self.clock))

    def _deliver(self, server: PushServer) -> None:
        c = server.prepare(self.serial, PUSH_ISSUER, APP, WHERE, IP, lifetime_s=LIFETIME_S)
        errors: list[Exception] = []

        def person() -> None:
            try:
                self.person.answer(self.outcome, c.number)
            except Exception as e:
                errors.append(e)

        worker = threading.Thread(target=person, daemon=True)
        worker.start()
        result = self.result = server.deliver(self.link, c, timeout_s=40)
        worker.join(20)
        after = self.clock()
        want = "approve" if self.outcome == "approve" else "deny"
        if errors:
            self.problem = f"{self.outcome}: the person: {errors[0]}"
        elif not result.authenticated or result.result != want:
            self.problem = f"{self.outcome}: answered {result.result} ({result.why})"
        elif want == "approve" and not (result.approved and result.pick == c.number):
            self.problem = "approve: not an approval of the number shown"
        elif result.device_time is None or not c.iat <= result.device_time <= math.floor(after):
            self.problem = f"{self.outcome}: the answer's time is off the token's clock"


def run(sim, client: TokenClient, soak: Soak, workdir: Path,
        progress: Callable[[str], None] | None = None) -> Report:  # fmt: skip
    """Provision `sim` (a fresh simulated token with `client` open on it), run the soak and
    return its figures. The clock is put back to real time at the end."""
    return _Run(sim, client, soak, workdir).go(progress)


class _Run:
    def __init__(self, sim, client: TokenClient, soak: Soak, workdir: Path):
        self.sim, self.client, self.soak = sim, client, soak
        self.parts = sim.parts
        self.rep = Report(soak, periods={p: PeriodLog(p) for p in PERIODS})
        self.accounts = make_accounts()
        self.totp = {(a.issuer, NAME): a for a in self.accounts if a.kind == "totp"}
        self.hotp = next(a for a in self.accounts if a.kind == "hotp")
        self.db = workdir / "soak-push.db"
        self.rate = 1.0
        self.hotp_last = -1
        self.last_now = 0
        self.done = threading.Event()
        self.ended_at = 0.0  # time.monotonic() when the last challenge ended

    def clock(self) -> float:
        """The DS3231 model's time: the simulated clock, and the relying party's."""
        return self.parts.clock("show")

    def set_rate(self, rate: float) -> None:
        if rate != self.rate:
            self.parts.clock("rate", rate)
            self.rate = rate

    def setup(self) -> None:
        soak, client = self.soak, self.client
        client.sync_time(time.time() if soak.start is None else soak.start)
        client.add_accounts([parse_uri(a.uri) for a in self.accounts])
        enroll(self.sim, client, FINGER)
        with PushStore.open(self.db) as store:
            PushServer(store, clock=self.clock).enroll(client, PUSH_ISSUER)
        self.serial = client.info()["serial"]
        self.hotp_ref = client.find(HOTP_ISSUER)
        self.link = SimLink(lambda action, **a: self.parts.ble.control(action, **a))
        self.person = _Person(self.sim)

    def challenge(self, outcome: str) -> _Challenge:
        c = _Challenge(self.db, self.link, self.serial, self.person, outcome, self.clock,
                       self.done)  # fmt: skip
        c.start()
        return c

    def settle(self, c: _Challenge) -> None:
        c.join(5)
        rep = self.rep
        rep.sent += 1
        if c.result is not None:
            rep.results[c.result.result] = rep.results.get(c.result.result, 0) + 1
        if c.problem or c.result is None:
            rep.failed += 1
            _note(rep, c.problem or f"{c.outcome}: no answer")
        self.done.clear()
        self.ended_at = time.monotonic()

    def go(self, progress: Callable[[str], None] | None) -> Report:
        soak, rep = self.soak, self.rep
        self.setup()
        self.set_rate(SLOW_RATE)
        # Warm-up: an HOTP code and a challenge of each outcome take their paths once before
        # the heap is sampled (3 prompts: the per-account limit, spaced by `every` after);
        # the challenges count like any other.
        self.read_hotp()
        for outcome in OUTCOMES[:3]:
            warm = self.challenge(outcome)
            warm.join(90)
            self.settle(warm)
        real0 = time.monotonic()
        now = rep.sim_start = self.read_codes()
        end = now + soak.hours * 3600
        every = soak.push_every_min * 60
        # The warm-up's, and one every `every` simulated seconds before the end.
        rep.expected_challenges = 3 + (math.ceil(soak.hours * 3600 / every) - 1 if every else 0)
        next_push = now + every if every else math.inf
        next_hotp = now + soak.hotp_every_min * 60
        next_heap = next_note = now
        c: _Challenge | None = None
        while True:
            if c is not None and self.done.is_set():
                self.settle(c)
                c = None
            if c is None and now >= end and next_push >= end:
                break
            # Fast to the next boundary; slow while a person answers a prompt, or while a heap
            # sample waits for the last prompt's note to go ...
            waiting = now >= next_heap and not self._settled()
            self.set_rate(SLOW_RATE if c or waiting else soak.rate)
            t = self.clock()
            wake = (self.last_now // STEP + 1) * STEP
            if self.done.wait(max(0.0, wake - t) / self.rate + WAKE_S):
                continue  # the challenge ended first
            # ... and slow for the reading and whatever follows it.
            self.set_rate(SLOW_RATE)
            now = self.read_codes()
            if c is not None:
                pass
            elif now >= next_heap and self._settled():
                self.sample_heap()
                next_heap = now + soak.heap_every_min * 60
            elif now >= next_push and next_push < end:
                c = self.challenge(OUTCOMES[rep.sent % len(OUTCOMES)])
                next_push += every
            elif now >= next_hotp:
                self.read_hotp()
                next_hotp += soak.hotp_every_min * 60
            if progress and now >= next_note:
                progress(f"soak: {(now - rep.sim_start) / 3600:.1f} of {soak.hours:g} simulated h")
                next_note += 3600
        rep.sim_end = now
        rep.real_s = time.monotonic() - real0
        time.sleep(max(0.0, NOTE_S - (time.monotonic() - self.ended_at)))
        self.sample_heap()  # the last sample
        self.set_rate(1.0)
        return rep

    def _settled(self) -> bool:
        """Whether a finished prompt's last note ("Approved", ...) has gone: until then its
        task keeps prompt.py's bytecode alive (about 2 KB), which is not a leak."""
        return time.monotonic() - self.ended_at >= NOTE_S

    def read_codes(self) -> int:
        """One codes reading, checked against pyotp at the device time it carries."""
        rep = self.rep
        before, t0 = self.clock(), time.perf_counter()
        now, items = self.client.codes()
        after = self.clock()
        rep.latency.append(time.perf_counter() - t0)
        rep.readings += 1
        lo, hi = math.floor(before), math.floor(after)
        if not lo <= now <= hi:
            rep.clock_off += 1
            rep.max_clock_off = max(rep.max_clock_off, lo - now, now - hi)
            _note(rep, f"t={now}: the token's time is off its RTC's [{lo}, {hi}]")
        if len(items) != len(self.accounts):
            raise SoakError(f"codes listed {len(items)} accounts, not {len(self.accounts)}")
        for item in items:
            self._check(now, item)
        for log in rep.periods.values():
            if skipped := log.see(now):
                _note(rep, f"t={now}: {skipped} period(s) of {log.period} s passed unread "
                           f"(previous reading t={self.last_now})")  # fmt: skip
        self.last_now = now
        return now

    def _check(self, now: int, item: dict) -> None:
        rep = self.rep
        acc = self.totp.get((item.get("i"), item.get("n")))
        if acc is None:  # the HOTP account: listed, without a code
            if item.get("k") != "hotp" or "code" in item:
                rep.mismatches += 1
                _note(rep, f"t={now}: {item.get('i')}: an HOTP account listed with a code")
            return
        rep.codes_checked += 1
        left = acc.period - now % acc.period
        got = (item.get("code"), item.get("p"), item.get("left"))
        if got != (acc.totp(now), acc.period, left):
            rep.mismatches += 1
            _note(rep, f"t={now}: {acc.issuer} ({acc.algorithm}, {acc.digits} digits, "
                       f"{acc.period} s) differs from pyotp")  # fmt: skip

    def read_hotp(self) -> None:
        """The HOTP account's next code: its counter one up, its code pyotp's."""
        rep = self.rep
        item = self.client.code(self.hotp_ref)["c"][0]
        counter = item.get("c")
        rep.hotp_checked += 1
        if not isinstance(counter, int) or (self.hotp_last >= 0 and counter != self.hotp_last + 1):
            rep.hotp_mismatches += 1
            _note(rep, f"HOTP counter {counter} after {self.hotp_last}")
        elif item.get("code") != self.hotp.hotp(counter):
            rep.hotp_mismatches += 1
            _note(rep, f"HOTP code at counter {counter} differs from pyotp")
        if isinstance(counter, int):
            self.hotp_last = counter

    def sample_heap(self) -> None:
        hour = (self.clock() - self.rep.sim_start) / 3600
        self.rep.heap.append((hour, self.client.info()["heap_free"]))


def _note(rep: Report, what: str) -> None:
    if len(rep.problems) < 20:
        rep.problems.append(what)


def rows(rep: Report) -> list[tuple[str, str, str, str]]:
    """(figure, value, bar, verdict) rows for bench/table.py."""
    v = rep.verdicts()
    s = rep.soak

    def mark(ok: bool) -> str:
        return "pass" if ok else "fail"

    frees = [y for _, y in rep.heap]
    lat = sorted(rep.latency)
    boundaries = ", ".join(
        f"{p.period} s: {p.checked}/{p.expected} (max lag {p.max_lag:.0f} s)"
        for p in rep.periods.values()
    )
    results = ", ".join(f"{k} {n}" for k, n in sorted(rep.results.items())) or "none"
    heap = (
        f"first {frees[0]}, last {frees[-1]}, min {min(frees)}, max {max(frees)} "
        f"({len(frees)} samples), second half's slope {rep.slope():+.1f} B/simulated h"
        if frees
        else "no samples"
    )
    return [
        (
            "Soak: simulated time",
            f"{rep.sim_hours:.2f} h ({rep.sim_hours / 24:.2f} days) in {rep.real_s:.0f} s real, "
            f"clock x{s.rate:g} (x{SLOW_RATE:g} reading, answering), heap {SOAK_HEAP}",
            "report",
            "report",
        ),
        (
            "Soak: TOTP codes vs pyotp",
            f"{rep.codes_checked} codes in {rep.readings} readings, {rep.mismatches} mismatches; "
            f"HOTP {rep.hotp_checked} codes, {rep.hotp_mismatches} mismatches",
            "0 mismatches",
            mark(v["codes"]),
        ),
        ("Soak: period boundaries checked", boundaries, "none missed", mark(v["boundaries"])),
        (
            "Soak: one codes reading, real time",
            f"median {_ms(lat, 0.5)} ms, p99 {_ms(lat, 0.99)} ms, max {_ms(lat, 1)} ms "
            f"(a 30 s period: {30000 / s.rate:.0f} ms at x{s.rate:g})",
            "report",
            "report",
        ),
        (
            "Soak: token clock vs its RTC",
            f"{rep.clock_off} of {rep.readings} readings off (max {rep.max_clock_off:.0f} s)",
            "0 off",
            mark(v["clock"]),
        ),
        (
            "Soak: push challenges over BLE",
            f"{rep.sent} sent ({results}), {rep.failed} failed",
            f">= {rep.expected_challenges}, 0 failed",
            mark(v["push"]),
        ),
        (
            "Soak: heap free",
            heap,
            f"slope >= -{rep.slope_bound():.0f} B/h, last >= first - {LAST_TOLERANCE}",
            mark(v["heap"]),
        ),
    ]


def _ms(sorted_s: list[float], q: float) -> str:
    return f"{1000 * sorted_s[int(q * (len(sorted_s) - 1))]:.0f}" if sorted_s else "-"
