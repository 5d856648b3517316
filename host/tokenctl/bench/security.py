"""What the chip's eFuses protect, read with esptool's espefuse (`summary --format json`).

The checks are the ESP32's (design.md, security model): flash encryption, its key read
protection, the UART bootloader's encrypt/decrypt/cache access, secure boot, JTAG, the ROM
console. Each check says whether it holds and gives the espefuse command that fixes it.
Burning eFuses cannot be undone; the fixes are printed, never run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tokenctl.errors import InputError, TokenError, TransportError

SUPPORTED_CHIPS = ("esp32",)


class EfuseError(TokenError):
    """espefuse could not read the chip."""


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    state: str  # what the fuses say, in words
    fix: str  # commands, one a line ("" when nothing to do)
    required: bool = True  # False: advice, not a failure (e.g. it stops later flashing)


def read_efuses(
    port: str | None, chip: str = "esp32", virtual_file: Path | None = None,
    before: str = "default-reset", timeout_s: float = 120,
) -> dict:  # fmt: skip
    """espefuse's summary as a dict of fields; `virtual_file`: a virtual chip (espefuse --virt)."""
    if chip not in SUPPORTED_CHIPS:
        raise InputError(f"check-security knows the eFuses of {', '.join(SUPPORTED_CHIPS)} only")
    with tempfile.TemporaryDirectory(prefix="tokefuse-") as tmp:
        out = Path(tmp) / "summary.json"
        cmd = [sys.executable, "-m", "espefuse", "--chip", chip]
        if virtual_file is not None:
            cmd += ["--virt", "--path-efuse-file", str(virtual_file)]
        elif port:
            cmd += ["--port", port, "--before", before]
        else:
            raise TransportError("no port: name the board's port with --port")
        cmd += ["summary", "--format", "json", "--file", str(out)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise TransportError(f"espefuse got no answer on {port} in {timeout_s:.0f} s") from None
        if proc.returncode != 0 or not out.is_file():
            lines = (proc.stderr + proc.stdout).strip().splitlines()
            reason = next((ln for ln in reversed(lines) if ln.strip()), "no output")
            raise EfuseError(f"espefuse could not read the eFuses: {reason.strip()}")
        data = json.loads(out.read_text())
    return {name: field.get("value") for name, field in data.items()}


def checks(fuses: dict, port: str = "PORT") -> list[Check]:
    """The ESP32's security checks from its eFuse values."""
    ef = f"espefuse --chip esp32 --port {port}"

    def on(name: str) -> bool:
        value = fuses.get(name)
        if value is None:
            raise EfuseError(f"espefuse's summary has no {name} field (not an ESP32?)")
        return bool(value)

    def burned(title: str, fuse: str, risk: str, required: bool = True, before: str = "") -> Check:
        """A one-bit fuse that turns something off: on, or the risk and the command."""
        done = on(fuse)
        fix = "" if done else f"{before}{ef} burn-efuse {fuse} 1"
        return Check(title, done, f"{fuse} burned" if done else risk, fix, required=required)

    crypt_cnt = int(fuses.get("FLASH_CRYPT_CNT") or 0)
    encrypted = bin(crypt_cnt).count("1") % 2 == 1
    rd_dis = int(fuses.get("RD_DIS") or 0)
    secure_boot = on("ABS_DONE_1") or on("ABS_DONE_0")
    dl = [n for n in ("DISABLE_DL_ENCRYPT", "DISABLE_DL_DECRYPT", "DISABLE_DL_CACHE") if not on(n)]
    return [
        Check(
            "Flash encryption",
            encrypted,
            f"on (FLASH_CRYPT_CNT={crypt_cnt:#x})"
            if encrypted
            else f"off (FLASH_CRYPT_CNT={crypt_cnt:#x}): the vault's device key can be read "
            "from flash",
            "" if encrypted else (
                "# needs a MicroPython build for flash encryption (ESP-IDF\n"
                "# CONFIG_SECURE_FLASH_ENC_ENABLED, release mode); by hand, from the host:\n"
                "espsecure generate-flash-encryption-key flash_key.bin   # keep it offline\n"
                f"{ef} burn-key flash_encryption flash_key.bin\n"
                f"{ef} burn-efuse FLASH_CRYPT_CONFIG 0xF FLASH_CRYPT_CNT 1\n"
                "# then write every image with: esptool write-flash --encrypt ..."
            ),
        ),
        Check(
            "Flash encryption key unreadable",
            bool(rd_dis & 1),
            "read-protected (RD_DIS bit 0)" if rd_dis & 1 else "BLOCK1 can be read back",
            "" if rd_dis & 1 else f"{ef} read-protect-efuse BLOCK1",
        ),
        Check(
            "Download mode cannot decrypt flash",
            not dl,
            "UART bootloader encryption, decryption and cache are off"
            if not dl
            else f"{', '.join(dl)} not burned",
            "" if not dl else f"{ef} burn-efuse " + " ".join(f"{n} 1" for n in dl),
        ),
        Check(
            "Secure boot",
            secure_boot,
            "on (" + ("V2, ABS_DONE_1" if on("ABS_DONE_1") else "V1, ABS_DONE_0") + ")"
            if secure_boot
            else "off: any firmware can be flashed and run",
            "" if secure_boot else (
                "# needs a MicroPython build with a signed bootloader and app (ESP-IDF\n"
                "# CONFIG_SECURE_BOOT_V2_ENABLED; chip revision 3.0 or later)\n"
                "espsecure generate-signing-key --version 2 secure_boot_key.pem   # offline\n"
                f"{ef} burn-key-digest secure_boot_key.pem\n"
                "# flash the signed images, then (burning it first bricks the board):\n"
                f"{ef} burn-efuse ABS_DONE_1 1"
            ),
        ),
        burned("JTAG disabled", "JTAG_DISABLE", "JTAG is open: a debugger can read RAM (keys, "
               "PIN state)"),
        burned("ROM console disabled", "CONSOLE_DEBUG_DISABLE", "the ROM BASIC console can "
               "start"),
        burned("UART download mode disabled", "UART_DOWNLOAD_DIS", "esptool can still talk to "
               "the ROM bootloader (needed to flash over USB)", required=False,
               before="# last, and only for sealed units: no USB flashing ever after\n"),
    ]  # fmt: skip
