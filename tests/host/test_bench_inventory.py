"""The inventory on SQLite and on a real PostgreSQL server started here (initdb + pg_ctl on a
unix socket in a temp folder); `bench report` and its CSV."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from tokenctl.bench import pgtemp
from tokenctl.bench.inventory import (
    InventoryError,
    Record,
    open_inventory,
    redact,
    write_csv,
)
from tokenctl.cli.main import cli

T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A real PostgreSQL server for this module; its URL."""
    try:
        server = pgtemp.TempPostgres()
    except pgtemp.PgUnavailable as exc:
        pytest.skip(f"PostgreSQL server binaries missing: {exc}")
    with server:
        yield server.url


@pytest.fixture(params=["sqlite", "postgres"])
def location(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "sub" / "inventory.sqlite3")
    url = request.getfixturevalue("postgres")
    with open_inventory(url) as inv:  # a clean table per test
        with inv._transaction() as cur:
            cur.execute("DELETE FROM provisioned")
    return url


def record(serial: str, result: str = "ok", at: datetime = T0, **kw) -> Record:
    accounts = [
        {"issuer": "Acme SSO", "name": "ana@acme.example", "type": "totp", "touch": False},
        {"issuer": "Bank", "name": 'ops, "treasury"', "type": "hotp", "touch": True},
    ]
    fields = dict(firmware="0.1.0", board="esp32-devkitc", operator="ana", station="bench-2",
                  port="/dev/ttyUSB0", slot=0, result=result, fleet="acme", accounts=accounts,
                  push=["Acme SSO:ana@acme.example"], provisioned_at=at)  # fmt: skip
    fields.update(kw)
    return Record(token_serial=serial, **fields)


def test_records_round_trip_and_filter(location):
    with open_inventory(location) as inv:
        first = inv.add(record("a4cf12a1b2c3"))
        inv.add(record("0badc0ffee00", "failed", T0 + timedelta(hours=1), detail="pin: timeout"))
        inv.add(record("a4cf12a1b2c3", "skipped", T0 + timedelta(days=1), slot=None, push=[]))
    with open_inventory(location) as inv:  # reopened: kept, schema checked
        rows = inv.records()
        assert [r.token_serial for r in rows] == ["a4cf12a1b2c3", "0badc0ffee00", "a4cf12a1b2c3"]
        assert rows[0].id == first and rows[0].accounts[1]["name"] == 'ops, "treasury"'
        assert rows[0].push == ["Acme SSO:ana@acme.example"] and rows[2].slot is None
        assert rows[0].provisioned_at == T0 and rows[1].detail == "pin: timeout"
        assert len(inv.records(serial="A4CF12A1B2C3")) == 2
        assert [r.result for r in inv.records(result="failed")] == ["failed"]
        assert len(inv.records(since=T0 + timedelta(minutes=1))) == 2
        assert inv.records(fleet="other") == []


def test_csv_export_has_every_column_and_no_secret(location):
    with open_inventory(location) as inv:
        inv.add(record("a4cf12a1b2c3"))
        out = io.StringIO()
        assert write_csv(inv.records(), out) == 1
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0]["token_serial"] == "a4cf12a1b2c3" and rows[0]["operator"] == "ana"
    assert rows[0]["accounts"] == 'Acme SSO:ana@acme.example; Bank:ops, "treasury"'
    assert rows[0]["touch"] == 'Bank:ops, "treasury"'
    assert rows[0]["provisioned_at"] == "2026-11-20T09:30:00+00:00"
    assert "secret" not in out.getvalue().lower() and "pin" not in rows[0]


def test_report_prints_filters_and_exports(location, tmp_path):
    with open_inventory(location) as inv:
        inv.add(record("a4cf12a1b2c3"))
        inv.add(record("0badc0ffee00", "failed", detail="settings: bad_param"))
    runner = CliRunner()
    shown = runner.invoke(cli, ["bench", "report", "--inventory", location])
    assert shown.exit_code == 0, shown.output
    assert "a4cf12a1b2c3" in shown.output and "settings: bad_param" in shown.output
    failed = runner.invoke(cli, ["bench", "report", "--inventory", location, "--result", "failed"])
    assert "0badc0ffee00" in failed.output and "a4cf12a1b2c3" not in failed.output
    path = tmp_path / "out.csv"
    runner.invoke(cli, ["bench", "report", "--inventory", location, "--csv", str(path)])
    assert len(list(csv.DictReader(path.open()))) == 2
    as_json = runner.invoke(cli, ["--json", "bench", "report", "--inventory", location])
    assert '"touch": true' in as_json.output
    bad = runner.invoke(cli, ["bench", "report", "--inventory", location, "--since", "yesterday"])
    assert bad.exit_code != 0 and "not a date" in str(bad.exception)


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "inv.sqlite3"
    open_inventory(str(path)).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE tokenctl_schema SET version = 99")
    with pytest.raises(InventoryError, match="schema 99"):
        open_inventory(str(path))


def test_bad_locations_are_clear_and_never_show_a_password(tmp_path):
    with pytest.raises(InventoryError, match="unsupported inventory 'mysql://u:\\*\\*\\*@h/db'"):
        open_inventory("mysql://u:hunter2@h/db")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InventoryError, match="cannot open"):
        open_inventory(str(tmp_path / "file" / "inv.sqlite3"))
    nowhere = f"postgresql://bench:hunter2@/tokens?host={tmp_path}&connect_timeout=2"
    with pytest.raises(InventoryError) as err:
        open_inventory(nowhere)
    assert "hunter2" not in str(err.value) and "cannot open" in str(err.value)
    assert redact("postgresql://u:pw@h:5432/db?password=pw2") == (
        "postgresql://u:***@h:5432/db?password=***"
    )


def test_records_cannot_hold_a_result_outside_the_list(tmp_path):
    with open_inventory(str(tmp_path / "inv.sqlite3")) as inv:
        with pytest.raises(InventoryError, match="cannot write"):
            inv.add(record("ab", result="maybe"))
