"""`bench check-security`: real espefuse on a virtual ESP32 (espefuse --virt keeps its eFuses
in a file; we burn them with espefuse itself), and over a serial port to the mock ROM
bootloader; the checks' logic on its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tokenctl.bench import security
from tokenctl.cli.main import cli
from tokenctl.errors import InputError, TransportError

pytest.importorskip("espefuse", reason="esptool (espefuse) missing")


def burn(efuse_file: Path, *args: str) -> None:
    """Burn eFuses of the virtual chip, as a bench operator would on a real one."""
    cmd = [sys.executable, "-m", "espefuse", "--chip", "esp32", "--virt", "--path-efuse-file",
           str(efuse_file), "--do-not-confirm", *args]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


def test_a_blank_chip_protects_nothing_and_says_how_to_fix_it(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "--port",
            "/dev/ttyUSB7",
            "bench",
            "check-security",
            "--virtual-efuses",
            str(tmp_path / "blank.bin"),
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    out = result.output
    for name in ("Flash encryption", "Secure boot", "JTAG disabled", "ROM console disabled"):
        assert name in out
    assert "NO" in out and "yes" not in out
    assert "burn-efuse FLASH_CRYPT_CONFIG 0xF FLASH_CRYPT_CNT 1" in out
    assert "burn-efuse JTAG_DISABLE 1" in out and "burn-efuse ABS_DONE_1 1" in out
    assert "burning eFuses cannot be undone" in out
    strict = runner.invoke(
        cli, ["bench", "check-security", "--require", "--virtual-efuses", str(tmp_path / "b.bin")]
    )
    assert strict.exit_code != 0 and "not protected: Flash encryption" in str(strict.exception)


def test_burned_fuses_show_as_protected(tmp_path):
    efuses = tmp_path / "chip.bin"
    key = tmp_path / "key.bin"
    key.write_bytes(bytes(range(32)))
    burn(efuses, "burn-key", "flash_encryption", str(key))  # read- and write-protects it
    burn(efuses, "burn-efuse", "FLASH_CRYPT_CONFIG", "0xF", "FLASH_CRYPT_CNT", "1",
         "JTAG_DISABLE", "1", "DISABLE_DL_ENCRYPT", "1", "DISABLE_DL_DECRYPT", "1",
         "DISABLE_DL_CACHE", "1", "CONSOLE_DEBUG_DISABLE", "1")  # fmt: skip
    found = {c.name: c for c in security.checks(security.read_efuses(None, virtual_file=efuses))}
    assert found["Flash encryption"].ok and found["Flash encryption"].fix == ""
    assert found["Flash encryption key unreadable"].ok
    assert found["Download mode cannot decrypt flash"].ok
    assert found["JTAG disabled"].ok and found["ROM console disabled"].ok
    assert not found["Secure boot"].ok and "burn-key-digest" in found["Secure boot"].fix
    assert not found["UART download mode disabled"].required
    result = CliRunner().invoke(
        cli, ["--json", "bench", "check-security", "--virtual-efuses", str(efuses)]
    )
    assert '"protected": true' in result.output and str(bytes(range(32))) not in result.output


def test_over_a_serial_port_to_the_rom_bootloader(tmp_path, monkeypatch):
    mock_api = pytest.importorskip("esp32_mock_bootloader")
    monkeypatch.setenv("ESP32_MOCK_BOOTLOADER_STATE_DIR", str(tmp_path / "mockstate"))
    with mock_api.mock_bootloader(chip="esp32") as mock:
        fuses = security.read_efuses(mock.url(), "esp32", before="no-reset")
    checks = security.checks(fuses, "socket://x")
    assert not any(c.ok for c in checks)  # the mock's chip is a blank one
    assert "espefuse --chip esp32 --port socket://x burn-efuse JTAG_DISABLE 1" in checks[4].fix


def test_the_checks_logic():
    blank = {n: 0 for n in ("ABS_DONE_0", "ABS_DONE_1", "JTAG_DISABLE", "DISABLE_DL_ENCRYPT",
                            "DISABLE_DL_DECRYPT", "DISABLE_DL_CACHE", "CONSOLE_DEBUG_DISABLE",
                            "UART_DOWNLOAD_DIS", "FLASH_CRYPT_CNT", "RD_DIS")}  # fmt: skip
    by_name = {c.name: c for c in security.checks({**blank, "FLASH_CRYPT_CNT": 0b11})}
    assert not by_name["Flash encryption"].ok  # an even count: turned off again
    by_name = {c.name: c for c in security.checks({**blank, "FLASH_CRYPT_CNT": 0b111})}
    assert by_name["Flash encryption"].ok
    v1 = {c.name: c for c in security.checks({**blank, "ABS_DONE_0": True})}
    assert v1["Secure boot"].ok and "V1" in v1["Secure boot"].state
    with pytest.raises(security.EfuseError, match="no JTAG_DISABLE field"):
        security.checks({k: v for k, v in blank.items() if k != "JTAG_DISABLE"})


def test_bad_inputs():
    with pytest.raises(InputError, match="esp32 only"):
        security.read_efuses("/dev/ttyUSB0", "esp32s3")
    with pytest.raises(TransportError, match="no port"):
        security.read_efuses(None)
    with pytest.raises(security.EfuseError, match="could not read the eFuses"):
        security.read_efuses("socket://127.0.0.1:9", before="no-reset", timeout_s=60)
