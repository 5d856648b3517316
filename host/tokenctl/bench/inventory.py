"""The inventory of provisioned tokens: SQLite on one bench, PostgreSQL shared by several.

One row per provisioning attempt of a token: its serial, firmware, board, who and where, when,
the accounts' issuers and names, push enrolments, the result. Never a secret or a PIN: a
Record has no field that could hold one. `open_inventory` takes a file path (or sqlite:///PATH)
or a postgresql:// URL; a URL's password never appears in a message.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from tokenctl.errors import TokenError

ENV_INVENTORY = "TOKENCTL_INVENTORY"
SCHEMA_VERSION = 1
RESULTS = ("ok", "failed", "skipped")
COLUMNS = (
    "provisioned_at", "fleet", "token_serial", "firmware", "board", "operator", "station",
    "port", "slot", "result", "detail", "accounts", "push", "attempts", "duration_s",
)  # fmt: skip
_DDL = """
CREATE TABLE IF NOT EXISTS tokenctl_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS provisioned (
    id {id},
    provisioned_at {time} NOT NULL,
    fleet TEXT NOT NULL,
    token_serial TEXT NOT NULL,
    firmware TEXT NOT NULL,
    board TEXT NOT NULL,
    operator TEXT NOT NULL,
    station TEXT NOT NULL,
    port TEXT NOT NULL,
    slot INTEGER,
    result TEXT NOT NULL CHECK (result IN ('ok', 'failed', 'skipped')),
    detail TEXT NOT NULL,
    accounts {json} NOT NULL,
    push {json} NOT NULL,
    attempts INTEGER NOT NULL,
    duration_s DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS provisioned_serial ON provisioned (token_serial);
"""


class InventoryError(TokenError):
    """The inventory cannot be opened, read or written."""


@dataclass
class Record:
    """One provisioning attempt. `accounts`: [{"issuer", "name", "type", "touch"}], no secret."""

    token_serial: str
    firmware: str
    board: str
    operator: str
    station: str
    port: str
    slot: int | None
    result: str
    detail: str = ""
    fleet: str = ""
    accounts: list[dict] = field(default_factory=list)
    push: list[str] = field(default_factory=list)
    attempts: int = 1
    duration_s: float = 0.0
    provisioned_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, with the account and push lists kept as lists."""
        out = asdict(self)
        out["provisioned_at"] = self.provisioned_at.astimezone(UTC).isoformat(timespec="seconds")
        return out

    def row(self) -> dict[str, Any]:
        """Flat text values for CSV and tables."""
        out = asdict(self)
        out["provisioned_at"] = self.provisioned_at.astimezone(UTC).isoformat(timespec="seconds")
        out["accounts"] = "; ".join(_label(a) for a in self.accounts)
        out["touch"] = "; ".join(_label(a) for a in self.accounts if a.get("touch"))
        out["push"] = "; ".join(self.push)
        out["slot"] = "" if self.slot is None else self.slot
        out["duration_s"] = round(self.duration_s, 3)
        return out


def default_location() -> str:
    if os.environ.get(ENV_INVENTORY):
        return os.environ[ENV_INVENTORY]
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return str(Path(base) / "tokenctl" / "inventory.sqlite3")


def redact(location: str) -> str:
    """The location as it may be shown: a URL's password replaced by ***."""
    location = re.sub(r"(://[^/:@?#]*:)[^@/?#]*@", r"\1***@", location)
    return re.sub(r"(password=)[^&\s]*", r"\1***", location)


def open_inventory(location: str | None = None) -> Inventory:
    location = location or default_location()
    if location.startswith(("postgresql://", "postgres://")):
        return PostgresInventory(location)
    if location.startswith("sqlite:///"):
        location = location[len("sqlite://") :]
    elif "://" in location:
        raise InventoryError(
            f"unsupported inventory {redact(location)!r}: use a file path or a postgresql:// URL"
        )
    return SqliteInventory(Path(location))


class Inventory:
    """SQL shared by both backends; subclasses set the connection and the placeholders."""

    param = "?"
    _id_column = ""
    _time_column = ""
    _json_column = ""
    conn: Any
    location: str

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Inventory:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _ddl(self) -> list[str]:
        text = _DDL.format(id=self._id_column, time=self._time_column, json=self._json_column)
        return [s.strip() for s in text.split(";") if s.strip()]

    def _check_version(self, cur) -> None:
        cur.execute("SELECT version FROM tokenctl_schema")
        rows = cur.fetchall()
        if not rows:
            cur.execute(f"INSERT INTO tokenctl_schema (version) VALUES ({self.param})",
                        (SCHEMA_VERSION,))  # fmt: skip
        elif rows[0][0] != SCHEMA_VERSION:
            raise InventoryError(
                f"{self.location} holds inventory schema {rows[0][0]}; this tokenctl "
                f"reads schema {SCHEMA_VERSION}"
            )

    def _encode(self, name: str, value: Any) -> Any:
        if name in ("accounts", "push"):
            return json.dumps(value, ensure_ascii=False)
        return value

    def _decode(self, name: str, value: Any) -> Any:
        if name in ("accounts", "push") and isinstance(value, str):
            return json.loads(value)
        if name == "provisioned_at" and isinstance(value, str):
            return datetime.fromisoformat(value)
        return value

    def add(self, record: Record) -> int:
        values = [self._encode(c, getattr(record, c)) for c in COLUMNS]
        marks = ", ".join([self.param] * len(COLUMNS))
        sql = f"INSERT INTO provisioned ({', '.join(COLUMNS)}) VALUES ({marks}) RETURNING id"
        try:
            with self._transaction() as cur:
                cur.execute(sql, values)
                record.id = int(cur.fetchone()[0])
        except self._errors as exc:
            raise InventoryError(f"cannot write to {self.location}: {_first_line(exc)}") from None
        return record.id

    def records(
        self,
        serial: str | None = None,
        fleet: str | None = None,
        result: str | None = None,
        since: datetime | None = None,
    ) -> list[Record]:
        """Rows oldest first, filtered by what is given."""
        where, args = [], []
        for column, value in (("token_serial", serial), ("fleet", fleet), ("result", result)):
            if value is not None:
                where.append(f"{column} = {self.param}")
                args.append(value.lower() if column == "token_serial" else value)
        if since is not None:
            where.append(f"provisioned_at >= {self.param}")
            args.append(self._encode("provisioned_at", since))
        sql = f"SELECT id, {', '.join(COLUMNS)} FROM provisioned"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY provisioned_at, id"
        try:
            with self._transaction() as cur:
                cur.execute(sql, args)
                rows = cur.fetchall()
        except self._errors as exc:
            raise InventoryError(f"cannot read {self.location}: {_first_line(exc)}") from None
        out = []
        for row in rows:
            values = {c: self._decode(c, v) for c, v in zip(("id", *COLUMNS), row, strict=True)}
            out.append(Record(**values))
        return out

    # Backends fill these in.
    _errors: tuple[type[BaseException], ...] = ()

    def _transaction(self):
        raise NotImplementedError


class SqliteInventory(Inventory):
    _id_column = "INTEGER PRIMARY KEY AUTOINCREMENT"
    _time_column = "TEXT"  # ISO 8601 UTC: sorts and compares as text
    _json_column = "TEXT"
    _errors = (sqlite3.Error,)

    def __init__(self, path: Path) -> None:
        self.location = str(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(path, timeout=30, isolation_level=None)
            with self._transaction() as cur:
                for statement in self._ddl():
                    cur.execute(statement)
                self._check_version(cur)
        except (sqlite3.Error, OSError) as exc:
            raise InventoryError(f"cannot open {path}: {_first_line(exc)}") from None

    def _encode(self, name: str, value: Any) -> Any:
        if name == "provisioned_at":
            return value.astimezone(UTC).isoformat(timespec="microseconds")
        return super()._encode(name, value)

    def _transaction(self):
        return _SqliteTransaction(self.conn)


class _SqliteTransaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Cursor:
        self.cur = self.conn.cursor()
        self.cur.execute("BEGIN IMMEDIATE")
        return self.cur

    def __exit__(self, exc_type, *exc) -> None:
        self.cur.execute("ROLLBACK" if exc_type else "COMMIT")
        self.cur.close()


class PostgresInventory(Inventory):
    param = "%s"
    _id_column = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
    _time_column = "TIMESTAMPTZ"
    _json_column = "JSONB"

    def __init__(self, url: str) -> None:
        self.location = redact(url)
        try:
            import psycopg
        except ImportError:
            raise InventoryError(
                "PostgreSQL needs psycopg: pip install 'psycopg[binary]'"
            ) from None
        self._psycopg = psycopg
        self._errors = (psycopg.Error,)
        try:
            self.conn = psycopg.connect(url, connect_timeout=10)
            with self._transaction() as cur:
                # Several stations may create the tables at once: one at a time.
                cur.execute("SELECT pg_advisory_xact_lock(7165826310)")
                for statement in self._ddl():
                    cur.execute(statement)
                self._check_version(cur)
        except psycopg.Error as exc:
            raise InventoryError(f"cannot open {self.location}: {_first_line(exc)}") from None

    def _encode(self, name: str, value: Any) -> Any:
        if name in ("accounts", "push"):
            from psycopg.types.json import Jsonb

            return Jsonb(value)
        return value

    def _transaction(self):
        return _PgTransaction(self.conn)


class _PgTransaction:
    def __init__(self, conn) -> None:
        self.conn = conn

    def __enter__(self):
        self.tx = self.conn.transaction()
        self.tx.__enter__()
        self.cur = self.conn.cursor()
        return self.cur

    def __exit__(self, *exc) -> None:
        self.cur.close()
        self.tx.__exit__(*exc)


def write_csv(records: Iterable[Record], out: IO[str]) -> int:
    """Write records as CSV (a header, then one row each); returns how many."""
    names = ["id", *COLUMNS[:12], "touch", *COLUMNS[12:]]  # touch right after accounts
    writer = csv.DictWriter(out, fieldnames=names, extrasaction="ignore")
    writer.writeheader()
    n = 0
    for record in records:
        writer.writerow(record.row())
        n += 1
    return n


def _label(a: dict) -> str:
    return f"{a['issuer']}:{a['name']}" if a.get("issuer") else a["name"]


def _first_line(exc: BaseException) -> str:
    return redact(str(exc).strip().split("\n")[0] or type(exc).__name__)
