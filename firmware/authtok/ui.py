"""The token's screens, drawn into a 128x64 MONO_VLSB framebuf.FrameBuffer.

Hardware-free: the app passes the frame buffer (the SSD1306 driver is one) and everything a
screen shows. Nothing here reads a clock, a button or a sensor, and nothing calls show().
Every draw_xxx clears the whole screen first, except draw_bar: it redraws only its own page, so
the app can tick the countdown each second with show_pages(BAR_PAGE, BAR_PAGE), and send a new
code with show_pages(*CODE_PAGES).

Text is framebuf's 8x8 font, 16 characters a line, ASCII only (anything else shows as "?").
Large text scales each glyph's columns 1-6 (0 and 7 are the font's spacing; of the digits only
"4" has ink there, one pixel) through one 8x8 buffer allocated here, once: drawing allocates
nothing per glyph.
"""

import framebuf
from micropython import const

W = 128
H = 64
CHARS = 16  # 8x8 characters per line

# Pages are the SSD1306's 8-pixel rows, 0 on top: what show_pages(first, last) sends.
CODE_PAGES = (3, 5)  # first and last page of the code digits: y 24-47
BAR_PAGE = 7  # the countdown bar's page: y 56-63, the bar itself BAR_Y .. BAR_Y + BAR_H - 1
BAR_Y = 59
BAR_H = 5
_CODE_Y = const(24)  # CODE_PAGES[0] * 8
_WARN_Y = const(48)  # page 6: the warning line

_GBUF = bytearray(8)
_GLYPH = framebuf.FrameBuffer(_GBUF, 8, 8, framebuf.MONO_VLSB)

_LABELS = {"clock": "clock", "battery": "batt", "memory": "mem", "drift": "drift"}


# -- text ----------------------------------------------------------------------------------------


def _clean(s):
    """s as the font draws it: ASCII, anything else as '?'. Works on the UTF-8 bytes: iterating
    a str would intern each distinct character as a qstr, heap that is never given back."""
    raw = s.encode()
    for o in raw:
        if not 32 <= o <= 126:
            break
    else:
        return s
    out = bytearray()
    for o in raw:
        if o < 0x80 or o >= 0xC0:  # a whole ASCII character, or the lead byte of another
            out.append(o if 32 <= o <= 126 else 63)  # 63: "?"
    return out.decode()


def fit(s, n=CHARS):
    """s cut to n characters, '..' marking a cut."""
    s = _clean(s)
    if len(s) <= n:
        return s
    return s[: n - 2] + ".." if n > 2 else s[:n]


def wrap(s, n=CHARS):
    """s as lines of at most n characters, broken at spaces where possible."""
    s = _clean(s).strip()
    lines = []
    while len(s) > n:
        cut = s.rfind(" ", 0, n + 1)
        if cut <= 0:
            cut = n
        lines.append(s[:cut].rstrip())
        s = s[cut:].lstrip()
    if s:
        lines.append(s)
    return lines


def _center(fb, s, y, c=1):
    s = fit(s)
    fb.text(s, (W - 8 * len(s)) // 2, y, c)


def _lines(fb, text, y, pitch=9, last=H - 8):
    """text wrapped and centred from y down, while lines fit above `last`; returns the next y."""
    for line in wrap(text):
        if y > last:
            break
        _center(fb, line, y)
        y += pitch
    return y


def _glyph(fb, ch, x, y, scale, c):
    _GLYPH.fill(0)
    _GLYPH.text(ch, 0, 0, 1)
    for col in range(1, 7):
        bits = _GBUF[col]
        row = 0
        while bits:
            if bits & 1:
                fb.fill_rect(x + (col - 1) * scale, y + row * scale, scale, scale, c)
            bits >>= 1
            row += 1


def big_text(fb, s, x, y, scale, c=1, step=0):
    """s in scale x scale blocks from (x, y), glyphs `step` px apart (default 7 * scale: one
    blank column). Ink is rows 0-6 of each glyph (7 * scale px). Returns x after the last."""
    step = step or 7 * scale
    for ch in s:
        _glyph(fb, ch, x, y, scale, c)
        x += step
    return x


# -- pieces --------------------------------------------------------------------------------------


def _code(fb, code):
    """Centred in CODE_PAGES, in two groups (123 456, 123 4567, 1234 5678): 3x for up to 6
    digits, 2x for 7 and 8. Indexing a str allocates nothing, slicing would."""
    n = len(code)
    scale = 3 if n <= 6 else 2
    step = 6 * scale + 2
    gap = 3 * scale  # extra, between the groups
    x = (W - (n * step - 2 + gap)) // 2
    y = _CODE_Y + (24 - 7 * scale) // 2
    for i in range(n):
        _glyph(fb, code[i], x + i * step + (gap if i >= n // 2 else 0), y, scale, 1)


def draw_bar(fb, seconds_left, period):
    """The countdown in page BAR_PAGE (cleared; nothing else touched): full width when
    seconds_left == period, W * seconds_left / period px (rounded) after. period 0: no bar."""
    fb.fill_rect(0, BAR_PAGE * 8, W, 8, 0)
    if period > 0:
        s = min(max(seconds_left, 0), period)
        fb.fill_rect(0, BAR_Y, (W * s + period // 2) // period, BAR_H, 1)


def _warn_icon(fb, x, y):
    """A 7x7 triangle with a '!' cut out of it."""
    for r in range(7):
        fb.hline(x + 3 - r // 2, y + r, 1 + r // 2 * 2, 1)
    fb.vline(x + 3, y + 2, 2, 0)
    fb.pixel(x + 3, y + 5, 0)


def _warnings(fb, warnings, y, skip=None):
    """Warning icon and short labels ("batt mem drift") on one line, unless there are none."""
    labels = [_LABELS.get(w, w) for w in warnings if w != skip]
    if labels:
        _warn_icon(fb, 0, y)
        fb.text(fit(" ".join(labels), CHARS - 1), 9, y, 1)


def _lock_icon(fb, x, y):
    """A 14x18 padlock: shackle, body, keyhole."""
    fb.fill_rect(x + 3, y, 8, 2, 1)
    fb.fill_rect(x + 2, y + 1, 2, 7, 1)
    fb.fill_rect(x + 10, y + 1, 2, 7, 1)
    fb.fill_rect(x, y + 8, 14, 10, 1)
    fb.fill_rect(x + 6, y + 11, 2, 4, 0)


# -- screens -------------------------------------------------------------------------------------


def draw_locked(fb, reason=None, warnings=()):
    """Locked: padlock, hint, optional reason ("3 wrong PINs: power-cycle"), warnings."""
    fb.fill(0)
    _lock_icon(fb, 8, 0)
    big_text(fb, "Locked", 28, 2, 2)
    y = _lines(fb, "Touch sensor or enter PIN", 20)
    if reason:
        _lines(fb, reason, y, 9, 47)
    _warnings(fb, warnings, 56)


def draw_pin_entry(fb, digits_entered, current_digit, tries_left):
    """PIN entry with the buttons: up/down change the boxed digit, OK moves on, a long OK
    submits. digits_entered (a count, or the digits) show as '*', the last 7 at most."""
    fb.fill(0)
    _center(fb, "Enter PIN", 0)
    n = digits_entered if isinstance(digits_entered, int) else len(digits_entered)
    cells = min(n, 7) + 1  # 16 px each
    x = (W - 16 * cells) // 2
    y = 20
    for i in range(cells - 1):
        big_text(fb, "*", x + 16 * i + 2, y, 2)
    x += 16 * (cells - 1)
    fb.fill_rect(x, y - 3, 16, 20, 1)
    big_text(fb, str(current_digit), x + 2, y, 2, 0)
    for r in range(3):  # up arrow above the box, down arrow below it
        fb.hline(x + 7 - r, y - 8 + r, 2 + 2 * r, 1)
        fb.hline(x + 5 + r, y + 18 + r, 6 - 2 * r, 1)
    _center(fb, "OK=next hold=go", 44)
    if tries_left is not None:
        _center(fb, "1 try left" if tries_left == 1 else "%d tries left" % tries_left, 56)


def draw_account(
    fb, issuer, name, code, seconds_left, period, index, total,
    hotp=False, needs_touch=False, warnings=(),
):  # fmt: skip
    """The main screen. index/total as given (1-based). No code is drawn when the clock is
    untrusted ("clock" in warnings), whatever `code` is. Without a code: "Touch sensor for
    code" if needs_touch, else "Press OK for code". HOTP and "clock" have no bar."""
    fb.fill(0)
    corner = "%d/%d" % (index, total)
    top, sub = (issuer, name) if issuer else (name, "")
    fb.text(fit(top, CHARS - 1 - len(corner)), 0, 0, 1)
    fb.text(corner, W - 8 * len(corner), 0, 1)
    fb.text(fit(sub), 0, 10, 1)
    clock = "clock" in warnings
    if clock:
        x = (W - 88) // 2  # icon, space, "Sync clock"
        _warn_icon(fb, x, _CODE_Y + 8)
        fb.text("Sync clock", x + 8, _CODE_Y + 8, 1)
    elif code:
        _code(fb, code)
    else:
        _lines(fb, "Touch sensor for code" if needs_touch else "Press OK for code", _CODE_Y + 3)
    _warnings(fb, warnings, _WARN_Y, "clock")
    if not (hotp or clock):
        draw_bar(fb, seconds_left, period)


def draw_message(fb, title, lines=()):
    """Title, a rule, and centred wrapped lines (a str is one line): enrollment steps, errors,
    confirmations. What does not fit is left out."""
    fb.fill(0)
    _center(fb, title, 0)
    fb.hline(0, 10, W, 1)
    if isinstance(lines, str):
        lines = (lines,)
    y = 16
    for line in lines:
        y = _lines(fb, line, y, 10)


def draw_empty(fb):
    """No accounts yet."""
    draw_message(fb, "No accounts", ("Provision with tokenctl",))
