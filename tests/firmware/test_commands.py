"""The protocol operations (firmware/authtok/commands.py) on a real Device (authtok.app) over
the simulated board (boards/sim/board.py), under real MicroPython in the simulator's 128K heap.
Expected codes come from pyotp (and RFC 4226 over hmac) in CPython.

As the simulator does, the firmware runs compiled by mpy-cross (tokenctl.sim.build): compiling
the sources at import would cost the heap what the token never pays. A reboot is a new process.
"""

import base64
import hashlib
import hmac
import json
import os
import struct
import zlib

import pyotp
import pytest
from mp_helpers import DEVICE, results, script_data

from tokenctl import frame as host_frame

NOW = 1_750_000_000  # 2025-06-15


def b32(n: int, seed: int) -> str:
    return base64.b32encode(bytes((seed * 17 + 29 * i) & 0xFF for i in range(n))).decode()


def acct(name, issuer="", secret=None, **extra):
    d = {"s": secret or b32(20, len(name) + 3 * len(issuer)), "n": name, "i": issuer}
    d.update(extra)
    return d


T1 = acct("alice", "GitHub", b32(20, 1))
T2 = acct("root", "AWS", b32(32, 2), a="SHA256", d=8, p=60)
T3 = acct("sha512", "", b32(64, 3), a="SHA512", d=7, p=45)
H1 = acct("hotp", "", b32(10, 4), k=1, c=5)
W15 = acct("weak15", "", b32(15, 5))
ALL = [T1, T2, T3, H1, W15]
DIGEST = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def totp(d, now):
    algo = DIGEST[d.get("a", "SHA1")]
    return pyotp.TOTP(d["s"], digits=d.get("d", 6), digest=algo, interval=d.get("p", 30)).at(now)


def hotp(d, counter):
    """RFC 4226 over hmac, and pyotp where it agrees to (it refuses secrets under 112 bits,
    tokens accept 80)."""
    s, digits, algo = d["s"], d.get("d", 6), DIGEST[d.get("a", "SHA1")]
    key = base64.b32decode(s + "=" * (-len(s) % 8))
    mac = hmac.new(key, struct.pack(">Q", counter), algo).digest()
    off = mac[-1] & 15
    value = struct.unpack(">I", mac[off : off + 4])[0] & 0x7FFFFFFF
    code = str(value % 10**digits).rjust(digits, "0")
    if len(key) >= 14:
        assert code == pyotp.HOTP(s, digits=digits, digest=algo).at(counter)
    return code


@pytest.fixture(scope="module")
def mpy_env(tmp_path_factory):
    """MICROPYPATH for the mpy-cross build of firmware/ and boards/sim/, as the simulator's."""
    from tokenctl.sim.build import build_firmware

    out = build_firmware(out_dir=tmp_path_factory.mktemp("mpy"))
    return {"MICROPYPATH": os.pathsep.join([str(out), ".frozen"])}


@pytest.fixture
def sim_bus(tmp_path):
    """The simulated board's parts (the DS3231, ...) behind the bridge socket, as the
    launcher serves them."""
    from tokenctl.sim.bus import BusServer, Parts

    server = BusServer(tmp_path / "bus.sock", Parts(tmp_path))
    yield server
    server.close()


@pytest.fixture
def run_fw(run_mp, mpy_env, sim_bus):
    """run_mp on the compiled firmware, its board wired to the simulated parts."""

    # The heap bar is bench/run.py's: here the test harness shares the heap with the token.
    def run(script, heap="192K"):
        return run_mp(script, heap=heap, env=dict(mpy_env, TOKEN_SIM_BUS=str(sim_bus.path)))

    return run


def dev_script(body, tmp_path, **params):
    """A Device script; its parameters go through a JSON file (see mp_helpers.script_data)."""
    params.setdefault("DIR", str(tmp_path))
    n = len(list(tmp_path.glob("params*.json")))
    return script_data(body, DEVICE, data_path=tmp_path / f"params{n}.json", **params)


def run_dev(run_fw, body, tmp_path, **params):
    return results(run_fw(dev_script(body, tmp_path, **params)))


def assert_no_secret(out: str, accounts):
    """No response may carry a secret, or any 12 characters of one, in base32 or hex."""
    low = out.lower()
    for d in accounts:
        s = d["s"].rstrip("=")
        raw = base64.b32decode(s + "=" * (-len(s) % 8))
        for form in (s.lower(), raw.hex()):
            for at in range(len(form) - 11):
                assert form[at : at + 12] not in low, f"secret of {d['n']} leaked"


CODES = """
dev = device(DIR)
R("info0", call(dev, "info"))
R("add", call(dev, "acct.add", a=ALL))

# A fresh sim DS3231 lost power (OSF set, 2000-01-01): TOTP refuses, HOTP needs no clock.
R("untrusted_one", call(dev, "code", i=T1["i"], n=T1["n"]))
R("untrusted_page", call(dev, "code"))
R("untrusted_hotp", call(dev, "code", i="", n="hotp"))

R("tset_bad", [call(dev, "time.set", t=t) for t in BAD_TIMES])
R("tset_bad_info", call(dev, "time.get"))
R("tset_lo", call(dev, "time.set", t=946684800))
R("tget_lo", call(dev, "time.get"))
R("tset_hi", call(dev, "time.set", t=7258118399))
R("tget_hi", call(dev, "time.get"))
R("tset_now", call(dev, "time.set", t=NOW))
R("info1", call(dev, "info"))

for d in ALL:
    if d.get("k") != 1:
        R("one_" + d["n"], call(dev, "code", i=d["i"], n=d["n"]))
R("page", call(dev, "code"))
R("hotp_a", call(dev, "code", i="", n="hotp"))
R("hotp_b", call(dev, "code", i="", n="hotp"))
R("list", call(dev, "acct.list"))
"""

# A new Device on the same state, in a new process (a reboot), sees the counter and the sync.
REBOOT = """
dev = device(DIR)
R("list_reboot", call(dev, "acct.list"))
R("time_reboot", call(dev, "time.get"))
R("hotp_c", call(dev, "code", i="", n="hotp"))
"""

BAD_TIMES = [946684799, 7258118400, -1, 0, "1750000000", 1.75e9, None, True, [NOW]]


def test_info_time_and_codes(run_fw, tmp_path):
    params = dict(ALL=ALL, T1=T1, NOW=NOW, BAD_TIMES=BAD_TIMES)
    out = run_fw(dev_script(CODES, tmp_path, **params))
    out += run_fw(dev_script(REBOOT, tmp_path, **params))
    assert_no_secret(out, ALL)
    res = results(out)

    info = res["info0"]
    assert len(info["serial"]) == 12 and int(info["serial"], 16) >= 0
    assert isinstance(info["heap_free"], int) and 0 < info["heap_free"] < 128 * 1024
    want = {
        "proto": 1, "fw": "0.1.0", "board": "sim", "accounts": 0, "max_accounts": 250,
        "pin": False, "locked": False, "tries_left": 8, "vault": "ok", "ok": 1, "id": 1,
    }  # fmt: skip
    assert {k: info[k] for k in want} == want
    clock0 = info["clock"]
    assert clock0["trusted"] is False and clock0["last_sync"] is None
    assert 946684800 <= clock0["now"] < 946684800 + 60  # the sim DS3231 starts at 2000-01-01

    assert res["add"] == {"added": 5, "weak": [3, 4], "total": 5, "ok": 1, "id": 2}

    for key in ("untrusted_one", "untrusted_page"):
        assert res[key]["err"] == "clock_untrusted", key
    assert single(res["untrusted_hotp"]) == ("", "hotp", hotp(H1, 5), 5)

    assert [r.get("err") for r in res["tset_bad"]] == ["bad_param"] * len(BAD_TIMES)
    assert res["tset_bad_info"]["trusted"] is False and res["tset_bad_info"]["last_sync"] is None
    lo = res["tset_lo"]
    assert lo["ok"] == 1 and lo["now"] == 946684800
    assert abs(lo["offset"] - (946684800 - clock0["now"])) <= 5
    assert res["tget_lo"]["trusted"] is True and res["tget_lo"]["last_sync"] == 946684800
    assert 946684800 <= res["tget_lo"]["now"] <= 946684800 + 5
    assert res["tset_hi"]["ok"] == 1
    assert 7258118399 <= res["tget_hi"]["now"] <= 7258118399 + 5  # 2199-12-31T23:59:59Z
    assert res["tset_now"]["ok"] == 1 and res["tset_now"]["now"] == NOW

    info1 = res["info1"]
    assert info1["accounts"] == 5 and info1["clock"]["trusted"] is True
    assert info1["clock"]["last_sync"] == NOW and NOW <= info1["clock"]["now"] <= NOW + 5

    for d in (T1, T2, T3, W15):
        r = res["one_" + d["n"]]
        now = r["now"]
        assert NOW <= now <= NOW + 5 and r["total"] == 1
        p = d.get("p", 30)
        (item,) = r["c"]
        assert (item["i"], item["n"], item["code"]) == (d["i"], d["n"], totp(d, now)), d["n"]
        assert item["left"] == p - now % p

    page = res["page"]
    now = page["now"]
    assert page["total"] == 5 and len(page["c"]) == 5
    for item, d in zip(page["c"], ALL, strict=True):
        assert (item["i"], item["n"]) == (d["i"], d["n"])
        if d.get("k") == 1:
            assert item.get("k") == "hotp" and "code" not in item  # no code, no counter move
        else:
            p = d.get("p", 30)
            assert (item["code"], item["left"]) == (totp(d, now), p - now % p), d["n"]

    # Exactly one counter step per request, persisted across a reboot.
    assert single(res["hotp_a"]) == ("", "hotp", hotp(H1, 6), 6)
    assert single(res["hotp_b"]) == ("", "hotp", hotp(H1, 7), 7)
    listed = {a["n"]: a for a in res["list"]["a"]}
    assert listed["hotp"]["c"] == 8
    assert {a["n"]: a for a in res["list_reboot"]["a"]}["hotp"]["c"] == 8
    assert res["time_reboot"]["trusted"] is True and res["time_reboot"]["last_sync"] == NOW
    assert single(res["hotp_c"]) == ("", "hotp", hotp(H1, 8), 8)
    assert listed["root"] == {"i": "AWS", "n": "root", "k": "totp", "a": "SHA256", "d": 8, "p": 60}


def single(resp):
    """(issuer, name, code, counter) of a one-account code response."""
    assert resp.get("ok") == 1 and resp["total"] == 1, resp
    (item,) = resp["c"]
    return item["i"], item["n"], item["code"], item.get("c")


MANY = [
    acct(
        f"user{k:02d}@example.com",
        f"Issuer{k % 5}",
        b32(16 + k % 8, k),
        **({"k": 1} if k % 7 == 3 else {}),
    )
    for k in range(40)
]

MANAGE = """
dev = device(DIR)
call(dev, "time.set", t=NOW)
R("add_a", call(dev, "acct.add", a=MANY[:25]))
R("add_b", call(dev, "acct.add", a=MANY[25:]))
for o in (0, 16, 32, 40, 99):
    R("list%d" % o, call(dev, "acct.list", o=o))
    R("code%d" % o, call(dev, "code", o=o))
R("bad_offsets", [call(dev, "acct.list", o=o).get("err") for o in (-1, "1", 1.5, None)])

a, b = MANY[0], MANY[1]
R("rename", call(dev, "acct.rename", i=a["i"], n=a["n"], ni="日本", nn="Société Générale"))
R("rename_dup", call(dev, "acct.rename", i=b["i"], n=b["n"], ni="日本", nn="Société Générale"))
R("rename_same", call(dev, "acct.rename", i=b["i"], n=b["n"], ni=b["i"], nn=b["n"]))
R("rename_errors", [
    call(dev, "acct.rename", i="nobody", n="none", ni="x", nn="y").get("err"),
    call(dev, "acct.rename", i=b["i"], n=b["n"], ni="x", nn="").get("err"),
    call(dev, "acct.rename", i=b["i"], n=b["n"], ni="x" * 65, nn="y").get("err"),
    call(dev, "acct.rename", i=b["i"], n=b["n"], ni="x").get("err"),
    call(dev, "acct.rename", i=b["i"], ni="x", nn="y").get("err"),
    call(dev, "acct.rename", i=5, n=b["n"], ni="x", nn="y").get("err"),
])
R("remove", call(dev, "acct.remove", i=b["i"], n=b["n"]))
R("remove_again", call(dev, "acct.remove", i=b["i"], n=b["n"]))
R("remove_bad", call(dev, "acct.remove", n=None))

R("moves", [call(dev, "acct.move", i=i, n=n, to=to) for i, n, to in MOVES])
R("move_bad", [
    call(dev, "acct.move", i=MANY[2]["i"], n=MANY[2]["n"], to=t).get("err")
    for t in ("1", None, 1.0, True)
] + [call(dev, "acct.move", i="no", n="such", to=0).get("err")])
order = []
for o in (0, 16, 32):
    order += [[x["i"], x["n"]] for x in call(dev, "acct.list", o=o)["a"]]
R("order", order)

R("unknown", [
    call(dev, "nope"),
    call(dev, None),
    call(dev, ["acct.list"]),
    call(dev, 5),
    call(dev, "ACCT.LIST"),
    commands.dispatch(dev, {"id": 77}),
    commands.dispatch(dev, {"op": "nope"}),
])
R("bad_adds", [
    call(dev, "acct.add"),
    call(dev, "acct.add", a=[]),
    call(dev, "acct.add", a={"s": MANY[2]["s"], "n": "x"}),
    call(dev, "acct.add", a=[{"s": MANY[2]["s"], "n": "ok"},
                             {"s": MANY[3]["s"][:15], "n": "short"}]),
    call(dev, "acct.add", a=[{"s": MANY[4]["s"] + "!", "n": "bad32"}]),
    call(dev, "acct.add", a=[{"s": MANY[5]["s"], "n": "md5", "a": "MD5"}]),
    call(dev, "acct.add", a=[{"s": MANY[6]["s"], "n": MANY[6]["n"], "i": MANY[6]["i"]}]),
    call(dev, "acct.add", a=[{"s": MANY[7]["s"], "n": "float", "k": 1.0}]),
])
R("total", call(dev, "info")["accounts"])
"""

MOVES_SPEC = [(5, 0), (0, 38), (10, 10), (38, 1), (20, 39), (20, -1), (3, 7)]


def test_manage_accounts_paging_and_errors(run_fw, tmp_path):
    model = [[d["i"], d["n"]] for d in MANY]
    # The list as each move sees it (after the rename and the remove below).
    state = [row[:] for row in model]
    state[0] = ["日本", "Société Générale"]
    del state[1]
    moves = []
    expect_ok = []
    for i, to in MOVES_SPEC:
        moves.append((state[i][0], state[i][1], to))
        expect_ok.append(0 <= to < len(state))
        if expect_ok[-1]:
            state.insert(to, state.pop(i))  # list.insert(to, list.pop(i))
    out = run_fw(dev_script(MANAGE, tmp_path, MANY=MANY, NOW=NOW, MOVES=moves))
    assert_no_secret(out, MANY)
    res = results(out)

    assert res["add_a"]["added"] == 25 and res["add_b"]["total"] == 40
    for o, count in ((0, 16), (16, 16), (32, 8), (40, 0), (99, 0)):
        page = res[f"list{o}"]
        assert page["total"] == 40 and len(page["a"]) == count, o
        assert [[x["i"], x["n"]] for x in page["a"]] == model[o : o + count]
        codes = res[f"code{o}"]
        assert codes["total"] == 40 and len(codes["c"]) == count, o
        for x, d in zip(codes["c"], MANY[o : o + count], strict=True):
            assert (x["i"], x["n"]) == (d["i"], d["n"])
            if d.get("k") == 1:
                assert x.get("k") == "hotp" and "code" not in x
            else:
                assert x["code"] == totp(d, codes["now"]), d["n"]
    assert res["bad_offsets"] == ["bad_param"] * 4

    assert res["rename"].get("ok") == 1
    assert res["rename_dup"]["err"] == "duplicate"
    assert res["rename_same"].get("ok") == 1
    assert res["rename_errors"] == ["not_found"] + ["bad_param"] * 5
    assert res["remove"]["total"] == 39
    assert res["remove_again"]["err"] == "not_found"
    assert res["remove_bad"]["err"] == "bad_param"

    for r, ok, move in zip(res["moves"], expect_ok, moves, strict=True):
        assert r.get("ok") == 1 if ok else r.get("err") == "bad_param", (move, r)
    assert res["move_bad"] == ["bad_param"] * 4 + ["not_found"]
    assert res["order"] == state

    unknown = res["unknown"]
    assert [r["err"] for r in unknown] == ["unknown_op"] * 7
    assert unknown[5]["id"] == 77 and unknown[6]["id"] is None

    bad = res["bad_adds"]
    assert [r.get("err") for r in bad] == [
        "bad_param", "bad_param", "bad_param", "bad_secret", "bad_secret", "bad_algorithm",
        "duplicate", "bad_param",
    ]  # fmt: skip
    assert bad[3]["index"] == 1 and bad[4]["index"] == 0 and bad[5]["index"] == 0
    assert res["total"] == 39  # no partial batch was written


LOCKED = """
dev = device(DIR)
call(dev, "time.set", t=NOW)
call(dev, "acct.add", a=[T1, H1])
R("pin_bad", [call(dev, "pin.set", pin=p).get("err") for p in ("123", "x" * 65, 1234, None)])
R("pin_set", call(dev, "pin.set", pin="1234"))
R("info_set", call(dev, "info"))
R("pin_again", call(dev, "pin.set", pin="9999"))
R("lock", call(dev, "lock"))
R("info_locked", call(dev, "info"))
R("refused", refused(dev))
R("allowed", [call(dev, op).get("ok") for op in ("info", "time.get", "lock")])
R("unlock_wrong", call(dev, "unlock", pin="0000"))
R("tries", call(dev, "info")["tries_left"])
R("unlock_right", call(dev, "unlock", pin="1234"))
R("open", [call(dev, "acct.list")["total"], call(dev, "code", i="", n="hotp")["c"][0]["c"]])
R("change_wrong", call(dev, "pin.change", old="0000", new="5678"))
R("change_bad_new", call(dev, "pin.change", old="1234", new="12"))
R("change", call(dev, "pin.change", old="1234", new="5678"))
call(dev, "lock")
R("old_pin", call(dev, "unlock", pin="1234"))
R("new_pin", call(dev, "unlock", pin="5678"))
"""

# Run in a new process: a reboot starts locked; then eight wrong PINs block PIN entry
# (with power cycles between each three, past the brake).
LOCKED_REBOOT = """
dev = device(DIR)
R("reboot", [call(dev, "info")["locked"], call(dev, "acct.list").get("err")])
wrongs = []
for k in range(8):
    if k and k % 3 == 0:
        dev.lock._row = 0  # a power cycle releases the 3-in-a-row brake (RAM only)
    wrongs.append(call(dev, "unlock", pin="%04d" % k).get("tries_left"))
R("wrongs", wrongs)
R("blocked", call(dev, "unlock", pin="5678"))
R("blocked_info", call(dev, "info"))
R("still_refused", refused(dev))
"""

REFUSED = """
def refused(dev):
    # Every operation that needs the PIN, each as it would really be asked for.
    return [
        call(dev, "time.set", t=NOW).get("err", "ok"),
        call(dev, "acct.add", a=[W15]).get("err", "ok"),
        call(dev, "acct.list").get("err", "ok"),
        call(dev, "acct.rename", i=T1["i"], n=T1["n"], ni="x", nn="y").get("err", "ok"),
        call(dev, "acct.move", i=T1["i"], n=T1["n"], to=1).get("err", "ok"),
        call(dev, "code").get("err", "ok"),
        call(dev, "code", i="", n="hotp").get("err", "ok"),
        call(dev, "acct.remove", i=T1["i"], n=T1["n"]).get("err", "ok"),
    ]


"""


def test_pin_and_locked_operations(run_fw, tmp_path):
    params = dict(NOW=NOW, T1=T1, H1=H1, W15=W15)
    out = run_fw(dev_script(REFUSED + LOCKED, tmp_path, **params))
    out += run_fw(dev_script(REFUSED + LOCKED_REBOOT, tmp_path, **params))
    assert_no_secret(out, [T1, H1, W15])
    res = results(out)
    assert res["pin_bad"] == ["bad_param"] * 4
    assert res["pin_set"]["ok"] == 1
    info = res["info_set"]
    assert (info["pin"], info["locked"], info["tries_left"]) == (True, False, 8)
    assert res["pin_again"]["err"] == "pin_set"
    assert res["lock"]["ok"] == 1
    assert (res["info_locked"]["pin"], res["info_locked"]["locked"]) == (True, True)
    assert res["refused"] == ["locked"] * 8
    assert res["allowed"] == [1, 1, 1]
    wrong = res["unlock_wrong"]
    assert (wrong["err"], wrong["tries_left"]) == ("bad_pin", 7)
    assert res["tries"] == 7
    assert res["unlock_right"]["ok"] == 1
    assert res["open"] == [2, 5]
    assert res["change_wrong"]["err"] == "bad_pin"
    assert res["change_bad_new"]["err"] == "bad_param"
    assert res["change"]["ok"] == 1
    assert res["old_pin"]["err"] == "bad_pin"
    assert res["new_pin"]["ok"] == 1
    assert res["reboot"] == [True, "locked"]
    assert res["wrongs"] == [7, 6, 5, 4, 3, 2, 1, 0]
    assert res["blocked"]["err"] == "pin_blocked" and res["blocked"]["tries_left"] == 0
    assert (res["blocked_info"]["locked"], res["blocked_info"]["tries_left"]) == (True, 0)
    assert res["still_refused"] == ["locked"] * 8


STAGED = """
dev = device(DIR)
R("base", call(dev, "acct.add", a=[X0]))

# A duplicate (of a stored account) in the last frame: nothing of the batch is added.
R("s1", call(dev, "acct.add", a=[A, B], more=1))
R("s2", call(dev, "acct.add", a=[C], more=1, seq=1))
R("s3", call(dev, "acct.add", a=[D, X0], seq=2))
R("after_dup", call(dev, "acct.list"))

# A duplicate of a staged account in the last frame.
R("s4", call(dev, "acct.add", a=[A], more=1))
R("s5", call(dev, "acct.add", a=[B, A], seq=1))
R("after_dup2", call(dev, "info")["accounts"])

# Any other op between the frames drops the staged part.
R("s6", call(dev, "acct.add", a=[A, B], more=1))
R("between", call(dev, "info")["ok"])
R("s7", call(dev, "acct.add", a=[C]))
R("after_drop", call(dev, "acct.list"))

# A frame that fails ends its batch: a later, unrelated add does not commit the staged part.
R("e1", call(dev, "acct.add", a=[A], more=1))
R("e2", call(dev, "acct.add", a=[BAD], more=1, seq=1))
R("e3", call(dev, "acct.add", a=[E]))
R("after_error", call(dev, "acct.list"))

# A staged part lives in RAM only: a reboot (the next process) loses it.
R("s8", call(dev, "acct.add", a=[D], more=1))
"""

STAGED_REBOOT = """
dev = device(DIR)
R("s9", call(dev, "acct.add", a=[B]))
R("after_reboot", call(dev, "acct.list"))

# The happy path: three frames, one write.
R("h1", call(dev, "acct.add", a=[A], more=1))
R("h2", call(dev, "acct.add", a=[D], more=1, seq=1))
R("h3", call(dev, "acct.add", a=[F], seq=2))
R("final", call(dev, "acct.list"))
"""


ABANDONED = """
dev = device(DIR)
# A client died after its first frame: the next batch (seq 0) starts afresh without it.
R("a1", call(dev, "acct.add", a=[A], more=1))
R("a2", call(dev, "acct.add", a=[B]))
R("after", call(dev, "acct.list"))
# A continuation frame with no batch behind it, or out of order, is refused.
R("lost", call(dev, "acct.add", a=[C], seq=1))
R("b1", call(dev, "acct.add", a=[C], more=1))
R("skip", call(dev, "acct.add", a=[D], seq=2))
R("final", call(dev, "acct.list"))
"""


def test_an_abandoned_batch_never_joins_the_next(run_fw, tmp_path):
    accs = {k: acct(k.lower() + "-account", "Staged", b32(20, ord(k))) for k in "ABCD"}
    res = run_dev(run_fw, ABANDONED, tmp_path, **accs)
    assert res["a2"]["added"] == 1
    assert _names(res["after"]) == ["b-account"]
    assert res["lost"]["err"] == "batch_lost"
    assert res["skip"]["err"] == "batch_lost"
    assert _names(res["final"]) == ["b-account"]


def _names(listing):
    return [a["n"] for a in listing["a"]]


def test_staged_add_is_all_or_nothing(run_fw, tmp_path):
    accs = {k: acct(k.lower() + "-account", "Staged", b32(20, ord(k))) for k in "ABCDEF"}
    x0 = acct("x0", "Stored", b32(20, 99))
    bad = acct("bad", "Staged", b32(9, 3))  # 9 bytes: bad_secret
    params = dict(X0=x0, BAD=bad, **accs)
    out = run_fw(dev_script(STAGED, tmp_path, **params))
    out += run_fw(dev_script(STAGED_REBOOT, tmp_path, **params))
    assert_no_secret(out, [x0, bad, *accs.values()])
    res = results(out)
    assert res["base"]["total"] == 1
    assert res["s1"]["staged"] == 2 and "total" not in res["s1"]
    assert res["s2"]["staged"] == 3
    assert res["s3"]["err"] == "duplicate"
    assert _names(res["after_dup"]) == ["x0"]
    assert res["s4"]["staged"] == 1
    assert res["s5"]["err"] == "duplicate"
    assert res["after_dup2"] == 1
    assert res["s6"]["staged"] == 2 and res["between"] == 1
    assert res["s7"]["added"] == 1 and res["s7"]["total"] == 2
    assert _names(res["after_drop"]) == ["x0", "c-account"]
    assert res["e1"]["staged"] == 1 and res["e2"]["err"] == "bad_secret"
    assert res["e3"]["added"] == 1
    assert _names(res["after_error"]) == ["x0", "c-account", "e-account"]
    assert res["s8"]["staged"] == 1
    assert res["s9"]["added"] == 1
    assert _names(res["after_reboot"]) == ["x0", "c-account", "e-account", "b-account"]
    assert res["h1"]["staged"] == 1 and res["h2"]["staged"] == 2
    assert res["h3"]["added"] == 3 and res["h3"]["total"] == 7
    assert _names(res["final"]) == [
        "x0", "c-account", "e-account", "b-account", "a-account", "d-account", "f-account",
    ]  # fmt: skip


WRAP = """
dev = device(DIR)
call(dev, "acct.add", a=[ACC])
R("code", call(dev, "code", i="", n="edge"))
R("list", call(dev, "acct.list")["a"][0])
"""


def test_hotp_counter_never_wraps(run_fw, tmp_path):
    """MicroPython's struct.pack('>Q', 2**64) silently gives 0: the last counter must not
    send the account back to counter 0."""
    edge = acct("edge", "", b32(20, 5), k=1, c=2**64 - 1)
    res = run_dev(run_fw, WRAP, tmp_path, ACC=edge)
    assert "err" in res["code"] or res["list"]["c"] != 0
    assert res["list"]["c"] == 2**64 - 1 or res["list"]["c"] > 0


CORRUPT_SETUP = """
dev = device(DIR)
call(dev, "time.set", t=NOW)
call(dev, "acct.add", a=[T1])
call(dev, "pin.set", pin="1234")
blob = bytearray(read("/flash/vault"))
blob[40] ^= 1
write("/flash/vault", blob)
"""

CORRUPT = """
dev = device(DIR)
R("corrupt", dev.corrupt)
R("info", call(dev, "info"))
R("refused", [call(dev, op).get("err") for op in ("acct.list", "code", "acct.add", "pin.set")])
R("allowed", [call(dev, op).get("ok") for op in ("info", "time.get", "lock")])
R("time_set", call(dev, "time.set", t=NOW + 100))
"""


def test_corrupt_vault_is_reported_refused_and_keeps_the_pin(run_fw, tmp_path):
    run_fw(dev_script(CORRUPT_SETUP, tmp_path, NOW=NOW, T1=T1))
    res = run_dev(run_fw, CORRUPT, tmp_path, NOW=NOW, T1=T1)
    assert res["corrupt"] is True
    info = res["info"]
    assert info["vault"] == "corrupt" and info["ok"] == 1
    assert res["refused"] == ["vault_corrupt"] * 4
    assert res["allowed"] == [1, 1, 1]
    # The PIN file is intact: the PIN still guards what a corrupt vault allows.
    assert (info["pin"], info["locked"]) == (True, True)
    assert res["time_set"].get("err") == "locked"


SERVE = """
import asyncio
from authtok import app, frame


class Link:
    def __init__(self, chunks):
        self.chunks = chunks
        self.out = bytearray()

    async def read(self):
        return self.chunks.pop(0) if self.chunks else b""

    def write(self, data):
        self.out.extend(data)


dev = device(DIR)
call(dev, "acct.add", a=[ACC])
code = frame_bytes({"op": "code", "id": 100, "i": "", "n": "h"})
stream = (b"boot noise\\n" + code + code + b"#TK1:{}:00000000\\n"
          + frame_bytes({"op": "code", "id": 101, "i": "", "n": "h"}))
link = Link([stream[k:k + 7] for k in range(0, len(stream), 7)])
asyncio.run(app.serve(dev, link))
R("out", [frame.decode(line) for line in bytes(link.out).split(b"\\n") if line])
"""


def test_serve_answers_a_retried_id_without_acting_twice(run_fw, tmp_path):
    h = acct("h", "", b32(20, 7), k=1, c=10)
    out = run_dev(run_fw, SERVE, tmp_path, ACC=h)["out"]
    assert len(out) == 4
    assert out[0] == out[1] and out[0]["id"] == 100
    assert single(out[0]) == ("", "h", hotp(h, 10), 10)
    assert out[2]["err"] == "bad_frame" and out[2]["id"] is None
    assert out[3]["id"] == 101 and single(out[3]) == ("", "h", hotp(h, 11), 11)


BIG_PAGES = """
from authtok import frame


class Counter:
    # A link that only counts what frame.send writes.
    n = 0

    def write(self, data):
        self.n += len(data)


dev = device(DIR)
call(dev, "time.set", t=NOW)
with open(ACCOUNTS) as f:
    for line in f:
        call(dev, "acct.add", a=json.loads(line))
sizes = []
for op in ("acct.list", "code"):
    o = 0
    while True:
        resp = call(dev, op, o=o)
        got = len(resp.get("a", resp.get("c", [])))
        out = Counter()
        frame.send(out, resp)
        sizes.append([op, o, got, out.n, resp.get("err")])
        resp = None
        if not got:
            break
        o += got
R("sizes", sizes)
"""


def test_pages_of_the_longest_labels_fit_a_frame(run_fw, tmp_path):
    """Pages of accounts with the longest labels (64 bytes of UTF-8 each) and SHA-512
    secrets: every account comes once, every page frame fits MAX_LINE, in the 128K heap."""
    big = [
        acct(f"{k:02d}" + "ü" * 31, "日本" * 10 + "i" * 4, b32(64, k), k=k % 2, a="SHA512", d=8)
        for k in range(16)
    ]
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps(big[:8]) + "\n" + json.dumps(big[8:]) + "\n")
    sizes = run_dev(run_fw, BIG_PAGES, tmp_path, NOW=NOW, ACCOUNTS=str(path))["sizes"]
    for op in ("acct.list", "code"):
        pages = [row for row in sizes if row[0] == op]
        assert all(row[4] is None for row in pages), pages
        assert sum(row[2] for row in pages) == 16, pages  # every account, once
        assert all(0 < row[3] <= 4096 for row in pages), pages


ESCAPED = """
from authtok import frame


class Link:
    def __init__(self):
        self.out = bytearray()

    def write(self, data):
        self.out.extend(data)


req = frame.decode(LINE.encode())
R("add", commands.dispatch(dev := device(DIR), req))
link = Link()
frame.send(link, commands.dispatch(dev, {"op": "acct.list", "id": 2}))
R("out", bytes(link.out).hex())
"""


def test_escaped_non_bmp_name_round_trips_or_is_refused(run_fw, tmp_path):
    body = json.dumps(
        {"op": "acct.add", "id": 1, "a": [{"s": b32(20, 9), "n": "\U0001f600 face"}]},
        separators=(",", ":"),
    ).encode()  # ensure_ascii: the emoji goes as \\ud83d\\ude00
    assert b"\\ud83d" in body
    line = (b"#TK1:" + body + b":%08x" % zlib.crc32(body)).decode()
    res = run_dev(run_fw, ESCAPED, tmp_path, LINE=line)
    if "err" in res["add"]:
        assert res["add"]["err"] == "bad_param"  # refused, clearly: fine
        return
    listing = host_frame.decode_line(bytes.fromhex(res["out"]).rstrip(b"\n"))
    assert listing["a"][0]["n"] == "\U0001f600 face"


def test_assert_no_secret_catches_a_leak():
    """The leak check itself: a fragment of a secret, in either spelling, is caught."""
    with pytest.raises(AssertionError):
        assert_no_secret('{"msg": "bad secret ' + T1["s"][3:17].lower() + '"}', [T1])
    raw = base64.b32decode(T1["s"])
    with pytest.raises(AssertionError):
        assert_no_secret(raw.hex()[:24], [T1])
    assert_no_secret('{"c": [{"code": "123456"}]}', ALL)
