"""Push approval on the token (firmware/authtok/push.py) under real MicroPython, against the
relying party's own code (tokenctl.push.crypto): enrolment by X25519, every check on a
challenge, the MFA-fatigue limits, answers the RP verifies, and state kept over a reboot."""

import base64
import json

from test_commands import (  # noqa: F401  (fixtures)
    NOW,
    T1,
    T2,
    mpy_env,
    run_dev,
    run_fw,
    sim_bus,
)

from tokenctl import backup as fmt
from tokenctl.push import crypto

RP = crypto.RpKey.from_private_bytes(bytes(range(32)))
PIN = "4821"

ENROLL = """
dev = device(DIR)
call(dev, "time.set", t=NOW)
call(dev, "acct.add", a=[T1, T2])
call(dev, "pin.set", pin=PIN)
call(dev, "unlock", pin=PIN)
R("bad_rp", call(dev, "push.enroll", i=T1["i"], n=T1["n"], rp="AAAA"))
R("unknown", call(dev, "push.enroll", i="", n="nobody", rp=RP))
R("a", call(dev, "push.enroll", i=T1["i"], n=T1["n"], rp=RP))
R("b", call(dev, "push.enroll", i=T2["i"], n=T2["n"], rp=RP))
R("list", call(dev, "push.list"))
"""

CHALLENGES = """
import asyncio, binascii
from authtok import ble
dev = device(DIR)
script = list(ANSWERS)
asked = []


async def person(ask):
    asked.append([ask["app"], ask["loc"], ask["ip"], sorted(ask["nums"]), ask["num"]])
    return script.pop(0)


dev.ask_push = person
out = []
for hexmsg in MSGS:
    answer = asyncio.run(ble.challenge(dev, binascii.unhexlify(hexmsg)))
    out.append(binascii.hexlify(answer).decode())
R("answers", out)
R("asked", asked)
R("log", [r[2:4] for r in call(dev, "log.read")["r"]][-len(MSGS) :])
"""

AFTER_REBOOT = """
import asyncio, binascii
from authtok import ble
dev = device(DIR)
dev.ask_push = None
out = []
for m in MSGS:
    out.append(binascii.hexlify(asyncio.run(ble.challenge(dev, binascii.unhexlify(m)))).decode())
R("answers", out)
call(dev, "unlock", pin=PIN)
b = call(dev, "backup.begin", k=KEY, pin=PIN)
R("backup", b)
R("blob", read_backup(dev, b["size"]))
R("revoke", call(dev, "push.revoke", i=T2["i"], n=T2["n"]))
R("revoke_again", call(dev, "push.revoke", i=T2["i"], n=T2["n"]))
R("rename", call(dev, "acct.rename", i=T1["i"], n=T1["n"], ni="New", nn="name"))
R("list", call(dev, "push.list"))
"""


def fields(seq, num=42, iat=NOW, life=120, **extra):
    f = {"id": f"{num:08x}{seq:08x}", "seq": seq, "iat": iat, "exp": iat + life, "rpt": iat,
         "app": "Bank web", "loc": "Zürich, CH", "ip": "203.0.113.7", "num": num}  # fmt: skip
    f.update(extra)
    return f


def test_push_end_to_end_on_the_token(run_fw, tmp_path):  # noqa: F811 (fixture)
    rp = base64.b64encode(RP.public).decode()
    first = run_dev(run_fw, ENROLL, tmp_path, NOW=NOW, T1=T1, T2=T2, PIN=PIN, RP=rp)
    assert first["bad_rp"]["err"] == "bad_param"
    assert first["unknown"]["err"] == "not_found"
    keys = {}
    for who in ("a", "b"):
        h = bytes.fromhex(first[who]["h"])
        keys[who] = (h, RP.push_key(h, base64.b64decode(first[who]["pub"])))
    assert keys["a"][0] != keys["b"][0] and keys["a"][1] != keys["b"][1]
    assert [p["n"] for p in first["list"]["p"]] == [T1["n"], T2["n"]]
    assert "key" not in json.dumps(first["list"]) and keys["a"][1].hex() not in json.dumps(first)

    def seal(who, f, flip=None):
        h, pk = keys[who]
        msg, nonce = crypto.seal_challenge(pk, h, f)
        if flip is not None:
            msg = bytearray(msg)
            msg[flip] ^= 1
            msg = bytes(msg)
        return msg, nonce

    def raw(who, plain: bytes, nonce: bytes):
        """Sealed as the RP would, but past its own field checks (an RP with a bug)."""
        h, pk = keys[who]
        sub = crypto.subkeys(pk)
        body = b"\x01" + h + nonce + crypto._ctr(sub.enc, nonce, plain)
        return body + crypto._hmac(sub.mac, body)[:16], nonce

    # Authentic frames whose plaintext is not an acceptable challenge.
    bad_nonce = bytes(16)
    malformed, _ = raw("a", b'{"id":1}', bad_nonce)
    long_life = raw("a", json.dumps(fields(10, 42, life=600)).encode(), bytes([7]) * 16)

    plan = [  # (message, nonce, key of the answer or None, expected result, why)
        (*seal("a", fields(1, 42)), "a", "approve", None),
        (*seal("a", fields(2, 42)), "a", "wrong_number", None),
        (*seal("a", fields(3, 42)), "a", "deny", None),
        (*seal("a", fields(4, 42)), "a", "rate_limited", "rate_limited"),  # 3 in 10 min
        (*seal("a", fields(1, 42)), "a", "rejected", "replayed"),
        (*seal("a", fields(9, 42, iat=NOW - 400)), "a", "rejected", "expired"),
        (*long_life, "a", "rejected", "bad_lifetime"),
        (*seal("a", fields(11), flip=40), None, "rejected", "forged"),
        (malformed, bad_nonce, "a", "rejected", "malformed"),
        (b"\x01" + bytes(8) + bytes(60), bytes(16), None, "rejected", "unknown_account"),
        (*seal("b", fields(1, 77)), "b", "timeout", None),
        (*seal("b", fields(2, 77)), "b", "report", None),  # a fraud report pauses at once
        (*seal("b", fields(3, 77)), "b", "rate_limited", "rate_limited"),
    ]
    answers = [["pick", 42], ["pick", 17], ["deny", None], ["timeout", None], ["report", None]]
    res = run_dev(
        run_fw,
        CHALLENGES,
        tmp_path,
        MSGS=[m.hex() for m, *_ in plan],
        ANSWERS=answers,
    )
    assert len(res["asked"]) == 5  # rejected and rate-limited challenges prompt nobody
    assert res["asked"][0][:3] == ["Bank web", "Zürich, CH", "203.0.113.7"]
    assert 42 in res["asked"][0][3] and len(set(res["asked"][0][3])) == 3
    for (msg, nonce, who, result, why), raw in zip(plan, res["answers"], strict=True):
        data = bytes.fromhex(raw)
        if who is None:  # unauthenticated: zero tag, zero handle
            assert data[-16:] == bytes(16) and data[1:9] == bytes(8)
            assert json.loads(data[11:-16])["why"] == why
            continue
        h, pk = keys[who]
        cid = json.loads(crypto._ctr(crypto.subkeys(pk).enc, nonce, msg[25:-16]) or b"{}").get(
            "id"
        ) if why != "malformed" else None  # fmt: skip
        ans = crypto.open_answer(pk, h, nonce, cid, data)
        assert ans.authenticated
        assert (ans.result, ans.why) == (result, why), (result, why)
        if result == "rate_limited":
            assert ans.until and ans.until > NOW
        # An answer is bound to its challenge: under another nonce it does not verify.
        if result == "approve":
            try:
                crypto.open_answer(pk, h, bytes(16), cid, data)
            except crypto.PushRejected:
                pass
            else:
                raise AssertionError("an answer verified under another challenge's nonce")
    names = [code for code, _ in res["log"]]
    assert 23 in names and 24 in names  # rejections and answers are logged (codes only)

    # Power cycle: the replayed challenge stays refused, the pause stays on.
    again = [plan[0][0].hex(), seal("b", fields(4, 77))[0].hex()]
    key = bytes(range(32))
    after = run_dev(run_fw, AFTER_REBOOT, tmp_path, MSGS=again, T1=T1, T2=T2, PIN=PIN,
                    KEY=key.hex())  # fmt: skip
    replay = bytes.fromhex(after["answers"][0])
    assert json.loads(replay[11:-16])["why"] == "replayed"
    assert json.loads(bytes.fromhex(after["answers"][1])[11:-16])["r"] == "rate_limited"
    # A backup carries no push key, and marks the enrolled accounts for re-verification.
    assert after["backup"]["push"] == 2
    blob = b"".join(base64.b64decode(c) for c in after["blob"])
    records = fmt.unseal(blob, key)
    assert [r.reverify for r in records] == [True, True]
    for _, pk in keys.values():
        assert pk not in blob
    assert after["revoke"] == {"ok": 1, "id": after["revoke"]["id"]}
    assert after["revoke_again"]["err"] == "not_found"
    assert after["rename"]["ok"] == 1
    assert [(p["i"], p["n"]) for p in after["list"]["p"]] == [("New", "name")]
