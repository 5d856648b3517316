"""Benchmarks of the token: heap budget, serial efficiency, OTP speed and boot time.

    .venv/bin/python bench/run.py [--json] [--seed N]

Everything runs in one process, one figure after the other, so the ratios compare figures
taken on the same (shared, noisy) machine within one run. Prints one table, or with --json
one JSON object with the raw numbers. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import backup_bench
import fleet
import powercut
import push_bench
import pyotp
import soak
import suite_heap
from rich.console import Console
from table import print_rows

from tokenctl.client import TokenClient
from tokenctl.errors import DeviceError, DeviceTimeout, TokenError
from tokenctl.otpauth import Account, parse_uri
from tokenctl.sim.build import find_tool
from tokenctl.sim.token import SimToken

ROOT = Path(__file__).resolve().parents[1]

ACCOUNTS = 200
LONG_LABELS = 20  # accounts whose issuer and name are both 64 bytes of UTF-8
TIMEOUT_S = 5.0  # per try of each request; a crash is noticed at once (see fresh_token)

HEAP_BAR_K = 128
HEAP_MIN_K, HEAP_MAX_K, HEAP_STEP_K = 32, 256, 4
HEAP_CEILING_K = 2048  # when nothing up to HEAP_MAX_K passes, look this far up

BAUD = 115200
LINE_RATE = BAUD / 10  # bytes/s on an 8N1 line: 11,520
SERIAL_BAR = 2.0

OTP_ROUNDS = {"SHA1": 20000, "SHA256": 20000, "SHA512": 1000}  # codes per timed round
OTP_SECRET_BYTES = {"SHA1": 20, "SHA256": 32, "SHA512": 64}  # RFC 6238's seed sizes
OTP_REPEATS = 3  # best of
OTP_T0 = 1_700_000_000

BOOTS = 5  # boot-to-ready samples (median)
ROOMY_HEAP_K = 1024  # for checks that are not about memory

ISSUERS = [
    "GitHub", "Google", "Amazon Web Services", "Microsoft", "Dropbox", "Slack", "GitLab",
    "Proton", "Cloudflare", "DigitalOcean", "Bitwarden", "Discord", "PyPI", "npm", "Coinbase",
    "Kraken", "Fastmail", "Hetzner Online", "OVHcloud", "Atlassian", "Okta", "Nextcloud",
    "Namecheap", "Backblaze B2", "Linode", "Twitch", "Reddit", "Mastodon (fosstodon.org)", "",
]  # fmt: skip
FIRST = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
DOMAINS = ["example.com", "mail.example.org", "corp.example.net", "users.noreply.example"]
# Mixed 1-, 2- and 3-byte UTF-8, for the labels at the 64-byte limit. Characters beyond the
# BMP (4 bytes, e.g. emoji) get their own check: see check_astral_labels.
UTF8_POOL = "Zürich Kraków Ærøskøbing — 東京都 ✓ Straße Ελλάδα Ñandú "
ASTRAL = "🔐"


# --- the accounts ---------------------------------------------------------------------------


def utf8_exactly(text: str, size: int) -> str:
    """`text` cut (at a character boundary) or padded with dots to exactly `size` UTF-8 bytes."""
    cut = text.encode()[:size].decode(errors="ignore").rstrip()
    return cut + "." * (size - len(cut.encode()))


def make_uris(rng: random.Random, count: int = ACCOUNTS) -> list[str]:
    """`count` valid otpauth URIs as apps export them (default parameters left out): about
    70% TOTP, SHA1 mostly, a quarter SHA256, a few SHA512, 6 or 8 digits, 20-32-byte secrets,
    and LONG_LABELS accounts with issuer and name at the 64-byte UTF-8 limit."""
    uris = []
    sha512_at = set(rng.sample(range(count), 6))
    long_at = set(rng.sample(range(count), LONG_LABELS))
    for i in range(count):
        hotp = rng.random() < 0.3
        alg = "SHA512" if i in sha512_at else rng.choice(["SHA1"] * 3 + ["SHA256"])
        digits = rng.choice([6, 6, 6, 8])
        secret = base64.b32encode(rng.randbytes(rng.randint(20, 32))).decode().rstrip("=")
        if i in long_at:
            start = rng.randrange(len(UTF8_POOL))
            pool = UTF8_POOL[start:] + UTF8_POOL[:start]
            issuer = utf8_exactly(f"{i:03d} {pool}", 64)
            name = utf8_exactly(f"{rng.choice(FIRST)}{i}@{pool}", 64)
        else:
            issuer = rng.choice(ISSUERS)
            name = f"{rng.choice(FIRST)}.{rng.choice(FIRST)}{i}@{rng.choice(DOMAINS)}"
        label = f"{quote(issuer, safe='')}:{quote(name, safe='@')}" if issuer else quote(name)
        params = [f"secret={secret}"]
        if issuer:
            params.append(f"issuer={quote(issuer, safe='')}")
        if alg != "SHA1":
            params.append(f"algorithm={alg}")
        if digits != 6:
            params.append(f"digits={digits}")
        if hotp:
            params.append(f"counter={rng.randrange(1000)}")
        elif rng.random() < 0.05:
            params.append("period=60")
        uris.append(f"otpauth://{'hotp' if hotp else 'totp'}/{label}?{'&'.join(params)}")
    return uris


def pyotp_code(account: Account, at: int) -> str:
    digest = getattr(hashlib, account.algorithm.lower())
    b32 = base64.b32encode(account.secret).decode()
    return pyotp.TOTP(b32, digits=account.digits, digest=digest, interval=account.period).at(at)


# --- a simulated token ----------------------------------------------------------------------


class CrashWatch(threading.Thread):
    """Stops the token as soon as its firmware process ends: that closes the pty, so a crash
    fails the pending call at once instead of after all its timeouts."""

    def __init__(self, sim: SimToken):
        super().__init__(daemon=True)
        self.sim = sim
        self.exit_code: int | None = None
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.05):
            if not self.sim.alive():
                self.exit_code = self.sim.exit_code
                self.sim.stop()
                return

    def finish(self) -> None:
        self._done.set()
        self.join()


@dataclass
class Session:
    sim: SimToken
    client: TokenClient
    watch: CrashWatch
    state_dir: Path
    started_at: float  # perf_counter() just before SimToken.start()

    def console_tail(self, lines: int = 8) -> list[str]:
        try:
            text = (self.state_dir / "console.log").read_text(errors="replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]


@contextmanager
def fresh_token(
    heap_k: int, baud: int | None = None, timeout_s: float = TIMEOUT_S
) -> Iterator[Session]:
    """A new simulated token (new state folder) with a client, watched for crashes; always
    stopped, its folder removed."""
    with tempfile.TemporaryDirectory(prefix="tokbench-") as state_dir:
        sim = SimToken(state_dir, baud=baud, heap=f"{heap_k}K")
        started_at = time.perf_counter()
        sim.start()
        watch = CrashWatch(sim)
        watch.start()
        client = None
        try:
            client = TokenClient.open(sim.port, timeout_s=timeout_s)
            yield Session(sim, client, watch, Path(state_dir), started_at)
        finally:
            watch.finish()
            if client is not None:
                client.close()
            sim.stop()


def describe(exc: Exception, session: Session) -> str:
    if session.watch.exit_code is not None:
        return f"firmware crashed (exit code {session.watch.exit_code})"
    if isinstance(exc, DeviceError):
        return f"device error {exc.code}: {exc}"
    if isinstance(exc, DeviceTimeout):
        return "no answer (timeout)"
    return f"{type(exc).__name__}: {exc}"


class Mismatch(Exception):
    """The token answered, but not what pyotp or the added accounts say it should."""


# --- 1. heap --------------------------------------------------------------------------------


def check_codes(client: TokenClient, accounts: list[Account]) -> None:
    """Every account listed once and every TOTP code equal to pyotp's at the device's time.
    Pages are computed one after the other, so a mismatch is retried once (a period may
    have turned between pages); a wrong code is wrong twice."""
    by_label = {(a.issuer, a.name): a for a in accounts}
    problem = ""
    for _ in range(2):
        now, items = client.codes()
        listed = [(item["i"], item["n"]) for item in items]
        if sorted(listed) != sorted(by_label):
            raise Mismatch(f"codes() listed {len(listed)} accounts, not the {len(accounts)} added")
        wrong = [
            item
            for item in items
            if by_label[(item["i"], item["n"])].type == "totp"
            and item.get("code") != pyotp_code(by_label[(item["i"], item["n"])], now)
        ]
        if not wrong:
            return
        problem = f"{len(wrong)} TOTP codes differ from pyotp's at t={now}"
    raise Mismatch(problem)


def check_accounts(client: TokenClient, accounts: list[Account]) -> None:
    """accounts() lists every account, in the order added, with its type, algorithm, digits
    and period or counter."""
    listed = client.accounts()
    if len(listed) != len(accounts):
        raise Mismatch(f"accounts() listed {len(listed)} accounts, not {len(accounts)}")
    for n, (got, want) in enumerate(zip(listed, accounts, strict=True)):
        expect = {"i": want.issuer, "n": want.name, "k": want.type, "a": want.algorithm}
        expect["d"] = want.digits
        expect.update({"c": want.counter} if want.type == "hotp" else {"p": want.period})
        if {k: got.get(k) for k in expect} != expect:
            raise Mismatch(f"accounts() entry {n} differs from the account added")


def heap_try(heap_k: int, accounts: list[Account]) -> dict:
    """Boot, sync, add all accounts, list codes and accounts at one heap size."""
    result: dict = {"heap_k": heap_k, "ok": False}
    with fresh_token(heap_k) as s:
        step = "boot (info)"
        try:
            result["heap_free_boot"] = s.client.info()["heap_free"]
            step = "sync_time"
            s.client.sync_time()
            step = "add_accounts"
            s.client.add_accounts(accounts)
            step = "info after adds"
            result["heap_free_added"] = s.client.info()["heap_free"]
            step = "codes"
            check_codes(s.client, accounts)
            step = "accounts"
            check_accounts(s.client, accounts)
            result["ok"] = True
        except (TokenError, Mismatch) as exc:
            result.update(step=step, error=describe(exc, s))
            result["console_tail"] = s.console_tail()
    return result


def measure_heap(accounts: list[Account], progress) -> dict:
    """The smallest heap (to HEAP_STEP_K) at which heap_try passes, assuming a larger heap
    never hurts. The bar's own size is tried first; its try also gives the heap-free figures."""
    tries: dict[int, dict] = {}

    def passes(k: int) -> bool:
        progress(f"heap {k}K")
        tries[k] = heap_try(k, accounts)
        return tries[k]["ok"]

    if passes(HEAP_BAR_K):
        lo, hi = HEAP_MIN_K - HEAP_STEP_K, HEAP_BAR_K  # lo: assumed to fail
    else:
        lo, hi = HEAP_BAR_K, HEAP_MAX_K
        while not passes(hi):
            lo, hi = hi, hi * 2
            if hi > HEAP_CEILING_K:
                hi = None
                break
    if hi is not None:
        while hi - lo > HEAP_STEP_K:
            mid = lo + (hi - lo) // 2 // HEAP_STEP_K * HEAP_STEP_K
            if passes(mid):
                hi = mid
            else:
                lo = mid
    return {
        "smallest_k": hi,
        "searched_to_k": HEAP_CEILING_K,
        "at_bar": tries[HEAP_BAR_K],
        "tries": [tries[k] for k in sorted(tries)],
    }


# --- 2. serial efficiency -------------------------------------------------------------------


def measure_serial(accounts: list[Account], uris: list[str], heap_k: int) -> dict:
    """Time add_accounts over a 115200-baud line against the time the URIs alone would take."""
    uri_bytes = sum(len(uri.encode()) + 1 for uri in uris)
    result: dict = {"heap_k": heap_k, "uri_bytes": uri_bytes, "floor_s": uri_bytes / LINE_RATE}
    with fresh_token(heap_k, baud=BAUD) as s:
        try:
            s.client.info()
            out0, in0 = s.client.transport.bytes_out, s.client.transport.bytes_in
            t0 = time.perf_counter()
            s.client.add_accounts(accounts)
            result["time_s"] = time.perf_counter() - t0
            result["bytes_out"] = s.client.transport.bytes_out - out0
            result["bytes_in"] = s.client.transport.bytes_in - in0
            result["ratio"] = result["time_s"] / result["floor_s"]
        except TokenError as exc:
            result["error"] = describe(exc, s)
    return result


# --- 3. OTP speed ---------------------------------------------------------------------------

MP_OTP_SCRIPT = """\
import gc, json, time
from authtok import otp


def best_us(alg, secrets, n):
    k = len(secrets)
    best, check = None, 0
    for _ in range(REPEATS):
        gc.collect()
        check = 0
        start = time.ticks_us()
        for i in range(n):
            check += int(otp.totp(secrets[i % k], T0 + 30 * i, 30, alg, 6))
        took = time.ticks_diff(time.ticks_us(), start)
        best = took if best is None or took < best else best
    return best, check


for alg, secrets, n in CASES:
    took, check = best_us(alg, secrets, n)
    print(json.dumps([alg, took, check]))
"""


def pyotp_best(alg: str, secrets: list[bytes], n: int) -> tuple[float, int]:
    digest = getattr(hashlib, alg.lower())
    totps = [pyotp.TOTP(base64.b32encode(s).decode(), digest=digest) for s in secrets]
    best, check = float("inf"), 0
    for _ in range(OTP_REPEATS):
        check = 0
        start = time.perf_counter()
        for i in range(n):
            check += int(totps[i % len(totps)].at(OTP_T0 + 30 * i))
        best = min(best, time.perf_counter() - start)
    return best, check


def measure_otp(rng: random.Random) -> dict:
    """TOTP codes per second: the firmware's engine under MicroPython (heap 128K, as on the
    device) against pyotp under CPython, same secrets, same times, same count."""
    secrets = {
        alg: [rng.randbytes(size) for _ in range(8)] for alg, size in OTP_SECRET_BYTES.items()
    }
    cases = [(alg, secrets[alg], n) for alg, n in OTP_ROUNDS.items()]
    script = f"REPEATS = {OTP_REPEATS}\nT0 = {OTP_T0}\nCASES = {cases!r}\n" + MP_OTP_SCRIPT
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([str(ROOT / "firmware"), ".frozen"]))
    command = [find_tool("micropython"), "-X", f"heapsize={HEAP_BAR_K}K", "-c", script]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    except subprocess.TimeoutExpired:
        return {"error": "the MicroPython run took over 120 s"}
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"the MicroPython run failed: {last}"}
    firmware = {
        alg: (us / 1e6, check) for alg, us, check in map(json.loads, proc.stdout.splitlines())
    }
    result = {}
    for alg, n in OTP_ROUNDS.items():
        mp_s, mp_check = firmware[alg]
        py_s, py_check = pyotp_best(alg, secrets[alg], n)
        result[alg] = {
            "codes": n,
            "firmware_per_s": n / mp_s,
            "pyotp_per_s": n / py_s,
            "ratio": py_s / mp_s,  # of the rates: above 1, the firmware is faster
            "codes_agree": mp_check == py_check,
        }
    return result


# --- 4. boot to ready -----------------------------------------------------------------------


def measure_boot() -> dict:
    """From SimToken.start() to the first answered info(), on fresh tokens at the bar's heap.
    The request waits in the firmware's stdin pipe, so it is answered as soon as it can be."""
    samples, errors, tail = [], [], []
    for _ in range(BOOTS):
        with fresh_token(HEAP_BAR_K) as s:
            try:
                s.client.info()
                samples.append(time.perf_counter() - s.started_at)
            except TokenError as exc:
                errors.append(describe(exc, s))
                tail = tail or s.console_tail()
    result: dict = {"samples_s": samples, "errors": errors, "console_tail": tail}
    if samples:
        result["median_s"] = statistics.median(samples)
    return result


# --- extra: labels beyond the BMP -----------------------------------------------------------


def check_astral_labels() -> dict:
    """Labels holding a character beyond the BMP (an emoji: 4 bytes of UTF-8), short and at
    the 64-byte limit, must be accepted and listed back unchanged. Not about memory."""
    secret = bytes(range(20))
    cases = {
        "short": Account("totp", f"Vault {ASTRAL}", f"me{ASTRAL}@example.com", secret),
        "64-byte": Account("totp", utf8_exactly(f"Vault {ASTRAL * 16}", 64), "me@x.org", secret),
    }
    outcome = {}
    with fresh_token(ROOMY_HEAP_K, timeout_s=1.0) as s:
        for what, account in cases.items():
            try:
                s.client.add_accounts([account])
                listed = {(a["i"], a["n"]) for a in s.client.accounts()}
                same = (account.issuer, account.name) in listed
                outcome[what] = "ok" if same else "listed back changed"
            except TokenError as exc:
                outcome[what] = f"rejected, {describe(exc, s)}"
    return outcome


# --- report ---------------------------------------------------------------------------------

MP_VERSION = """\
import sys
v = sys.implementation.version
print("%d.%d.%d%s (%s)" % (v[0], v[1], v[2], "-" + v[3] if len(v) > 3 and v[3] else "",
                           sys.version.split("MicroPython ")[-1]))
"""


def machine() -> dict:
    mp = subprocess.run(
        [find_tool("micropython"), "-c", MP_VERSION], capture_output=True, text=True
    )
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "micropython": mp.stdout.strip() or "unknown",
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def verdict(ok: bool) -> str:
    return "pass" if ok else "fail"


def _bytes(n: int | None, missing: str = "n/a") -> str:
    return missing if n is None else f"{n:,} B"


def heap_rows(heap: dict) -> list[tuple[str, str, str, str]]:
    at_bar, smallest = heap["at_bar"], heap["smallest_k"]
    failure = f"fails at {at_bar.get('step')}: {at_bar.get('error')}"
    return [
        (
            f"Smallest heap, {ACCOUNTS} accounts",
            f"{smallest}K" if smallest else f"none up to {heap['searched_to_k']}K",
            f"<= {HEAP_BAR_K}K",
            verdict(smallest is not None and smallest <= HEAP_BAR_K),
        ),
        (
            f"{ACCOUNTS} accounts at {HEAP_BAR_K}K",
            "ok" if at_bar["ok"] else failure,
            "works",
            verdict(at_bar["ok"]),
        ),
        (
            f"Heap free at {HEAP_BAR_K}K, after boot",
            _bytes(at_bar.get("heap_free_boot")),
            "",
            "report",
        ),
        (
            f"Heap free at {HEAP_BAR_K}K, after {ACCOUNTS} adds",
            _bytes(at_bar.get("heap_free_added"), "n/a (the adds failed)"),
            "",
            "report",
        ),
    ]


def serial_rows(serial: dict) -> list[tuple[str, str, str, str]]:
    figure = f"Add {ACCOUNTS} at {BAUD} baud, heap {serial['heap_k']}K"
    if "ratio" not in serial:
        return [(figure, serial["error"], "", "fail")]
    note = f" ({HEAP_BAR_K}K: {serial['at_bar_error']})" if "at_bar_error" in serial else ""
    return [
        (figure, f"{serial['time_s']:.2f} s{note}", "", "report"),
        (
            "Line floor: URI bytes / 11,520 B/s",
            f"{serial['floor_s']:.2f} s ({serial['uri_bytes']:,} B)",
            "",
            "report",
        ),
        ("Serial time / floor", f"{serial['ratio']:.2f}x", f"<= {SERIAL_BAR}x",
         verdict(serial["ratio"] <= SERIAL_BAR)),
        (
            "Bytes sent / received, the adds",
            f"{serial['bytes_out']:,} / {serial['bytes_in']:,} B",
            "",
            "report",
        ),
    ]  # fmt: skip


def otp_rows(otp: dict) -> list[tuple[str, str, str, str]]:
    if "error" in otp:
        return [("TOTP codes/s: firmware vs pyotp", otp["error"], "", "fail")]
    out = []
    for alg, o in otp.items():
        value = f"{o['firmware_per_s']:,.0f} vs {o['pyotp_per_s']:,.0f} = {o['ratio']:.2f}x"
        if not o["codes_agree"]:
            value += ", CODES DIFFER"
        figure = f"TOTP {alg} codes/s: firmware vs pyotp"
        out.append((figure, value, "", "report" if o["codes_agree"] else "fail"))
    return out


def boot_rows(boot: dict) -> list[tuple[str, str, str, str]]:
    out = []
    if "median_s" in boot:
        ms = [s * 1e3 for s in boot["samples_s"]]
        value = (
            f"{boot['median_s'] * 1e3:.0f} ms (median of {len(ms)}: {min(ms):.0f}-{max(ms):.0f})"
        )
        out.append((f"Boot to ready, heap {HEAP_BAR_K}K", value, "", "report"))
    if boot["errors"]:
        counts = Counter(boot["errors"])
        value = "; ".join(f"{n} of {BOOTS}: {error}" for error, n in counts.items())
        out.append(("Boot failures", value, "none", "fail"))
    return out


def rows(res: dict) -> list[tuple[str, str, str, str]]:
    """(figure, value, bar, verdict) for the table."""
    astral = res["astral_labels"]
    astral_row = (
        "Emoji (4-byte UTF-8) labels",
        "; ".join(f"{what}: {outcome}" for what, outcome in astral.items()),
        "round trip",
        verdict(all(outcome == "ok" for outcome in astral.values())),
    )
    return [
        *heap_rows(res["heap"]),
        *serial_rows(res["serial"]),
        *otp_rows(res["otp"]),
        *boot_rows(res["boot"]),
        astral_row,
        *backup_bench.rows(res["kdf"], res["backup"]),
        *suite_heap.rows(res["suite_heap"]),
        *push_bench.rows(res["push"]),
        *fleet.fleet_rows(res["fleet"]),
        *powercut.rows(res["powercut"]),
        *soak.rows(res["soak"]),
    ]


def print_table(res: dict) -> None:
    m = res["machine"]
    title = (
        f"tokenctl bench {m['date']}: {m['platform']}, {m['cpus']} CPUs, "
        f"Python {m['python']}, MicroPython {m['micropython']}"
    )
    console = print_rows(title, rows(res))
    at_bar = res["heap"]["at_bar"]
    if not at_bar["ok"] and at_bar.get("console_tail"):
        console.print(f"console.log of the {HEAP_BAR_K}K try, last lines:", style="dim")
        for line in at_bar["console_tail"]:
            console.print(f"  {line}", style="dim", markup=False, highlight=False)


def run_all(seed: int, progress) -> dict:
    rng = random.Random(seed)
    uris = make_uris(rng)
    accounts = [parse_uri(uri) for uri in uris]
    res: dict = {"machine": machine(), "seed": seed}
    res["heap"] = measure_heap(accounts, progress)
    progress(f"serial at {BAUD} baud")
    res["serial"] = measure_serial(accounts, uris, HEAP_BAR_K)
    if "error" in res["serial"]:
        # The bar's heap fails: still measure the link where memory is no question.
        at_bar_error = res["serial"]["error"]
        progress(f"serial at {BAUD} baud, heap {ROOMY_HEAP_K}K")
        res["serial"] = measure_serial(accounts, uris, ROOMY_HEAP_K)
        res["serial"]["at_bar_error"] = at_bar_error
    progress("OTP speed")
    res["otp"] = measure_otp(rng)
    progress("boot to ready")
    res["boot"] = measure_boot()
    progress("emoji labels")
    res["astral_labels"] = check_astral_labels()
    progress("backup KDF")
    res["kdf"] = backup_bench.measure_kdf()
    progress(f"backup and restore at {BAUD} baud")
    res["backup"] = backup_bench.measure_transfer(fresh_token, accounts, ROOMY_HEAP_K, BAUD)
    progress("push round trip")
    res["push"] = push_bench.measure_push(push_bench.HEAP)
    res["suite_heap"] = suite_heap.measure(int(push_bench.HEAP.rstrip("K")), HEAP_BAR_K, progress)
    progress("fleet provisioning, 8 tokens against 1")
    res["fleet"] = fleet.measure_fleet()
    progress(f"power cuts, {powercut.RUN_PY_TRIALS} trials")
    res["powercut"] = powercut.measure(powercut.RUN_PY_TRIALS, seed, progress=progress)
    progress("soak, 2 simulated hours")
    res["soak"] = soak.measure_for_run_py(progress)
    res["rows"] = [
        dict(zip(("figure", "value", "bar", "verdict"), r, strict=True)) for r in rows(res)
    ]
    return res


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--seed", type=int, default=2024, help="seed for accounts and secrets")
    args = parser.parse_args()

    with Console(stderr=True).status("benchmarking") as spinner:
        res = run_all(args.seed, lambda what: spinner.update(what))
    if args.json:
        print(json.dumps(res, indent=2, ensure_ascii=False))
    else:
        print_table(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
