"""The screens (firmware/authtok/ui.py), drawn under the real MicroPython unix port into a
128x64 MONO_VLSB FrameBuffer and read back here in CPython.

Reading back is a tiny "OCR": the 8x8 font comes out of MicroPython's framebuf, and text is
found by matching whole character cells (ink and blank alike) at every position. Large digits
are matched the same way against references scaled here, independently of ui.big_text.
`png()` writes a screen as a 4x PNG for looking at (see the tmp_path of a test).
"""

from mp_helpers import results, script
from PIL import Image

W, H = 128, 64

SETUP = """\
import framebuf
from authtok import ui

buf = bytearray(1024)
fb = framebuf.FrameBuffer(buf, 128, 64, framebuf.MONO_VLSB)


def shot(key, f, *args, **kw):
    # The screen drawn over a lit panel must equal the one drawn over a dark one: screens clear.
    fb.fill(1)
    f(fb, *args, **kw)
    over_lit = bytes(buf)
    fb.fill(0)
    f(fb, *args, **kw)
    R(key, {"buf": bytes(buf).hex(), "clean": over_lit == bytes(buf)})


def font():
    g = bytearray(8)
    gfb = framebuf.FrameBuffer(g, 8, 8, framebuf.MONO_VLSB)
    out = {}
    for i in range(32, 127):
        gfb.fill(0)
        gfb.text(chr(i), 0, 0, 1)
        out[chr(i)] = bytes(g).hex()
    return out


R("font", font())
R("consts", [ui.CODE_PAGES, ui.BAR_PAGE, ui.BAR_Y, ui.BAR_H, ui.W, ui.H])
"""


class Screens:
    """A MicroPython run's screens (name -> rows, each row an int with bit x = pixel x)."""

    def __init__(self, out):
        r = results(out)
        self.font = {c: bytes.fromhex(h) for c, h in r.pop("font").items()}
        code_pages, self.bar_page, self.bar_y, self.bar_h, w, h = r.pop("consts")
        assert (w, h) == (W, H)
        self.code_pages = tuple(code_pages)
        self.extra = {k: v for k, v in r.items() if not (isinstance(v, dict) and "buf" in v)}
        self.rows = {}
        for key, shot in r.items():
            if key not in self.extra:
                assert shot["clean"], f"{key}: the screen does not clear what was there"
                self.rows[key] = to_rows(bytes.fromhex(shot["buf"]))

    def __getitem__(self, key):
        return self.rows[key]


def render(run_mp, body, **params):
    return Screens(run_mp(script(body, SETUP, **params)))


# -- reading the buffer --------------------------------------------------------------------------


def to_rows(buf):
    """MONO_VLSB (byte = 8 rows of one column, bit 0 on top, 128 bytes a page) -> row ints."""
    assert len(buf) == W * H // 8
    rows = [0] * H
    for i, byte in enumerate(buf):
        page, x = divmod(i, W)
        for b in range(8):
            if byte >> b & 1:
                rows[page * 8 + b] |= 1 << x
    return rows


def lit(rows, y0=0, y1=H):
    return sum(bin(r).count("1") for r in rows[y0:y1])


def pages_differing(a, b):
    return {y // 8 for y in range(H) if a[y] != b[y]}


def png(rows, path, scale=4):
    """The screen as a PNG, scale x scale per pixel, for a human to look at."""
    img = Image.new("L", (W, H))
    img.putdata([255 if rows[y] >> x & 1 else 0 for y in range(H) for x in range(W)])
    img.resize((W * scale, H * scale), Image.Resampling.NEAREST).save(path)
    return path


def pattern(font, text, scale=1, cols=range(8), nrows=8):
    """Reference rendering of text: per glyph the given columns and rows, scaled; row ints."""
    rows = [0] * (nrows * scale)
    x = 0
    for ch in text:
        g = font[ch]
        for c in cols:
            for r in range(nrows):
                if g[c] >> r & 1:
                    for dy in range(scale):
                        rows[r * scale + dy] |= ((1 << scale) - 1) << x
            x += scale
    return rows, x


def find(rows, pat, width, y0=0, y1=H):
    """Every (x, y) where the width x len(pat) window equals pat exactly, ink and blank."""
    mask = (1 << width) - 1
    hits = []
    for y in range(y0, min(y1, H) - len(pat) + 1):
        for x in range(W - width + 1):
            if all((rows[y + r] >> x) & mask == p for r, p in enumerate(pat)):
                hits.append((x, y))
    return hits


def find_text(s, rows, text):
    """Where text is drawn with fb.text (8x8 cells, the blank column and row included)."""
    pat, width = pattern(s.font, text)
    return find(rows, pat, width)


def read_big(s, rows, y0=0, y1=H, chars="0123456789", scales=(2, 3)):
    """Large glyphs as drawn by the firmware's scaler (columns 1-6, rows 0-6 of each glyph):
    [(x, y, scale, char)] sorted by x."""
    hits = []
    for scale in scales:
        for ch in chars:
            pat, width = pattern(s.font, ch, scale, range(1, 7), 7)
            hits += [(x, y, scale, ch) for x, y in find(rows, pat, width, y0, y1)]
    return sorted(hits)


def read_code(s, rows):
    """The large code in CODE_PAGES as shown ("123 456"), and its scale."""
    first, last = s.code_pages
    hits = read_big(s, rows, first * 8, (last + 1) * 8)
    if not hits:
        return "", None
    assert len({(y, scale) for _, y, scale, _ in hits}) == 1, hits  # one line, one size
    xs = [x for x, *_ in hits]
    step = min(b - a for a, b in zip(xs, xs[1:], strict=False))
    text = hits[0][3]
    for (a, *_), (b, _, _, ch) in zip(hits, hits[1:], strict=False):
        text += (" " if b - a > step else "") + ch
    return text, hits[0][2]


def inverted(rows):
    return [~r & ((1 << W) - 1) for r in rows]


# -- tests ---------------------------------------------------------------------------------------

CODES = [
    ("123456", "123 456", 3),
    ("789012", "789 012", 3),
    ("000444", "000 444", 3),
    ("1234567", "123 4567", 2),
    ("89012345", "8901 2345", 2),
    ("55555555", "5555 5555", 2),
]


def test_code_digits_are_large_grouped_and_readable(run_mp, tmp_path):
    s = render(
        run_mp,
        """
        for code, _, _ in CODES:
            shot(code, ui.draw_account, "GitHub", "alice@example.com", code, 17, 30, 2, 5)
        """,
        CODES=CODES,
    )
    for code, shown, scale in CODES:
        rows = s[code]
        assert read_code(s, rows) == (shown, scale), code
        # nothing of the code outside its pages: ink there is what the top and bottom show
        first, last = s.code_pages
        assert all(
            rows[y] == s[CODES[0][0]][y] for y in range(H) if not first * 8 <= y < (last + 1) * 8
        )
    png(s["123456"], tmp_path / "account6.png")
    png(s["89012345"], tmp_path / "account8.png")


BARS = [(30, 30), (29, 30), (17, 30), (15, 30), (7, 30), (1, 30), (60, 60), (59, 60), (1, 60)]
BARS += [(45, 90), (3, 7), (0, 30), (31, 30)]


def test_bar_length_follows_seconds_left(run_mp):
    s = render(
        run_mp,
        """
        for left, period in BARS:
            fb.fill(1)  # the bar must clear its page and touch nothing else
            ui.draw_bar(fb, left, period)
            R("%d/%d" % (left, period), {"buf": bytes(buf).hex(), "clean": True})
        """,
        BARS=BARS,
    )
    top = s.bar_page * 8
    for left, period in BARS:
        rows = s[f"{left}/{period}"]
        assert all(r == (1 << W) - 1 for r in rows[:top]), "draw_bar touched other pages"
        want = W * min(max(left, 0), period) / period
        n = lit(rows, top)
        width = n // s.bar_h
        assert abs(width - want) <= 1, (left, period, width)
        # one solid bar from the left edge, in rows BAR_Y .. BAR_Y + BAR_H - 1
        bar = (1 << width) - 1
        for y in range(top, H):
            inside = s.bar_y <= y < s.bar_y + s.bar_h
            assert rows[y] == (bar if inside else 0), (left, period, y)
    assert lit(s["30/30"], top) == W * s.bar_h  # full at the start of a period
    assert lit(s["0/30"], top) == 0


def test_pages_constants_cover_what_changes(run_mp):
    s = render(
        run_mp,
        """
        shot("a", ui.draw_account, "GitHub", "alice", "123456", 20, 30, 1, 3)
        shot("code", ui.draw_account, "GitHub", "alice", "987654", 20, 30, 1, 3)
        shot("code8", ui.draw_account, "GitHub", "alice", "98765432", 20, 30, 1, 3)
        shot("tick", ui.draw_account, "GitHub", "alice", "123456", 19, 30, 1, 3)
        """,
    )
    first, last = s.code_pages
    assert s.bar_page == 7 and (first, last) == (3, 5)
    assert pages_differing(s["a"], s["code"]) <= set(range(first, last + 1))
    assert pages_differing(s["a"], s["code8"]) <= set(range(first, last + 1))
    assert pages_differing(s["a"], s["tick"]) == {s.bar_page}


def test_untrusted_clock_never_shows_a_code(run_mp, tmp_path):
    s = render(
        run_mp,
        """
        shot("none", ui.draw_account, "GitHub", "alice", None, 20, 30, 1, 3, warnings=("clock",))
        shot("given", ui.draw_account, "GitHub", "alice", "123456", 20, 30, 1, 3,
             warnings=("clock",))
        shot("given8", ui.draw_account, "GitHub", "alice", "12345678", 20, 30, 1, 3,
             needs_touch=True, warnings=("battery", "clock"))
        shot("hotp", ui.draw_account, "Bank", "bob", "123456", 0, 0, 1, 3, hotp=True,
             warnings=("clock",))
        """,
    )
    png(s["given"], tmp_path / "clock.png")
    assert s["given"] == s["none"]  # a code passed in anyway is not drawn
    for key in ("none", "given", "given8", "hotp"):
        rows = s[key]
        assert read_big(s, rows) == []
        for digits in ("123", "456", "1234", "5678"):
            assert find_text(s, rows, digits) == []
        assert find_text(s, rows, "Sync clock")
        assert lit(rows, s.bar_page * 8) == 0  # no countdown for a code that is not shown
    assert find_text(s, s["given8"], "batt")
    assert lit(s["given"], 48, 56) == 0  # said once, by "Sync clock": no warning line


def test_long_text_is_cut_to_fit(run_mp, tmp_path):
    s = render(
        run_mp,
        """
        shot("long", ui.draw_account, "A very long issuer name indeed",
             "someone.with.a.long.address@example.com", "123456", 9, 30, 12, 34)
        shot("utf8", ui.draw_account, "Zürich Bank", "名前", "123456", 9, 30, 1, 1)
        shot("noissuer", ui.draw_account, "", "just-a-name", "123456", 9, 30, 1, 1)
        R("fit", [ui.fit("abcdefghijklmnopq"), ui.fit("abc", 2), ui.wrap("aaaa bbbb cccc", 9),
                  ui.wrap("x" * 20)])
        """,
    )
    png(s["long"], tmp_path / "long.png")
    rows = s["long"]
    # "12/34" in the top right corner, the issuer cut to end before it
    assert find_text(s, rows, "12/34") == [(W - 40, 0)]
    assert find_text(s, rows, "A very l..") == [(0, 0)]
    assert find_text(s, rows, "someone.with.a..") == [(0, 10)]
    assert read_code(s, rows) == ("123 456", 3)
    assert find_text(s, s["utf8"], "Z?rich Bank") == [(0, 0)]
    assert find_text(s, s["utf8"], "??") == [(0, 10)]
    assert find_text(s, s["noissuer"], "just-a-name") == [(0, 0)]
    assert s.extra["fit"] == [
        "abcdefghijklmn..",
        "ab",
        ["aaaa bbbb", "cccc"],
        ["x" * 16, "xxxx"],
    ]


def test_hotp_and_touch_prompts(run_mp, tmp_path):
    s = render(
        run_mp,
        """
        shot("hotp", ui.draw_account, "Bank", "bob", None, 0, 0, 3, 3, hotp=True)
        shot("hotp_code", ui.draw_account, "Bank", "bob", "0123456", 0, 0, 3, 3, hotp=True)
        shot("touch", ui.draw_account, "Mail", "me", None, 12, 30, 1, 3, needs_touch=True)
        shot("warn", ui.draw_account, "Mail", "me", "123456", 12, 30, 1, 3,
             warnings=("battery", "memory", "drift"))
        """,
    )
    png(s["warn"], tmp_path / "warn.png")
    top = s.bar_page * 8
    assert find_text(s, s["hotp"], "Press OK for") and find_text(s, s["hotp"], "code")
    assert read_big(s, s["hotp"]) == [] and lit(s["hotp"], top) == 0
    assert read_code(s, s["hotp_code"]) == ("012 3456", 2)
    assert lit(s["hotp_code"], top) == 0  # HOTP: no countdown
    assert find_text(s, s["touch"], "Touch sensor for") and find_text(s, s["touch"], "code")
    assert read_big(s, s["touch"]) == []
    assert lit(s["touch"], top) == s.bar_h * round(W * 12 / 30)
    assert find_text(s, s["warn"], "batt mem drift") == [(9, 48)]
    assert read_code(s, s["warn"]) == ("123 456", 3)


def test_locked_screen(run_mp, tmp_path):
    s = render(
        run_mp,
        """
        shot("plain", ui.draw_locked)
        shot("blocked", ui.draw_locked, "PIN blocked: use finger")
        shot("wrong", ui.draw_locked, "3 wrong PINs: power-cycle", ("battery",))
        """,
    )
    png(s["wrong"], tmp_path / "locked.png")
    for key in ("plain", "blocked", "wrong"):
        rows = s[key]
        assert read_big(s, rows, chars="Locked", scales=(2,))  # the title, large
        assert find_text(s, rows, "Touch sensor or") and find_text(s, rows, "enter PIN")
        assert read_big(s, rows) == []  # no code, in any size
        assert lit(rows, 0, 18) > 100  # the padlock and title
    assert find_text(s, s["blocked"], "PIN blocked: use") and find_text(s, s["blocked"], "finger")
    assert find_text(s, s["wrong"], "3 wrong PINs:") and find_text(s, s["wrong"], "power-cycle")
    assert find_text(s, s["wrong"], "batt") and not find_text(s, s["plain"], "batt")


def test_pin_entry(run_mp, tmp_path):
    s = render(
        run_mp,
        """
        shot("start", ui.draw_pin_entry, 0, 0, 5)
        shot("three", ui.draw_pin_entry, 3, 7, 2)
        shot("list", ui.draw_pin_entry, [1, 2, 3], 7, 2)
        shot("many", ui.draw_pin_entry, 12, 9, 1)
        """,
    )
    png(s["three"], tmp_path / "pin.png")
    assert s["three"] == s["list"]
    for key, stars, digit, tries in (
        ("start", 0, "0", "5 tries left"),
        ("three", 3, "7", "2 tries left"),
        ("many", 7, "9", "1 try left"),
    ):
        rows = s[key]
        got = read_big(s, rows, chars="*", scales=(2,))
        assert len(got) == stars, key
        (cur,) = read_big(s, inverted(rows), scales=(2,))  # the current digit, boxed
        assert cur[3] == digit
        assert all(x < cur[0] for x, *_ in got)
        assert read_big(s, rows) == []  # the digit itself is visible only boxed
        assert find_text(s, rows, tries) and find_text(s, rows, "Enter PIN")
        assert find_text(s, rows, "OK=next hold=go")


def test_messages(run_mp, tmp_path):
    s = render(
        run_mp,
        """
        shot("enroll", ui.draw_message, "Enroll", ["Place finger 2/3", "Lift finger"])
        shot("one", ui.draw_message, "Wipe?", "Wipe? hold OK")
        shot("overflow", ui.draw_message, "Error", ["line %d" % i for i in range(10)])
        shot("empty", ui.draw_empty)
        """,
    )
    png(s["empty"], tmp_path / "empty.png")
    assert find_text(s, s["enroll"], "Enroll") and find_text(s, s["enroll"], "Place finger 2/3")
    assert find_text(s, s["enroll"], "Lift finger")
    assert find_text(s, s["one"], "Wipe? hold OK")
    shown = [bool(find_text(s, s["overflow"], f"line {i}")) for i in range(7)]
    assert shown == [True] * 5 + [False] * 2  # five lines fit under the title
    assert find_text(s, s["empty"], "No accounts")
    assert find_text(s, s["empty"], "Provision with") and find_text(s, s["empty"], "tokenctl")


def test_drawing_allocates_nothing_per_frame(run_mp):
    r = results(
        run_mp(
            script(
                """
                import micropython

                def frame():
                    ui.draw_bar(fb, 17, 30)
                    ui.big_text(fb, "12345678", 0, 24, 2)
                    ui._code(fb, "123456")
                    ui._code(fb, "12345678")

                frame()
                micropython.heap_lock()
                try:
                    frame()
                    ok = True
                except MemoryError:
                    ok = False
                micropython.heap_unlock()
                R("ok", ok)
                """,
                SETUP,
            )
        )
    )
    assert r["ok"]
