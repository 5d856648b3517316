"""The main job: a simulated token end to end.

Starts a simulated token (the real firmware, compiled with mpy-cross, on the MicroPython unix
port, behind a pty), syncs its clock, provisions accounts from otpauth URIs, and prints the
codes it computes next to pyotp's. Run with `make demo` or `python -m tokenctl.demo`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click
import pyotp
from rich.console import Console
from rich.table import Table

from tokenctl.client import TokenClient
from tokenctl.otpauth import read_uri_file
from tokenctl.sim.build import repo_root
from tokenctl.sim.token import SimToken

EXAMPLES = Path("docs") / "examples" / "accounts.txt"


def _pyotp(uri: str, at: int, counter: int | None) -> str:
    otp = pyotp.parse_uri(uri)
    if isinstance(otp, pyotp.TOTP):
        return otp.at(at)
    assert counter is not None
    return pyotp.HOTP(otp.secret, digits=otp.digits, digest=otp.digest).at(counter)


@click.command()
@click.option(
    "--accounts",
    "accounts_file",
    type=click.Path(exists=True, dir_okay=False),
    help="otpauth:// URIs to provision (default: docs/examples/accounts.txt).",
)
@click.option(
    "--baud",
    type=int,
    default=115200,
    show_default=True,
    help="Throttle the simulated serial line to this rate.",
)
def main(accounts_file, baud):
    """Run a simulated token end to end and cross-check its codes with pyotp."""
    console = Console()
    path = Path(accounts_file) if accounts_file else repo_root() / EXAMPLES
    uris = [u for u in path.read_text().splitlines() if u.startswith("otpauth://")]
    accounts = read_uri_file(path)
    failures = 0
    with tempfile.TemporaryDirectory() as state, SimToken(Path(state), baud=baud) as sim:
        console.print(f"Simulated token on [bold]{sim.port}[/] ({baud} baud)")
        with TokenClient.open(sim.port) as token:
            info = token.info()
            console.print(
                f"Serial {info['serial']}, firmware {info['fw']}, board "
                f"{info['board']}, {info['heap_free']} bytes of heap free"
            )
            sync = token.sync_time()
            console.print(f"Clock synced (corrected by {sync['offset']:+d} s)")
            token.add_accounts(accounts)
            console.print(f"Provisioned {len(accounts)} accounts from {path.name}")
            now, codes = token.codes()
            by_label = {(c["i"], c["n"]): c for c in codes}
            table = Table("Account", "Type", "Token code", "pyotp", "Left", "Match")
            for acc, uri in zip(accounts, uris, strict=True):
                item = by_label[(acc.issuer, acc.name)]
                counter = None
                if acc.type == "hotp":
                    item = token.code(token.find(acc.label))["c"][0]
                    counter = item["c"]
                want = _pyotp(uri, now, counter)
                ok = item["code"] == want
                failures += not ok
                left = f"{item['left']} s" if "left" in item else f"#{counter}"
                table.add_row(
                    acc.label,
                    acc.type.upper(),
                    item["code"],
                    want,
                    left,
                    "[green]yes[/]" if ok else "[red]NO[/]",
                )
            console.print(table)
    if failures:
        console.print(f"[red]{failures} code(s) differ from pyotp[/]")
        sys.exit(1)
    console.print("[green]Every code matches pyotp.[/]")


if __name__ == "__main__":
    main()
