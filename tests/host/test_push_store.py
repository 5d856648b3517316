"""The relying party's push store: private file, seq never reused, revocation, no key in logs."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest

from tokenctl.errors import InputError, NotFoundError
from tokenctl.push.store import PushStore, default_path

KEY = bytes.fromhex("5eed" * 16)  # a push key that must appear nowhere but its column
PUB = bytes(range(32))


def enrol(store, serial="00a1b2c3", issuer="Example", name="alice", key=KEY, handle=b"H" * 8):
    return store.add(serial, issuer, name, handle, key, PUB, now=1_900_000_000)


def test_default_path(monkeypatch, tmp_path):
    monkeypatch.setenv("TOKENCTL_PUSH_DB", str(tmp_path / "x.db"))
    assert default_path() == tmp_path / "x.db"
    monkeypatch.delenv("TOKENCTL_PUSH_DB")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_path() == tmp_path / ".local" / "share" / "tokenctl" / "push.db"


def test_created_private(tmp_path):
    path = tmp_path / "new" / "push.db"
    with PushStore.open(path) as store:
        enrol(store)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_refuses_a_store_others_can_read(tmp_path):
    path = tmp_path / "push.db"
    PushStore.open(path).close()
    os.chmod(path, 0o644)
    with pytest.raises(InputError, match="chmod 600"):
        PushStore.open(path)


def test_not_a_database(tmp_path):
    path = tmp_path / "push.db"
    path.write_bytes(b"not sqlite" * 100)
    os.chmod(path, 0o600)
    with pytest.raises(Exception, match="cannot open the push store"):
        PushStore.open(path)


def test_seq_persisted_and_increasing_across_reopen(tmp_path):
    path = tmp_path / "push.db"
    with PushStore.open(path) as store:
        e = enrol(store)
        assert e.next_seq == 1
        assert [store.take_seq(e.id) for _ in range(3)] == [1, 2, 3]
    with PushStore.open(path) as store:
        assert store.take_seq(e.id) == 4
        assert store.get(e.id).next_seq == 5


def test_two_connections_never_share_a_seq(tmp_path):
    path = tmp_path / "push.db"
    a, b = PushStore.open(path), PushStore.open(path)
    e = enrol(a)
    seen = [s.take_seq(e.id) for _ in range(10) for s in (a, b)]
    assert seen == list(range(1, 21))
    a.close()
    b.close()


def test_reenrol_replaces_and_carries_seq_on():
    store = PushStore.open(":memory:")
    old = enrol(store)
    for _ in range(5):
        store.take_seq(old.id)
    new = enrol(store, key=bytes(32), handle=b"N" * 8)
    assert new.id != old.id and new.next_seq == 6 and new.push_key == bytes(32)
    assert store.get(old.id).revoked is not None
    assert store.find("alice") == new
    assert [e.id for e in store.enrolments()] == [new.id]
    assert len(store.enrolments(include_revoked=True)) == 2


def test_revoke():
    store = PushStore.open(":memory:")
    e = enrol(store)
    store.revoke(e.id, now=1_900_000_100)
    assert store.get(e.id).revoked == 1_900_000_100
    with pytest.raises(NotFoundError):
        store.find("Example:alice")
    with pytest.raises(NotFoundError, match="revoked"):
        store.take_seq(e.id)
    store.revoke(e.id, now=1_900_000_200)  # a second revoke keeps the first time
    assert store.get(e.id).revoked == 1_900_000_100


def test_find():
    store = PushStore.open(":memory:")
    alice = enrol(store)
    bob = enrol(store, issuer="", name="bob")
    alice2 = enrol(store, serial="00ffffff")
    assert store.find("bob") == bob
    assert store.find("BO") == bob
    assert store.find("Example:alice", serial="00a1b2c3") == alice
    assert store.find("alice", serial="00ffffff") == alice2
    with pytest.raises(InputError, match="several"):
        store.find("alice")
    with pytest.raises(NotFoundError, match="on token 00ffffff"):
        store.find("bob", serial="00ffffff")
    with pytest.raises(NotFoundError):
        store.get(999)


def test_key_never_in_the_log_or_repr(tmp_path):
    path = tmp_path / "push.db"
    with PushStore.open(path) as store:
        e = enrol(store)
        for n in range(3):
            seq = store.take_seq(e.id)
            store.log_sent(f"{n:016x}", e.id, seq, 1_900_000_000 + n, 1_900_000_120 + n)
            store.log_result(f"{n:016x}", "deny", None, 1_900_000_010 + n)
        log = store.log()
        assert [r["id"] for r in log] == [f"{n:016x}" for n in (2, 1, 0)]
        assert log[0]["result"] == "deny" and log[0]["seq"] == 3
        assert KEY.hex() not in repr(e) and KEY.hex() not in str(e.public())
        assert "push_key" not in e.public()
    conn = sqlite3.connect(path)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(challenges)")]
    assert not any("key" in c for c in columns)
    for row in conn.execute("SELECT * FROM challenges"):
        flat = repr(row).encode()
        assert KEY not in flat and KEY.hex().encode() not in flat
    conn.close()


def test_unusable_paths(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="cannot create"):
        PushStore.open(tmp_path / "file" / "push.db")
    (tmp_path / "dir").mkdir(mode=0o700)
    with pytest.raises(InputError, match="not a file"):
        PushStore.open(tmp_path / "dir")
