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
        "-p",
        "authtok",
        "-p",
        "drivers",
    ]
    return subprocess.call(cmd, cwd=ROOT / "firmware", env=env)


if __name__ == "__main__":
    sys.exit(main())
