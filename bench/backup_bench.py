"""Backup figures for bench/run.py: the KDF's cost on this machine, and backing up and restoring
200 accounts over a 115200-baud line against the line rate of the backup file's size."""

from __future__ import annotations

import base64
import statistics
import subprocess
import sys
import time

from tokenctl import backup as fmt
from tokenctl.errors import TokenError
from tokenctl.otpauth import Account

PIN = "482915"
PASSPHRASE = "bench-glacier-mango-tulip"
KDF_RUNS = 3

# The peak memory the KDF adds, in a fresh process (Linux: ru_maxrss would carry over the
# parent's peak across exec, so the child resets its high-water mark and reads /proc).
_RSS_SCRIPT = """
from tokenctl import backup as fmt

def kib(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field))

with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
base = kib("VmRSS:")
fmt.derive("x" * 20, fmt.new_kdf())
print(kib("VmHWM:") - base)
"""


def measure_kdf() -> dict:
    """Median wall time of the default Argon2id, and the peak memory it adds (a fresh process,
    so nothing earlier hides it)."""
    times = []
    for _ in range(KDF_RUNS):
        t0 = time.perf_counter()
        fmt.derive(PASSPHRASE, fmt.new_kdf())
        times.append(time.perf_counter() - t0)
    out = subprocess.run([sys.executable, "-c", _RSS_SCRIPT], capture_output=True, text=True)
    rss_kib = int(out.stdout.strip()) if out.returncode == 0 else None
    return {
        "time_s": statistics.median(times),
        "rss_kib": rss_kib,
        "params": {k: v for k, v in fmt.KDF_DEFAULT.items()},
    }


def measure_transfer(fresh_token, accounts: list[Account], heap_k: int, baud: int) -> dict:
    """Back up `accounts` from one token and restore them to another, both behind a real
    `baud` line; times exclude the KDF (measured on its own)."""
    line_rate = baud / 10
    keys = fmt.derive(
        PASSPHRASE, dict(fmt.KDF_FLOOR, alg="argon2id", salt="AAAAAAAAAAAAAAAAAAAAAA==")
    )
    res: dict = {"accounts": len(accounts)}
    try:
        with fresh_token(heap_k, baud=baud, timeout_s=10) as s:
            s.client.sync_time()
            s.client.set_pin(PIN)
            s.client.unlock(PIN)
            s.client.add_accounts(accounts)
            t0 = time.perf_counter()
            begin, blob = s.client.backup_blob(keys.device, PIN)
            s.client.backup_done(begin["gen"], begin["t"])
            res["backup_s"] = time.perf_counter() - t0
        header = fmt.Header(
            kdf={}, check=base64.b64encode(keys.check).decode(), serial="", fw="", board="",
            created=begin["t"], generation=begin["gen"], accounts=begin["n"],
        )  # fmt: skip
        res["file_bytes"] = len(fmt.pack(header, blob, keys))
        res["floor_s"] = res["file_bytes"] / line_rate
        with fresh_token(heap_k, baud=baud, timeout_s=10) as s:
            s.client.sync_time()
            t0 = time.perf_counter()
            answer = s.client.restore_blob(keys.device, blob, begin["t"])
            res["restore_s"] = time.perf_counter() - t0
            res["restored"] = answer["restored"]
    except TokenError as exc:
        res["error"] = f"{type(exc).__name__}: {exc}"
    return res


def rows(kdf: dict, transfer: dict) -> list[tuple[str, str, str, str]]:
    p = kdf["params"]
    rss = f", peak memory +{kdf['rss_kib'] / 1024:.0f} MiB" if kdf.get("rss_kib") else ""
    out = [
        (
            "Backup KDF (Argon2id)",
            f"{kdf['time_s'] * 1000:.0f} ms{rss} "
            f"(m={p['m_kib'] // 1024} MiB, t={p['t']}, p={p['p']})",
            "report",
            "report",
        )
    ]
    if "error" in transfer:
        out.append(("Backup/restore 200 accounts", transfer["error"], "works", "fail"))
        return out
    floor = transfer["floor_s"]
    for what in ("backup", "restore"):
        t = transfer[f"{what}_s"]
        out.append(
            (
                f"{what.capitalize()} of {transfer['accounts']} accounts at 115200 baud",
                f"{t:.2f} s vs line-rate floor {floor:.2f} s of the {transfer['file_bytes']:,} B "
                f"file: {t / floor:.2f}x",
                "report",
                "report",
            )
        )
    return out
