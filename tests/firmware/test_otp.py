"""The firmware's OTP engine (otp, mac, sha512, base32) under real MicroPython.

Everything is computed by MicroPython and checked against the RFC vectors or CPython
(hashlib, hmac, base64) and pyotp. Bulk cases go to one MicroPython run as a file with one case
per line, so the script streams them within the ESP32 heap budget.
"""

import base64
import hashlib
import hmac
import json
import random
import sys
from pathlib import Path

import pyotp
import pytest

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}

# RFC 4226 Appendix D: secret "12345678901234567890", counters 0..9, 6 digits.
RFC4226 = ["755224", "287082", "359152", "969429", "338314",
           "254676", "287922", "162583", "399871", "520489"]  # fmt: skip

# RFC 6238 Appendix B: 8 digits, period 30, each algorithm with its own seed.
RFC6238_SEEDS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
RFC6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


def _lines_script(body: str) -> str:
    """A MicroPython script running `body` once per line of the file at CASES (var `f`)."""
    return (
        "import binascii, json\n"
        "from authtok import otp, mac, base32\n"
        "from authtok.sha512 import sha512\n"
        "unhex = binascii.unhexlify\n"
        "hexl = lambda b: binascii.hexlify(b).decode()\n"
        "with open(CASES) as fh:\n"
        "    for line in fh:\n"
        "        f = line.split()\n" + "".join("        " + ln + "\n" for ln in body.splitlines())
    )


def run_cases(run_mp, tmp_path, lines, body):
    path = tmp_path / "cases.txt"
    path.write_text("".join(" ".join(map(str, ln)) + "\n" for ln in lines))
    script = f"CASES = {str(path)!r}\n" + _lines_script(body)
    return run_mp(script).split()


def test_rfc4226_hotp(run_mp):
    out = run_mp(
        "from authtok import otp\nfor c in range(10): print(otp.hotp(b'12345678901234567890', c))\n"
    )
    assert out.split() == RFC4226


def test_rfc6238_totp(run_mp):
    script = "from authtok import otp\n"
    for t, *_ in RFC6238:
        for alg, seed in RFC6238_SEEDS.items():
            script += f"print(otp.totp({seed!r}, {t}, 30, {alg!r}, 8))\n"
    out = run_mp(script).split()
    assert out == [code for _, *codes in RFC6238 for code in codes]


def test_sha512_matches_hashlib(run_mp, tmp_path):
    rng = random.Random(512)
    msgs = [rng.randbytes(n) for n in range(301)] + [rng.randbytes(1000), b""]
    # Whole message at once, then fed in random chunk sizes (crossing the 128-byte buffer).
    lines = [(m.hex() or "-", rng.choice([1, 3, 17, 64, 100, 127, 128, 129, 300])) for m in msgs]
    out = run_cases(
        run_mp,
        tmp_path,
        lines,
        "m = b'' if f[0] == '-' else unhex(f[0])\n"
        "step = int(f[1])\n"
        "h = sha512()\n"
        "for i in range(0, len(m), step): h.update(m[i:i + step])\n"
        "d = h.digest()\n"
        "assert d == h.digest() == sha512(m).digest(), 'digest not repeatable'\n"
        "print(hexl(d))\n",
    )
    assert out == [hashlib.sha512(m).hexdigest() for m in msgs]


def test_sha512_block_boundaries(run_mp):
    # 111 bytes fit the length in one final block; 112 need a second one.
    lens = [0, 1, 55, 56, 63, 64, 111, 112, 113, 127, 128, 129, 239, 240, 255, 256, 257]
    script = "from authtok.sha512 import sha512\n"
    script += "".join(f"print(sha512(b'a' * {n}).digest().hex())\n" for n in lens)
    assert run_mp(script).split() == [hashlib.sha512(b"a" * n).hexdigest() for n in lens]


def test_hmac_matches_cpython(run_mp, tmp_path):
    rng = random.Random(2104)
    lines, want = [], []
    for alg in DIGESTS:
        for klen in (0, 1, 20, 32, 63, 64, 65, 127, 128, 129, 200):
            for mlen in (0, 8, 64, 200):
                key, msg = rng.randbytes(klen), rng.randbytes(mlen)
                lines.append((alg, key.hex() or "-", msg.hex() or "-"))
                want.append(hmac.new(key, msg, DIGESTS[alg]).hexdigest())
    out = run_cases(
        run_mp,
        tmp_path,
        lines,
        "k = b'' if f[1] == '-' else unhex(f[1])\n"
        "m = b'' if f[2] == '-' else unhex(f[2])\n"
        "d = mac.hmac(f[0], k, m)\n"
        "assert len(d) == {'SHA1': 20, 'SHA256': 32, 'SHA512': 64}[f[0]]\n"
        "print(hexl(d))\n",
    )
    assert out == want


def _b32_reference(text: str):
    """What base32.b32decode must do: drop spaces, case-fold, pad like pyotp, decode strictly."""
    s = text.replace(" ", "").upper()
    s += "=" * (-len(s) % 8)
    try:
        return base64.b32decode(s).hex()
    except ValueError:  # binascii.Error, and non-ASCII str
        return "ERR"


def _b32_inputs():
    rng = random.Random(4648)
    good = []
    for n in list(range(0, 41)) + [64, 100]:
        enc = base64.b32encode(rng.randbytes(n)).decode()
        if rng.random() < 0.5:
            enc = enc.lower()
        if rng.random() < 0.5:
            enc = enc.rstrip("=")
        if rng.random() < 0.5:
            enc = " ".join(enc[i : i + 4] for i in range(0, len(enc), 4))
        good.append(enc)
    # Fuzz: near-misses of real encodings plus random strings over a mostly-valid alphabet.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abcxyz" + "=" * 6 + " " * 3 + "0189!-_é\t\x00"
    fuzz = []
    for _ in range(1500):
        n = rng.randrange(0, 30)
        fuzz.append("".join(rng.choice(alphabet) for _ in range(n)))
    for enc in good[:30]:
        for _ in range(8):
            s = list(enc)
            op = rng.randrange(3)
            i = rng.randrange(len(s) + 1)
            if op == 0:
                s.insert(i, rng.choice("A=a 1="))
            elif s and op == 1:
                del s[min(i, len(s) - 1)]
            elif s:
                s[min(i, len(s) - 1)] = rng.choice("=8Z ")
            fuzz.append("".join(s))
    fixed = ["", "=", "========", "A", "AA", "AAA", "AAAA", "AAAAA", "AAAAAA", "AAAAAAA",
             "AA======", "AA=", "AA========", "AAAAAAAA========", "AA==AA==", "=AAAAAAA",
             "MZXW6===", "MZXW6YTB", "mzxw 6ytb oi", "MZXW6YQ=", "MZXW6YTBOI======",
             "ME======", "MF======", "MZXQ====", "MZXW6YTBOI=", "JBSWY3DPEHPK3PXP"]  # fmt: skip
    return good, good + fuzz + fixed


def test_base32_matches_cpython(run_mp, tmp_path):
    good, inputs = _b32_inputs()
    want = [_b32_reference(s) for s in inputs]
    assert all(_b32_reference(s) != "ERR" for s in good)
    assert sum(w == "ERR" for w in want) > 300  # the fuzz really exercises the error paths
    path = tmp_path / "b32.json"
    path.write_text(json.dumps(inputs))
    out = run_mp(
        "import json, binascii\n"
        "from authtok import base32\n"
        f"with open({str(path)!r}) as fh: inputs = json.load(fh)\n"
        "for s in inputs:\n"
        "    try:\n"
        "        r = base32.b32decode(s)\n"
        "        rb = base32.b32decode(s.encode())\n"
        "        assert r == rb, 'str and bytes disagree'\n"
        "        print(binascii.hexlify(r).decode() or '-')\n"
        "    except ValueError as e:\n"
        "        assert len(s) < 6 or s not in str(e), 'input leaked'\n"
        "        print('ERR')\n",
        heap="512K",
    )
    got = [x if x != "-" else "" for x in out.split()]
    mismatches = [(s, w, g) for s, w, g in zip(inputs, want, got, strict=True) if w != g]
    assert len(got) == len(inputs)
    assert not mismatches, mismatches[:10]


def _otp_cases():
    """(kind, alg, digits, period, time_or_counter, secret) with fixed-seed randomness."""
    rng = random.Random(6238)
    times = [0, 1, 29, 30, 59, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**33, 2**34 + 7, 253402300799]
    cases = []
    for i in range(3600):
        alg = rng.choices(["SHA1", "SHA256", "SHA512"], weights=[40, 40, 20])[0]
        digits = rng.choice([6, 7, 8])
        secret = rng.randbytes(rng.randint(14, 64))  # pyotp refuses secrets under 112 bits
        if i % 6 == 5:
            counter = rng.choice(
                [0, 1, 2**32, 2**63, 2**64 - 1, rng.randrange(2**64), rng.randrange(2**20)]
            )
            cases.append(("H", alg, digits, 0, counter, secret))
            continue
        period = rng.choice([15, 30, 60, 90, 30, 1, 7])
        r = rng.random()
        if r < 0.1:
            t = rng.choice(times)
        elif r < 0.4:
            t = rng.randrange(0, 2**31)
        elif r < 0.6:
            t = rng.randrange(2**31, 2**32)
        else:
            t = rng.randrange(2**32, 2**35)
        cases.append(("T", alg, digits, period, t, secret))
    return cases


def _pyotp(kind, alg, digits, period, n, secret):
    b32 = base64.b32encode(secret).decode()
    if kind == "H":
        return pyotp.HOTP(b32, digits=digits, digest=DIGESTS[alg]).at(n)
    return pyotp.TOTP(b32, digits=digits, digest=DIGESTS[alg], interval=period).at(n)


def test_matches_pyotp(run_mp, tmp_path):
    cases = _otp_cases()
    assert sum(c[1] == "SHA512" for c in cases) >= 200
    lines = [(k, a, d, p, n, s.hex()) for k, a, d, p, n, s in cases]
    out = run_cases(
        run_mp,
        tmp_path,
        lines,
        "s = unhex(f[5])\n"
        "d = int(f[2])\n"
        "if f[0] == 'H':\n"
        "    print(otp.hotp(s, int(f[4]), f[1], d))\n"
        "else:\n"
        "    print(otp.totp(s, int(f[4]), int(f[3]), f[1], d))\n",
    )
    want = [_pyotp(*c) for c in cases]
    mismatches = [(c, w, g) for c, w, g in zip(cases, want, out, strict=True) if w != g]
    assert len(out) == len(cases)
    assert not mismatches, mismatches[:5]


def test_short_secrets_and_t0(run_mp):
    # Secrets shorter than pyotp accepts still follow RFC 4226; t0 shifts the counter.
    rng = random.Random(10)
    script = "from authtok import otp\n"
    want = []
    for n in (1, 10, 13):
        s = rng.randbytes(n)
        script += f"print(otp.hotp({s!r}, 12345, 'SHA256', 7))\n"
        h = hmac.new(s, (12345).to_bytes(8, "big"), hashlib.sha256).digest()
        o = h[-1] & 15
        want.append(f"{(int.from_bytes(h[o : o + 4], 'big') & 0x7FFFFFFF) % 10**7:07d}")
    script += (
        "s = b'12345678901234567890'\n"
        "t0 = 1000000\n"
        "for t in (t0, t0 + 29, t0 + 30, 2**33):\n"
        "    assert otp.totp(s, t, 30, t0=t0) == otp.hotp(s, (t - t0) // 30)\n"
        "assert otp.seconds_left(0, 30) == 30 and otp.seconds_left(29, 30) == 1\n"
        "assert otp.seconds_left(2**33, 30) == 30 - 2**33 % 30\n"
        "assert otp.seconds_left(t0 + 5, 30, t0) == 25\n"
        "print('ok')\n"
    )
    assert run_mp(script).split() == want + ["ok"]


def test_invalid_arguments_raise_value_error(run_mp):
    bad = [
        "otp.hotp(S, 0, digits=5)",
        "otp.hotp(S, 0, digits=9)",
        "otp.hotp(S, 0, digits=0)",
        "otp.hotp(S, 0, digits='6')",
        "otp.hotp(S, 0, alg='MD5')",
        "otp.hotp(S, 0, alg='sha1')",
        "otp.hotp(S, 0, alg=None)",
        "otp.hotp(S, -1)",
        "otp.hotp(S, 2**64)",
        "otp.hotp(S, 1.0)",
        "otp.totp(S, 59, period=0)",
        "otp.totp(S, 59, period=-30)",
        "otp.totp(S, 59, period=30.0)",
        "otp.totp(S, 59, digits=10)",
        "otp.totp(S, 59, alg='SHA384')",
        "otp.totp(S, 59.5)",
        "otp.totp(S, 5, t0=10)",
        "otp.seconds_left(59, 0)",
        "mac.hmac('MD5', S, b'')",
    ]
    script = "from authtok import otp, mac\nS = b'12345678901234567890'\n"
    for expr in bad:
        script += (
            f"try:\n    {expr}\n    print('no error: ' + {expr!r})\n"
            "except ValueError as e:\n    print('ValueError')\n"
        )
    assert run_mp(script).split("\n")[:-1] == ["ValueError"] * len(bad)


def test_sha512_imported_only_when_needed(run_mp):
    out = run_mp(
        "import sys\n"
        "from authtok import otp\n"
        "otp.totp(b'k' * 20, 59, alg='SHA1')\n"
        "otp.totp(b'k' * 32, 59, alg='SHA256')\n"
        "print('authtok.sha512' in sys.modules)\n"
        "otp.totp(b'k' * 64, 59, alg='SHA512')\n"
        "print('authtok.sha512' in sys.modules)\n"
    )
    assert out.split() == ["False", "True"]


@pytest.fixture
def cpython_authtok(monkeypatch):
    """The firmware package imported by CPython (host-side cross checks need this to work)."""
    monkeypatch.syspath_prepend(str(FIRMWARE))
    for name in [m for m in sys.modules if m == "authtok" or m.startswith("authtok.")]:
        monkeypatch.delitem(sys.modules, name)
    import authtok.base32
    import authtok.mac
    import authtok.otp
    import authtok.sha512

    yield authtok
    for name in [m for m in sys.modules if m == "authtok" or m.startswith("authtok.")]:
        del sys.modules[name]


def test_modules_work_under_cpython(cpython_authtok):
    otp, sha512 = cpython_authtok.otp, cpython_authtok.sha512
    assert [otp.hotp(b"12345678901234567890", c) for c in range(10)] == RFC4226
    for t, *codes in RFC6238:
        got = [otp.totp(seed, t, 30, alg, 8) for alg, seed in RFC6238_SEEDS.items()]
        assert got == codes
    for n in (0, 111, 112, 127, 128, 129, 1000):
        assert sha512.sha512(b"x" * n).digest() == hashlib.sha512(b"x" * n).digest()
    assert cpython_authtok.base32.b32decode("mzxw 6ytb oi") == b"foobar"
