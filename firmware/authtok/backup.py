"""Encrypted backup and restore (docs/backup.md): the accounts leave and come back only
sealed under a key the host derived from the owner's passphrase.

The backup is a sealed file (store.py's format, kind b"bkup") keyed by that key instead of
the device key, so it opens on any token and nowhere without the passphrase. It is built in
flash and read out in chunks; a restore is uploaded in chunks, its MAC checked, every record
checked, and only then streamed into a new vault that replaces the old one atomically: a
power cut or a lost cable at any point leaves the token as it was.

Used rarely: commands.py loads this module for the request and drops it after.
"""

import gc
import os
from binascii import a2b_base64, b2a_base64

from micropython import const

from authtok import log as evlog
from authtok import vault
from authtok.commands import is_int
from authtok.errors import Error, bad_param
from authtok.store import Corrupt, Sealed
from authtok.vault import _HOTP, _TOUCH, _VERSION, MAX_ACCOUNTS, _framed, _label_of

OUT = "/flash/backup.out"  # the sealed backup, from backup.begin until backup.done
IN = "/flash/backup.in"  # the upload, from restore.begin until restore.commit
KIND = b"bkup"
_GEN_MAX = const(0xFFFFFFFF)  # a sealed file's generation is 4 bytes
CHUNK = 1536  # raw bytes per frame: 2 KiB of base64, well inside a 4 KiB line
_FLAGS = _HOTP | 6 | _TOUCH | vault.REVERIFY  # every flag bit a V1 record may carry


def clean():
    """Remove what an interrupted transfer left in flash (called at boot)."""
    for path in (OUT, IN, OUT + ".new", IN + ".new"):
        try:
            os.remove(path)
        except OSError:
            pass


def _key(req):
    k = req.get("k")
    try:
        key = bytes.fromhex(k)
    except (TypeError, ValueError):
        key = b""
    if len(key) != 32:
        raise bad_param("k must be 32 bytes as hex")
    return key


def _size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return -1


def backup_begin(dev, req):
    """Seal every account under the host's key into OUT. Needs the PIN now, even when the
    token is open: whoever holds an unlocked token must not walk off with its secrets."""
    if not dev.lock.pin_set:
        raise Error("pin_required", "set a PIN first: a backup needs one")
    dev.lock.verify(req.get("pin"))
    key = _key(req)
    clean()
    out = Sealed(OUT, key, KIND)
    out.generation = dev.conf.get("bn", 0)  # the writer numbers this backup bn + 1
    pushed = _push_labels(dev)
    n = [0, 0]

    def records():
        yield _VERSION
        recs = dev.vault.records()
        try:
            for rec in recs:
                n[0] += 1
                if _label_of(rec) in pushed:  # no push key in a backup: enrol again after
                    rec = vault.with_flag(rec, vault.REVERIFY, True)
                    n[1] += 1
                yield _framed(rec)
        finally:
            recs.close()

    gen = out.save(records())
    dev.xfer = None
    return {"size": _size(OUT), "n": n[0], "push": n[1], "gen": gen, "t": dev.clock.now()}


def _push_labels(dev):
    """(issuer, name) of every push-enrolled account."""
    if _size("/flash/push") < 0:
        return ()
    from authtok.push_state import State

    return [(e[6], e[7]) for e in State(dev.push_file).entries]


def backup_read(dev, req):
    o = req.get("o", 0)
    size = _size(OUT)
    if size < 0:
        raise Error("no_backup", "no backup in progress: backup.begin first")
    if not is_int(o) or not 0 <= o <= size:
        raise bad_param("offset 0..%d" % size)
    with open(OUT, "rb") as f:
        f.seek(o)
        data = f.read(CHUNK)
    return {"d": b2a_base64(data, newline=False).decode(), "size": size}


def backup_done(dev, req):
    """The host has the whole file: remember it as the newest backup, remove it from flash."""
    gen, t = req.get("gen"), req.get("t")
    if _size(OUT) < 0:
        raise Error("no_backup", "no backup in progress")
    if not is_int(gen) or not is_int(t) or not 0 < gen < _GEN_MAX or not 0 <= t < 1 << 32:
        raise bad_param("gen and t as backup.begin gave them")
    clean()
    _remember(dev, gen, t)
    dev.event(evlog.BACKUP, gen)
    return {}


def _remember(dev, gen, t):
    conf = dict(dev.conf)
    conf["bn"] = min(max(gen, conf.get("bn", 0)), _GEN_MAX - 1)  # the next one fits 4 bytes
    conf["bt"] = max(t, conf.get("bt", 0))
    dev.save_conf(conf)


def restore_begin(dev, req):
    size = req.get("size")
    if not is_int(size) or not 0 < size <= 64 * 1024:
        raise bad_param("size 1..65536")
    key = _key(req)
    clean()
    with open(IN, "wb"):
        pass
    dev.xfer = (key, size)
    return {}


def restore_data(dev, req):
    """Append a chunk. `o` is where it goes, so a retried chunk lands once."""
    if dev.xfer is None:
        raise Error("no_restore", "no restore in progress: restore.begin first")
    o, d = req.get("o"), req.get("d")
    have = _size(IN)
    if not is_int(o) or o != have:
        raise Error("bad_offset", "expected offset %d" % have, have=have)
    try:
        data = a2b_base64(d)
    except (TypeError, ValueError):
        raise bad_param("d must be base64") from None
    if o + len(data) > dev.xfer[1]:
        raise bad_param("more data than announced")
    with open(IN, "ab") as f:
        f.write(data)
    return {"have": o + len(data)}


def _check(rec):
    """A record from a backup must be one this firmware could have written."""
    try:
        if rec[0] & ~_FLAGS or (rec[0] >> 1) & 3 == 3 or not 6 <= rec[1] <= 8:
            raise ValueError
        at = 10 if rec[0] & _HOTP else 4
        if not rec[0] & _HOTP and not 1 <= int.from_bytes(rec[2:4], "big") <= 3600:
            raise ValueError
        for lo, hi in ((10, 64), (0, 64), (1, 64)):
            n = rec[at]
            if not lo <= n <= hi or at + 1 + n > len(rec):
                raise ValueError
            at += 1 + n
        if at != len(rec):
            raise ValueError
        issuer, name = _label_of(rec)
        str(issuer, "utf-8"), str(name, "utf-8")
    except (ValueError, IndexError, UnicodeError):
        raise Error("bad_backup", "the backup holds an account this firmware cannot read") from None


def _digest(rec):
    import hashlib

    issuer, name = _label_of(rec)
    return hashlib.sha256(issuer + b"\x00" + name).digest()[:8]


def _find(table, n, d):
    """Where digest d is among the first n in table, or -1."""
    at = table.find(d, 0, 8 * n)
    while at >= 0:
        if at % 8 == 0:
            return at // 8
        at = table.find(d, at + 1, 8 * n)
    return -1


def restore_commit(dev, req):
    """Check the whole upload, then write the new vault in one atomic step.

    merge: none (the token must hold no account, or a vault that failed its check), "skip"
    (accounts already on the token stay, the backup's copies are skipped) or "replace" (the
    backup's copies replace them; the token's other accounts come first, then the backup's
    in its order). One digest table (the vault's own) and one stream at a time: the peak
    does not grow with the merge."""
    merge = req.get("merge")
    if merge not in (None, "skip", "replace"):
        raise bad_param("merge: skip or replace")
    if dev.xfer is None:
        raise Error("no_restore", "no restore in progress: restore.begin first")
    key, size = dev.xfer
    if _size(IN) != size:
        raise Error("incomplete", "the upload is incomplete: %d of %d bytes" % (_size(IN), size))
    src = Sealed(IN, key, KIND)
    mine = 0 if dev.corrupt else dev.vault.count
    if mine and merge is None:
        raise Error("not_empty", "the token holds %d accounts: choose how to merge" % mine)
    table = dev.vault._digests  # free: no batch runs during a restore
    n = 0  # digests in the table
    if merge == "replace":  # first the backup's labels, to drop the token's copies
        n = _each(_verified(src), table, n)
    w = dev.vault._sealed.writer()
    count = [0, 0, 0]  # written, skipped, replaced
    try:
        w.write(_VERSION)
        if mine:
            for rec in _stream(dev.vault.records()):
                if merge == "replace" and _find(table, n, _digest(rec)) >= 0:
                    count[2] += 1
                    continue
                if merge == "skip":
                    table[8 * n : 8 * n + 8] = _digest(rec)
                    n += 1
                w.write(_framed(rec))
                count[0] += 1
        first = n if merge != "replace" else 0
        for rec in _stream(_verified(src)):
            if merge != "replace":
                d = _digest(rec)
                at = _find(table, n, d)
                if at >= first:
                    raise Error("bad_backup", "the backup holds an account twice")
                if at >= 0:
                    count[1] += 1
                    continue
                if n < MAX_ACCOUNTS:
                    table[8 * n : 8 * n + 8] = d
                    n += 1
            w.write(_framed(rec))
            count[0] += 1
            if count[0] > MAX_ACCOUNTS:
                raise Error("vault_full", "the token holds at most %d accounts" % MAX_ACCOUNTS)
        # The backup is recorded before the swap: a cut between the two writes leaves the old
        # accounts and the record of a backup that exists (its generation and time only
        # grow), never the restored accounts without their record.
        gen = src.generation
        del src
        gc.collect()
        t = req.get("t")
        _remember(dev, gen, t if is_int(t) else 0)
    except BaseException:
        w.abort()
        raise
    w.commit()
    del w
    restored = count[0] - (mine - count[2] if mine else 0)
    dev.vault.count = count[0]
    dev.corrupt = False
    dev.xfer = None
    clean()
    dev.event(evlog.RESTORE, min(restored, 255))
    return {"restored": restored, "skipped": count[1], "replaced": count[2], "total": count[0]}


def _stream(gen):
    """Iterate a record generator, closing it however the loop ends (MicroPython closes no
    file when a generator is dropped)."""
    try:
        yield from gen
    finally:
        gen.close()


def _each(records, table, n):
    """Add each record's label digest to table (duplicates refused); returns the count."""
    for rec in _stream(records):
        if n >= MAX_ACCOUNTS:
            raise Error("vault_full", "the token holds at most %d accounts" % MAX_ACCOUNTS)
        d = _digest(rec)
        if _find(table, n, d) >= 0:
            raise Error("bad_backup", "the backup holds an account twice")
        table[8 * n : 8 * n + 8] = d
        n += 1
    return n


def _verified(src):
    """The backup's records, each checked; Corrupt (wrong key or damaged) becomes an error."""
    recs = vault.read_records(src)
    try:
        for rec in recs:
            _check(rec)
            yield rec
    except Corrupt:
        raise Error("bad_backup", "the backup failed its integrity check") from None
    finally:
        recs.close()
