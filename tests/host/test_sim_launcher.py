"""The simulator launcher: build cache, pty/TCP relay, baud throttling, power cycles, registry, CLI.

Everything runs against a small fake repository (TOKENCTL_ROOT) whose "firmware" is an echo
program, so these tests do not depend on the real firmware being ready.
"""

import json
import os
import shutil
import time
from pathlib import Path

import pytest
import serial
from click.testing import CliRunner

from tokenctl.cli.sim import sim
from tokenctl.errors import InputError, TokenError
from tokenctl.sim import registry
from tokenctl.sim.build import BuildError, build_firmware
from tokenctl.sim.token import SimToken

ECHO = Path(__file__).with_name("mp_echo.py")


@pytest.fixture
def root(tmp_path, monkeypatch):
    """A fake repository whose firmware echoes, and a private registry; no sim outlives a test."""
    repo = tmp_path / "repo"
    (repo / "firmware" / "authtok").mkdir(parents=True)
    (repo / "boards" / "sim").mkdir(parents=True)
    shutil.copy(ECHO, repo / "firmware" / "main.py")
    (repo / "firmware" / "authtok" / "__init__.py").write_text("")
    (repo / "firmware" / "authtok" / "util.py").write_text("def f():\n    return 1\n")
    (repo / "boards" / "sim" / "board.py").write_text("name = 'sim'\n")
    monkeypatch.setenv("TOKENCTL_ROOT", str(repo))
    monkeypatch.setenv("TOKENCTL_STATE_DIR", str(tmp_path / "registry"))
    yield repo
    leftovers = registry.list_running()
    for record in leftovers:
        registry.stop(record)
    assert not leftovers, "a test left simulators running"


@pytest.fixture
def echo_path(tmp_path):
    path = tmp_path / "extra"
    path.mkdir()
    shutil.copy(ECHO, path / "echo_entry.py")
    return path


@pytest.fixture
def make_token(root, echo_path, tmp_path):
    tokens = []

    def make(name="token", **kwargs):
        kwargs.setdefault("entry", "echo_entry")
        kwargs.setdefault("extra_path", echo_path)
        token = SimToken(tmp_path / name, **kwargs)
        tokens.append(token)
        return token.start()

    yield make
    for token in tokens:
        token.stop()


def echo(port, data, timeout=5):
    with serial.serial_for_url(port, timeout=timeout) as ser:
        ser.write(data)
        return ser.read(len(data))


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


# --- build ---------------------------------------------------------------------------------


def test_build_keeps_packages_and_caches(root):
    out = build_firmware()
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.mpy"))
    assert names == ["authtok/__init__.mpy", "authtok/util.mpy", "board.mpy", "main.mpy"]
    assert out.parent == root / "build"
    assert build_firmware() == out  # cached
    (root / "firmware" / "authtok" / "util.py").write_text("def f():\n    return 2\n")
    assert build_firmware() != out


def test_build_reports_compile_errors(root):
    (root / "boards" / "sim" / "broken.py").write_text("def f(:\n")
    with pytest.raises(BuildError, match="(?s)broken.py.*SyntaxError"):
        build_firmware()
    assert not list((root / "build").glob(".sim-tmp-*"))


# --- SimToken --------------------------------------------------------------------------------


def test_echo_over_pty(make_token, tmp_path):
    token = make_token()
    assert token.port.startswith("/dev/") and token.alive() and token.pid
    assert echo(token.port, b"hello") == b"HELLO"
    assert echo(token.port, bytes(range(256))) == bytes(range(256)).upper()  # raw: no mangling
    assert (tmp_path / "token" / "console.log").exists()


def test_baud_throttles_both_directions(make_token):
    slow = make_token("slow", baud=9600)  # 960 bytes/s
    data = bytes(range(97, 123)) * 77  # 2002 bytes
    with serial.serial_for_url(slow.port, timeout=10) as ser:
        begin = time.monotonic()
        ser.write(data)
        got = ser.read(len(data))
        elapsed = time.monotonic() - begin
    assert got == data.upper()
    assert 1.9 <= elapsed < 5, elapsed

    fast = make_token("fast")
    begin = time.monotonic()
    assert echo(fast.port, data) == data.upper()
    assert time.monotonic() - begin < 1.5


def test_power_cut_keeps_port_and_drops_bytes(make_token):
    token = make_token()
    port, pid = token.port, token.pid
    with serial.serial_for_url(port, timeout=3) as ser:
        ser.write(b"a")
        assert ser.read(1) == b"A"
        token.power_cut()
        assert not token.alive() and token.pid is None and gone(pid)
        ser.write(b"lost while off")
        time.sleep(0.3)
        token.power_on()
        assert token.port == port and token.pid not in (None, pid)
        ser.write(b"b")
        assert ser.read(1) == b"B"
        ser.timeout = 0.3
        assert ser.read(100) == b""  # nothing of what was sent while off
        token.restart()
        ser.timeout = 3
        ser.write(b"c")
        assert ser.read(1) == b"C"


def test_tcp_mode_one_client_at_a_time(make_token):
    token = make_token(tcp=True)
    assert token.port.startswith("socket://127.0.0.1:")
    assert echo(token.port, b"first") == b"FIRST"
    assert echo(token.port, b"second client") == b"SECOND CLIENT"
    token.restart()
    assert echo(token.port, b"after") == b"AFTER"


def test_state_dir_is_locked(make_token):
    make_token("shared")
    with pytest.raises(TokenError, match="in use"):
        make_token("shared")


def test_stop_leaves_no_process(make_token):
    token = make_token()
    pid = token.pid
    token.stop()
    assert gone(pid) and not token.alive()


# --- background supervisor and registry ------------------------------------------------------


def test_background_two_sims(root, echo_path):
    one = registry.start_background(entry="echo_entry", extra_path=echo_path)
    two = registry.start_background(entry="echo_entry", extra_path=echo_path, baud=115200)
    assert {r["id"] for r in registry.list_running()} == {one["id"], two["id"]}
    assert Path(one["state_dir"]) == registry.registry_dir() / one["id"]
    assert echo(one["port"], b"one") == b"ONE"
    assert echo(two["port"], b"two") == b"TWO"

    status = registry.control(one, "status")
    assert status["alive"] and status["port"] == one["port"] and status["firmware_pid"]
    registry.control(one, "power_cut")
    assert registry.control(one, "status")["alive"] is False
    assert registry.control(one, "power_on")["alive"]
    assert echo(one["port"], b"back") == b"BACK"
    with pytest.raises(TokenError, match="unknown command"):
        registry.control(one, "fly")

    assert registry.find(two["port"])["id"] == two["id"]
    assert registry.find(two["id"][:4])["id"] == two["id"] or two["id"][:4] == one["id"][:4]
    firmware_pid = registry.control(two, "status")["firmware_pid"]
    registry.stop(two)
    assert gone(two["pid"]) and gone(firmware_pid)
    assert not registry.record_path(two["id"]).exists()
    assert [r["id"] for r in registry.list_running()] == [one["id"]]
    registry.control(one, "stop")
    deadline = time.monotonic() + 10
    while registry.list_running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert registry.list_running() == []


def test_background_refuses_a_state_dir_in_use(root, tmp_path):
    flash = tmp_path / "flash"
    record = registry.start_background(state_dir=flash, tcp=True)
    assert echo(record["port"], b"tcp") == b"TCP"
    with pytest.raises(TokenError, match="already in use"):
        registry.start_background(state_dir=flash)
    registry.stop(record)


def test_background_start_failure_is_reported(root):
    (root / "firmware" / "authtok" / "util.py").write_text("def f(:\n")
    with pytest.raises(TokenError, match="(?s)failed to start.*SyntaxError"):
        registry.start_background()
    with pytest.raises(InputError):
        registry.start_background(heap="lots")


def test_stale_records_are_dropped(root):
    registry.registry_dir().mkdir(parents=True)
    stale = {"id": "dead00", "pid": 2**22 + 12345, "port": "/dev/pts/999", "control": "/nonexist"}
    registry.write_record(stale)
    assert registry.list_running() == []
    assert not registry.record_path("dead00").exists()


# --- CLI ---------------------------------------------------------------------------------------


def test_cli(root):
    runner = CliRunner()
    started = runner.invoke(sim, ["start", "--json"])
    assert started.exit_code == 0, started.output
    info = json.loads(started.stdout)
    assert set(info) == {"port", "id", "state_dir", "pid"}
    assert echo(info["port"], b"cli") == b"CLI"

    listed = json.loads(runner.invoke(sim, ["list", "--json"]).stdout)
    assert [(r["id"], r["power"]) for r in listed] == [(info["id"], "on")]
    assert runner.invoke(sim, ["power-cut"]).exit_code == 0
    assert json.loads(runner.invoke(sim, ["list", "--json"]).stdout)[0]["power"] == "off"
    assert runner.invoke(sim, ["power-on", info["id"]]).exit_code == 0
    assert runner.invoke(sim, ["restart", info["port"]]).exit_code == 0
    assert echo(info["port"], b"again") == b"AGAIN"
    table = runner.invoke(sim, ["list"])
    assert info["id"] in table.stdout and "on" in table.stdout

    second = runner.invoke(sim, ["start"])
    assert second.exit_code == 0 and second.stdout.strip().startswith("/dev/")
    ambiguous = runner.invoke(sim, ["stop"])
    assert isinstance(ambiguous.exception, InputError)
    assert info["id"] in str(ambiguous.exception)
    assert runner.invoke(sim, ["stop", info["id"]]).exit_code == 0
    assert runner.invoke(sim, ["stop"]).exit_code == 0
    assert registry.list_running() == []
    assert isinstance(runner.invoke(sim, ["stop"]).exception, registry.SimNotFound)
    assert runner.invoke(sim, ["stop", "--all"]).exit_code == 0
