"""Serial framing (firmware/authtok/frame.py) under real MicroPython, cross-checked against the
host codec (host/tokenctl/frame.py) running in CPython."""

import random
import zlib

from mp_helpers import results, script

from tokenctl import frame as host_frame

MAX_LINE = 4096

# JSON-exact objects (no floats whose text differs between the two json modules).
OBJS = [
    {},
    {"op": "info", "id": 1},
    {"op": "acct.add", "id": 2**40, "a": [{"s": "JBSWY3DPEHPK3PXP", "n": "alice@example.com"}]},
    {"id": None, "err": "bad_frame", "msg": "truncated frame", "ok": True, "no": False},
    {"n": "Société Générale", "i": "日本", "x": "ü"},
    {"tricky": '#TK1:{"a":1}:deadbeef\n\r\t"quoted" back\\slash', "colon": ":::"},
    {"nest": [[], {}, [1, [2, [3]]], {"a": {"b": {"c": -1}}}], "big": 18446744073709551615},
    {"neg": -(2**63), "half": 0.5, "empty": "", "list": [None, True, False, 0]},
]


def _frame(body: bytes) -> bytes:
    """A frame around raw body bytes with a correct checksum (no newline)."""
    return b"#TK1:" + body + b":%08x" % zlib.crc32(body)


def decode_cases():
    """(line, expected) with expected "none", "error" or the decoded object."""
    good = host_frame.encode({"op": "info", "id": 7}).rstrip(b"\n")
    obj = {"op": "info", "id": 7}
    cases = [
        (b"", "none"),
        (b"hello world", "none"),
        (b"MicroPython v1.29.0 on 2025-01-01; ESP32 module with ESP32", "none"),
        (b">>> ", "none"),
        (b"#T", "none"),
        (b"TK1:{}:00000000", "none"),
        (b"\x00\xff\xfe\x80 garbage", "none"),
        (good, obj),
        (good + b"\r", obj),  # CRLF line ending
        (b"#TK2:" + good[5:], "error"),  # another protocol version
        (b"#TK0:" + good[5:], "error"),
        (good[:-1] + (b"0" if good[-1:] != b"0" else b"1"), "error"),  # checksum digit
        (good[:-1] + b"g", "error"),  # checksum not hex
        (good[:-8] + b"zzzzzzzz", "error"),
        (good.replace(b"info", b"infx"), "error"),  # body byte changed
        (_frame(b"{nope"), "error"),  # checksummed, but not JSON
        (_frame(b"[1,2]"), "error"),  # JSON, but not an object
        (_frame(b'"text"'), "error"),
        (b"noise #TK garbage " + good, obj),  # noise with the marker before the frame
        (b"xx#TK1:junk " + good, obj),
        (b"#TK2:{}:00000000 " + good, obj),
        (b"#TK#TK#TK1:" + good, obj),
        (b"boot: #TK1:{}:ffffffff #TK " + good, obj),
    ]
    # Every truncation that still holds the start of the marker is a damaged frame.
    for n in range(3, len(good)):
        cases.append((good[:n], "error"))
    for n in range(0, 3):
        cases.append((good[:n], "none"))
    return cases


DECODE_SCRIPT = """
import binascii
from authtok import frame

for n, line in enumerate(open(CASES)):
    raw = binascii.unhexlify(line.strip())
    try:
        got = frame.decode(raw)
        R("%d" % n, "none" if got is None else ["obj", got])
    except ValueError as e:
        R("%d" % n, ["error", str(e)])
"""


def host_outcome(line: bytes):
    try:
        got = host_frame.decode_line(line)
    except ValueError:
        return "error"
    return "none" if got is None else got


def test_decode_noise_damage_and_versions(run_mp, tmp_path):
    cases = decode_cases()
    path = tmp_path / "cases.txt"
    path.write_text("".join(line.hex() + "\n" for line, _ in cases))
    res = results(run_mp(script(DECODE_SCRIPT, CASES=str(path))))
    assert len(res) == len(cases)
    for n, (line, expected) in enumerate(cases):
        got = res[str(n)]
        if isinstance(got, list) and got[0] == "obj":
            got = got[1]
        elif isinstance(got, list):
            got = got[0]
        assert got == expected, f"line {line!r}: firmware gave {res[str(n)]!r}"
        # The host codec agrees on every one of these lines.
        assert host_outcome(line) == expected, f"line {line!r}: host disagrees"


ROUND_TRIP_SCRIPT = """
import binascii
from authtok import frame

for n, obj in enumerate(OBJS):
    enc = frame_bytes(obj)
    R("enc%d" % n, binascii.hexlify(enc).decode())
    R("self%d" % n, frame.decode(enc.rstrip(b"\\n")) == obj)
for n, line in enumerate(open(HOST)):
    R("host%d" % n, frame.decode(binascii.unhexlify(line.strip())))
"""


def test_round_trip_and_host_cross_check(run_mp, tmp_path):
    host = tmp_path / "host.txt"
    host.write_text("".join(host_frame.encode(o).rstrip(b"\n").hex() + "\n" for o in OBJS))
    res = results(run_mp(script(ROUND_TRIP_SCRIPT, OBJS=OBJS, HOST=str(host))))
    for n, obj in enumerate(OBJS):
        assert res[f"self{n}"] is True, obj
        # host-encoded -> firmware-decoded
        assert res[f"host{n}"] == obj
        # firmware-encoded -> host-decoded, and the wire format itself
        enc = bytes.fromhex(res[f"enc{n}"])
        assert enc.startswith(b"#TK1:") and enc.endswith(b"\n") and enc.count(b"\n") == 1
        crc = enc[-9:-1]
        assert enc[-10:-9] == b":" and crc == crc.lower() and int(crc, 16) >= 0
        assert host_frame.decode_line(enc.rstrip(b"\n")) == obj
        assert list(host_frame.Decoder().feed(enc)) == [obj]


def test_host_encoded_non_bmp_text_decodes_on_micropython(run_mp):
    """The host sends UTF-8 as it is (ensure_ascii=False): MicroPython's json.loads does not
    join escaped surrogate pairs (see test_commands for a client that escapes them)."""
    text = "\U0001f600 smile \U0001d518 é 日本"
    line = host_frame.encode({"n": text}).rstrip(b"\n")
    body = """
    from authtok import frame
    R("utf8", frame.decode(LINE)["n"].encode().hex())
    R("bmp_escapes", frame.decode(ESCAPED)["n"])
    """
    escaped = _frame(b'{"n":"\\u00e9\\u65e5\\u672c"}')
    res = results(run_mp(script(body, LINE=line, ESCAPED=escaped)))
    assert res["utf8"] == text.encode().hex()
    assert res["bmp_escapes"] == "é日本"


LINES_SCRIPT = """
from authtok import frame

stream = read(STREAM)


def outcome(buf, n):
    try:
        got = frame.decode(buf, n)
        return "none" if got is None else got
    except ValueError:
        return "error"


def run(sizes):
    # Feed `stream` in chunks of the given sizes (cycled). Each line is in lines.buf[:n] until
    # the generator resumes: decode it there, in place, as app.serve does.
    lines = frame.Lines()
    out = []
    decoded = []
    at = 0
    k = 0
    while at < len(stream):
        size = sizes[k % len(sizes)]
        k += 1
        for n in lines.feed(stream[at:at + size]):
            out.append(len(out) if n > 64 else bytes(lines.buf[:n]).decode())
            decoded.append(outcome(lines.buf, n))
        at += size
    tail = [bytes(lines.buf[:n]).decode() for n in lines.feed(b"\\n")]
    return [out, decoded, lines.dropped, tail, len(lines.buf)]


for name, sizes in CHUNKINGS:
    R(name, run(sizes))

# Bounded memory: 1 MB of one endless line costs no heap, then the next frame comes through.
lines = frame.Lines()
chunk = b"x" * 512
free = []
for i in range(2048):
    for _ in lines.feed(chunk):
        raise AssertionError("a line came out of an endless line")
    if i in (16, 2047):
        gc.collect()
        free.append(gc.mem_free())
got = []
for n in lines.feed(b"tail of the endless line\\n" + frame_bytes({"op": "info", "id": 9})):
    got.append(frame.decode(lines.buf, n))
R("endless", [free, len(lines.buf), lines.dropped, got])

# A line's tail that is still over the limit, arriving with its newline: one drop.
lines = frame.Lines()
out = [n for n in lines.feed(b"a" * 5000)] + [n for n in lines.feed(b"b" * 5000 + b"\\nok\\n")]
R("once", [out, lines.dropped])
"""


def stream_lines():
    """The lines of a test stream; those over MAX_LINE must be dropped."""

    def ok(rid):
        return host_frame.encode({"op": "info", "id": rid}).rstrip(b"\n")

    return [
        b"boot banner",
        ok(1),
        b"",
        b"y" * MAX_LINE,  # exactly the limit: kept
        b"z" * (MAX_LINE + 1),  # one over: dropped
        ok(2) + b"\r",  # CRLF
        b"w" * 10000,  # far over, spans many chunks: dropped
        b"#TK1:after the long line",
        b"v" * (MAX_LINE + 1),
        b"v" * (MAX_LINE + 2),
        b"#TK1:" + b"u" * (MAX_LINE - 5),  # exactly the limit, the marker but no frame
        ok(3),
    ]


def test_lines_split_drop_and_recover(run_mp, tmp_path):
    parts = stream_lines()
    stream = b"\n".join(parts) + b"\n" + b"partial line, no newline yet"
    path = tmp_path / "stream.bin"
    path.write_bytes(stream)
    rnd = random.Random(1234)
    chunkings = [
        ("bytes", [1]),
        ("random_small", [rnd.randint(1, 64) for _ in range(97)]),
        ("random_mixed", [rnd.choice([1, 2, 7, 100, 511, 4095, 4097, 6000]) for _ in range(53)]),
        ("blocks", [512]),
        ("whole", [len(stream)]),
    ]
    res = results(run_mp(script(LINES_SCRIPT, STREAM=str(path), CHUNKINGS=chunkings)))
    kept = [p for p in parts if len(p) <= MAX_LINE]
    expected = [k if len(p) > 64 else p.decode() for k, p in enumerate(kept)]
    decoded = [host_outcome(p) for p in kept]
    assert decoded.count("none") == 3 and decoded.count("error") == 2, decoded
    for name, _ in chunkings:
        out, got, dropped, tail, size = res[name]
        assert out == expected, name
        assert got == decoded, name
        assert dropped == 4, name  # each over-long line counted once
        assert tail == ["partial line, no newline yet"], name
        assert size == MAX_LINE, name  # the one line buffer, never grown

    free, size, dropped, got = res["endless"]
    assert free[1] >= free[0] - 512, f"heap shrank while dropping one endless line: {free}"
    assert size == MAX_LINE and dropped == 1
    assert got == [{"op": "info", "id": 9}]
    assert res["once"] == [[2], 1]


SEND = """
import binascii
from authtok import frame


class Link:
    def __init__(self):
        self.out = bytearray()
        self.writes = 0

    def write(self, data):
        self.out.extend(data)
        self.writes += 1


for n, obj in enumerate(OBJS):
    link = Link()
    frame.send(link, obj)
    R("send%d" % n, [binascii.hexlify(link.out).decode(), link.writes])

# In place: stale bytes after n (from an earlier, longer line) are not part of the line.
good = frame_bytes({"op": "info", "id": 5}).rstrip(b"\\n")
buf = bytearray(good + b":deadbeef #TK1:{}:00000000 " + b"z" * 100)
R("in_place", frame.decode(buf, len(good)))
buf = bytearray(good + b"\\r" + b"x" * 10)
R("in_place_cr", frame.decode(buf, len(good) + 1))
R("in_place_cut", catch(frame.decode, buf, len(good) - 1)[0])
"""


def test_send_and_decode_in_place(run_mp):
    objs = OBJS + [{"long": "x" * 1000, "many": list(range(300)), "u": "é" * 200}]
    res = results(run_mp(script(SEND, OBJS=objs)))
    for n, obj in enumerate(objs):
        raw, writes = res[f"send{n}"]
        out = bytes.fromhex(raw)
        assert out.startswith(b"#TK1:") and out.endswith(b"\n") and out.count(b"\n") == 1
        assert host_frame.decode_line(out.rstrip(b"\n")) == obj, n
        assert list(host_frame.Decoder().feed(out)) == [obj]
    assert res["send8"][1] > 3  # a long answer goes out in pieces, never as one copy
    assert res["in_place"] == {"op": "info", "id": 5}
    assert res["in_place_cr"] == {"op": "info", "id": 5}
    assert res["in_place_cut"] == "ValueError"
