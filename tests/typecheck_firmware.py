"""Type-check firmware/ against MicroPython's own stubs (micropython-esp32-stubs).

mypy sees the ESP32 port's modules (machine, cryptolib, hashlib, time, ...) and MicroPython's
stdlib in place of CPython's, so a CPython-only call in the firmware fails here.
"""

import importlib.metadata
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    site = Path(sysconfig.get_paths()["purelib"])
    stubs = ROOT / "build" / "mpstubs"
    shutil.rmtree(stubs, ignore_errors=True)
    stubs.mkdir(parents=True)
    for f in importlib.metadata.files("micropython-esp32-stubs") or []:
        if f.suffix == ".pyi" and len(f.parts) == 1:
            shutil.copy(site / f, stubs / f.name)
    env = dict(os.environ, MYPYPATH=str(stubs))
    cmd = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(ROOT / "firmware" / "mypy.ini"),
        "--check-untyped-defs",
        "--python-version",
        "3.11",
        "--custom-typeshed-dir",
        str(site),
        "--disable-error-code",
        "import-untyped",
        "authtok",
        "drivers",
        "main.py",
        str(ROOT / "boards" / "esp32_devkitc" / "board.py"),
    ]
    proc = subprocess.run(cmd, cwd=ROOT / "firmware", env=env, capture_output=True, text=True)
    # The stubs themselves have a few typing slips (machine.pyi): judge only our own files.
    ours = [line for line in proc.stdout.splitlines() if str(stubs) not in line]
    errors = [line for line in ours if ": error:" in line]
    print("\n".join(line for line in ours if not line.startswith(("Found ", "Success"))))
    print(f"firmware type check against the MicroPython stubs: {len(errors)} error(s)")
    return 1 if errors or proc.returncode not in (0, 1) else 0


if __name__ == "__main__":
    sys.exit(main())
