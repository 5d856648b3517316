"""The relying party's push store: enrolments (with their push keys) and a log of challenges.

SQLite in one file readable by its owner only ($TOKENCTL_PUSH_DB, else
~/.local/share/tokenctl/push.db). The push key lives only in `enrolments.push_key`; the
challenge log holds ids, times and results, never a key or the sign-in's context. A
challenge's `seq` is committed before the challenge leaves, so no seq is ever sent twice.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from tokenctl.errors import InputError, NotFoundError, TokenError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS enrolments (
    id INTEGER PRIMARY KEY,
    serial TEXT NOT NULL,
    issuer TEXT NOT NULL,
    name TEXT NOT NULL,
    handle TEXT NOT NULL,
    push_key BLOB NOT NULL,
    device_pub BLOB NOT NULL,
    next_seq INTEGER NOT NULL,
    created INTEGER NOT NULL,
    revoked INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS one_active ON enrolments (serial, issuer, name)
    WHERE revoked IS NULL;
CREATE TABLE IF NOT EXISTS challenges (
    id TEXT PRIMARY KEY,
    enrolment INTEGER NOT NULL REFERENCES enrolments (id),
    seq INTEGER NOT NULL,
    sent INTEGER NOT NULL,
    exp INTEGER NOT NULL,
    result TEXT,
    why TEXT,
    answered INTEGER
);
"""
_COLUMNS = "id, serial, issuer, name, handle, push_key, device_pub, next_seq, created, revoked"


def default_path() -> Path:
    env = os.environ.get("TOKENCTL_PUSH_DB")
    return Path(env) if env else Path.home() / ".local" / "share" / "tokenctl" / "push.db"


@dataclass(frozen=True)
class Enrolment:
    id: int
    serial: str
    issuer: str
    name: str
    handle: bytes
    push_key: bytes = field(repr=False)
    device_pub: bytes
    next_seq: int
    created: int
    revoked: int | None = None

    @property
    def label(self) -> str:
        return f"{self.issuer}:{self.name}" if self.issuer else self.name

    def public(self) -> dict:
        """What may be shown: everything but the push key."""
        return {
            "serial": self.serial,
            "account": self.label,
            "issuer": self.issuer,
            "name": self.name,
            "handle": self.handle.hex(),
            "next_seq": self.next_seq,
            "created": self.created,
            "revoked": self.revoked,
        }


def _row(row: tuple) -> Enrolment:
    id_, serial, issuer, name, handle, key, pub, seq, created, revoked = row
    return Enrolment(
        id_, serial, issuer, name, bytes.fromhex(handle), key, pub, seq, created, revoked
    )


def _create_private(path: Path) -> None:
    """Create the folder (0700) and the empty file (0600), or refuse one others can read."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return
    except FileExistsError:
        pass
    mode = path.stat().st_mode
    if not stat.S_ISREG(mode):
        raise InputError(f"{path} is not a file")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(f"{path} is open to other users; chmod 600 it (it holds push keys)")


class PushStore:
    """One SQLite connection in autocommit mode; each change is its own transaction."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 5000")  # several login-server workers may share it
        conn.executescript(_SCHEMA)

    @classmethod
    def open(cls, path: str | os.PathLike | None = None) -> PushStore:
        """The store at `path` (":memory:" for a throwaway one), else the default path."""
        if str(path) != ":memory:":
            path = Path(path) if path is not None else default_path()
            try:
                _create_private(path)
            except OSError as e:
                raise InputError(f"cannot create the push store {path}: {e.strerror}") from None
        try:
            conn = sqlite3.connect(str(path), isolation_level=None)
        except sqlite3.Error as e:
            raise TokenError(f"cannot open the push store {path}: {e}") from None
        try:
            return cls(conn)
        except sqlite3.Error as e:
            conn.close()
            raise TokenError(f"cannot open the push store {path}: {e}") from None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> PushStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- enrolments
    def add(
        self,
        serial: str,
        issuer: str,
        name: str,
        handle: bytes,
        push_key: bytes,
        device_pub: bytes,
        now: float | None = None,
    ) -> Enrolment:
        """Store a new enrolment; one for the same token and account ends (re-enrolling
        replaces the key). Its seq carries on, so the token never sees a lower one."""
        created = int(time.time() if now is None else now)
        with self._transaction() as c:
            old = c.execute(
                "SELECT max(next_seq) FROM enrolments WHERE serial = ? AND issuer = ? AND name = ?",
                (serial, issuer, name),
            ).fetchone()[0]
            c.execute(
                "UPDATE enrolments SET revoked = ? "
                "WHERE serial = ? AND issuer = ? AND name = ? AND revoked IS NULL",
                (created, serial, issuer, name),
            )
            cur = c.execute(
                "INSERT INTO enrolments (serial, issuer, name, handle, push_key, device_pub, "
                "next_seq, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (serial, issuer, name, handle.hex(), push_key, device_pub, old or 1, created),
            )
            enrolment_id = cur.lastrowid
        assert enrolment_id is not None
        return self.get(enrolment_id)

    def get(self, enrolment_id: int) -> Enrolment:
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM enrolments WHERE id = ?", (enrolment_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError("not_found", f"no push enrolment {enrolment_id}")
        return _row(row)

    def enrolments(self, include_revoked: bool = False) -> list[Enrolment]:
        where = "" if include_revoked else "WHERE revoked IS NULL"
        rows = self.conn.execute(f"SELECT {_COLUMNS} FROM enrolments {where} ORDER BY id")
        return [_row(r) for r in rows]

    def find(self, account: str, serial: str | None = None) -> Enrolment:
        """The one active enrolment whose label or name is `account` (exact first, then a
        case-insensitive substring of the label), on token `serial` when given."""
        active = [e for e in self.enrolments() if serial in (None, e.serial)]
        hits = [e for e in active if account in (e.label, e.name)]
        if not hits:
            hits = [e for e in active if account.lower() in e.label.lower()]
        where = f" on token {serial}" if serial else ""
        if not hits:
            raise NotFoundError("not_found", f"no push enrolment for {account!r}{where}")
        if len(hits) > 1:
            names = ", ".join(f"{e.label} (token {e.serial})" for e in hits[:5])
            raise InputError(f"{account!r} matches several push enrolments: {names}")
        return hits[0]

    def revoke(self, enrolment_id: int, now: float | None = None) -> None:
        when = int(time.time() if now is None else now)
        self.conn.execute(
            "UPDATE enrolments SET revoked = ? WHERE id = ? AND revoked IS NULL",
            (when, enrolment_id),
        )

    def take_seq(self, enrolment_id: int) -> int:
        """The next seq for this enrolment, committed as used before it is returned."""
        with self._transaction() as c:
            row = c.execute(
                "SELECT next_seq, revoked FROM enrolments WHERE id = ?", (enrolment_id,)
            ).fetchone()
            if row is None or row[1] is not None:
                raise NotFoundError("not_found", "the push enrolment is gone or revoked")
            c.execute("UPDATE enrolments SET next_seq = ? WHERE id = ?", (row[0] + 1, enrolment_id))
        return int(row[0])

    # --- the challenge log
    def log_sent(self, challenge_id: str, enrolment_id: int, seq: int, sent: int, exp: int) -> None:
        self.conn.execute(
            "INSERT INTO challenges (id, enrolment, seq, sent, exp) VALUES (?, ?, ?, ?, ?)",
            (challenge_id, enrolment_id, seq, sent, exp),
        )

    def log_result(self, challenge_id: str, result: str, why: str | None, answered: int) -> None:
        self.conn.execute(
            "UPDATE challenges SET result = ?, why = ?, answered = ? WHERE id = ?",
            (result, why, answered, challenge_id),
        )

    def log(self, enrolment_id: int | None = None, limit: int = 100) -> list[dict]:
        """The newest challenges first (all enrolments unless one is named)."""
        where, args = ("WHERE enrolment = ?", (enrolment_id,)) if enrolment_id else ("", ())
        rows = self.conn.execute(
            "SELECT id, enrolment, seq, sent, exp, result, why, answered FROM challenges "
            f"{where} ORDER BY sent DESC, rowid DESC LIMIT ?",
            (*args, limit),
        )
        keys = ("id", "enrolment", "seq", "sent", "exp", "result", "why", "answered")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def _transaction(self) -> _Transaction:
        return _Transaction(self.conn)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): the write lock is taken up front, so
    two processes cannot both read the same next_seq."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, *exc) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
