"""A bench provisioning 8 simulated tokens in parallel from one manifest, as staff would run
it (`tokenctl bench provision`), with the inventory in SQLite and in a real PostgreSQL server.
Needs the simulator (8 tokens): skipped with --port."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pyotp
import pytest

from tokenctl.bench import pgtemp
from tokenctl.bench.inventory import open_inventory
from tokenctl.client import TokenClient

PIN = "Tz4!9wq"
SECRETS = {
    "Acme SSO": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
    "Acme Mail": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
    "Bank": "KRUGKIDROVUWG2ZAMJZG653OEBTG66BANJ2W24DTEBXXMZLSEB2GQZJANRQXU6JAMRXWOIBB",
}
MANIFEST = """
[fleet]
name = "hil-fleet"
unlisted = "defaults"

[defaults]
sets = ["staff"]
pin_env = "FLEET_PIN"
auto_lock_s = 300

[sets.staff]
uris = [
  "otpauth://totp/Acme%20SSO:staff?secret={Acme SSO}&issuer=Acme%20SSO",
  "otpauth://totp/Acme%20Mail:staff?secret={Acme Mail}&issuer=Acme%20Mail&algorithm=SHA256",
  "otpauth://hotp/VPN:staff?secret={Acme SSO}&issuer=VPN&counter=5",
]

[sets.treasury]
uris = ["otpauth://totp/Bank:treasury?secret={Bank}&issuer=Bank&algorithm=SHA512&period=60"]
touch = true

[[token]]
slot = 0
sets = ["staff", "treasury"]
max_tries = 5
wipe_after = 10
auto_lock_s = 60

[[token]]
serial = "{serial3}"
sets = ["staff"]
brightness = 40
"""


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    try:
        server = pgtemp.TempPostgres()
    except pgtemp.PgUnavailable as exc:
        pytest.skip(f"PostgreSQL server binaries missing: {exc}")
    with server:
        yield server.url


@pytest.fixture(params=["sqlite", "postgres"])
def inventory(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "inventory.sqlite3")
    return request.getfixturevalue("postgres")


def tokenctl(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENCTL_")}
    env["FLEET_PIN"] = PIN
    return subprocess.run(
        [sys.executable, "-m", "tokenctl.cli.main", "--timeout", "5", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def pyotp_code(secret: str, at: int, algorithm: str, period: int) -> str:
    digest = getattr(hashlib, algorithm.lower())
    key = base64.b32encode(base64.b32decode(secret + "=" * (-len(secret) % 8))).decode()
    return pyotp.TOTP(key, digest=digest, interval=period).at(at)


def test_eight_tokens_in_parallel_from_one_manifest(new_sim, tmp_path, inventory):
    sims = [new_sim() for _ in range(8)]
    with TokenClient.open(sims[3].port) as c:
        serial3 = c.info()["serial"]
    manifest = tmp_path / "fleet.toml"
    manifest.write_text(textwrap.dedent(MANIFEST).replace("{serial3}", serial3).format(**SECRETS))
    ports = [arg for s in sims for arg in ("--port", s.port)]
    run = tokenctl("bench", "provision", "--manifest", str(manifest), *ports, "--inventory",
                   inventory, "--operator", "ana", "--station", "bench-1")  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "8 ok, 0 failed, 0 skipped." in run.stdout
    for secret in (PIN, *SECRETS.values()):
        assert secret not in run.stdout + run.stderr

    with open_inventory(inventory) as inv:
        rows = [r for r in inv.records(fleet="hil-fleet") if r.station == "bench-1"][-8:]
    assert len(rows) == 8 and {r.result for r in rows} == {"ok"}
    by_slot = {r.slot: r for r in rows}
    assert sorted(by_slot) == list(range(8)) and all(r.operator == "ana" for r in rows)
    assert by_slot[3].token_serial == serial3 and by_slot[3].board == "sim"
    assert [a["name"] for a in by_slot[0].accounts] == ["staff", "staff", "staff", "treasury"]
    assert [a["touch"] for a in by_slot[0].accounts] == [False, False, False, True]
    assert len({r.token_serial for r in rows}) == 8

    for n, sim in enumerate(sims):
        with TokenClient.open(sim.port) as c:
            assert c.info()["locked"]
            c.unlock(PIN)
            settings = c.settings()
            now, codes = c.codes()
            c.lock()
        want = {0: (5, 10, 60), 3: (8, 0, 300)}.get(n, (8, 0, 300))
        got = (settings["max_tries"], settings["wipe_after"], settings["auto_lock_s"])
        assert got == want and settings["brightness"] == (40 if n == 3 else 127)
        for item in codes:
            if item["i"] in ("Acme SSO", "Acme Mail"):
                algorithm = "SHA256" if item["i"] == "Acme Mail" else "SHA1"
                assert item["code"] == pyotp_code(SECRETS[item["i"]], now, algorithm, 30)
            elif item["i"] == "Bank":
                assert item["k"] == "touch" and "code" not in item  # needs a finger

    report = tokenctl("bench", "report", "--inventory", inventory, "--fleet", "hil-fleet",
                      "--csv", "-")  # fmt: skip
    exported = list(csv.DictReader(io.StringIO(report.stdout)))
    assert report.returncode == 0 and len(exported) >= 8
    assert PIN not in report.stdout and SECRETS["Bank"] not in report.stdout

    again = tokenctl("bench", "provision", "--manifest", str(manifest), *ports[:4],
                     "--inventory", inventory)  # fmt: skip
    assert again.returncode == 0 and "0 ok, 0 failed, 2 skipped." in again.stdout
    assert "already provisioned (PIN set, 4 accounts)" in again.stdout
