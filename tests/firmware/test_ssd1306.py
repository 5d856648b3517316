"""The display: the SSD1306 driver against the register-level model, the model alone, and the
host-side pictures of the panel.

Driver tests run under the real MicroPython unix port (driver and model over SimI2C, the way
the simulator runs them). The model is portable, so its addressing modes and panel mapping are
also checked under CPython against hand-computed expectations.
"""

import io
import sys
from pathlib import Path

import pytest
from mp_helpers import results, script
from PIL import Image

from tokenctl.sim import screen

ROOT = Path(__file__).resolve().parents[2]

# -- driver + model under MicroPython --------------------------------------------------------

SETUP = """\
from sim_i2c import SimI2C
from sim_ssd1306 import SimSSD1306
from drivers.ssd1306 import SSD1306


def panel(height=64, noise=True):
    bus = SimI2C()
    sim = SimSSD1306(height=height, noise=noise)
    bus.attach(0x3C, sim)
    return sim, SSD1306(bus, 128, height)


def mismatches(d, sim):
    # Pixels where the panel differs from the driver's framebuffer.
    px = sim.pixels()
    bad = 0
    for y in range(d.height):
        row = px[y]
        for x in range(d.width):
            if row[x] != d.pixel(x, y):
                bad += 1
    return bad


def lit(sim):
    return sum(sum(row) for row in sim.pixels())


def draw(d):
    d.fill(0)
    d.text("123 456", 8, 4, 1)
    d.text("GitHub", 0, 20, 1)
    d.rect(2, 34, 60, 14, 1)
    d.fill_rect(70, 36, 30, 9, 1)
    d.line(0, 63, 127, 50, 1)
    d.hline(0, 58, 77, 1)
"""


def run(run_mp, body, **params):
    return results(run_mp(script(body, SETUP, **params)))


def test_init_lights_a_blank_panel(run_mp):
    r = run(
        run_mp,
        """
        sim, d = panel()  # GDDRAM powers up as noise: init must clear it before lighting up
        R("state", sim.state)
        R("unknown", sim.unknown)
        R("lit", lit(sim))
        R("buffer", len(d.buffer))
        """,
    )
    st = r["state"]
    assert st["on"] and st["charge_pump"] and st["lit"]
    assert st["mode"] == "horizontal"
    assert st["contrast"] == 0xCF
    assert st["seg_remap"] and st["com_reverse"]
    assert st["mux"] == 64 and st["com_pins"] == 0x12
    assert st["offset"] == 0 and st["start_line"] == 0
    assert not st["invert"] and not st["entire_on"] and not st["scrolling"]
    assert st["pending_args"] == 0
    assert r["unknown"] == []
    assert r["lit"] == 0
    assert r["buffer"] == 1024


@pytest.mark.parametrize("height", [64, 32])
def test_show_puts_the_framebuffer_on_the_panel(run_mp, height):
    r = run(
        run_mp,
        """
        sim, d = panel(HEIGHT)
        draw(d)
        R("before", mismatches(d, sim))
        d.show()
        R("after", mismatches(d, sim))
        R("lit", lit(sim))
        R("gddram", bytes(sim.gddram[: len(d.buffer)]) == bytes(d.buffer))
        R("stats", sim.stats)
        """,
        HEIGHT=height,
    )
    assert r["before"] > 0
    assert r["after"] == 0
    assert r["lit"] > 200
    assert r["gddram"]  # upright mounting: GDDRAM is the framebuffer byte for byte
    pages = height // 8
    # init's clear + this show: each page written twice, nothing more
    assert r["stats"]["page_bytes"][:pages] == [256] * pages
    assert r["stats"]["refreshes"] == 2


def test_partial_refresh_sends_only_the_chosen_pages(run_mp):
    r = run(
        run_mp,
        """
        sim, d = panel()
        draw(d)
        d.show()
        sim.reset_stats()
        d.show()
        R("full", sim.stats)

        # A countdown bar in the bottom page; a change elsewhere that is not sent.
        d.fill_rect(0, 56, 128, 8, 0)
        d.fill_rect(0, 58, 50, 4, 1)
        d.fill_rect(0, 0, 8, 8, 1)
        ram = bytes(sim.gddram)
        sim.reset_stats()
        d.show_pages(7, 7)
        R("bar", sim.stats)
        R("page7", bytes(sim.gddram[896:]) == bytes(d.buffer[896:]))
        R("others_kept", bytes(sim.gddram[:896]) == ram[:896])
        R("stale", mismatches(d, sim))  # the unsent 8x8 block

        sim.reset_stats()
        d.show_pages(4, 6)  # rows 32-55
        R("rows", sim.stats["page_bytes"])
        d.show()
        R("final", mismatches(d, sim))
        """,
    )
    full, bar = r["full"], r["bar"]
    assert full["data_bytes"] == 1024
    assert full["bytes_in"] == 7 + 8 * 129  # window command + one 0x40-prefixed write per page
    assert full["refreshes"] == 1
    assert bar["data_bytes"] == 128
    assert bar["page_bytes"] == [0] * 7 + [128]
    assert bar["bytes_in"] == 7 + 129
    assert bar["cmd_bytes"] == 6
    assert bar["refreshes"] == 1
    assert r["page7"] and r["others_kept"]
    assert r["stale"] == 64
    assert r["rows"] == [0, 0, 0, 0, 128, 128, 128, 0]
    assert r["final"] == 0


def test_sleep_wake_contrast_and_the_models_invert(run_mp):
    r = run(
        run_mp,
        """
        sim, d = panel()
        draw(d)
        d.show()
        n = lit(sim)
        R("n", n)
        d.sleep()
        R("sleep", [sim.state["on"], lit(sim)])
        d.wake()
        R("wake", [sim.state["on"], lit(sim) == n, mismatches(d, sim)])
        d.contrast(0x10)
        R("contrast", sim.state["contrast"])
        d.contrast(255)
        R("contrast_max", sim.state["contrast"])
        d._cmd(0xA7)  # the token never inverts (the driver has no method: heap); the model does
        R("inverted", [sim.state["invert"], lit(sim), mismatches(d, sim)])
        d._cmd(0xA6)
        R("normal", [sim.state["invert"], mismatches(d, sim)])
        R("unknown", sim.unknown)
        """,
    )
    n = r["n"]
    assert r["sleep"] == [False, 0]
    assert r["wake"] == [True, True, 0]
    assert r["contrast"] == 0x10 and r["contrast_max"] == 255
    assert r["inverted"] == [True, 128 * 64 - n, 128 * 64]
    assert r["normal"] == [False, 0]
    assert r["unknown"] == []


def test_show_allocates_nothing(run_mp):
    r = run(
        run_mp,
        """
        class NullBus:
            def writeto(self, addr, buf, stop=True):
                return len(buf)


        def measure(d, n):
            d.show()
            d.show_pages(7, 7)
            gc.collect()
            gc.disable()
            try:
                before = gc.mem_alloc()
                for _ in range(n):
                    d.show()
                    d.show_pages(6, 7)
                    d.contrast(0x40)
                return gc.mem_alloc() - before
            finally:
                gc.enable()


        def leak(d, n):
            # Through SimI2C and the model (they allocate, the driver must not keep anything).
            d.show()
            gc.collect()
            before = gc.mem_alloc()
            for _ in range(n):
                d.show()
                d.show_pages(7, 7)
            gc.collect()
            return gc.mem_alloc() - before


        R("alloc", measure(SSD1306(NullBus()), 200))
        sim, d = panel()
        draw(d)
        R("leak", leak(d, 20))
        """,
    )
    assert r["alloc"] <= 16  # a few bytes of jitter at most: nothing per call
    assert abs(r["leak"]) <= 64


# -- the model alone, under CPython ----------------------------------------------------------


@pytest.fixture
def sim_mod(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "boards" / "sim"))
    sys.modules.pop("sim_ssd1306", None)
    import sim_ssd1306

    return sim_ssd1306


def cmds(sim, *c):
    sim.write(bytes((0x00, *c)))


def data(sim, *d):
    sim.write(bytes((0x40, *d)))


def ram(sim, page, col):
    return sim.gddram[page * 128 + col]


def test_model_horizontal_mode_wraps_in_the_window(sim_mod):
    sim = sim_mod.SimSSD1306()
    cmds(sim, 0x20, 0x00, 0x21, 10, 13, 0x22, 2, 3)
    assert sim.state["pointer"] == (2, 10)
    data(sim, *range(1, 11))
    assert [ram(sim, 2, c) for c in range(10, 14)] == [9, 10, 3, 4]
    assert [ram(sim, 3, c) for c in range(10, 14)] == [5, 6, 7, 8]
    assert sim.state["pointer"] == (2, 12)
    assert sum(1 for b in sim.gddram if b) == 8  # nothing outside the window
    assert sim.stats["page_bytes"][2:4] == [6, 4]


def test_model_vertical_mode(sim_mod):
    sim = sim_mod.SimSSD1306()
    cmds(sim, 0x20, 0x01, 0x21, 5, 6, 0x22, 1, 3)
    data(sim, *range(1, 8))
    assert [ram(sim, p, 5) for p in (1, 2, 3)] == [7, 2, 3]
    assert [ram(sim, p, 6) for p in (1, 2, 3)] == [4, 5, 6]
    assert sim.state["pointer"] == (2, 5)
    assert sum(1 for b in sim.gddram if b) == 6


def test_model_page_mode(sim_mod):
    sim = sim_mod.SimSSD1306()
    assert sim.state["mode"] == "page"  # the reset mode
    cmds(sim, 0xB3, 0x0E, 0x17)  # page 3, column 0x7E
    assert sim.state["pointer"] == (3, 126)
    data(sim, 1, 2, 3)  # past column 127: back to the start column, same page
    assert ram(sim, 3, 126) == 3 and ram(sim, 3, 127) == 2
    assert sim.state["pointer"] == (3, 127)
    cmds(sim, 0x21, 0, 127, 0x22, 0, 7)  # windows do not move the page-mode pointer
    assert sim.state["pointer"] == (3, 127)
    cmds(sim, 0x20, 0x00, 0xB5, 0x00, 0x10)  # and page-mode commands not the horizontal one
    assert sim.state["pointer"] == (3, 127)
    cmds(sim, 0x20, 0x02, 0xB5, 0x01, 0x10)
    data(sim, 0xAA)
    assert ram(sim, 5, 1) == 0xAA


def test_model_control_bytes_and_split_commands(sim_mod):
    sim = sim_mod.SimSSD1306()
    sim.write(bytes((0x80, 0xAF, 0xC0, 0x55, 0x80, 0xA7, 0xC0, 0x66)))
    assert sim.state["on"] and sim.state["invert"]
    assert ram(sim, 0, 0) == 0x55 and ram(sim, 0, 1) == 0x66
    # micropython-lib style: every byte in its own transaction, arguments included
    for b in (0x81, 0x42, 0x8D, 0x14, 0x21, 3):
        sim.write(bytes((0x80, b)))
    assert sim.state["contrast"] == 0x42 and sim.state["charge_pump"]
    assert sim.state["pending_args"] == 1
    sim.write(bytes((0x80, 9)))
    assert sim.state["col_window"] == (3, 9) and sim.state["pending_args"] == 0
    # scroll setup consumes its six arguments without touching anything else
    cmds(sim, 0x26, 0x00, 0x00, 0x07, 0x07, 0x00, 0xFF, 0x2F)
    assert sim.state["scrolling"] and sim.state["contrast"] == 0x42
    assert sim.unknown == []
    assert sim.stats["cmd_bytes"] == 2 + 7 + 8 and sim.stats["data_bytes"] == 2
    assert sim.read(2) == b"\x00\x00"
    cmds(sim, 0xAE)
    assert sim.read(1) == b"\x40"  # status: display off


def lit_points(sim):
    return [(x, y) for y, row in enumerate(sim.pixels()) for x, v in enumerate(row) if v]


def test_model_panel_mapping(sim_mod):
    sim = sim_mod.SimSSD1306()
    sim.gddram[0] = 0x01  # column 0, row 0
    sim.gddram[128 + 5] = 0x80  # column 5, row 15
    assert lit_points(sim) == []  # display off
    cmds(sim, 0xAF)
    assert lit_points(sim) == []  # no charge pump, no light
    cmds(sim, 0x8D, 0x14)
    # reset mapping (0xA0, 0xC0): rotated 180 degrees on these modules
    assert lit_points(sim) == [(122, 48), (127, 63)]
    cmds(sim, 0xA1, 0xC8)  # the usual init: upright
    assert lit_points(sim) == [(0, 0), (5, 15)]
    cmds(sim, 0x41)  # start line 1: everything one row up, row 0 wraps to the bottom
    assert lit_points(sim) == [(5, 14), (0, 63)]
    cmds(sim, 0x40, 0xD3, 2)  # offset 2: two rows up
    assert lit_points(sim) == [(5, 13), (0, 62)]
    cmds(sim, 0xD3, 0, 0xA8, 31)  # multiplex 32: COM0-31 only, half the glass is dark
    assert lit_points(sim) == [(0, 32), (5, 47)]
    cmds(sim, 0xA8, 63, 0xDA, 0x02)  # sequential COM pins on a 64-row panel: interleaved
    assert lit_points(sim) == [(0, 0), (5, 30)]
    cmds(sim, 0xDA, 0x12, 0xA5)
    assert len(lit_points(sim)) == 128 * 64
    cmds(sim, 0xA4, 0xA7)
    assert len(lit_points(sim)) == 128 * 64 - 2


def test_model_external_vcc_needs_no_pump(sim_mod):
    sim = sim_mod.SimSSD1306(external_vcc=True)
    sim.gddram[0] = 1
    cmds(sim, 0xAF, 0xA1, 0xC8)
    assert lit_points(sim) == [(0, 0)]


def test_model_noise_then_driver_sequence_over_simi2c(sim_mod, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "boards" / "sim"))
    from sim_i2c import SimI2C

    bus = SimI2C()
    sim = sim_mod.SimSSD1306(noise=True)
    bus.attach(0x3C, sim)
    assert any(sim.gddram)
    bus.writeto(0x3C, bytes((0x00, 0x20, 0x00, 0x21, 0, 127, 0x22, 0, 7)))
    bus.writeto(0x3C, b"\x40" + bytes(1024))
    bus.writeto(0x3C, bytes((0x00, 0x8D, 0x14, 0xA1, 0xC8, 0xAF)))
    assert not any(sim.gddram)
    assert sim.state["lit"] and lit_points(sim) == []


# -- pictures ---------------------------------------------------------------------------------


def checker(width=128, height=64):
    return [[(x // 8 + y // 8) % 2 for x in range(width)] for y in range(height)]


def test_render_png_size_and_colours(tmp_path):
    px = checker()
    path = tmp_path / "panel.png"
    size = screen.render_png(px, str(path), scale=4)
    assert size == (128 * 4 + 16, 64 * 4 + 16)
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == size
        img = img.convert("RGB")
        assert img.getpixel((0, 0)) == screen.BEZEL
        assert img.getpixel((8 + 2, 8 + 2)) == screen.OFF  # panel (0, 0) is unlit
        assert img.getpixel((8 + 8 * 4 + 2, 8 + 2)) == screen.ON  # panel (8, 0) is lit
        assert img.getpixel((8 + 8 * 4, 8 + 8 * 4 - 1)) == screen.ON


def test_render_png_to_file_object_and_options():
    buf = io.BytesIO()
    size = screen.render_png(checker(), buf, scale=2, margin=0, contrast=0)
    assert size == (256, 128)
    buf.seek(0)
    with Image.open(buf) as img:
        img = img.convert("RGB")
        assert img.size == size
        dim = img.getpixel((16, 0))
        assert dim != screen.ON and sum(dim) > sum(screen.OFF)


def test_to_text():
    px = [[0] * 4 for _ in range(3)]
    px[0][0] = px[1][0] = px[1][1] = px[2][3] = 1
    assert screen.to_text(px).splitlines() == ["┌────┐", "│█▄  │", "│   ▀│", "└────┘"]
    lines = screen.to_text(checker()).splitlines()
    assert len(lines) == 34 and all(len(line) == 130 for line in lines)
