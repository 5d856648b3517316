"""Fleet provisioning throughput: tokens per hour, 8 in parallel against 1 alone.

    .venv/bin/python bench/fleet.py [--json] [--tokens 8] [--rounds 3]

Each round starts fresh simulated tokens behind 115200-baud lines (8N1, like the board's
USB-UART bridge), then times `Provisioner.run` from the first byte to the last inventory row
(SQLite): open, info, clock, settings, ACCOUNTS accounts, PIN, verify, lock, for every token.
Boot time is not counted (a bench operator plugs tokens in while others run). The median
round counts. `measure_fleet` and `fleet_rows` are for bench/run.py.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from table import print_rows

from tokenctl.bench import manifest
from tokenctl.bench.inventory import Record, open_inventory
from tokenctl.bench.provision import Provisioner, Slot
from tokenctl.sim.token import SimToken

BAUD = 115200
ACCOUNTS = 12
PARALLEL = 8
ROUNDS = 3
PIN = "fleet-bench-4711"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
MANIFEST = """
[fleet]
name = "bench"
unlisted = "defaults"

[defaults]
sets = ["staff"]
pin = "{pin}"
auto_lock_s = 300
max_tries = 8

[sets.staff]
uris = [{uris}]
"""


def _manifest(folder: Path) -> manifest.Manifest:
    uris = ", ".join(
        f'"otpauth://totp/Issuer{i}:user{i}@example.com?secret={SECRET}&issuer=Issuer{i}"'
        for i in range(ACCOUNTS)
    )
    path = folder / "fleet.toml"
    path.write_text(textwrap.dedent(MANIFEST.format(pin=PIN, uris=uris)))
    return manifest.load(path)


def _round(count: int, plan: manifest.Manifest, folder: Path) -> dict:
    """Provision `count` fresh tokens at once; seconds of the run and each token's result."""
    tokens = [SimToken(folder / f"t{n}", baud=BAUD) for n in range(count)]
    try:
        for token in tokens:
            token.start()
        slots = [Slot(str(t.port), n) for n, t in enumerate(tokens)]
        with open_inventory(str(folder / "inventory.sqlite3")) as inventory:

            def record(o) -> None:
                where = ("bench", "bench", o.slot.port, o.slot.slot)
                inventory.add(Record(o.serial, o.firmware, o.board, *where, o.result, o.detail))

            started = time.perf_counter()
            outcomes = Provisioner(plan).run(slots, on_done=record)
            seconds = time.perf_counter() - started
    finally:
        for token in tokens:
            token.stop()
    failed = [o.detail for o in outcomes if o.result != "ok"]
    return {"seconds": seconds, "failed": failed, "per_token_s": [o.duration_s for o in outcomes]}


def measure_fleet(parallel: int = PARALLEL, rounds: int = ROUNDS) -> dict:
    """Tokens per hour provisioning 1 token alone and `parallel` at once (median rounds)."""
    result: dict = {"baud": BAUD, "accounts": ACCOUNTS, "parallel": parallel, "rounds": rounds}
    with tempfile.TemporaryDirectory(prefix="tokfleet-") as tmp:
        plan = _manifest(Path(tmp))
        for count in (1, parallel):
            runs = [_round(count, plan, Path(tmp) / f"n{count}r{r}") for r in range(rounds)]
            seconds = statistics.median(r["seconds"] for r in runs)
            result[str(count)] = {
                "seconds": seconds,
                "all_s": [r["seconds"] for r in runs],
                "tokens_per_hour": count / seconds * 3600,
                "token_mean_s": statistics.mean(s for r in runs for s in r["per_token_s"]),
                "failed": [d for r in runs for d in r["failed"]],
            }
    one, many = result["1"], result[str(parallel)]
    result["ratio"] = many["tokens_per_hour"] / one["tokens_per_hour"]
    return result


def fleet_rows(res: dict) -> list[tuple[str, str, str, str]]:
    """(figure, value, bar, verdict) rows, as bench/run.py's table has them."""
    n = res["parallel"]
    one, many = res["1"], res[str(n)]
    rows = []
    for label, r, count in (("1 token alone", one, 1), (f"{n} tokens in parallel", many, n)):
        value = (
            f"{r['tokens_per_hour']:,.0f} tokens/h ({count} in {r['seconds']:.2f} s, "
            f"{r['token_mean_s']:.2f} s per token)"
        )
        rows.append((f"Fleet provisioning, {label}", value, "", "report"))
    failures = one["failed"] + many["failed"]
    rows.append(
        (f"Fleet throughput, {n} parallel / 1 alone", f"{res['ratio']:.2f}x",
         f"ideal {n}x", "fail" if failures else "report")
    )  # fmt: skip
    if failures:
        rows.append(("Fleet provisioning failures", "; ".join(failures[:3]), "none", "fail"))
    return rows


def print_fleet_table(res: dict) -> None:
    title = (
        f"Fleet: {res['accounts']} accounts + PIN + settings per token, {res['baud']} baud "
        f"lines, median of {res['rounds']} rounds"
    )
    print_rows(title, fleet_rows(res))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--tokens", type=int, default=PARALLEL, help="tokens in parallel")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds of each (median)")
    args = parser.parse_args()
    res = measure_fleet(args.tokens, args.rounds)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print_fleet_table(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
