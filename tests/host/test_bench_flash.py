"""`tokenctl flash` through real esptool against esp32-mock-bootloader, a ROM bootloader
stand-in that speaks the SLIP protocol (sync, chip detection, stub upload, erase, deflated
writes, MD5 verify) and keeps the flash in memory; and the checks made before connecting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tokenctl.bench import boards
from tokenctl.bench.flash import flash
from tokenctl.cli.main import cli
from tokenctl.errors import InputError, TransportError

mock_api = pytest.importorskip("esp32_mock_bootloader", reason="esp32-mock-bootloader missing")
esptool_cmds = pytest.importorskip("esptool.cmds")
esptool_util = pytest.importorskip("esptool.util")
JUNK_AT = 0x300000


@pytest.fixture(scope="module", autouse=True)
def _mock_state(tmp_path_factory) -> Iterator[None]:
    """The mock's registry of running instances goes to a folder of this module's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ESP32_MOCK_BOOTLOADER_STATE_DIR", str(tmp_path_factory.mktemp("mockstate")))
        yield


@pytest.fixture(scope="module")
def rom() -> Iterator[str]:
    """An ESP32's ROM bootloader (the mock) on socket://127.0.0.1:PORT."""
    with mock_api.mock_bootloader(chip="esp32") as mock:
        yield mock.url()


def esp_image(path: Path, size: int = 20000) -> Path:
    """A well-formed ESP32 app image (esptool's own writer), as a MicroPython .bin starts."""
    from esptool.bin_image import ESP32FirmwareImage, ImageSegment

    image = ESP32FirmwareImage()
    image.entrypoint = 0x40080000
    image.segments = [
        ImageSegment(0x3FFB0000, bytes(range(256)) * (size // 512)),
        ImageSegment(0x40080000, b"\x5a\xa5" * (size // 4)),
    ]
    for segment in image.segments:
        segment.name = ".data"
    image.append_digest = True
    image.save(str(path))
    return path


def read_flash(url: str, address: int, size: int) -> bytes:
    """A few bytes back (the mock streams reads of up to a few dozen bytes only)."""
    with esptool_cmds.detect_chip(url, connect_mode="no-reset") as esp:
        esp = esptool_cmds.run_stub(esp)
        esptool_cmds.attach_flash(esp)
        return esptool_cmds.read_flash(esp, address, size, no_progress=True)


def verify(url: str, address: int, data: bytes) -> None:
    """esptool's verify-flash: the flash's MD5 (computed on the other side) against data's."""
    with esptool_cmds.detect_chip(url, connect_mode="no-reset") as esp:
        esp = esptool_cmds.run_stub(esp)
        esptool_cmds.attach_flash(esp)
        esptool_cmds.verify_flash(esp, [(address, data)])


def write_junk(url: str) -> None:
    with esptool_cmds.detect_chip(url, connect_mode="no-reset") as esp:
        esp = esptool_cmds.run_stub(esp)
        esptool_cmds.attach_flash(esp)
        esptool_cmds.write_flash(esp, [(JUNK_AT, b"old vault" * 100)], no_progress=True)


def test_flash_detects_erases_writes_and_the_bytes_are_there(rom, tmp_path):
    image = esp_image(tmp_path / "micropython.bin")
    write_junk(rom)
    board = boards.load("esp32_devkitc")
    done = flash(rom, board, image)
    assert done["chip"].startswith("ESP32-D0WD") and done["mac"].startswith("24:0a:c4")
    assert done["offset"] == 0x1000 and done["erased"]
    data = image.read_bytes()
    verify(rom, 0x1000, data)
    with pytest.raises(esptool_util.FatalError, match="Verification failed"):
        verify(rom, 0x1000, data[:-1] + bytes([data[-1] ^ 1]))  # the check can fail
    assert read_flash(rom, JUNK_AT, 16) == b"\xff" * 16  # erased


def test_flash_without_erase_keeps_the_rest_and_the_cli_reports(rom, tmp_path):
    image = esp_image(tmp_path / "micropython.bin", size=8000)
    write_junk(rom)
    result = CliRunner().invoke(
        cli,
        [
            "--port",
            rom,
            "flash",
            "--board",
            "esp32-devkitc",
            "--image",
            str(image),
            "--no-erase",
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    assert f"Flashed micropython.bin ({image.stat().st_size:,} bytes at 0x1000)" in result.output
    assert read_flash(rom, JUNK_AT, 9) == b"old vault"


def test_the_wrong_chip_is_refused_before_writing(tmp_path):
    image = esp_image(tmp_path / "micropython.bin")
    with mock_api.mock_bootloader(chip="esp32c3") as mock:
        with pytest.raises(InputError, match="is an ESP32-C3; esp32-devkitc has an ESP32"):
            flash(mock.url(), boards.load("esp32_devkitc"), image)


def test_images_are_checked_before_connecting(tmp_path):
    board = boards.load("esp32_devkitc")
    text = tmp_path / "notes.bin"
    text.write_bytes(b"PK\x03\x04 a zip, not firmware")
    with pytest.raises(InputError, match="not an ESP firmware image"):
        flash("/dev/null-port", board, text)
    huge = tmp_path / "huge.bin"
    huge.write_bytes(b"\xe9" + bytes(board.flash_bytes))
    with pytest.raises(InputError, match="has room for 4,190,208"):
        flash("/dev/null-port", board, huge)


def test_no_bootloader_on_the_port(tmp_path):
    image = esp_image(tmp_path / "micropython.bin")
    with pytest.raises(TransportError, match="no ESP bootloader answers on socket://127.0.0.1:9"):
        flash("socket://127.0.0.1:9", boards.load("esp32_devkitc"), image)


def test_an_unknown_board_lists_the_known_ones(tmp_path):
    with pytest.raises(InputError, match="no real board named 'pico'.*esp32_devkitc"):
        boards.load("pico")
