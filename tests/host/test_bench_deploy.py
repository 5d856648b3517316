"""`deploy`: the firmware compiled for the ESP32 and copied with real mpremote to a real
MicroPython REPL (the unix port behind a pty, in a folder that stands for the board's flash),
then every file's SHA-256 read back on that MicroPython."""

from __future__ import annotations

import hashlib
import os
import pty
import select
import subprocess
import threading
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenctl.bench import boards
from tokenctl.bench import deploy as dep
from tokenctl.errors import TransportError
from tokenctl.sim.build import find_tool


class BareBoard:
    """A board running plain MicroPython: its REPL on a pty that mpremote opens like a USB
    serial port. (The unix port exits on a soft reset, so deploy runs with soft_reset=False.)"""

    def __init__(self, root: Path) -> None:
        self.root = root
        mp_master, mp_slave = pty.openpty()
        self.master, slave = pty.openpty()
        tty.setraw(mp_slave)
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        self.proc = subprocess.Popen(
            [find_tool("micropython")], stdin=mp_slave, stdout=mp_slave, stderr=mp_slave, cwd=root
        )
        self.fds = [mp_master, mp_slave, self.master, slave]
        self.stopping = threading.Event()
        for a, b in ((mp_master, self.master), (self.master, mp_master)):
            threading.Thread(target=self.relay, args=(a, b), daemon=True).start()

    def relay(self, src: int, dst: int) -> None:
        while not self.stopping.is_set():
            if select.select([src], [], [], 0.05)[0]:
                try:
                    os.write(dst, os.read(src, 4096))
                except OSError:
                    return

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.stopping.set()
        for fd in self.fds:
            os.close(fd)


@pytest.fixture
def bare(tmp_path) -> Iterator[BareBoard]:
    root = tmp_path / "flash"
    root.mkdir()
    board = BareBoard(root)
    yield board
    board.stop()


def test_deploy_copies_verifies_and_cleans(bare, tmp_path):
    (bare.root / "authtok").mkdir()
    (bare.root / "authtok" / "old_module.py").write_text("x = 1\n")  # would shadow an .mpy
    (bare.root / "flash").mkdir()
    (bare.root / "flash" / "vault.bin").write_bytes(b"sealed accounts")  # the token's data
    board = boards.load("esp32_devkitc")
    logged: list[str] = []
    done = dep.deploy(bare.port, board, soft_reset=False, reset=False, log=logged.append)
    built = dep.build(board, tmp_path / "again")
    assert done["files"] == len(built) and done["verified"] and not done["reset"]
    for f in built:
        on_board = bare.root / f.remote
        assert hashlib.sha256(on_board.read_bytes()).hexdigest() == f.sha256, f.remote
    assert (bare.root / "main.py").read_text().startswith('"""Boot')  # source, run by name
    assert (bare.root / "authtok" / "otp.mpy").read_bytes()[:2] == b"M\x06"
    assert (bare.root / "board.mpy").is_file() and (bare.root / "board.json").is_file()
    assert not (bare.root / "authtok" / "old_module.py").exists()
    assert (bare.root / "flash" / "vault.bin").read_bytes() == b"sealed accounts"
    assert any(line.startswith("cp ") for line in logged)


def test_the_command_soft_resets_first_and_resets_last(tmp_path):
    files = dep.build(boards.load("esp32_devkitc"), tmp_path)
    cmd = dep.mpremote_command("/dev/ttyUSB0", files)
    assert cmd[2:6] == ["mpremote", "connect", "/dev/ttyUSB0", "exec"]  # no resume
    assert cmd[-2:] == ["+", "reset"]
    copies = [cmd[i + 2] for i, part in enumerate(cmd) if part == "cp"]
    assert ":main.py" in copies and ":authtok/otp.mpy" in copies and ":board.json" in copies


def test_a_file_that_differs_on_the_board_fails_the_deploy():
    def board_reports_wrong_hashes(cmd, **kw):
        keep = eval(next(p for p in cmd if p.startswith("KEEP = ")).split("\n")[0][7:])
        hashes = {name: "00" * 32 for name in keep}
        out = dep.MARK + __import__("json").dumps(hashes) + "\n"
        return subprocess.CompletedProcess(cmd, 0, out, "")

    with pytest.raises(dep.DeployError, match="files differ on the board"):
        dep.deploy("/dev/ttyUSB0", boards.load("esp32_devkitc"), run=board_reports_wrong_hashes)


def test_no_repl_on_the_port(tmp_path):
    with pytest.raises(TransportError, match="no MicroPython REPL on /dev/ttyNOPE"):
        dep.deploy(str(Path("/dev/ttyNOPE")), boards.load("esp32_devkitc"), log=lambda s: None)
