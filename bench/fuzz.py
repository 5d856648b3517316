"""Fuzzing campaigns (issue 7, "Prove it"): mutated input on every way into the token.

    .venv/bin/python bench/fuzz.py                    # the default campaign, about 10 minutes
    .venv/bin/python bench/fuzz.py --scale 5          # five times the cases of each row
    .venv/bin/python bench/fuzz.py --only serial,ble  # some rows
    .venv/bin/python bench/fuzz.py --engine mutator   # no atheris: the seeded mutator only

Rows (each: cases, crashes, hangs, seconds):

- host frames: tokenctl.frame (decode_line, Decoder) under atheris, coverage-guided.
- fw frames (CPython): firmware/authtok/frame.py (decode, Lines) under atheris, with the host
  parser as a differential oracle. CPython's json takes no memoryview, so a shim hands it bytes.
- fw dispatch (MicroPython): firmware frame.decode + commands.dispatch_async on a real Device
  over the simulated board, under the real MicroPython unix port, in batches of cases per
  process (the flash image carries the state on from batch to batch).
- serial: random and mutated frames and raw garbage on a simulated token's pty; after each
  batch the token must answer `info` and hold the accounts it held, unless an answered request
  changed them.
- ble: mutated push challenges (tokenctl.push.crypto.seal_challenge, then mutated; or mutated
  plaintexts sealed under the real key; or broken chunking) over the simulated radio; the token
  answers each whole message (or drops it when the chunking is broken) and never approves.
- backup files: every truncation and random mutations of a real backup through
  tokenctl.backup.read_header/open_backup: only BackupError and WrongPassphrase may come out.
- restore: mutated sealed blobs through restore.begin/data/commit on the simulated token: it
  refuses each (bad_backup) and its accounts stay as they were.

Every case comes from a seeded random.Random (atheris rows: libFuzzer's -seed), so a run is
repeatable. A crash or hang is written to --findings (default build/fuzz-findings) with its
input, and listed under the table. The script exits 1 when any row found a crash or a hang.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import hmac
import importlib.util
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))

from tokenctl import frame as host_frame  # noqa: E402

MARKER = b"#TK1:"
MAX_LINE = 4096
NOW = 1_750_000_000

# --- results ---------------------------------------------------------------------------------


@dataclass
class Finding:
    kind: str  # crash | hang | mismatch
    what: str
    data: bytes = b""


@dataclass
class Row:
    name: str
    cases: int = 0
    crashes: int = 0
    hangs: int = 0
    seconds: float = 0.0
    notes: Counter = field(default_factory=Counter)
    times: Counter = field(default_factory=Counter)  # seconds spent per kind of case
    findings: list[Finding] = field(default_factory=list)

    def crash(self, what: str, data: bytes = b"") -> None:
        self.crashes += 1
        self._keep(Finding("crash", what, data))

    def hang(self, what: str, data: bytes = b"") -> None:
        self.hangs += 1
        self._keep(Finding("hang", what, data))

    def mismatch(self, what: str, data: bytes = b"") -> None:
        """Not a crash: the token and the host's reference disagree (reported, not failed)."""
        self.notes["mismatch"] += 1
        self._keep(Finding("mismatch", what, data))

    def _keep(self, f: Finding) -> None:
        same = [x for x in self.findings if x.kind == f.kind and _kind(x.what) == _kind(f.what)]
        if len(same) < 2 and len(self.findings) < 40:  # a few examples of each, not thousands
            self.findings.append(f)


# --- the mutator -----------------------------------------------------------------------------

INTERESTING_BYTES = b'\x00\x01\x7f\x80\xff\n\r"\\:#{}[],0-.eE\xc0\xed\xf0'
INTERESTING_INTS = [0, 1, -1, 2, 255, 256, 65535, 2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1,
                    2**63, 2**64, 2**64 + 1, -(2**63), 10**40, 946684799, 7258118400]  # fmt: skip
TEXTS = ["", " ", "a" * 65, "é" * 33, "\u00ff", "\u2028", "\ud83d\ude00", "😀", "\x00", "\x7f",
         "\ud800", "\udfff", "GitHub", "alice", "SHA1", "MD5", "==", "0" * 64, "x" * 1000,
         "JBSWY3DPEHPK3PXP", "AAAAAAAAAAAAAAAA", "%s%n", "../../flash/vault"]  # fmt: skip


class Mutator:
    """A seeded mutator: byte-level (flips, interesting bytes, dictionary tokens, splices,
    cuts, repeats) and JSON-level (weird values, keys added and removed, ops swapped)."""

    def __init__(self, seed: int, dictionary: list[bytes] | None = None):
        self.rng = random.Random(seed)
        self.dictionary = dictionary or []

    def bytes(self, data: bytes, others: list[bytes] | None = None, ops: int = 0) -> bytes:
        rng = self.rng
        b = bytearray(data)
        for _ in range(ops or rng.choice((1, 1, 1, 2, 2, 3, 4, 8))):
            op = rng.randrange(11)
            at = rng.randrange(len(b) + 1)
            if op == 0 and b:  # flip a bit
                i = rng.randrange(len(b))
                b[i] ^= 1 << rng.randrange(8)
            elif op == 1 and b:  # an interesting byte
                b[rng.randrange(len(b))] = rng.choice(INTERESTING_BYTES)
            elif op == 2:  # insert random bytes
                b[at:at] = rng.randbytes(rng.randint(1, 8))
            elif op == 3 and b:  # delete a range
                b[at : at + rng.randint(1, 16)] = b""
            elif op == 4 and b:  # duplicate a range
                i = rng.randrange(len(b))
                b[at:at] = b[i : i + rng.randint(1, 32)]
            elif op == 5 and self.dictionary:  # insert a token
                b[at:at] = rng.choice(self.dictionary)
            elif op == 6 and self.dictionary and b:  # overwrite with a token
                tok = rng.choice(self.dictionary)
                b[at : at + len(tok)] = tok
            elif op == 7 and others:  # splice with another input
                other = rng.choice(others)
                cut = rng.randrange(len(other) + 1)
                b = b[:at] + other[cut:] if rng.random() < 0.5 else bytearray(other[:cut]) + b[at:]
            elif op == 8 and b:  # cut short
                del b[at:]
            elif op == 9 and b:  # repeat a piece many times
                i = rng.randrange(len(b))
                piece = b[i : i + rng.randint(1, 8)]
                b[at:at] = piece * rng.choice((2, 16, 256, 1000))
            elif op == 10 and b:  # a random byte
                b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)

    def value(self, depth: int = 0) -> Any:
        rng = self.rng
        k = rng.randrange(10)
        if k == 0:
            return rng.choice(INTERESTING_INTS) * rng.choice((1, 1, -1))
        if k == 1:
            return rng.choice([True, False, None, 0.5, -0.0, 1e308, 1.0, 3.0e9, 1e-300])
        if k == 2:
            return rng.choice(TEXTS)
        if k == 3:
            n = rng.choice((1, 2, 10, 100, 2000))
            return "".join(chr(rng.choice((0x41, 0x7A, 0xE9, 0x4E2D, 0x1F600, 0x20))) for _ in
                           range(n))  # fmt: skip
        if k == 4 and depth < 3:
            return [self.value(depth + 1) for _ in range(rng.randint(0, 4))]
        if k == 5 and depth < 3:
            return {rng.choice(KEYS): self.value(depth + 1) for _ in range(rng.randint(0, 4))}
        if k == 6:  # nesting (deeper than CPython's json can write: FrameCases.line)
            out: list = []
            for _ in range(rng.choice((10, 100, 400))):
                out = [out]
            return out
        if k == 7:
            return rng.randint(-(2**70), 2**70)
        if k == 8:
            return rng.randint(-5, 300)
        return base64.b32encode(rng.randbytes(rng.choice((5, 10, 16, 40, 64, 65)))).decode()

    def obj(self, req: dict, ops: list[str]) -> dict:
        """A request with a few fields replaced, removed or added."""
        rng = self.rng
        d = copy.deepcopy(req)
        for _ in range(rng.choice((1, 1, 2, 3))):
            k = rng.randrange(7)
            keys = list(d)
            if k == 0 and keys:
                d[rng.choice(keys)] = self.value()
            elif k == 1 and keys:
                d.pop(rng.choice(keys))
            elif k == 2:
                d[rng.choice(KEYS)] = self.value()
            elif k == 3:
                d["op"] = rng.choice(ops) if rng.random() < 0.9 else self.value()
            elif k == 4 and isinstance(d.get("a"), list) and d["a"]:
                i = rng.randrange(len(d["a"]))
                acc = d["a"][i]
                if isinstance(acc, dict):
                    acc[rng.choice(ACCOUNT_KEYS)] = self.value()
                else:
                    d["a"][i] = self.value()
            elif k == 5 and isinstance(d.get("a"), list):
                d["a"] = d["a"] * rng.choice((2, 8, 40))
            elif k == 6:
                d["id"] = self.value() if rng.random() < 0.5 else rng.randrange(1, 2**31)
        return d


# --- frames ----------------------------------------------------------------------------------

SECRET_A = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
SECRET_B = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
WIRE = [
    {"k": 0, "i": "GitHub", "n": "alice@example.com", "s": SECRET_A},
    {"k": 1, "i": "VPN", "n": "bob", "s": SECRET_B, "d": 8, "c": 5},
    {"k": 0, "i": "", "n": "mail", "s": SECRET_A, "a": "SHA512", "d": 7, "p": 60},
]
KEYS = ["id", "op", "a", "o", "i", "n", "ni", "nn", "to", "t", "pin", "old", "new", "fid", "name",
        "value", "since", "confirm", "k", "size", "d", "merge", "gen", "rp", "more", "seq",
        "timeout_ms", "x"]  # fmt: skip
ACCOUNT_KEYS = ["k", "i", "n", "s", "a", "d", "p", "c", "t", "x"]
FUZZ_PIN = "5829"  # the dispatcher campaign's own PIN (the serial token's is never sent)


def requests(person_ops: bool) -> list[dict]:
    """One real request per operation (docs/protocol.md §5). person_ops adds the ones that
    take a PIN or wait for a person: the serial campaign leaves them out, so that a mutated
    frame cannot spend PIN tries or hold the line for a finger."""
    out: list[dict] = [
        {"op": "info"},
        {"op": "time.get"},
        {"op": "time.set", "t": NOW},
        {"op": "acct.add", "a": WIRE},
        {"op": "acct.add", "a": WIRE[:1], "more": 1, "seq": 0},
        {"op": "acct.add", "a": WIRE[1:], "seq": 1},
        {"op": "acct.list", "o": 0},
        {"op": "acct.list", "o": 2},
        {"op": "acct.rename", "i": "VPN", "n": "bob", "ni": "Corp VPN", "nn": "bob"},
        {"op": "acct.remove", "i": "", "n": "mail"},
        {"op": "acct.move", "i": "GitHub", "n": "alice@example.com", "to": 1},
        {"op": "code"},
        {"op": "code", "o": 1},
        {"op": "code", "i": "VPN", "n": "bob"},
        {"op": "fp.list"},
        {"op": "fp.remove", "fid": 0},
        {"op": "settings.get"},
        {"op": "settings.set", "name": "brightness", "value": 128},
        {"op": "settings.set", "name": "screen_s", "value": 30},
        {"op": "settings.set", "name": "auto_lock_s", "value": 600},
        {"op": "log.read", "since": 0},
        {"op": "log.clear"},
        {"op": "backup.read", "o": 0},
        {"op": "backup.done", "gen": 1, "t": NOW},
        {"op": "restore.begin", "k": "ab" * 32, "size": 120},
        {"op": "restore.data", "o": 0, "d": base64.b64encode(bytes(range(90))).decode()},
        {"op": "restore.commit", "t": NOW, "merge": "skip"},
        {"op": "push.list"},
        {"op": "push.revoke", "i": "GitHub", "n": "alice@example.com"},
        {"op": "lock"},
    ]
    if person_ops:
        out += [
            {"op": "pin.set", "pin": FUZZ_PIN},
            {"op": "unlock", "pin": FUZZ_PIN},
            {"op": "pin.change", "old": FUZZ_PIN, "new": FUZZ_PIN},
            {"op": "wipe", "confirm": "wipe", "pin": FUZZ_PIN},
            {"op": "backup.begin", "k": "cd" * 32, "pin": FUZZ_PIN},
            {"op": "acct.touch", "i": "VPN", "n": "bob", "t": 1},
            {"op": "fp.enroll", "name": "thumb", "timeout_ms": 50},
            {"op": "code", "i": "GitHub", "n": "alice@example.com", "timeout_ms": 50},
            {"op": "settings.set", "name": "wipe_after", "value": 0},
            {"op": "push.enroll", "i": "GitHub", "n": "alice@example.com",
             "rp": base64.b64encode(hashlib.sha256(b"rp").digest()).decode()},
        ]  # fmt: skip
    return out


def responses() -> list[dict]:
    """What a token answers (for the host's decoder)."""
    return [
        {"id": 1, "ok": 1, "proto": 1, "fw": "0.1.0", "board": "sim", "serial": "a4cf12a1b2c3",
         "heap_free": 61184, "accounts": 12, "clock": {"now": NOW, "trusted": True}},
        {"id": None, "err": "bad_frame", "msg": "bad checksum"},
        {"id": 6, "ok": 1, "total": 2, "a": [{"i": "Example", "n": "é😀", "k": "totp",
                                              "a": "SHA1", "d": 6, "p": 30}]},
        {"id": 7, "err": "bad_pin", "msg": "wrong PIN", "tries_left": 7},
    ]  # fmt: skip


def encode_frame(obj: Any, rng: random.Random | None = None) -> bytes:
    """A frame line (no newline) with a correct CRC, whatever obj is."""
    try:
        ascii_only = rng.random() < 0.3 if rng else False
        body = json.dumps(obj, separators=(",", ":"), ensure_ascii=ascii_only).encode()
    except UnicodeEncodeError:  # a lone surrogate: only its escape can travel
        body = json.dumps(obj, separators=(",", ":")).encode()
    return with_crc(body)


def with_crc(body: bytes) -> bytes:
    return MARKER + body + b":%08x" % zlib.crc32(body)


DICTIONARY = [b"#TK1:", b"#TK", b"#TK2:", b":", b"\n", b"\r", b"\r\n", b'"', b"\\", b"\\u",
              b"\\ud83d", b"\\ud800", b"\\u0000", b"{", b"}", b"[", b"]", b",", b"null", b"true",
              b"1e999", b"-0", b"1.0", b"99999999999999999999999", b'"op":', b'"id":',
              b'"a":[', b'"more":1', b'"seq":1', b"\xed\xa0\x80", b"\xc0\x80", b"\xff",
              b"\xf0\x9f\x98\x80", b"00000000", b"ffffffff"]  # fmt: skip


class FrameCases:
    """Generates frame lines: mutated objects with a good CRC, mutated JSON text with a good
    CRC, mutated whole lines (CRC mostly broken), noise, and oversize lines."""

    def __init__(self, seed: int, person_ops: bool = True, answers: bool = False):
        self.m = Mutator(seed, DICTIONARY)
        self.person_ops = person_ops
        self.reqs = requests(person_ops)
        self.ops = sorted({r["op"] for r in self.reqs} | {"nope", "info "})
        self.answers = responses() if answers else []
        self.next_id = 1

    def seed_lines(self) -> list[bytes]:
        return [encode_frame(dict(r, id=n + 1)) for n, r in enumerate(self.reqs + self.answers)]

    def line(self) -> bytes:
        """One case, without its newline (it may hold newlines of its own)."""
        m, rng = self.m, self.m.rng
        base = dict(rng.choice(self.reqs + self.answers))
        self.next_id += 1
        base.setdefault("id", self.next_id)
        if "op" in base:
            base["id"] = self.next_id
        kind = rng.random()
        if kind < 0.08:  # a real request as it is: moves the state on (accounts, PIN, batch)
            if self.person_ops and rng.random() < 0.4:
                return encode_frame({"id": self.next_id, "op": "unlock", "pin": FUZZ_PIN})
            return encode_frame(base)
        kind = rng.random()
        if kind < 0.02:  # nesting as deep as a line allows
            d = rng.choice((100, 1000, 2000))
            op, o = rng.choice((b"info", b"acct.add")), rng.choice((b"[", b"{"))
            if o == b"[":
                nest = b"[" * d + b"]" * d
            else:
                nest = b'{"a":' * d + b"1" + b"}" * d
            return with_crc(b'{"id":%d,"op":"%s","a":%s}' % (self.next_id, op, nest))
        if kind < 0.40:
            return encode_frame(m.obj(base, self.ops), rng)
        if kind < 0.70:
            body = json.dumps(base, separators=(",", ":"), ensure_ascii=False).encode()
            return with_crc(m.bytes(body))
        if kind < 0.85:
            return m.bytes(encode_frame(base), self.seed_lines())
        if kind < 0.95:
            noise = rng.randbytes(rng.choice((0, 1, 8, 64, 300)))
            if rng.random() < 0.5:
                at = rng.randrange(len(noise) + 1)
                noise = noise[:at] + rng.choice((b"#TK", b"#TK1:", b"#TK1:{}:")) + noise[at:]
            return noise
        frame = encode_frame(base)
        pad = rng.choice((MAX_LINE - len(frame), MAX_LINE + 1 - len(frame), 5000, 20000))
        junk = rng.choice((b" ", b"#TK", b"x", b"\r"))
        return junk * max(0, pad // len(junk)) + frame


# --- the atheris targets (one worker process each) -------------------------------------------


def load_firmware_frame():
    """firmware/authtok/frame.py under CPython. Its json.loads(memoryview) is MicroPython's;
    CPython's json wants bytes, so the module sees a shim that hands it bytes; `micropython`
    gets a stand-in whose const() is the identity, as mpy-cross's folding is."""
    if "micropython" not in sys.modules:
        import types

        stub = types.ModuleType("micropython")
        stub.const = lambda x: x  # type: ignore[attr-defined]
        sys.modules["micropython"] = stub
    spec = importlib.util.spec_from_file_location("fw_frame", ROOT / "firmware/authtok/frame.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    class _Json:
        dump = staticmethod(json.dump)

        @staticmethod
        def loads(s):
            return json.loads(bytes(s) if isinstance(s, memoryview) else s)

    mod.json = _Json  # type: ignore[attr-defined]
    return mod


class HostTarget:
    """tokenctl.frame: decode_line never raises but FrameError; the Decoder never raises,
    never holds more than MAX_LINE bytes, and yields what decode_line says per line."""

    def __init__(self) -> None:
        self.frame = host_frame

    def __call__(self, line: bytes, split: int) -> None:
        f = self.frame
        try:
            got = f.decode_line(line)
        except f.FrameError:
            got = "bad"
        if got not in (None, "bad") and not isinstance(got, dict):
            raise AssertionError(f"decode_line returned {type(got)!r}")
        dec = f.Decoder()
        data = line + b"\n"
        split = split % (len(data) + 1)
        items = list(dec.feed(data[:split])) + list(dec.feed(data[split:]))
        if len(dec._buf) > MAX_LINE:
            raise AssertionError(f"the Decoder holds {len(dec._buf)} bytes")
        if b"\n" not in line and len(line) <= MAX_LINE:
            want = [] if got is None else ["bad" if got == "bad" else got]
            have = ["bad" if isinstance(i, f.FrameError) else i for i in items]
            if have != want:
                raise AssertionError("Decoder and decode_line disagree")


class FirmwareTarget:
    """The firmware's frame.decode and Lines under CPython, the host parser as the oracle:
    both must accept the same lines and read the same object from them (the device alone
    also refuses a non-integer id)."""

    def __init__(self) -> None:
        self.fw = load_firmware_frame()

    def __call__(self, line: bytes, split: int) -> None:
        fw = self.fw
        lines = fw.Lines()
        data = line + b"\n"
        split = split % (len(data) + 1)
        got = []
        for chunk in (data[:split], data[split:]):
            for n in lines.feed(chunk):
                if n > MAX_LINE:
                    raise AssertionError(f"Lines yielded {n} bytes")
                try:
                    obj = fw.decode(lines.buf, n)
                except ValueError:
                    obj = "bad"
                if obj is not None:
                    got.append(obj)
        if b"\n" in line:
            return
        try:
            want = host_frame.decode_line(line)
        except host_frame.FrameError:
            want = "bad"
        except RecursionError:  # CPython's json, in both parsers alike: not the firmware's
            return
        if isinstance(want, dict):
            rid = want.get("id")
            if rid is not None and (isinstance(rid, bool) or not isinstance(rid, int)):
                want = "bad"
        expect = [] if len(line) > MAX_LINE or want is None else [want]
        if got != expect:
            raise AssertionError(f"firmware {got[:1]!r}, host {expect[:1]!r}")


def _shape(line: bytes) -> int:
    """Branches on nesting depth, instrumented with the targets: coverage cannot see depth
    (json's C scanner is not instrumented), so each deeper bucket counts as new coverage
    and libFuzzer keeps climbing towards the ~1000 levels where CPython's json gives up."""
    depth = max(line.count(b"["), line.count(b"{"))
    if depth > 100:
        if depth > 300:
            if depth > 600:
                if depth > 900:
                    if depth > 1200:
                        return 5
                    return 4
                return 3
            return 2
        return 1
    return 0


def atheris_worker(target: str, runs: int, seed: int, work: Path) -> None:
    """Runs inside its own process: libFuzzer ends the process when it is done."""
    import atheris

    out = work / f"atheris-{target}.json"
    corpus = work / f"corpus-{target}"
    corpus.mkdir(parents=True, exist_ok=True)
    cases = FrameCases(seed, answers=True)
    for n, line in enumerate(cases.seed_lines()):
        (corpus / f"seed{n}").write_bytes(b"\x00\x00" + line)
        body = line[len(MARKER) : -9]
        (corpus / f"body{n}").write_bytes(b"\x01\x00" + body)
    if target == "host":
        fn: Callable[[bytes, int], None] = HostTarget()
        atheris.instrument_func(host_frame.decode_line)
        atheris.instrument_func(host_frame._parse)
        atheris.instrument_func(host_frame.Decoder.feed)
    else:
        fw_target = FirmwareTarget()
        fn = fw_target
        for name in ("decode", "_parse"):
            atheris.instrument_func(getattr(fw_target.fw, name))
        atheris.instrument_func(fw_target.fw.Lines.feed)
    atheris.instrument_func(_shape)
    count = [0]
    found: dict[str, dict] = {}

    def report() -> None:
        out.write_text(json.dumps({"runs": count[0], "found": found}))

    def one(data: bytes) -> None:
        count[0] += 1
        if len(data) < 2:
            return
        # Byte 0 picks the form: a whole line, or a body that gets a marker and a good CRC
        # (coverage alone would rarely guess a CRC). Byte 1 is where the line is split.
        line = with_crc(data[2:]) if data[0] & 1 else data[2:]
        _shape(line)
        try:
            fn(line, data[1])
        except RecursionError as e:
            if target == "host":  # the firmware target's is CPython's json, not the firmware
                _found(found, work, target, e, line)
                report()
        except Exception as e:  # noqa: BLE001 - counted, kept, and the run goes on
            _found(found, work, target, e, line)
            report()
        if count[0] % 20000 == 0:
            report()

    artifacts = work / f"crash-{target}-"
    atheris.Setup(
        [sys.argv[0], f"-runs={runs}", f"-seed={seed}", "-max_len=5000", "-timeout=10",
         "-rss_limit_mb=2048", f"-artifact_prefix={artifacts}", "-print_final_stats=1",
         str(corpus)],
        one,
    )  # fmt: skip
    atheris.Fuzz()


def _found(found: dict, work: Path, target: str, e: Exception, line: bytes) -> None:
    """Count an exception by its kind; keep the first input of each kind."""
    key = _kind(f"{type(e).__name__}: {e}")
    entry = found.setdefault(key, {"count": 0, "file": ""})
    entry["count"] += 1
    if not entry["file"]:
        path = work / f"found-{target}-{len(found)}.bin"
        path.write_bytes(line)
        entry["file"] = str(path)


def _kind(what: str) -> str:
    """A finding's kind: its text up to the second colon, numbers and quotes dropped."""
    head = ":".join(what.split(":")[:2])
    return "".join(c for c in head if not c.isdigit()).split("'")[0].strip()


def start_atheris(target: str, runs: int, seed: int, work: Path) -> tuple:
    """The worker process (libFuzzer runs in it until it is done), and when it started."""
    err = open(work / f"atheris-{target}.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, __file__, "--atheris-worker", target, "--runs", str(runs),
         "--seed", str(seed), "--work", str(work)],
        stdout=subprocess.DEVNULL, stderr=err,
    )  # fmt: skip
    err.close()
    return proc, time.monotonic()


def finish_atheris(name: str, target: str, work: Path, started: tuple) -> Row:
    proc, start = started
    row = Row(name)
    proc.wait()
    row.seconds = time.monotonic() - start
    out = work / f"atheris-{target}.json"
    err = (work / f"atheris-{target}.log").read_text(errors="replace")
    done = [ln for ln in err.splitlines() if ln.startswith("Done ")]
    result = json.loads(out.read_text()) if out.exists() else {"runs": 0, "found": {}}
    row.cases = int(done[-1].split()[1]) if done else result["runs"]
    for what, entry in result["found"].items():
        row.crash(what, Path(entry["file"]).read_bytes())
        row.crashes += entry["count"] - 1
    cov = [ln for ln in err.splitlines() if " cov: " in ln]
    if cov:  # libFuzzer's last status line: edges covered, features, corpus
        words = cov[-1].split()
        row.notes.update({f"{words[i]} {words[i + 1]}": 0 for i in range(len(words) - 1)
                          if words[i] in ("cov:", "ft:", "corp:")})  # fmt: skip
    if proc.returncode != 0:
        arts = sorted(work.glob(f"crash-{target}-*")) + sorted(work.glob(f"timeout-{target}-*"))
        data = arts[-1].read_bytes() if arts else b""
        if "ERROR: libFuzzer: timeout" in err:
            row.hang("libFuzzer timeout (10 s on one input)", data)
        else:
            text = err.split("=== Uncaught Python exception: ===")[-1].split("==")[0].strip()
            row.crash(f"the worker failed: {text[-700:] or err[-500:]}", data)
    return row


def run_mutator_frames(name: str, target: str, n: int, seed: int) -> Row:
    """The same targets, fed by the seeded mutator (no coverage guidance)."""
    row = Row(name)
    fn = HostTarget() if target == "host" else FirmwareTarget()
    cases = FrameCases(seed, answers=True)
    rng = random.Random(seed)
    start = time.monotonic()
    for _ in range(n):
        line = cases.line()
        row.cases += 1
        try:
            fn(line, rng.randrange(256))
        except RecursionError as e:
            if target == "host":
                row.crash(f"RecursionError in tokenctl.frame: {e}", line)
        except Exception as e:  # noqa: BLE001 - every escape is a finding
            row.crash(f"{type(e).__name__}: {e}"[:300], line)
    row.seconds = time.monotonic() - start
    return row


# --- the dispatcher under MicroPython --------------------------------------------------------

MP_HARNESS = """\
import asyncio
import gc
import json
import os
import sys
import time

from board import Board
from authtok import app, commands, frame

WAIT_MS = int(os.getenv("FUZZ_WAIT_MS"))


class Sink:
    def write(self, b):
        return len(b)


counts = {}
ms = {}  # time spent per op


def bump(key):
    counts[key] = counts.get(key, 0) + 1


async def feed(dev, lines, data, sink, index):
    for m in lines.feed(data):
        gc.collect()
        try:
            req = frame.decode(lines.buf, m)
        except ValueError:
            bump("bad_frame")
            continue
        except MemoryError:
            bump("no_memory")
            continue
        if req is None:
            bump("noise")
            continue
        t0 = time.ticks_ms()
        op = req.get("op")
        op = op if isinstance(op, str) and op in commands.OPS else "?"
        try:
            resp = await asyncio.wait_for_ms(commands.dispatch_async(dev, req), WAIT_MS)
        except asyncio.TimeoutError:
            bump("waits")
            continue
        finally:
            ms[op] = ms.get(op, 0) + time.ticks_diff(time.ticks_ms(), t0)
        req = None
        try:
            frame.send(sink, resp)
        except MemoryError:
            bump("no_memory")
        err = resp.get("err")
        bump(err or "ok")
        if err == "internal":
            sys.stdout.write("!internal %d\\n" % index)


async def loop(dev, src, index, stop):
    sink = Sink()
    out = sys.stdout
    full = bytearray(512)
    while index < stop:
        head = src.read(4)
        if len(head) < 4:
            break
        left = int.from_bytes(head, "big")
        out.write("@%d\\n" % index)
        try:
            while left:
                # In pieces of at most 512 bytes, into one buffer, as drivers/stdio_link.py
                # reads the wire: the harness must not be what runs the heap out.
                piece = full if left >= 512 else bytearray(left)
                src.readinto(piece)
                left -= len(piece)
                await feed(dev, dev.lines, piece, sink, index)
        except Exception as e:
            sys.print_exception(e)
            out.write("!crash %d %s\\n" % (index, repr(e)[:200]))
        index += 1
    out.write("=" + json.dumps(counts) + "\\n")
    out.write("%" + json.dumps(ms) + "\\n")


def main():
    dev = app.Device(Board(state_dir=os.getenv("FUZZ_DIR")), frame.Lines())
    src = open(os.getenv("FUZZ_SRC"), "rb")
    src.seek(int(os.getenv("FUZZ_OFFSET")))
    asyncio.run(loop(dev, src, int(os.getenv("FUZZ_START")), int(os.getenv("FUZZ_STOP"))))


main()
"""


def run_dispatch_mpy(n: int, seed: int, work: Path, batch: int = 2000, heap: str = "192K",
                     stall_s: float = 30.0, given: list[bytes] | None = None) -> Row:  # fmt: skip
    """n cases through frame.decode + commands.dispatch_async on a real Device under the
    MicroPython unix port, one process per batch; a hang is a batch silent for stall_s."""
    from tokenctl.sim.build import build_firmware, find_tool
    from tokenctl.sim.bus import BusServer, Parts

    row = Row("fw dispatch (MicroPython)")
    cases = FrameCases(seed, person_ops=True)
    src = work / "mpy-frames.bin"
    offsets = []
    lines = list(given or [])  # given: these lines instead (a reproducer)
    n = len(lines) or n
    with open(src, "wb") as f:
        for i in range(n):
            line = lines[i] if given else cases.line() + b"\n"
            offsets.append(f.tell())
            if not given:
                lines.append(line)
            f.write(struct.pack(">I", len(line)) + line)
    build = build_firmware()
    harness = work / "fuzz_harness.py"
    harness.write_text(MP_HARNESS)
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([str(build), ".frozen"]),
               FUZZ_SRC=str(src), FUZZ_WAIT_MS="100")  # fmt: skip
    start = time.monotonic()
    index = 0
    while index < n:
        stop = min(n, index + batch)
        # Each batch is a new token (blank flash, new sensor): mutated unlocks would otherwise
        # block the PIN for good, and every later case would only ever meet "locked".
        state = work / "mpy-device"
        shutil.rmtree(state, ignore_errors=True)
        state.mkdir(parents=True)
        bus = BusServer(Path(tempfile.mkdtemp(prefix="fuzzbus-")) / "bus.sock", Parts(state))
        env.update(FUZZ_OFFSET=str(offsets[index]), FUZZ_START=str(index), FUZZ_STOP=str(stop),
                   TOKEN_SIM_BUS=str(bus.path), FUZZ_DIR=str(state))  # fmt: skip
        try:
            index = _mp_batch(row, find_tool("micropython"), heap, harness, env, index, stop,
                              lines, stall_s)  # fmt: skip
        finally:
            bus.close()
            shutil.rmtree(bus.path.parent, ignore_errors=True)
    row.seconds = time.monotonic() - start
    row.cases = n
    return row


def _mp_batch(row: Row, mp: str, heap: str, harness: Path, env: dict, index: int, stop: int,
              lines: list[bytes], stall_s: float) -> int:  # fmt: skip
    """One MicroPython process over cases [index, stop); returns where the next starts."""
    err_path = Path(env["FUZZ_DIR"]) / "stderr.txt"
    with open(err_path, "wb") as err:
        cmd = [mp, "-X", f"heapsize={heap}", str(harness)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env)
    assert proc.stdout is not None
    last = index - 1
    done = False
    internal: list[int] = []
    box: list[bytes] = []

    def read() -> None:
        box.append(proc.stdout.readline())  # type: ignore[union-attr]

    while True:
        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(stall_s)
        if t.is_alive():
            proc.kill()
            proc.wait()
            t.join()
            row.hang(f"dispatcher silent {stall_s:g} s on case {last}", lines[last])
            return last + 1
        line = box.pop().decode(errors="replace").strip()
        if not line:
            break
        if line.startswith("@"):
            last = int(line[1:])
        elif line.startswith("!internal"):
            internal.append(last)
        elif line.startswith("!crash"):
            row.crash("exception out of decode/dispatch: " + line.split(" ", 2)[2], lines[last])
        elif line.startswith("="):
            row.notes.update(json.loads(line[1:]))
            done = True
        elif line.startswith("%"):
            for op, spent in json.loads(line[1:]).items():
                row.times[op] += spent / 1000
    code = proc.wait()
    trace = err_path.read_text(errors="replace")
    for at, case in enumerate(internal):  # each with the traceback the firmware printed
        tb = trace.split("Traceback")[at + 1][-600:] if trace.count("Traceback") > at else ""
        last_line = tb.strip().splitlines()[-1] if tb.strip() else "?"
        row.crash(f"dispatch answered internal: {last_line} (case {case}): Traceback{tb}",
                  lines[case])  # fmt: skip
    if not done or code != 0:
        tail = err_path.read_text(errors="replace")[-600:]
        row.crash(f"MicroPython exited {code} on case {last}: {tail}", lines[max(last, 0)])
        return max(last, index) + 1
    return stop


# --- the simulated token's serial port -------------------------------------------------------


class Listener:
    """Reads everything the token sends, decoded, on a thread of its own (the token blocks
    when nobody reads its port)."""

    def __init__(self, port: str):
        import serial

        self.ser = serial.serial_for_url(port, baudrate=115200, timeout=0.05)
        self.decoder = host_frame.Decoder()
        self.frames: list[dict] = []
        self.damaged = 0
        self.cond = threading.Condition()
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                data = self.ser.read(self.ser.in_waiting or 1)
            except Exception:  # noqa: BLE001 - the port went away: the caller notices
                return
            if not data:
                continue
            with self.cond:
                for item in self.decoder.feed(data):
                    if isinstance(item, host_frame.FrameError):
                        self.damaged += 1
                    else:
                        self.frames.append(item)
                self.cond.notify_all()

    def wait_for(self, rid: int, timeout_s: float) -> dict | None:
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while True:
                for f in self.frames:
                    if f.get("id") == rid:
                        return f
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def write(self, data: bytes) -> None:
        self.ser.write(data)

    def close(self) -> None:
        self._stop = True
        self.thread.join()
        self.ser.close()


MUTATING = {"acct.add", "acct.remove", "acct.rename", "acct.move", "code", "restore.commit"}
SERIAL_PIN = "739164"


def _snapshot(client) -> list[dict]:
    return client.accounts()


def run_serial(n: int, seed: int, work: Path, batch: int = 100, heap: str = "128K") -> Row:
    """n cases on a simulated token's pty in batches; after each: info answers (a sentinel
    frame, then a fresh client), the vault is ok and holds what it held unless an answered
    request changed it. A batch after which the token fails a check is a finding, and the
    campaign goes on with a new token."""
    from tokenctl.errors import TokenError

    row = Row("serial (sim token pty)")
    cases = FrameCases(seed, person_ops=False)
    start = time.monotonic()
    sim, before = _serial_token(work, heap)
    try:
        sentinel = 2**31 + 1000
        done = 0
        while done < n:
            k = min(batch, n - done)
            sent = [cases.line() + b"\n" for _ in range(k)]
            ops = _ops_of(sent)
            sentinel += 1
            listener = Listener(sim.port)
            try:
                listener.write(b"\n")
                for line in sent:
                    listener.write(line)
                listener.write(b"\n" + host_frame.encode({"id": sentinel, "op": "info"}))
                answer = listener.wait_for(sentinel, 60 + k * 0.5)
                frames = list(listener.frames)
                row.notes["damaged answers"] += listener.damaged
            finally:
                listener.close()
            done += k
            row.cases = done
            batch_bytes = b"".join(sent)
            changed = set()
            for f in frames:
                err = f.get("err")
                row.notes[err or "ok"] += 1
                if err == "internal":
                    row.crash("the token answered internal", batch_bytes)
                if "ok" in f:
                    changed |= ops.get(_hashable(f.get("id")), set()) & MUTATING
            problem = None
            if answer is None or not sim.alive():
                problem = "died" if not sim.alive() else "did not answer the batch's info"
            else:
                try:
                    now = _check_serial(sim)
                    if now is None:
                        problem = "vault not ok"
                except TokenError as e:
                    problem = f"{e}; the token's last line: {_probe_list(sim)}"
            if problem:
                console = _console_tail(sim)
                row.hang(f"after the batch ending at case {done}: {problem} (console: "
                         f"{console})", batch_bytes)  # fmt: skip
                sim.stop()
                sim, before = _serial_token(work, heap)
                continue
            if now != before and not changed:
                row.crash("accounts changed with no answered request that changes them",
                          batch_bytes)  # fmt: skip
            if changed:
                row.notes["batches with accepted changes"] += 1
            before = now
    finally:
        sim.stop()
    row.seconds = time.monotonic() - start
    return row


def _provisioned(work: Path, heap: str, prefix: str, pin: str):
    """A new simulated token, clock set, with `pin` (unlocked) and the three accounts; (token,
    an open client)."""
    from tokenctl.client import TokenClient
    from tokenctl.otpauth import parse_uri
    from tokenctl.sim.token import SimToken

    sim = SimToken(Path(tempfile.mkdtemp(prefix=prefix, dir=work)), heap=heap).start()
    c = TokenClient.open(sim.port, timeout_s=10)
    c.sync_time()
    c.set_pin(pin)
    c.unlock(pin)
    c.add_accounts([parse_uri(u) for u in _uris()])
    return sim, c


def _serial_token(work: Path, heap: str):
    """A new simulated token with a PIN and three accounts; (token, its accounts)."""
    sim, client = _provisioned(work, heap, "serial-", SERIAL_PIN)
    with client as c:
        return sim, _snapshot(c)


def _check_serial(sim) -> list[dict] | None:
    """The accounts, through tokenctl as a user would list them; None if the vault is not
    ok. Raises TokenError when the token does not answer in a way tokenctl reads."""
    from tokenctl.client import TokenClient

    with TokenClient.open(sim.port, timeout_s=5) as c:
        if c.info().get("vault") != "ok":
            return None
        c.unlock(SERIAL_PIN)
        return _snapshot(c)


def _probe_list(sim) -> str:
    """What the token sends back for an acct.list, raw: when tokenctl gets no answer it can
    read, this says whether the token answered at all."""
    import serial

    with serial.serial_for_url(sim.port, timeout=3) as ser:
        rid = 2**31 + 7
        ser.write(b"\n" + host_frame.encode({"id": rid, "op": "acct.list", "o": 0}))
        deadline = time.monotonic() + 3
        raw = b""
        while time.monotonic() < deadline and b'"id":%d' % rid not in raw:
            raw += ser.read(ser.in_waiting or 1)
        time.sleep(0.2)
        raw += ser.read(ser.in_waiting)
    for line in raw.split(b"\n"):
        if b'"id":%d' % rid in line:
            try:
                host_frame.decode_line(line)
                return "a valid frame"
            except (host_frame.FrameError, RecursionError) as e:
                return f"{line[:300]!r} ({e})"
    return "nothing"


def _ops_of(sent: list[bytes]) -> dict[Any, set]:
    """id -> the ops of the valid frames among the lines sent with that id."""
    ops: dict[Any, set] = {}
    for line in sent:
        for piece in line.split(b"\n"):
            try:
                obj = host_frame.decode_line(piece)
            except (host_frame.FrameError, RecursionError):
                obj = None
            if isinstance(obj, dict):
                ops.setdefault(_hashable(obj.get("id")), set()).add(_hashable(obj.get("op")))
    return ops


def _console_tail(sim, n: int = 400) -> str:
    try:
        text = (sim.state_dir / "console.log").read_text(errors="replace")
    except OSError:
        return ""
    return " | ".join(text[-n:].splitlines())


def _hashable(v: Any) -> Any:
    try:
        hash(v)
        return v
    except TypeError:
        return json.dumps(v)


def _uris() -> list[str]:
    return [
        f"otpauth://totp/GitHub:alice?secret={SECRET_A}&issuer=GitHub",
        f"otpauth://hotp/VPN:bob?secret={SECRET_B}&counter=5&issuer=VPN&digits=8",
        f"otpauth://totp/mail?secret={SECRET_A}&algorithm=SHA512&digits=7&period=60",
    ]


# --- BLE push challenges ---------------------------------------------------------------------

CHALLENGE_UUID = "5a7c0002-8f1e-4b7a-9d2c-3e1f0a6b9c4d"
CHUNK_LAST = 0x80
ATT_MAX = 512  # the longest attribute value, so the longest write a real stack delivers


class ChunkModel:
    """What firmware/authtok/ble.py PushLink._chunk does with each write (docs/push.md §6): a
    reference to predict which writes complete a message."""

    def __init__(self) -> None:
        self.buf = b""
        self.next = -1

    def feed(self, chunk: bytes) -> bytes | None:
        if not chunk:
            return None
        head = chunk[0]
        index = head & 0x7F
        if index == 0:
            self.buf, self.next = b"", 0
        if index != self.next or len(self.buf) + len(chunk) - 1 > 512:
            self.next = -1
            return None
        self.buf += chunk[1:]
        self.next += 1
        if head & CHUNK_LAST:
            self.next = -1
            return self.buf
        return None


def seal_raw(pk: bytes, handle: bytes, plaintext: bytes, nonce: bytes) -> bytes:
    """A challenge around any plaintext, with a good tag (docs/push.md §2)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    from tokenctl.push import crypto

    keys = crypto.subkeys(pk)
    enc = Cipher(algorithms.AES(keys.enc), modes.CTR(nonce)).encryptor()
    body = b"\x01" + handle + nonce + enc.update(plaintext) + enc.finalize()
    return body + hmac.new(keys.mac, body, hashlib.sha256).digest()[:16]


def chunked(message: bytes, size: int = 19) -> list[bytes]:
    pieces = [message[at : at + size] for at in range(0, max(len(message), 1), size)]
    last = len(pieces) - 1
    return [bytes([(n & 0x7F) | (CHUNK_LAST if n == last else 0)]) + p for n, p in
            enumerate(pieces)]  # fmt: skip


class ChallengeCases:
    def __init__(self, seed: int, pk: bytes, handle: bytes):
        self.m = Mutator(seed, [b"\x01", bytes(8), handle, b"{", b"}", b'"num":', b"\x80"])
        self.pk, self.handle = pk, handle
        self.seq = 100

    def fields(self, now: int) -> dict:
        rng = self.m.rng
        self.seq += 1
        return {"id": rng.randbytes(8).hex(), "seq": self.seq, "iat": now, "exp": now + 2,
                "rpt": now, "app": "Fuzz app", "loc": "Berlin, DE", "ip": "203.0.113.7",
                "num": rng.randint(10, 99)}  # fmt: skip

    def case(self, now: int) -> tuple[str, list[bytes], bytes]:
        """(kind, the writes, the plaintext sealed in it)."""
        from tokenctl.push import crypto

        m, rng = self.m, self.m.rng
        f = self.fields(now)
        plain = json.dumps(f, separators=(",", ":")).encode()
        kind = rng.random()
        if kind < 0.35:
            msg, _ = crypto.seal_challenge(self.pk, self.handle, f)
            return "mutated", chunked(m.bytes(msg)), plain
        if kind < 0.70:
            if rng.random() < 0.5:
                obj = m.obj(f, ["x"])
                obj.pop("op", None) if rng.random() < 0.8 else None
                try:
                    plain = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
                except UnicodeEncodeError:
                    plain = json.dumps(obj, separators=(",", ":")).encode()
            else:
                plain = m.bytes(plain)
            return "resealed", chunked(seal_raw(self.pk, self.handle, plain[:460],
                                                rng.randbytes(16))), plain  # fmt: skip
        if kind < 0.90:
            msg, _ = crypto.seal_challenge(self.pk, self.handle, f)
            chunks = chunked(msg, rng.choice((1, 5, 19, 100, 244)))
            k = rng.randrange(6)
            if k == 0 and len(chunks) > 1:
                del chunks[rng.randrange(len(chunks))]
            elif k == 1:
                i = rng.randrange(len(chunks))
                chunks.insert(i, chunks[i])
            elif k == 2 and len(chunks) > 1:
                i = rng.randrange(len(chunks) - 1)
                chunks[i], chunks[i + 1] = chunks[i + 1], chunks[i]
            elif k == 3:
                chunks[-1] = bytes([chunks[-1][0] & 0x7F]) + chunks[-1][1:]
            elif k == 4:
                chunks = chunks[:-1] + [bytes([len(chunks) - 1]) + rng.randbytes(200)] * 3
            else:
                i = rng.randrange(len(chunks))
                chunks[i] = m.bytes(chunks[i])
            return "chunks", chunks, plain
        return "garbage", [rng.randbytes(rng.choice((0, 1, 20, 200))) for _ in
                           range(rng.randint(1, 4))], b""  # fmt: skip


def run_ble(n: int, seed: int, work: Path, heap: str = "160K", burst: int = 16) -> Row:
    """n challenges over the simulated radio. Each write sequence that the firmware's chunk
    rules complete must get one answer that verifies (authenticated, or a zero-tag rejection),
    never an approval; broken chunking must get none."""
    from tokenctl.client import TokenClient
    from tokenctl.otpauth import parse_uri
    from tokenctl.push import chunks as pchunks
    from tokenctl.push import crypto
    from tokenctl.push.api import PushServer
    from tokenctl.push.store import PushStore
    from tokenctl.sim.token import SimToken

    row = Row("ble challenges (sim radio)")
    sim = SimToken(Path(tempfile.mkdtemp(prefix="ble-", dir=work)), heap=heap).start()
    start = time.monotonic()
    try:
        with TokenClient.open(sim.port, timeout_s=10) as c:
            c.sync_time()
            c.add_accounts([parse_uri(_uris()[0])])
            server = PushServer(
                PushStore.open(Path(tempfile.mkdtemp(prefix="rp-", dir=work)) / "push.db")
            )
            enrol = server.enroll(c, "GitHub")
        radio = sim.parts.ble
        pk, handle = enrol.push_key, enrol.handle
        gen = ChallengeCases(seed, pk, handle)
        model = ChunkModel()
        _ble_up(sim)
        recent: list[bytes] = []  # the last cases' writes: a reproducer is a sequence
        for i in range(n):
            kind, writes, plain = gen.case(int(time.time()))
            complete = []
            sent = []
            for w in writes:
                w = w[:ATT_MAX]  # what one ATT write can carry
                msg = model.feed(w)
                sent.append(w)
                if msg is not None:
                    complete.append(msg)
                    break  # at most one message per case: the token answers one at a time
            row.cases += 1
            row.notes[kind] += 1
            recent = (recent + [msg_of(sent) + b"\n--plaintext--\n" + plain])[-8:]
            if not _write_all(radio, sent, burst):
                _ble_down(row, sim, f"case {i}: the token took no writes for 10 s", recent)
                model = ChunkModel()
                continue
            if not complete:
                row.notes["dropped (chunking)"] += 1
                continue
            msg = complete[0]
            answer = _gather(radio, pchunks, 65 if _could_prompt(pk, msg) else 8)
            if answer is None:
                _ble_down(row, sim, f"case {i}: no answer to a whole {kind} challenge", recent)
                model = ChunkModel()
                continue
            _check_answer(row, crypto, pk, handle, msg, plain, answer)
            if radio.control("notify", timeout_s=0)["data"] is not None:
                row.mismatch("a second answer to one challenge", msg_of(sent))
        try:
            radio.control("disconnect")
            with TokenClient.open(sim.port, timeout_s=10) as c:
                if c.info().get("vault") != "ok":
                    row.crash("vault not ok after the BLE campaign")
        except Exception as e:  # noqa: BLE001 - reported in the row, with the console
            row.hang(f"after the campaign: {e} (alive: {sim.alive()}, console: "
                     f"{_console_tail(sim)})")  # fmt: skip
    finally:
        sim.stop()
    row.seconds = time.monotonic() - start
    return row


def _ble_up(sim, timeout_s: float = 20) -> None:
    """Wait for the token to advertise, then connect as the central."""
    deadline = time.monotonic() + timeout_s
    while not sim.parts.ble.control("adv").get("name"):
        if time.monotonic() > deadline:
            raise RuntimeError("the token never advertised")
        time.sleep(0.1)
    sim.parts.ble.control("connect")


def _ble_down(row: Row, sim, what: str, recent: list[bytes]) -> None:
    """The radio stopped answering: a hang, with what the console says (a task that died is
    a crash too); then a power cycle, so the rest of the campaign still runs. The finding's
    data is the last cases' writes, each case as a 4-byte length and its msg_of bytes."""
    data = b"".join(struct.pack(">I", len(c)) + c for c in recent)
    log = _console_tail(sim, 600)
    said = log.split("[token] ")[-1][:200] if "[token] " in log else ""
    row.hang(f"{what} (firmware alive: {sim.alive()}; console: {said})", data)
    if "Traceback" in log:
        row.crash(f"{what}: the console shows {log[log.find('Task exception') :][:400]}", data)
    sim.restart()
    time.sleep(1)
    (sim.state_dir / "console.log").write_bytes(b"")  # the next trace is the next case's
    _ble_up(sim)


def msg_of(writes: list[bytes]) -> bytes:
    """The writes of one case as a reproducer: each as a 2-byte length and its bytes."""
    return b"".join(struct.pack(">H", len(w)) + w for w in writes)


def _write_all(radio, writes: list[bytes], burst: int = 0) -> bool:
    """Write each chunk. With `burst`, at most that many writes wait for the firmware at a
    time, as a real link paces writes; without, the radio's queue (256 writes) fills, and a
    full queue is waited out."""
    from tokenctl.sim.radio import RadioError

    for n, w in enumerate(writes):
        if burst and n and n % burst == 0:
            deadline = time.monotonic() + 10
            while radio.events:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.005)
        deadline = time.monotonic() + 10
        while True:
            try:
                radio.control("write", uuid=CHALLENGE_UUID, data=base64.b64encode(w).decode())
                break
            except RadioError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.02)
    return True


def _could_prompt(pk: bytes, msg: bytes) -> bool:
    from tokenctl.push import crypto

    try:
        crypto.open_challenge(pk, msg)
    except crypto.ChallengeRejected:
        return False
    return True


def _gather(radio, pchunks, timeout_s: float) -> bytes | None:
    r = pchunks.Reassembler()
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        data = radio.control("notify", timeout_s=min(left, 2.0))["data"]
        if data is None:
            continue
        msg = r.feed(base64.b64decode(data))
        if msg is not None:
            return msg
    return None


def _check_answer(row: Row, crypto, pk: bytes, handle: bytes, msg: bytes, plain: bytes,
                  answer: bytes) -> None:  # fmt: skip
    """The answer must verify as the protocol says and never approve; its reason is compared
    with the host's reference (tokenctl.push.crypto.open_challenge, after the handle)."""
    from tokenctl.errors import PushRejected

    try:
        cid = json.loads(plain).get("id")
    except (ValueError, AttributeError):
        cid = None
    nonce = msg[9:25]
    try:
        got = crypto.open_answer(pk, handle, nonce, cid if isinstance(cid, str) else "", answer)
    except PushRejected as e:
        try:  # the same answer against the id it names: CPython and the firmware read the
            # plaintext's id differently (a divergence), or the answer is bad (a crash)
            named = json.loads(answer[11:-16]).get("id")
            got = crypto.open_answer(pk, handle, nonce, named, answer)
            row.mismatch(f"the answer names id {named!r}, CPython reads {cid!r}", plain)
        except (PushRejected, ValueError, AttributeError, TypeError):
            row.crash(f"the token's answer does not verify: {e}", msg)
            return
    if got.approved or got.result == "approve":
        row.crash("a challenge nobody answered was approved", msg)
    row.notes[f"{got.result}:{got.why}" if got.why else got.result] += 1
    want, why = _reference(crypto, pk, handle, msg, plain)
    unauth = ("malformed", "unknown_account", "forged")
    if want != got.why and (want in unauth or got.why in unauth):
        # The sealed bytes say nothing without this run's key: keep the plaintext.
        data = msg if want in unauth[1:] or got.why in unauth[1:] else plain
        row.mismatch(f"token {got.result}/{got.why}, reference {want}: {why}", data)


def _reference(crypto, pk: bytes, handle: bytes, msg: bytes, plain: bytes) -> tuple:
    """(reason the reference rejects the challenge for, or None; what it says)."""
    if not crypto.CHALLENGE_MIN <= len(msg) <= crypto.MAX_MESSAGE or msg[0] != crypto.VERSION:
        return "malformed", "length or version"
    if msg[1:9] != handle:
        return "unknown_account", "not our handle"
    try:
        crypto.open_challenge(pk, msg)
    except crypto.ChallengeRejected as e:
        try:
            problem = crypto.field_problem(json.loads(plain))
        except (ValueError, TypeError, AttributeError):
            problem = None
        return e.reason, problem[1] if problem else e.reason
    return None, "accepted"


# --- backup files and restore ----------------------------------------------------------------

PHRASE = "glacier-mango-tulip-42"
BACKUP_PIN = "482915"


def make_backup(work: Path, heap: str = "128K"):
    """A real backup, as `tokenctl backup create` makes it, from a simulated token that then
    stays up for the restore row. Returns (sim, bytes of the file, keys)."""
    from tokenctl import backup as fmt

    sim, client = _provisioned(work, heap, "backup-", BACKUP_PIN)
    with client as c:
        kdf = fmt.new_kdf()
        keys = fmt.derive(PHRASE, kdf)
        info = c.info()
        begin, blob = c.backup_blob(keys.device, BACKUP_PIN)
        header = fmt.Header(
            kdf=kdf, check=base64.b64encode(keys.check).decode(), serial=info["serial"],
            fw=info["fw"], board=info["board"], created=begin["t"], generation=begin["gen"],
            accounts=begin["n"], push_marked=begin.get("push", 0),
        )  # fmt: skip
        data = fmt.pack(header, blob, keys)
        fmt.open_backup(data, PHRASE)
        c.backup_done(header.generation, header.created)
    return sim, data, keys


class _CachedDerive:
    """tokenctl.backup.derive, memoised per (passphrase, KDF): a fuzz case should cost the
    parser's time, not Argon2id's. A new KDF (a mutated parameter) still derives for real."""

    def __init__(self, fmt):
        self.real = fmt.derive
        self.cache: dict[str, Any] = {}
        self.derived = 0

    def __call__(self, passphrase: str, kdf: dict):
        key = passphrase + "\x00" + json.dumps(kdf, sort_keys=True, default=repr)
        if key not in self.cache:
            self.derived += 1
            self.cache[key] = self.real(passphrase, kdf)
        return self.cache[key]


def run_backup_files(n: int, seed: int, data: bytes, keys) -> Row:
    """Every truncation of a real backup, then n mutations: raw bytes; bytes with the file's
    SHA-256 redone (what an editor does); the header object mutated and the file packed again
    under the real keys; and the sealed records mutated and sealed again under the real key.
    Only BackupError and WrongPassphrase may leave read_header/open_backup."""
    from tokenctl import backup as fmt

    row = Row("backup files (host)")
    derive = _CachedDerive(fmt)
    old = fmt.derive
    fmt.derive = derive  # type: ignore[assignment]
    m = Mutator(seed, [b'"', b"{", b"}", b"null", b"[", b"1e999", b'"push_marked":', b"-1",
                       b"TOKNBKUP", b"TKS1bkup", b"V1"])  # fmt: skip
    start = time.monotonic()
    header, body, _ = fmt.read_header(data)
    hdr = json.loads(header.to_json())
    plain = _plain_records(body, keys.device)

    def feed(case: bytes, phrase: str = PHRASE) -> None:
        row.cases += 1
        try:
            fmt.read_header(case)
            fmt.open_backup(case, phrase)
            row.notes["opened"] += 1
        except fmt.WrongPassphrase:
            row.notes["WrongPassphrase"] += 1
        except fmt.BackupError:
            row.notes["BackupError"] += 1
        except Exception as e:  # noqa: BLE001 - every other escape is a finding
            row.crash(f"{type(e).__name__} from the backup reader: {e}"[:300], case)

    try:
        for cut in range(len(data)):
            feed(data[:cut])
        feed(data, "wrong passphrase")
        for _ in range(n):
            k = m.rng.random()
            if k < 0.4:
                case = m.bytes(data)
            elif k < 0.6:
                case = _resum(m.bytes(data[:-32]))
            elif k < 0.85:
                obj = m.obj(hdr, ["x"])
                obj.pop("op", None)
                if m.rng.random() < 0.3 and isinstance(obj.get("kdf"), dict):
                    obj["kdf"] = m.obj(obj["kdf"], ["x"])
                    obj["kdf"].pop("op", None)
                case = _repack(obj, body, keys)
            else:
                case = _repack(hdr, _seal_plain(m.bytes(plain), keys.device), keys)
            feed(case)
    finally:
        fmt.derive = old  # type: ignore[assignment]
    row.notes["real Argon2id derivations"] = derive.derived
    row.seconds = time.monotonic() - start
    return row


def _resum(data: bytes) -> bytes:
    return data + hashlib.sha256(data).digest()


def _repack(header: dict, body: bytes, keys) -> bytes:
    try:
        head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    except (UnicodeEncodeError, ValueError):
        head = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                          default=repr).encode()  # fmt: skip
    out = b"TOKNBKUP" + struct.pack(">HI", 1, len(head)) + head + struct.pack(">I", len(body))
    out += body
    out += hmac.digest(keys.file, out, "sha256")
    return out + hashlib.sha256(out).digest()


def _plain_records(body: bytes, key: bytes) -> bytes:
    """The blob's plaintext (b"V1" and the framed records), unpadded."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    enc = hmac.digest(key, b"enc:bkup", "sha256")
    dec = Cipher(algorithms.AES(enc), modes.CBC(body[12:28])).decryptor()
    plain = dec.update(body[28:-32]) + dec.finalize()
    return plain[: -plain[-1]]


def _seal_plain(plain: bytes, key: bytes, generation: int = 1) -> bytes:
    from tokenctl.backup import seal_plain

    return seal_plain(plain, key, generation)


def fw_would_restore(plain: bytes) -> bool:
    """Whether the firmware's restore takes this plaintext (vault.read_records, then
    backup._check on each record, no label twice, at most 250): the reference that says which
    resealed mutants must be refused."""
    if plain[:2] != b"V1":
        return False
    at, recs = 2, []
    while at < len(plain):
        if len(plain) - at < 2:
            return False
        n = plain[at] << 8 | plain[at + 1]
        if len(plain) - at < 2 + n:
            return False
        recs.append(plain[at + 2 : at + 2 + n])
        at += 2 + n
    labels = set()
    for rec in recs:
        try:
            if rec[0] & ~0x1F or (rec[0] >> 1) & 3 == 3 or not 6 <= rec[1] <= 8:
                return False
            at = 10 if rec[0] & 1 else 4
            if not rec[0] & 1 and not 1 <= int.from_bytes(rec[2:4], "big") <= 3600:
                return False
            parts = []
            for lo, hi in ((10, 64), (0, 64), (1, 64)):
                n = rec[at]
                if not lo <= n <= hi or at + 1 + n > len(rec):
                    return False
                parts.append(rec[at + 1 : at + 1 + n])
                at += 1 + n
            if at != len(rec):
                return False
            parts[1].decode(), parts[2].decode()
        except (IndexError, UnicodeDecodeError):
            return False
        label = (parts[1], parts[2])
        if label in labels:
            return False
        labels.add(label)
    return len(recs) <= 250


def run_restore(n: int, seed: int, sim, data: bytes, keys) -> Row:
    """n mutated blobs through restore.begin/data/commit on the token: raw mutations of the
    real sealed blob (its MAC breaks), and plaintexts mutated and sealed again under the real
    key that the firmware's own rules refuse. Each must come back bad_backup, the accounts
    unchanged."""
    from tokenctl import backup as fmt
    from tokenctl.client import TokenClient
    from tokenctl.errors import AuthError, DeviceError

    row = Row("restore (sim token)")
    _, body, _ = fmt.read_header(data)
    plain = _plain_records(body, keys.device)
    m = Mutator(seed, [b"V1", b"\x00", b"\xff", b"\x40", b"\x0a"])
    start = time.monotonic()
    with TokenClient.open(sim.port, timeout_s=10) as c:
        c.unlock(BACKUP_PIN)
        before = c.accounts()
        tried = 0
        while row.cases < n:
            tried += 1
            if m.rng.random() < 0.5:
                blob = m.bytes(body)
                if blob == body:
                    continue
                row.notes["raw"] += 1
            else:
                mutant = m.bytes(plain)
                if fw_would_restore(mutant):
                    row.notes["skipped (a restorable mutant)"] += 1
                    continue
                blob = _seal_plain(mutant, keys.device)
                row.notes["resealed"] += 1
            if not blob or len(blob) > 64 * 1024:
                continue
            row.cases += 1
            merge = m.rng.choice(("skip", "replace"))
            for attempt in range(2):
                try:
                    c.restore_blob(keys.device, blob, NOW, merge)
                    row.crash("the token restored a mutated blob", blob)
                    before = c.accounts()
                except AuthError:
                    if attempt:
                        raise
                    c.unlock(BACKUP_PIN)  # auto-locked while we worked
                    continue
                except DeviceError as e:
                    row.notes[e.code] += 1
                    if e.code != "bad_backup":
                        row.mismatch(f"restore answered {e.code}, not bad_backup", blob)
                break
            if row.cases % 25 == 0 or row.cases == n:
                if c.accounts() != before:
                    row.crash("the accounts changed after a refused restore", blob)
    row.seconds = time.monotonic() - start
    return row


# --- the campaign ----------------------------------------------------------------------------

DEFAULTS = {
    "host": 1_000_000,
    "fw": 1_000_000,
    "dispatch": 100_000,
    "serial": 6_000,
    "ble": 2_000,
    "backup": 10_000,
    "restore": 300,
}


def campaign(counts: dict[str, int], seed: int, engine: str, work: Path,
             log: Callable[[str], None] = print) -> list[Row]:  # fmt: skip
    rows: list[Row] = []

    def run(key: str, fn: Callable[[], Row | list[Row]]) -> None:
        if not counts.get(key):
            return
        log(f"[fuzz] {key}: {counts[key]:,} cases ...")
        try:
            got = fn()
        except Exception as e:  # noqa: BLE001 - the other rows still run
            got = Row(key)
            got.crash(f"the campaign itself failed: {type(e).__name__}: {e}"[:400])
        for r in got if isinstance(got, list) else [got]:
            rows.append(r)
            log(f"[fuzz]   {r.name}: {r.cases:,} cases, {r.crashes} crashes, {r.hangs} hangs, "
                f"{r.seconds:.1f} s")  # fmt: skip

    frames = (("host", "host frames (CPython)"), ("fw", "fw frames (CPython)"))
    workers = {}
    if engine == "atheris":  # on their own cores, while the simulated tokens run
        for key, _ in frames:
            if counts.get(key):
                log(f"[fuzz] {key}: {counts[key]:,} cases under atheris, in the background")
                workers[key] = start_atheris(key, counts[key], seed, work)
    else:
        for key, name in frames:
            run(key, lambda k=key, nm=name: run_mutator_frames(nm, k, counts[k], seed))
    run("dispatch", lambda: run_dispatch_mpy(counts["dispatch"], seed, work))
    run("serial", lambda: run_serial(counts["serial"], seed, work))
    run("ble", lambda: run_ble(counts["ble"], seed, work))
    if counts.get("backup") or counts.get("restore"):
        sim, data, keys = make_backup(work)
        try:
            run("backup", lambda: run_backup_files(counts["backup"], seed, data, keys))
            run("restore", lambda: run_restore(counts["restore"], seed, sim, data, keys))
        finally:
            sim.stop()
    for key, name in frames:
        if key in workers:
            run(key, lambda k=key, nm=name: finish_atheris(nm, k, work, workers[k]))
    return rows


def save_findings(rows: list[Row], where: Path) -> list[str]:
    out = []
    for row in rows:
        for n, f in enumerate(row.findings):
            name = f"{row.name.split()[0]}-{f.kind}-{n}.bin"
            path = where / name
            where.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f.data)
            out.append(f"{row.name}: {f.kind}: {f.what} ({len(f.data)} bytes: {path})")
    return out


def print_table(rows: list[Row], findings: list[str], seed: int, engine: str,
                notes: int = 6) -> None:  # fmt: skip
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Fuzzing (seed {seed}, frame engine {engine})")
    for col in ("campaign", "cases", "crashes", "hangs", "seconds", "outcomes (top)"):
        table.add_column(col, justify="left" if col in ("campaign", "outcomes (top)") else "right")
    for r in rows:
        top = ", ".join(f"{k} {v:,}" if v else k for k, v in r.notes.most_common(notes))
        table.add_row(r.name, f"{r.cases:,}", str(r.crashes), str(r.hangs), f"{r.seconds:.0f}",
                      top)  # fmt: skip
    console = Console(width=160)
    console.print(table)
    for line in findings:
        console.print(line, markup=False, highlight=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every row's cases")
    ap.add_argument("--only", default="", help="rows: " + ",".join(DEFAULTS))
    ap.add_argument("--engine", choices=("atheris", "mutator"), default="atheris")
    for key, n in DEFAULTS.items():
        ap.add_argument(f"--{key}", type=int, default=None, help=f"cases (default {n:,})")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp)")
    ap.add_argument("--findings", type=Path, default=ROOT / "build" / "fuzz-findings")
    ap.add_argument("--json", action="store_true", help="the rows as JSON")
    ap.add_argument("--atheris-worker", choices=("host", "fw"), help=argparse.SUPPRESS)
    ap.add_argument("--runs", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.atheris_worker:
        atheris_worker(args.atheris_worker, args.runs, args.seed, args.work)
        return 0
    only = set(filter(None, args.only.split(",")))
    counts = {}
    for key, n in DEFAULTS.items():
        given = getattr(args, key)
        counts[key] = given if given is not None else int(n * args.scale)
        if only and key not in only:
            counts[key] = 0
    if args.engine == "atheris" and importlib.util.find_spec("atheris") is None:
        print("[fuzz] atheris is not installed: the seeded mutator feeds the frame rows")
        args.engine = "mutator"
    work = args.work or Path(tempfile.mkdtemp(prefix="fuzz-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        rows = campaign(counts, args.seed, args.engine, work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    findings = save_findings(rows, args.findings)
    if args.json:
        print(
            json.dumps(
                [
                    dict(
                        name=r.name,
                        cases=r.cases,
                        crashes=r.crashes,
                        hangs=r.hangs,
                        seconds=round(r.seconds, 1),
                        notes=dict(r.notes),
                    )
                    for r in rows
                ]
            )
        )
    else:
        print_table(rows, findings, args.seed, args.engine)
    return 1 if any(r.crashes or r.hangs for r in rows) else 0


def iter_lines(seed: int, n: int, person_ops: bool = True) -> Iterator[bytes]:
    """n frame cases (for tests and for reproducing a finding by index)."""
    cases = FrameCases(seed, person_ops=person_ops)
    for _ in range(n):
        yield cases.line()


if __name__ == "__main__":
    sys.exit(main())
