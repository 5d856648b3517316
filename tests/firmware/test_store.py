"""Sealed files (firmware/authtok/store.py) on littlefs2 under real MicroPython."""

from mp_helpers import results, script

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))

ROUND_TRIP = """
from authtok.store import Corrupt, Sealed

mount(IMG)
s = Sealed("/flash/a", KEY, b"test")
R("missing", [exists("/flash/a"), s.load(), s.generation])
gens = []
for n in (0, 1, 15, 16, 17, 31, 32, 33, 1000, 5000):
    plain = bytes((i * 7 + n) & 0xFF for i in range(n))
    gens.append(s.save([plain]))
    fresh = Sealed("/flash/a", KEY, b"test")
    got = bytes(fresh.load())
    R("rt%d" % n, [got == plain, fresh.generation, s.generation, len(read("/flash/a"))])
R("gens", gens)
R("exists", [exists("/flash/a"), exists("/flash/a.new")])

# The same plaintext twice: a fresh IV each time, and the generation in the clear header.
b1 = read("/flash/a")
s.save([b"same"])
b2 = read("/flash/a")
s.save([b"sa", b"", b"me"])
b3 = read("/flash/a")
R("iv", [b2[12:28] != b3[12:28], b2[28:-32] != b3[28:-32], b1[:8] == b2[:8] == b"TKS1test"])
R("gen_field", [int.from_bytes(b2[8:12], "big"), int.from_bytes(b3[8:12], "big")])

# The plaintext comes as parts of any size (the vault streams its records).
parts = [b"", b"a", b"b" * 15, b"c" * 16, b"d" * 255, b"e" * 256, b"f" * 257, b"", b"g" * 1000]
for k in range(len(parts)):
    order = parts[k:] + parts[:k]
    s.save(order)
    R("parts%d" % k, Sealed("/flash/a", KEY, b"test").load() == b"".join(order))
s.save([b"same"])

# Survives a remount (what a power cycle does).
mount(IMG, fresh=False)
again = Sealed("/flash/a", KEY, b"test")
R("remount", [str(again.load(), "utf-8"), again.generation])

# A leftover .new (garbage, as a torn write leaves it) is removed by the next boot (a new
# Sealed, then its load); the old content is kept.
write("/flash/a.new", b"\\xff" * 100)
boot = Sealed("/flash/a", KEY, b"test")
R("leftover_garbage", [str(boot.load(), "utf-8"), exists("/flash/a.new"), boot.generation])

# Even a complete, valid newer .new was never acknowledged: removed, old content kept.
old = read("/flash/a")
again.save([b"newer"])
write("/flash/a.new", read("/flash/a"))
write("/flash/a", old)
third = Sealed("/flash/a", KEY, b"test")
R("leftover_valid", [str(third.load(), "utf-8"), exists("/flash/a.new"), third.generation])

# A save after that starts from the loaded generation and replaces the file.
R("save_after", [third.save([b"next"]), str(Sealed("/flash/a", KEY, b"test").load(), "utf-8")])

# A writer streams a new version; only commit makes it current, abort leaves no trace.
w = third.writer()
w.write(b"x" * 1000)
R("during", [exists("/flash/a.new"), str(third.load(), "utf-8"), third.generation])
w.abort()
R("aborted", [exists("/flash/a.new"), str(third.load(), "utf-8"), third.generation])
w = third.writer()
for k in range(40):
    w.write(b"%03d," % k)
gen_w = w.commit()
want = b"".join(b"%03d," % k for k in range(40))
R("committed", [gen_w, Sealed("/flash/a", KEY, b"test").load() == want])

# stream(): the plaintext in pieces; a reader may stop early.
third.save([b"p" * 1000])
pieces = third.stream()
first = next(pieces)
pieces.close()
R("stream", [len(first) > 0, first[:1] == b"p", sum(len(p) for p in third.stream())])
R("stream_missing", Sealed("/flash/none", KEY, b"test").stream() is None)
"""


def test_round_trip_generations_and_leftover_new(run_mp, tmp_path):
    out = run_mp(script(ROUND_TRIP, IMG=str(tmp_path / "flash.img"), KEY=KEY))
    res = results(out)
    assert res["missing"] == [False, None, 0]
    sizes = (0, 1, 15, 16, 17, 31, 32, 33, 1000, 5000)
    for gen, n in enumerate(sizes, 1):
        ok, fresh_gen, gen_now, file_len = res[f"rt{n}"]
        assert ok and fresh_gen == gen and gen_now == gen, n
        # header 12 + IV 16 + padded ciphertext + tag 32
        assert file_len == 12 + 16 + (n // 16 + 1) * 16 + 32, n
    assert res["gens"] == list(range(1, len(sizes) + 1))
    assert res["exists"] == [True, False]
    assert res["iv"] == [True, True, True]
    assert res["gen_field"] == [len(sizes) + 1, len(sizes) + 2]
    for k in range(9):
        assert res[f"parts{k}"] is True, k
    gen = len(sizes) + 2 + 9 + 1
    assert res["remount"] == ["same", gen]
    assert res["leftover_garbage"] == ["same", False, gen]
    assert res["leftover_valid"] == ["same", False, gen]
    assert res["save_after"] == [gen + 1, "next"]
    assert res["during"] == [True, "next", gen + 1]
    assert res["aborted"] == [False, "next", gen + 1]
    assert res["committed"] == [gen + 2, True]
    assert res["stream"] == [True, True, 1000]
    assert res["stream_missing"] is True


TAMPER = """
from authtok.store import Corrupt, Sealed


def outcome(path=None, key=KEY, kind=b"test"):
    try:
        got = Sealed(path or "/flash/t", key, kind).load()
        return "loaded:%r" % (bytes(got),)
    except Corrupt:
        return "Corrupt"
    except Exception as e:
        return type(e).__name__


mount(IMG)
s = Sealed("/flash/t", KEY, b"test")
s.save([b"secret!"])
blob = read("/flash/t")
R("len", len(blob))
R("clean", outcome())

flips = []
for i in range(len(blob)):
    for mask in (0x01, 0x80, 0xFF):
        bad = bytearray(blob)
        bad[i] ^= mask
        write("/flash/t", bad)
        flips.append(outcome())
R("flips", flips)

cuts = []
for n in range(len(blob)):
    write("/flash/t", blob[:n])
    cuts.append(outcome())
R("cuts", cuts)

longer = []
for extra in (b"\\x00", bytes(16), bytes(32), blob[-32:]):
    write("/flash/t", blob + extra)
    longer.append(outcome())
R("longer", longer)

write("/flash/t", blob)
R("restored", outcome())
R("other_kind", outcome(kind=b"lock"))
R("other_key", outcome(key=OTHER_KEY))

# A file sealed for one kind, renamed to where another kind lives.
Sealed("/flash/l", KEY, b"lock").save([b"lock state"])
R("swapped", outcome(path="/flash/l"))
"""


def test_tamper_truncate_kind_and_key(run_mp, tmp_path):
    img = str(tmp_path / "flash.img")
    res = results(run_mp(script(TAMPER, IMG=img, KEY=KEY, OTHER_KEY=OTHER_KEY)))
    n = res["len"]
    assert n == 12 + 16 + 16 + 32
    assert res["clean"] == "loaded:b'secret!'"
    assert len(res["flips"]) == 3 * n
    failed = [i // 3 for i, o in enumerate(res["flips"]) if o != "Corrupt"]
    assert not failed, f"byte flips at {failed} were not detected: {set(res['flips'])}"
    assert res["cuts"] == ["Corrupt"] * n
    assert res["longer"] == ["Corrupt"] * 4
    assert res["restored"] == "loaded:b'secret!'"
    assert res["other_kind"] == "Corrupt"
    assert res["other_key"] == "Corrupt"
    assert res["swapped"] == "Corrupt"


PLAINTEXT = """
from authtok.store import Sealed

mount(IMG)
s = Sealed("/flash/vault", KEY, b"valt")
for i in range(6):  # several generations: old blocks keep old ciphertexts
    s.save([MARKER] * (i + 1))
write("/flash/control", CONTROL)  # a plain file: proves the raw search sees file data
s.save([MARKER])
R("back", bytes(Sealed("/flash/vault", KEY, b"valt").load()) == MARKER)
os.umount("/flash")
"""


def test_flash_image_never_holds_the_plaintext(run_mp, tmp_path):
    img = tmp_path / "flash.img"
    marker = b"PLAINTEXT-MARKER:JBSWY3DPEHPK3PXP:"
    control = b"CONTROL-MARKER-IN-A-PLAIN-FILE"
    res = results(run_mp(script(PLAINTEXT, IMG=str(img), KEY=KEY, MARKER=marker, CONTROL=control)))
    assert res["back"] is True
    raw = img.read_bytes()
    assert control in raw
    assert marker not in raw
    assert marker[:16] not in raw and b"JBSWY3DPEHPK3PXP" not in raw
    assert KEY not in raw
