"""SSD1306 OLED (128x64 or 128x32) on I2C: the token's display.

A framebuf.FrameBuffer in MONO_VLSB, the controller's own GDDRAM layout (byte = 8 rows of one
column, bit 0 on top; 128 bytes per page), so the buffer goes to the chip as it is. Takes its
bus from the board (machine.I2C API). Every transfer after __init__ reuses preallocated
buffers: show() and show_pages() allocate nothing, whatever the refresh rate.

Wire format (datasheet 8.1.5.2): after the address comes a control byte, 0x00 = the rest are
commands, 0x40 = the rest are display data.
"""

try:
    from micropython import const
except ImportError:  # CPython (host tools, type checkers)

    def const(x):  # type: ignore[misc]
        return x


import framebuf

_ADDR = const(0x3C)
_CTRL_CMD = const(0x00)  # Co=0, D/C#=0: a stream of commands
_CTRL_DATA = const(0x40)  # Co=0, D/C#=1: a stream of GDDRAM data

_SET_CONTRAST = const(0x81)
_ENTIRE_ON_RESUME = const(0xA4)  # follow GDDRAM (0xA5 would light every pixel)
_NORM_DISPLAY = const(0xA6)  # 0xA7 inverts (unused: each method costs heap)
_DISP_OFF = const(0xAE)  # sleep
_DISP_ON = const(0xAF)
_MEM_MODE = const(0x20)
_COL_ADDR = const(0x21)
_PAGE_ADDR = const(0x22)
_SCROLL_OFF = const(0x2E)
_START_LINE = const(0x40)
_SEG_REMAP = const(0xA1)  # column 127 on SEG0
_MUX_RATIO = const(0xA8)
_COM_SCAN_DEC = const(0xC8)  # scan COM[N-1] -> COM0
_DISP_OFFSET = const(0xD3)
_COM_PINS = const(0xDA)
_CLK_DIV = const(0xD5)
_PRECHARGE = const(0xD9)
_VCOM_DESEL = const(0xDB)
_CHARGE_PUMP = const(0x8D)


class SSD1306(framebuf.FrameBuffer):
    def __init__(self, i2c, width=128, height=64, addr=_ADDR, external_vcc=False):
        if not (0 < width <= 128 and 8 <= height <= 64 and height % 8 == 0):
            raise ValueError("size")
        self.i2c = i2c
        self.addr = addr
        self.width = width
        self.height = height
        self.pages = height // 8
        self.external_vcc = external_vcc
        self.buffer = bytearray(self.pages * width)
        super().__init__(self.buffer, width, height, framebuf.MONO_VLSB)
        mv = memoryview(self.buffer)
        self._page = [mv[p * width : (p + 1) * width] for p in range(self.pages)]
        self._chunk = bytearray(1 + width)  # control byte 0x40, then one page
        self._chunk[0] = _CTRL_DATA
        self._win = bytearray((_CTRL_CMD, _COL_ADDR, 0, width - 1, _PAGE_ADDR, 0, 0))
        self._c1 = bytearray(2)  # control byte 0x00, one command
        self._c2 = bytearray(3)  # control byte 0x00, command and its argument
        self.init_display()

    def init_display(self):
        """The datasheet's power-on sequence (application note flowchart), then a blank show()."""
        ext = self.external_vcc
        self.i2c.writeto(
            self.addr,
            bytes(
                (
                    _CTRL_CMD,
                    _DISP_OFF,
                    _CLK_DIV,
                    0x80,  # reset divide ratio / oscillator frequency
                    _MUX_RATIO,
                    self.height - 1,
                    _DISP_OFFSET,
                    0x00,
                    _START_LINE | 0,
                    _CHARGE_PUMP,
                    0x10 if ext else 0x14,  # internal VCC: the pump makes the panel voltage
                    _MEM_MODE,
                    0x00,  # horizontal: one window write refreshes any run of pages
                    _SEG_REMAP,
                    _COM_SCAN_DEC,
                    _COM_PINS,
                    0x02 if self.width > 2 * self.height else 0x12,  # sequential / alternative
                    _SET_CONTRAST,
                    0x9F if ext else 0xCF,
                    _PRECHARGE,
                    0x22 if ext else 0xF1,
                    _VCOM_DESEL,
                    0x30,  # ~0.83 x VCC
                    _ENTIRE_ON_RESUME,
                    _NORM_DISPLAY,
                    _SCROLL_OFF,
                )
            ),
        )
        self.fill(0)
        self.show()  # GDDRAM is random after power-up: clear it before lighting the panel
        self._cmd(_DISP_ON)

    def _cmd(self, c):
        b = self._c1
        b[1] = c
        self.i2c.writeto(self.addr, b)

    def _cmd_arg(self, c, v):
        b = self._c2
        b[1] = c
        b[2] = v
        self.i2c.writeto(self.addr, b)

    def sleep(self):
        """Panel off, charge pump off (~1 uA); GDDRAM and settings are kept."""
        self._cmd(_DISP_OFF)

    def wake(self):
        self._cmd(_DISP_ON)

    def contrast(self, v):
        """0-255 (segment drive current; brightness and wear)."""
        self._cmd_arg(_SET_CONTRAST, v & 0xFF)

    def show(self):
        """Send the whole buffer."""
        self.show_pages(0, self.pages - 1)

    def show_pages(self, first, last):
        """Send pages first..last (8 rows each, 0 on top): `width` bytes per page.

        The column/page window makes the chip's pointer wrap from the last column of one page
        to the first of the next (horizontal addressing), so each page follows the previous.
        """
        if not 0 <= first <= last < self.pages:
            raise ValueError("pages")
        w = self._win
        w[5] = first
        w[6] = last
        self.i2c.writeto(self.addr, w)
        chunk = self._chunk
        for p in range(first, last + 1):
            chunk[1:] = self._page[p]
            self.i2c.writeto(self.addr, chunk)
