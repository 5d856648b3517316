"""The accounts (firmware/authtok/vault.py) under real MicroPython, on littlefs2."""

import base64

from mp_helpers import results, script

KEY = bytes(range(32))


def b32(n: int, seed: int = 0) -> str:
    """Base32 of n bytes, without padding (as the host sends it)."""
    return base64.b32encode(bytes((seed + 31 * i) & 0xFF for i in range(n))).decode().rstrip("=")


S10 = b32(10)
S20 = b32(20, 1)
S11_PADDED = base64.b32encode(bytes(range(11))).decode()  # ends in "======"

BAD = [
    # (wire account, error code)
    ([], "bad_param"),
    ("alice", "bad_param"),
    (None, "bad_param"),
    ({"s": S10, "n": "a", "k": 2}, "bad_param"),
    ({"s": S10, "n": "a", "k": -1}, "bad_param"),
    ({"s": S10, "n": "a", "k": "totp"}, "bad_param"),
    ({"s": S10, "n": "a", "k": 1.0}, "bad_param"),
    ({"s": S10, "n": "a", "k": 0.0}, "bad_param"),
    ({"s": S10, "n": "a", "k": True}, "bad_param"),
    ({"s": S10, "n": "a", "a": "MD5"}, "bad_algorithm"),
    ({"s": S10, "n": "a", "a": "sha1"}, "bad_algorithm"),
    ({"s": S10, "n": "a", "a": None}, "bad_algorithm"),
    ({"s": S10, "n": "a", "d": 5}, "bad_param"),
    ({"s": S10, "n": "a", "d": 9}, "bad_param"),
    ({"s": S10, "n": "a", "d": "6"}, "bad_param"),
    ({"s": S10, "n": "a", "d": 6.0}, "bad_param"),
    ({"s": S10, "n": "a", "d": True}, "bad_param"),
    ({"s": S10, "n": "a", "p": 0}, "bad_param"),
    ({"s": S10, "n": "a", "p": 3601}, "bad_param"),
    ({"s": S10, "n": "a", "p": "30"}, "bad_param"),
    ({"s": S10, "n": "a", "k": 1, "c": -1}, "bad_param"),
    ({"s": S10, "n": "a", "k": 1, "c": 2**64}, "bad_param"),
    ({"s": S10, "n": "a", "k": 1, "c": "0"}, "bad_param"),
    ({"s": "not base32!", "n": "a"}, "bad_secret"),
    ({"s": S10[:-1] + "1", "n": "a"}, "bad_secret"),
    ({"s": S10 + "=" * 9, "n": "a"}, "bad_secret"),
    ({"s": b32(9), "n": "a"}, "bad_secret"),
    ({"s": b32(9) + "=", "n": "a"}, "bad_secret"),
    ({"s": b32(65), "n": "a"}, "bad_secret"),
    ({"s": "", "n": "a"}, "bad_secret"),
    ({"n": "a"}, "bad_secret"),
    ({"s": 12345, "n": "a"}, "bad_secret"),
    ({"s": None, "n": "a"}, "bad_secret"),
    ({"s": S10, "n": "a", "i": "x" * 65}, "bad_param"),
    ({"s": S10, "n": "a", "i": "é" * 33}, "bad_param"),  # 66 bytes of UTF-8
    ({"s": S10, "n": "a", "i": 7}, "bad_param"),
    ({"s": S10, "n": ""}, "bad_param"),
    ({"s": S10}, "bad_param"),
    ({"s": S10, "n": None}, "bad_param"),
    ({"s": S10, "n": 42}, "bad_param"),
    ({"s": S10, "n": ["a"]}, "bad_param"),
    ({"s": S10, "n": "y" * 65}, "bad_param"),
    # The first failing check is reported, in the order k, a, d, s, i, n (docs/protocol.md 6.1)
    ({"k": 2, "a": "MD5", "s": "!"}, "bad_param"),
    ({"a": "MD5", "d": 5, "s": "!"}, "bad_algorithm"),
    ({"d": 5, "s": "!", "n": ""}, "bad_param"),
    ({"s": "!", "i": 7, "n": ""}, "bad_secret"),
]

GOOD = [
    # (wire account, expected public(), expected secret)
    (
        {"s": S10, "n": "alice"},
        {"i": "", "n": "alice", "k": "totp", "a": "SHA1", "d": 6, "p": 30},
        S10,
    ),
    (
        {"s": S20.lower(), "n": "n" * 64, "i": "i" * 64, "a": "SHA512", "d": 8, "p": 3600},
        {"i": "i" * 64, "n": "n" * 64, "k": "totp", "a": "SHA512", "d": 8, "p": 3600},
        S20,
    ),
    (
        {"s": b32(64), "n": "é" * 32, "i": "日本", "a": "SHA256", "d": 7, "p": 1, "t": 1},
        {"i": "日本", "n": "é" * 32, "k": "totp", "a": "SHA256", "d": 7, "p": 1, "t": 1},
        b32(64),
    ),
    (
        {"s": " ".join(S20[i : i + 4] for i in range(0, 32, 4)), "n": "bob", "k": 1},
        {"i": "", "n": "bob", "k": "hotp", "a": "SHA1", "d": 6, "c": 0},
        S20,
    ),
    (
        {"s": S11_PADDED, "n": "carol", "k": 1, "c": 2**64 - 1, "i": "Société Générale"},
        {"i": "Société Générale", "n": "carol", "k": "hotp", "a": "SHA1", "d": 6, "c": 2**64 - 1},
        S11_PADDED,
    ),
]

ENCODE = """
from authtok import provision, vault

for n, (d, _) in enumerate(BAD):
    R("bad%d" % n, catch(provision.encode, d)[:2])
for n, (d, _, _) in enumerate(GOOD):
    rec = provision.encode(d)
    acc = vault.Account(rec)
    R("good%d" % n, [acc.public(), acc.secret.hex()])
"""


def secret_hex(s: str) -> str:
    s = s.replace(" ", "").upper()
    return base64.b32decode(s + "=" * (-len(s) % 8)).hex()


def test_encode_validation(run_mp):
    res = results(run_mp(script(ENCODE, BAD=BAD, GOOD=GOOD)))
    for n, (d, code) in enumerate(BAD):
        assert res[f"bad{n}"] == ["Error", code], d
    for n, (d, public, secret) in enumerate(GOOD):
        assert res[f"good{n}"] == [public, secret_hex(secret)], d


def acct(name, issuer="", secret=S10, **extra):
    d = {"s": secret, "n": name, "i": issuer}
    d.update(extra)
    return d


# Shared by the scripts below: a vault over /flash, and adding a batch all or nothing.
VAULT = """
from authtok import provision, vault
from authtok.store import Corrupt, Sealed


def fresh(path="/flash/vault"):
    v = vault.Vault(Sealed(path, KEY, b"valt"))
    v.load()
    return v


def labels(v):
    out = []
    for rec in v.records():
        acc = vault.Account(rec)
        out.append([acc.issuer, acc.name])
    return out


def add(v, *frames):
    # One batch over several frames (as a multi-frame acct.add), committed with the last.
    b = provision.Batch(v)
    try:
        for ds in frames:
            b.add([provision.encode(d) for d in ds])
            gc.collect()
    except Exception:
        b.abort()
        raise
    b.commit()
    return v.count


def state(v):
    # count, generation (as stored), and no half-written vault left behind
    return [v.count, fresh().generation, exists("/flash/vault.new")]


"""

OPS = """
mount(IMG)
v = fresh()
R("empty", [v.count, v.generation, labels(v)])
R("first", [add(v, FIRST), v.generation, labels(fresh()), fresh().generation])

# Duplicates: inside one frame, across the frames of one batch, or against what is stored.
# Nothing is written then.
R("dup_frame", catch(add, v, DUP_FRAME)[:2] + state(v))
R("dup_frames", catch(add, v, DUP_FRAME[:2], DUP_FRAME[2:])[:2] + state(v))
R("dup_stored", catch(add, v, DUP_STORED)[:2] + state(v))
R("after_dups", labels(fresh()))
R("two_frames", [add(v, MORE[:1], MORE[1:]), v.generation, labels(fresh())[-2:]])

# find / not_found
R("find", [v.find("GitHub", "alice")[0], v.find("", "alice")[0], v.find("GitLab", "alice")[0]])
R("not_found", [catch(v.find, "GitHub", "nobody")[:2], catch(v.find, "github", "alice")[:2]])

# relabel keeps everything but the label
i, rec = v.find("GitHub", "alice")
old = vault.Account(rec)
new = vault.Account(provision.relabel(rec, "日本", "Société Générale"))
R("relabel", [new.public(), new.secret == old.secret])
R("relabel_bad", [catch(provision.relabel, rec, "x" * 65, "n")[:2],
                  catch(provision.relabel, rec, "", "")[:2],
                  catch(provision.relabel, rec, None, "n")[:2],
                  catch(provision.relabel, rec, "", "tab\\there")[:2]])
gen = v.generation
v.replace(i, provision.relabel(rec, "日本", "Société Générale"))
R("replaced", [labels(fresh()), v.generation - gen, v.count])

# with_counter moves an HOTP counter and nothing else
h, rec = v.find("", "hotp")
before = vault.Account(rec)
rec = vault.with_counter(rec, 123456789012)
after = vault.Account(rec)
R("with_counter", [before.public(), after.public(), after.secret == before.secret])
v.replace(h, rec)
R("counter_saved", vault.Account(fresh().page(h, 1)[0]).counter)

# move: list.insert(to, list.pop(i))
for k, (i, to) in enumerate(MOVES):
    r = catch(v.move, i, to)
    R("move%d" % k, [r[:2], labels(v), v.generation, labels(fresh())])

# page
R("pages", [[vault.Account(r).name for r in v.page(o, n)]
            for o, n in ((0, 2), (5, 3), (6, 9), (99, 1))])

# remove
gen = v.generation
v.remove(0)
R("remove", [labels(v), labels(fresh()), v.generation - gen, v.count])

# Another vault format version is not ours to read.
Sealed("/flash/v2", KEY, b"valt").save([b"V2\\x00\\x01x"])
R("version", catch(fresh, "/flash/v2")[0])
"""

FIRST = [
    acct("alice", "GitHub"),
    acct("alice"),
    acct("alice", "GitLab"),
    acct("Alice", "GitHub"),
    acct("hotp", k=1, c=7, secret=S20),
]
MORE = [acct("more1", "M"), acct("more2", "M")]
MOVES = [(0, 6), (6, 0), (1, 3), (2, 2), (3, 0), (0, 7), (0, -1), (4, 1), (6, 5)]


def test_add_duplicates_find_relabel_move_remove(run_mp, tmp_path):
    params = dict(
        IMG=str(tmp_path / "flash.img"),
        KEY=KEY,
        FIRST=FIRST,
        DUP_FRAME=[acct("new1"), acct("new2", "X"), acct("new1")],
        DUP_STORED=[acct("new3"), acct("alice", "GitHub", secret=S20)],
        MORE=MORE,
        MOVES=MOVES,
    )
    res = results(run_mp(script(OPS, VAULT, **params)))
    first = [[d["i"], d["n"]] for d in FIRST]
    assert res["empty"] == [0, 0, []]
    assert res["first"] == [5, 1, first, 1]
    for key in ("dup_frame", "dup_frames", "dup_stored"):
        assert res[key] == ["Error", "duplicate", 5, 1, False], key
    assert res["after_dups"] == first
    assert res["two_frames"] == [7, 2, [["M", "more1"], ["M", "more2"]]]
    assert res["find"] == [0, 1, 2]
    assert res["not_found"] == [["Error", "not_found"], ["Error", "not_found"]]
    assert res["relabel"] == [
        {"i": "日本", "n": "Société Générale", "k": "totp", "a": "SHA1", "d": 6, "p": 30},
        True,
    ]
    assert res["relabel_bad"] == [["Error", "bad_param"]] * 4
    model = [["日本", "Société Générale"]] + first[1:] + [["M", "more1"], ["M", "more2"]]
    assert res["replaced"] == [model, 1, 7]
    before, after, same_secret = res["with_counter"]
    assert before == {"i": "", "n": "hotp", "k": "hotp", "a": "SHA1", "d": 6, "c": 7}
    assert after == dict(before, c=123456789012) and same_secret
    assert res["counter_saved"] == 123456789012

    gen = 4
    for (i, to), (outcome, got, got_gen, stored) in zip(
        MOVES, [res[f"move{k}"] for k in range(len(MOVES))], strict=True
    ):
        if 0 <= to < len(model):
            model.insert(to, model.pop(i))
            gen += i != to  # moving in place may skip the write
            assert outcome == ["ok", None], (i, to)
        else:
            assert outcome == ["Error", "bad_param"], (i, to)
        assert got == model and stored == model, (i, to)
        assert got_gen in (gen, gen + 1) if i == to else got_gen == gen, (i, to)
        gen = got_gen

    names = [n for _, n in model]
    assert res["pages"] == [names[0:2], names[5:8], names[6:], []]
    labels, stored, step, count = res["remove"]
    assert labels == stored == model[1:] and step == 1 and count == 6
    assert res["version"] == "Corrupt"


CAPACITY = """
mount(IMG)


def many(prefix, count):
    return [{"s": SECRET, "n": "%s%d" % (prefix, k)} for k in range(count)]


big = fresh()
# 249 accounts in frames of 20, as the host sends them
frames = [many("n%d-" % f, 20) for f in range(12)] + [many("n12-", 9)]
R("almost", [add(big, *frames), big.generation])
R("over_batch", catch(add, big, many("x", 2))[:2] + state(big))
R("last", [add(big, many("last", 1)), big.generation])
R("over_one", catch(add, big, many("more", 1))[:2] + state(big))
reloaded = fresh()
R("full_reloaded", [reloaded.count, vault.Account(reloaded.page(MAX - 1, 1)[0]).name])
"""


def test_capacity(run_mp, tmp_path):
    params = dict(IMG=str(tmp_path / "flash.img"), KEY=KEY, SECRET=S10, MAX=250)
    res = results(run_mp(script(CAPACITY, VAULT, **params)))
    assert res["almost"] == [249, 1]
    assert res["over_batch"] == ["Error", "vault_full", 249, 1, False]
    assert res["last"] == [250, 2]
    assert res["over_one"] == ["Error", "vault_full", 250, 2, False]
    assert res["full_reloaded"] == [250, "last0"]


ISSUERS = ["Société Générale", "日本", "GitHub", "", "Ελληνικά", "ß" * 32]


def unicode_accounts(n=200):
    out = []
    for k in range(n):
        d = {
            "s": b32(10 + k % 55, k),
            "i": ISSUERS[k % len(ISSUERS)],
            "n": f"élève{k}@例え.jp",
            "k": k % 2,
            "a": ("SHA1", "SHA256", "SHA512")[k % 3],
            "d": 6 + k % 3,
        }
        if k % 2:
            d["c"] = k * 1000003
        else:
            d["p"] = 15 + k
        out.append(d)
    return out


ROUND_TRIP = """
mount(IMG)
v = fresh()
b = provision.Batch(v)
frame = []
with open(ACCOUNTS) as f:
    for line in f:
        frame.append(provision.encode(json.loads(line)))
        if len(frame) == 20:
            b.add(frame)
            frame = []
            gc.collect()
b.commit()
del b, frame
gc.collect()
v = fresh()
R("count", [v.count, v.generation])
for i, rec in enumerate(v.records()):
    acc = vault.Account(rec)
    R("a%d" % i, [acc.public(), acc.secret.hex()])
R("find", [v.find(LAST["i"], LAST["n"])[0], v.find("日本", "élève1@例え.jp")[0]])
"""


def test_round_trip_200_unicode_accounts(run_mp, tmp_path):
    import json

    accs = unicode_accounts()
    path = tmp_path / "accounts.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in accs))
    params = dict(IMG=str(tmp_path / "flash.img"), KEY=KEY, ACCOUNTS=str(path), LAST=accs[-1])
    res = results(run_mp(script(ROUND_TRIP, VAULT, **params)))
    assert res["count"] == [200, 1]
    for k, d in enumerate(accs):
        public, secret = res[f"a{k}"]
        want = {"i": d["i"], "n": d["n"], "k": ("totp", "hotp")[d["k"]], "a": d["a"], "d": d["d"]}
        want.update({"c": d["c"]} if d["k"] else {"p": d["p"]})
        assert public == want, k
        assert secret == secret_hex(d["s"]), k
    assert res["find"] == [199, 1]


MAKE_LARGE = """
mount(IMG, blocks=128)
v = fresh()
frames = []
for f in range(10):
    frames.append([{"s": SECRET, "i": "%03d" % k + "I" * 61, "n": "%03d" % k + "N" * 61}
                   for k in range(20 * f, 20 * f + 20)])
R("made", [add(v, *frames), len(read("/flash/vault"))])
"""

LOAD_LARGE = """
mount(IMG, blocks=128, fresh=False)
gc.collect()
try:
    v = fresh()
    acc = vault.Account(v.page(199, 1)[0])
    R("loaded", [v.count, acc.name[:3], len(acc.secret), len(acc.issuer), len(acc.name)])
except MemoryError:
    R("loaded", "MemoryError")
gc.collect()
R("free", gc.mem_free())
try:
    R("add", [add(v, [{"s": SECRET, "i": "I" * 64, "n": "one more"}]), v.generation])
except MemoryError:
    R("add", "MemoryError")
"""


def test_200_accounts_with_64_byte_labels_in_128k(run_mp, tmp_path):
    """A vault of 200 accounts with 20-byte secrets and 64-byte labels (~31 KB) loads, and
    takes one more account, in the 128K heap."""
    params = dict(IMG=str(tmp_path / "flash.img"), KEY=KEY, SECRET=S20)
    made = results(run_mp(script(MAKE_LARGE, VAULT, **params), heap="1M"))
    assert made["made"][0] == 200 and made["made"][1] > 30000
    res = results(run_mp(script(LOAD_LARGE, VAULT, **params), heap="128K"))
    assert res["loaded"] == [200, "199", 20, 64, 64]
    assert res["add"] == [201, 2]
