"""Deploy the firmware to a board running MicroPython: mpy-cross, mpremote, hash check, reset.

`build` compiles firmware/ for the board's CPU (mpy-cross -march, e.g. xtensawin) into the
device's layout: package modules as .mpy, main.py as source (MicroPython runs it by name), the
board's board.py as board.mpy and its board.json. `deploy` copies that with mpremote (which
skips files whose hash already matches), removes stale modules from the firmware's package
folders (a stale .py would shadow its .mpy), reads back every file's SHA-256 on the device,
and resets the board. It needs MicroPython's REPL: our firmware turns Ctrl-C off, so a board
that runs it already is flashed again first (`tokenctl flash` erases it).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tokenctl.bench.boards import Board
from tokenctl.errors import TokenError, TransportError
from tokenctl.sim.build import BuildError, build_once, find_tool, repo_root

PACKAGES = ("authtok", "drivers")  # the firmware's folders on the device; nothing else is removed
MARK = "TOKENCTL-HASHES:"
TIMEOUT_S = 300

# Runs on the device: drop stale modules, then report the SHA-256 of every deployed file.
_VERIFY = """\
import os, hashlib, binascii, json
keep = set(KEEP)
for d in PACKAGES:
    for name in os.listdir(d):
        if d + '/' + name not in keep:
            os.remove(d + '/' + name)
def h(p):
    s = hashlib.sha256()
    try:
        with open(p, 'rb') as f:
            while True:
                b = f.read(512)
                if not b:
                    break
                s.update(b)
    except OSError:
        return None
    return binascii.hexlify(s.digest()).decode()
print(MARK + json.dumps(dict((p, h(p)) for p in KEEP)))
"""


class DeployError(TokenError):
    """mpremote failed, or a file on the board does not match what was sent."""


@dataclass(frozen=True)
class DeployFile:
    local: Path
    remote: str  # relative to the device's root, e.g. "authtok/otp.mpy"
    sha256: str


def build(board: Board, out: Path | None = None, root: Path | None = None) -> list[DeployFile]:
    """Compile the firmware for `board` into `out` (default: build/deploy-BOARD-HASH under
    the repository, reused while the sources and mpy-cross stay the same); the files."""
    root = root or repo_root()
    mpy_cross = find_tool("mpy-cross")
    firmware = root / "firmware"
    jobs: list[tuple[Path, str]] = []
    for src in sorted(firmware.rglob("*.py")):
        rel = src.relative_to(firmware)
        if "__pycache__" in rel.parts or rel.parts[0].startswith("."):
            continue
        remote = rel.as_posix() if rel.as_posix() == "main.py" else rel.with_suffix(".mpy")
        jobs.append((src, str(remote)))
    jobs.append((board.folder / "board.py", "board.mpy"))
    jobs.append((board.folder / "board.json", "board.json"))
    if out is not None:
        _compile_all(mpy_cross, board, jobs, out)
    else:
        version = subprocess.run([mpy_cross, "--version"], capture_output=True, text=True).stdout
        digest = hashlib.sha256(f"{version}{board.mpy_march}".encode())
        for src, remote in jobs:
            digest.update(remote.encode() + b"\0" + src.read_bytes() + b"\0")
        out = root / "build" / f"deploy-{board.folder.name}-{digest.hexdigest()[:16]}"
        build_once(out, lambda tmp: _compile_all(mpy_cross, board, jobs, tmp))
    return [
        DeployFile(out / remote, remote, hashlib.sha256((out / remote).read_bytes()).hexdigest())
        for _, remote in jobs
    ]


def _compile_all(mpy_cross: str, board: Board, jobs: list[tuple[Path, str]], out: Path) -> None:
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(lambda job: _build_one(mpy_cross, board, out, *job), jobs))


def _build_one(mpy_cross: str, board: Board, out: Path, src: Path, remote: str) -> None:
    dest = out / remote
    dest.parent.mkdir(parents=True, exist_ok=True)
    if remote.endswith(".mpy"):
        source_name = remote[: -len(".mpy")] + ".py"
        cmd = [mpy_cross, f"-march={board.mpy_march}", "-o", str(dest), "-s", source_name, str(src)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f"mpy-cross failed on {src}:\n{(proc.stderr or proc.stdout).strip()}")
    else:
        dest.write_bytes(src.read_bytes())


def mpremote_command(
    port: str, files: list[DeployFile], soft_reset: bool = True, reset: bool = True
) -> list[str]:
    """One mpremote run: make the folders, copy, clean and hash, reset."""
    cmd = [sys.executable, "-m", "mpremote", "connect", port]
    if not soft_reset:
        cmd.append("resume")  # no Ctrl-D first (the MicroPython unix port exits on it)
    mkdirs = f"import os\nfor d in {PACKAGES!r}:\n try:\n  os.mkdir(d)\n except OSError:\n  pass"
    cmd += ["exec", mkdirs]
    for f in files:
        cmd += ["+", "fs", "cp", str(f.local), ":" + f.remote]
    keep = [f.remote for f in files]
    script = f"KEEP = {keep!r}\nPACKAGES = {PACKAGES!r}\nMARK = {MARK!r}\n" + _VERIFY
    cmd += ["+", "exec", script]
    if reset:
        cmd += ["+", "reset"]
    return cmd


def deploy(
    port: str,
    board: Board,
    root: Path | None = None,
    soft_reset: bool = True,
    reset: bool = True,
    log: Callable[[str], None] | None = None,
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
) -> dict:
    """Build, copy, verify by hash and reset; returns a summary. `run` is for tests."""
    log = log or (lambda line: print(line, file=sys.stderr))
    files = build(board, root=root)
    total = sum(f.local.stat().st_size for f in files)
    cmd = mpremote_command(port, files, soft_reset=soft_reset, reset=reset)
    try:
        proc = run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise TransportError(f"mpremote got no answer from {port} in {TIMEOUT_S} s") from None
    hashes = None
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            hashes = json.loads(line[len(MARK) :])
        elif line.strip():
            log(line)
    if proc.returncode != 0 and hashes is None:
        raise _failure(port, proc)
    if hashes is None:
        raise DeployError("the board did not report the files' hashes")
    wrong = [f.remote for f in files if hashes.get(f.remote) != f.sha256]
    if wrong:
        raise DeployError(
            f"{len(wrong)} files differ on the board after copying: {', '.join(wrong[:5])}"
        )
    if proc.returncode != 0:  # copied and verified; the reset failed
        raise _failure(port, proc, "the files are on the board and verified, but the reset failed")
    return {
        "port": port,
        "board": board.name,
        "files": len(files),
        "bytes": total,
        "verified": True,
        "reset": reset,
    }


def _failure(port: str, proc: subprocess.CompletedProcess, what: str = "") -> TokenError:
    lines = [ln.strip() for ln in (proc.stderr + "\n" + proc.stdout).splitlines() if ln.strip()]
    reason = lines[-1] if lines else f"mpremote exited with {proc.returncode}"
    if "could not enter raw repl" in reason or "failed to access" in reason:
        return TransportError(
            f"no MicroPython REPL on {port} ({reason}). A board that runs the token firmware "
            "ignores Ctrl-C: flash MicroPython again first (tokenctl flash)"
        )
    return DeployError(f"{what or 'mpremote failed'}: {reason}")
