"""Backup and restore on the token (firmware/authtok/backup.py) under real MicroPython, with
the blob checked by the host's own reader (tokenctl.backup) in both directions."""

import base64

import pytest
from test_commands import (  # noqa: F401  (fixtures)
    ALL,
    H1,
    NOW,
    T1,
    T2,
    acct,
    mpy_env,
    run_dev,
    run_fw,
    sim_bus,
)

from tokenctl import backup as fmt
from tokenctl.otpauth import from_fields

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))


def chunks(blob: bytes, size: int = 1536) -> list[str]:
    return [base64.b64encode(blob[i : i + size]).decode() for i in range(0, len(blob), size)]


def account(d):
    """A test wire account as the host's Account (for fmt.encode_record)."""
    return from_fields(
        d.get("i", ""),
        d["n"],
        d["s"],
        type="hotp" if d.get("k") else "totp",
        algorithm=d.get("a", "SHA1"),
        digits=d.get("d", 6),
        period=d.get("p", 30),
        counter=d.get("c", 0),
    )


BACKUP = """
dev = device(DIR)
call(dev, "time.set", t=NOW)
call(dev, "acct.add", a=ALL)
R("nopin", call(dev, "backup.begin", k=KEY, pin="1234"))
call(dev, "pin.set", pin="1234")
call(dev, "unlock", pin="1234")
R("badpin", call(dev, "backup.begin", k=KEY, pin="9999"))
call(dev, "unlock", pin="1234")  # a wrong PIN locks the token again
R("badkey", call(dev, "backup.begin", k="abcd", pin="1234"))
R("noread", call(dev, "backup.read", o=0))
b = call(dev, "backup.begin", k=KEY, pin="1234")
R("begin", b)
R("blob", read_backup(dev, b["size"]))
R("past_end", call(dev, "backup.read", o=b["size"] + 1).get("err"))
R("done", call(dev, "backup.done", gen=b["gen"], t=NOW))
R("left", exists("/flash/backup.out"))
R("info", call(dev, "info")["backup"])
b2 = call(dev, "backup.begin", k=KEY, pin="1234")
R("gen2", b2["gen"])
"""


def test_backup_blob_opens_on_the_host_with_every_account(run_fw, tmp_path):  # noqa: F811 (fixture)
    res = run_dev(run_fw, BACKUP, tmp_path, NOW=NOW, ALL=ALL, KEY=KEY.hex())
    assert res["nopin"]["err"] == "pin_required"
    assert res["badpin"]["err"] == "bad_pin"
    assert res["badkey"]["err"] == "bad_param"
    assert res["noread"]["err"] == "no_backup"
    assert (res["begin"]["n"], res["begin"]["gen"], res["begin"]["t"]) == (len(ALL), 1, NOW)
    blob = b"".join(base64.b64decode(c) for c in res["blob"])
    assert len(blob) == res["begin"]["size"]
    records = fmt.unseal(blob, KEY)
    assert [(r.issuer, r.name) for r in records] == [(d["i"], d["n"]) for d in ALL]
    for r, d in zip(records, ALL, strict=True):
        assert r.account() == account(d)
    with pytest.raises(fmt.BackupError):
        fmt.unseal(blob, OTHER)
    assert res["past_end"] == "bad_param"
    assert res["left"] is False
    assert res["info"] == {"gen": 1, "t": NOW}
    assert res["gen2"] == 2


RESTORE = """
def upload(dev, key, parts, size=None):
    size = size if size is not None else sum(len(binascii.a2b_base64(p)) for p in parts)
    call(dev, "restore.begin", k=key, size=size)
    o = 0
    for p in parts:
        r = call(dev, "restore.data", o=o, d=p)
        o = r.get("have", o)
    return o

import binascii
dev = device(DIR)
call(dev, "time.set", t=NOW)
R("nobegin", call(dev, "restore.commit"))
upload(dev, KEY, GOOD)
R("wrongkey", call(dev, "restore.begin", k=OTHER, size=SIZE))
o = upload(dev, OTHER, GOOD)
R("forged", call(dev, "restore.commit"))
R("count0", call(dev, "info")["accounts"])
upload(dev, KEY, GOOD[:1], size=SIZE)
R("incomplete", call(dev, "restore.commit"))
R("offset", call(dev, "restore.data", o=5, d=GOOD[1]))
upload(dev, KEY, DUP)
R("dup", call(dev, "restore.commit"))
upload(dev, KEY, BADREC)
R("badrec", call(dev, "restore.commit"))
R("count1", call(dev, "info")["accounts"])
upload(dev, KEY, GOOD)
R("ok", call(dev, "restore.commit", t=NOW - 50))
R("list", call(dev, "acct.list")["a"])
R("code", call(dev, "code"))
R("info", call(dev, "info")["backup"])
upload(dev, KEY, GOOD)
R("not_empty", call(dev, "restore.commit"))
upload(dev, KEY, MERGE)
R("skip", call(dev, "restore.commit", merge="skip"))
R("list_skip", [a["n"] + "/" + str(a["d"]) for a in call(dev, "acct.list")["a"]])
upload(dev, KEY, MERGE)
R("replace", call(dev, "restore.commit", merge="replace"))
R("list_replace", [a["n"] + "/" + str(a["d"]) for a in call(dev, "acct.list")["a"]])
upload(dev, KEY, MERGE)
R("badmerge", call(dev, "restore.commit", merge="overwrite"))
write("/flash/backup.in", b"half an upload")
"""

BOOT_AFTER = """
dev = device(DIR)
R("left", exists("/flash/backup.in"))
R("count", call(dev, "info")["accounts"])
"""


def test_restore_checks_everything_before_it_writes(run_fw, tmp_path):  # noqa: F811 (fixture)
    recs = [fmt.encode_record(account(d)) for d in ALL]
    good = fmt.seal(recs, KEY, 4)
    dup = fmt.seal(recs + recs[:1], KEY)
    badrec = fmt.seal(recs[:2] + [b"\x00\x09\x00\x1e" + recs[0][4:]], KEY)  # 9 digits
    t2 = dict(T2, d=6)  # the backup's copy of AWS:root differs from the token's
    merge = fmt.seal([fmt.encode_record(account(d)) for d in (t2, acct("new", "X"))], KEY)
    res = run_dev(
        run_fw,
        RESTORE,
        tmp_path,
        NOW=NOW,
        KEY=KEY.hex(),
        OTHER=OTHER.hex(),
        GOOD=chunks(good, 200),
        SIZE=len(good),
        DUP=chunks(dup),
        BADREC=chunks(badrec),
        MERGE=chunks(merge),
    )
    assert res["nobegin"]["err"] == "no_restore"
    assert res["forged"]["err"] == "bad_backup"  # sealed under another key: nothing read
    assert res["count0"] == 0
    assert res["incomplete"]["err"] == "incomplete"
    assert res["offset"]["err"] == "bad_offset" and res["offset"]["have"] == 200
    assert res["dup"]["err"] == "bad_backup"
    assert res["badrec"]["err"] == "bad_backup"
    assert res["count1"] == 0
    assert res["ok"]["restored"] == len(ALL) and res["ok"]["total"] == len(ALL)
    assert [(a["i"], a["n"]) for a in res["list"]] == [(d["i"], d["n"]) for d in ALL]
    hotp = [a for a in res["list"] if a["n"] == H1["n"]][0]
    assert hotp["c"] == H1["c"]
    assert res["info"] == {"gen": 4, "t": NOW - 50}
    assert res["not_empty"]["err"] == "not_empty"
    names = [f"{d['n']}/{d.get('d', 6)}" for d in ALL]
    assert res["skip"] == {
        "ok": 1,
        "id": res["skip"]["id"],
        "restored": 1,
        "skipped": 1,
        "replaced": 0,
        "total": len(ALL) + 1,
    }
    assert res["list_skip"] == names + ["new/6"]
    assert res["replace"]["replaced"] == 2 and res["replace"]["total"] == len(ALL) + 1
    others = [n for n in names if not n.startswith(("root/", "new/"))]
    assert res["list_replace"] == others + ["root/6", "new/6"]
    assert res["badmerge"]["err"] == "bad_param"
    after = run_dev(run_fw, BOOT_AFTER, tmp_path)
    assert after == {"left": False, "count": len(ALL) + 1}


CORRUPT = """
import binascii
dev = device(DIR)
call(dev, "time.set", t=NOW)
call(dev, "acct.add", a=[T1])
blob = bytearray(read("/flash/vault"))
blob[40] ^= 1
write("/flash/vault", blob)
dev = device(DIR)
R("corrupt", call(dev, "info")["vault"])
R("list", call(dev, "acct.list").get("err"))
call(dev, "restore.begin", k=KEY, size=SIZE)
call(dev, "restore.data", o=0, d=GOOD[0])
R("commit", call(dev, "restore.commit"))
R("after", call(dev, "info")["vault"])
R("names", [a["n"] for a in call(dev, "acct.list")["a"]])
"""


def test_restore_is_the_way_out_of_a_damaged_vault(run_fw, tmp_path):  # noqa: F811 (fixture)
    good = fmt.seal([fmt.encode_record(account(d)) for d in (T2,)], KEY)
    res = run_dev(
        run_fw, CORRUPT, tmp_path, NOW=NOW, T1=T1, KEY=KEY.hex(), GOOD=chunks(good), SIZE=len(good)
    )
    assert res["corrupt"] == "corrupt" and res["list"] == "vault_corrupt"
    assert res["commit"]["ok"] == 1 and res["after"] == "ok"
    assert res["names"] == [T2["n"]]
