"""A register-level SSD1306 OLED controller and panel for the simulator (SimI2C, 0x3C).

Portable: runs under MicroPython and CPython alike (plain classes, no typing, no f-strings).

The wire (datasheet 8.1.5.2): every write transaction is control byte, byte, [control byte,
byte, ...]. Control bit 7 (Co) set: exactly one byte follows, then another control byte.
Co clear: every remaining byte of the transaction is of the same kind. Bit 6 (D/C#) picks
command (0) or GDDRAM data (1). So 0x00 = command stream, 0x40 = data stream, 0x80 = one
command, 0xC0 = one data byte. A multi-byte command may take its argument bytes from later
transactions (micropython-lib sends every byte as its own 0x80 pair), as on the chip.

GDDRAM is 8 pages x 128 columns, one byte per column per page, bit 0 on top. Data bytes go to
the pointer, which then advances as the memory addressing mode says:
- horizontal (0x20 0x00): column, wrapping at the 0x21 window's end to its start and to the
  next page of the 0x22 window (after the last page, back to its first);
- vertical (0x20 0x01): page first, then column, within the same windows;
- page (0x20 0x02, the reset mode): column only, from the 0x00-0x0F/0x10-0x1F start column,
  back to that start after column 127; the page (0xB0-0xB7) never changes by itself.
0x21/0x22 move the pointer to the window start in horizontal and vertical mode only;
0xB0-0xB7 and the nibble commands move it in page mode only.

The panel (`pixels()`, what a person sees): lit only when the display is on (0xAF) and the
charge pump is on (0x8D 0x14), unless the module has an external VCC. Rows go from GDDRAM
through the start line (0x40-0x7F), the multiplex ratio (0xA8), the display offset (0xD3), the
COM scan direction (0xC0/0xC8) and the COM pins configuration (0xDA) to the glass, which is
wired as 128x64 modules are (alternative COM pins; 128x32: sequential): a wrong 0xDA setting
interleaves the rows as on real modules. Mounting is that of the common modules: segment remap
(0xA1) and reversed COM scan (0xC8) show GDDRAM upright, column 0 / row 0 top left; 0xA0 with
0xC0 shows it rotated 180 degrees. Scrolling, fade and zoom commands are decoded (their
arguments consumed, `state` records them) but not animated. GDDRAM powers up as zeros, or as
noise with `noise=True` (the real chip's RAM is random until written).

Reads return the status byte: bit 6 set while the display is off.
"""

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


_COLS = const(128)
_PAGES = const(8)

# Commands with argument bytes -> how many.
_NARGS = {
    0x81: 1,  # contrast
    0x8D: 1,  # charge pump
    0x20: 1,  # memory addressing mode
    0x21: 2,  # column address window
    0x22: 2,  # page address window
    0xA8: 1,  # multiplex ratio
    0xD3: 1,  # display offset
    0xD5: 1,  # clock divide / oscillator
    0xD9: 1,  # pre-charge period
    0xDA: 1,  # COM pins hardware configuration
    0xDB: 1,  # VCOMH deselect level
    0x26: 6,  # right horizontal scroll setup
    0x27: 6,  # left horizontal scroll setup
    0x29: 5,  # vertical and right horizontal scroll setup
    0x2A: 5,  # vertical and left horizontal scroll setup
    0xA3: 2,  # vertical scroll area
    0x23: 1,  # fade out / blinking
    0xD6: 1,  # zoom in
}

_MODES = ("horizontal", "vertical", "page")


def _com_pin(k, alternative, lr_remap):
    """Pin (0-63) that drives logical COM k under a COM pins configuration (table 10-3)."""
    if alternative:
        pin = (k >> 1) + (32 if k & 1 else 0)
    else:
        pin = k
    if lr_remap:
        pin = (pin + 32) & 63
    return pin


class SimSSD1306:
    def __init__(self, height=64, external_vcc=False, noise=False):
        if height not in (32, 64):
            raise ValueError("height")
        self.width = _COLS
        self.height = height
        self.external_vcc = external_vcc
        self.gddram = bytearray(_PAGES * _COLS)
        if noise:
            x = 0x2545F491
            for i in range(len(self.gddram)):
                x = (x * 1103515245 + 12345) & 0x7FFFFFFF
                self.gddram[i] = x >> 16 & 0xFF
        # How this panel's glass rows are wired to the chip's COM pins.
        alt = height == 64
        self._wiring = [_com_pin(g, alt, False) for g in range(height)]
        self.reset()
        self.reset_stats()

    def reset(self):
        """RES# pulse: registers to their datasheet reset values; GDDRAM is kept."""
        self.on = False
        self.contrast = 0x7F
        self.invert = False
        self.entire_on = False
        self.charge_pump = False
        self.mode = 2  # page addressing
        self.col_start = 0
        self.col_end = _COLS - 1
        self.page_start = 0
        self.page_end = _PAGES - 1
        self.col = 0
        self.page = 0
        self.page_col_start = 0  # page mode's column start (0x00-0x0F, 0x10-0x1F)
        self.start_line = 0
        self.offset = 0
        self.mux = 64
        self.seg_remap = False
        self.com_reverse = False
        self.com_pins = 0x12
        self.clock = 0x80
        self.precharge = 0x22
        self.vcomh = 0x20
        self.scrolling = False
        self.scroll_setup = None
        self.vscroll_area = (0, 64)
        self.fade = 0
        self.zoom = False
        self.unknown = []  # command bytes this model does not know
        self._cmd = 0
        self._args = []
        self._need = 0
        self._after_cmd = True

    def reset_stats(self):
        """writes/reads: transactions; bytes_in: every byte written, control bytes included;
        cmd_bytes/data_bytes; page_bytes: data bytes that landed in each page; refreshes: data
        bursts (the first data byte after any command starts one)."""
        self.stats = {
            "writes": 0,
            "reads": 0,
            "bytes_in": 0,
            "cmd_bytes": 0,
            "data_bytes": 0,
            "refreshes": 0,
            "page_bytes": [0] * _PAGES,
        }

    @property
    def state(self):
        return {
            "on": self.on,
            "lit": self.lit(),
            "contrast": self.contrast,
            "invert": self.invert,
            "entire_on": self.entire_on,
            "charge_pump": self.charge_pump,
            "mode": _MODES[self.mode],
            "col_window": (self.col_start, self.col_end),
            "page_window": (self.page_start, self.page_end),
            "pointer": (self.page, self.col),
            "page_col_start": self.page_col_start,
            "start_line": self.start_line,
            "offset": self.offset,
            "mux": self.mux,
            "seg_remap": self.seg_remap,
            "com_reverse": self.com_reverse,
            "com_pins": self.com_pins,
            "clock": self.clock,
            "precharge": self.precharge,
            "vcomh": self.vcomh,
            "scrolling": self.scrolling,
            "fade": self.fade,
            "zoom": self.zoom,
            "pending_args": self._need - len(self._args) if self._need else 0,
        }

    # -- I2C -------------------------------------------------------------------------------

    def write(self, data):
        st = self.stats
        st["writes"] += 1
        n = len(data)
        st["bytes_in"] += n
        i = 0
        while i < n:
            ctrl = data[i]
            i += 1
            if i >= n:
                break  # a control byte with nothing after it
            end = i + 1 if ctrl & 0x80 else n
            if ctrl & 0x40:
                self._data(data, i, end)
            else:
                for j in range(i, end):
                    self._command(data[j])
            i = end

    def read(self, n):
        self.stats["reads"] += 1
        return bytes((0 if self.on else 0x40,)) * n

    # -- commands --------------------------------------------------------------------------

    def _command(self, b):
        self.stats["cmd_bytes"] += 1
        self._after_cmd = True
        if self._need:
            self._args.append(b)
            if len(self._args) == self._need:
                c, a = self._cmd, self._args
                self._need = 0
                self._args = []
                self._exec(c, a)
            return
        need = _NARGS.get(b, 0)
        if need:
            self._cmd = b
            self._need = need
            self._args = []
        else:
            self._exec(b, None)

    def _exec(self, c, a):
        if c < 0x10:  # page mode: lower nibble of the column start
            self.page_col_start = (self.page_col_start & 0x70) | c
            if self.mode == 2:
                self.col = self.page_col_start
        elif c < 0x20:  # page mode: upper nibble of the column start
            self.page_col_start = (self.page_col_start & 0x0F) | ((c & 0x07) << 4)
            if self.mode == 2:
                self.col = self.page_col_start
        elif c == 0x20:
            if a[0] & 3 != 3:  # 11b is invalid: ignored
                self.mode = a[0] & 3
        elif c == 0x21:
            self.col_start = a[0] & 0x7F
            self.col_end = a[1] & 0x7F
            if self.mode != 2:
                self.col = self.col_start
        elif c == 0x22:
            self.page_start = a[0] & 7
            self.page_end = a[1] & 7
            if self.mode != 2:
                self.page = self.page_start
        elif c == 0x23:
            self.fade = a[0] & 0x3F
        elif c in (0x26, 0x27, 0x29, 0x2A):
            self.scroll_setup = (c, tuple(a))
        elif c == 0x2E:
            self.scrolling = False
        elif c == 0x2F:
            self.scrolling = True
        elif 0x40 <= c <= 0x7F:
            self.start_line = c & 0x3F
        elif c == 0x81:
            self.contrast = a[0]
        elif c == 0x8D:
            self.charge_pump = bool(a[0] & 0x04)
        elif c == 0xA0 or c == 0xA1:
            self.seg_remap = c == 0xA1
        elif c == 0xA3:
            self.vscroll_area = (a[0] & 0x3F, a[1] & 0x7F)
        elif c == 0xA4 or c == 0xA5:
            self.entire_on = c == 0xA5
        elif c == 0xA6 or c == 0xA7:
            self.invert = c == 0xA7
        elif c == 0xA8:
            if a[0] & 0x3F >= 15:  # 0-14 are invalid: ignored
                self.mux = (a[0] & 0x3F) + 1
        elif c == 0xAE or c == 0xAF:
            self.on = c == 0xAF
        elif 0xB0 <= c <= 0xB7:
            if self.mode == 2:
                self.page = c & 7
        elif 0xC0 <= c <= 0xCF:
            self.com_reverse = bool(c & 0x08)
        elif c == 0xD3:
            self.offset = a[0] & 0x3F
        elif c == 0xD5:
            self.clock = a[0]
        elif c == 0xD6:
            self.zoom = bool(a[0] & 1)
        elif c == 0xD9:
            self.precharge = a[0]
        elif c == 0xDA:
            self.com_pins = (a[0] & 0x30) | 0x02
        elif c == 0xDB:
            self.vcomh = a[0] & 0x70
        elif c == 0xE3:
            pass  # NOP
        else:
            self.unknown.append(c)

    # -- GDDRAM ----------------------------------------------------------------------------

    def _data(self, data, i, end):
        st = self.stats
        st["data_bytes"] += end - i
        if self._after_cmd:
            st["refreshes"] += 1
            self._after_cmd = False
        counts = st["page_bytes"]
        ram = self.gddram
        mode = self.mode
        col = self.col
        page = self.page
        cs, ce, ps, pe = self.col_start, self.col_end, self.page_start, self.page_end
        for j in range(i, end):
            ram[page * _COLS + col] = data[j]
            counts[page] += 1
            if mode == 0:  # horizontal
                if col == ce:
                    col = cs
                    page = ps if page == pe else (page + 1) & 7
                else:
                    col = (col + 1) & 0x7F
            elif mode == 1:  # vertical
                if page == pe:
                    page = ps
                    col = cs if col == ce else (col + 1) & 0x7F
                else:
                    page = (page + 1) & 7
            elif col == _COLS - 1:  # page
                col = self.page_col_start
            else:
                col += 1
        self.col = col
        self.page = page

    # -- the panel -------------------------------------------------------------------------

    def lit(self):
        """True if the panel shows anything at all: display on, with a panel voltage."""
        return self.on and (self.charge_pump or self.external_vcc)

    def _glass_rows(self):
        """For each glass row top to bottom, the GDDRAM row it shows, or -1 (not driven)."""
        alt = bool(self.com_pins & 0x10)
        lr = bool(self.com_pins & 0x20)
        logical = [0] * 64  # pin -> logical COM
        for k in range(64):
            logical[_com_pin(k, alt, lr)] = k
        n = self.mux
        out = []
        for y in range(self.height):
            k = logical[self._wiring[self.height - 1 - y]]  # mounted upside down
            if self.com_reverse:
                k = (n - 1 - k) & 63
            r = (k + self.offset) & 63
            out.append((r + self.start_line) & 63 if r < n else -1)
        return out

    def pixels(self):
        """What the panel shows: `height` rows of 128 bytes, 1 = lit, top left first."""
        w = self.width
        if not self.lit():
            return [bytearray(w) for _ in range(self.height)]
        ram = self.gddram
        # Glass column x is SEG(127 - x): column 127 - x, or x with the segment remap.
        cols = list(range(w)) if self.seg_remap else list(range(w - 1, -1, -1))
        on = 0 if self.invert else 1
        rows = []
        for r in self._glass_rows():
            row = bytearray(w)
            if r >= 0:
                if self.entire_on:
                    for x in range(w):
                        row[x] = 1
                else:
                    base = (r >> 3) * _COLS
                    bit = 1 << (r & 7)
                    for x in range(w):
                        row[x] = on if ram[base + cols[x]] & bit else 1 - on
            rows.append(row)
        return rows

    def text(self, on="#", off="."):
        """pixels() as lines of characters (for assertions and quick looks)."""
        lines = []
        for row in self.pixels():
            lines.append("".join([on if v else off for v in row]))
        return "\n".join(lines)
