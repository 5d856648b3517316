"""Simulated tokens running in the background, one supervisor process each.

Each running simulator has a record `<registry>/sims/<id>.json` (written by the supervisor once
its port exists, removed when it exits) and a unix control socket taking one-line JSON commands.
The registry is $TOKENCTL_STATE_DIR, else ~/.local/state/tokenctl. A simulator started without a
state folder gets a new one, `sims/<id>/`.
"""

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tokenctl.errors import EXIT_NOT_FOUND, InputError, TokenError, TransportError

_spawned: dict[int, subprocess.Popen] = {}  # our own children, so that we can reap them


class SimNotFound(TokenError):
    """No running simulator matches, or none is running."""

    exit_code = EXIT_NOT_FOUND


def registry_dir() -> Path:
    base = os.environ.get("TOKENCTL_STATE_DIR") or Path.home() / ".local" / "state" / "tokenctl"
    return Path(base) / "sims"


def record_path(sim_id: str) -> Path:
    return registry_dir() / f"{sim_id}.json"


def log_path(sim_id: str) -> Path:
    return registry_dir() / f"{sim_id}.log"


def control_path(sim_id: str) -> Path:
    path = registry_dir() / f"{sim_id}.sock"
    if len(os.fsencode(path)) > 100:  # unix socket paths are limited to ~107 bytes
        path = Path(tempfile.gettempdir()) / f"tokenctl-{os.getuid()}-{sim_id}.sock"
    return path


def write_record(record: dict) -> None:
    path = record_path(record["id"])
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, path)


def _remove(record: dict) -> None:
    for path in (record_path(record["id"]), Path(record["control"]), log_path(record["id"])):
        path.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    if pid in _spawned:
        return _spawned[pid].poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def list_running() -> list[dict]:
    """Records of the simulators running now; stale records are removed."""
    records = []
    for path in sorted(registry_dir().glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being written or removed
        if _pid_alive(record["pid"]):
            records.append(record)
        else:
            _remove(record)
    return sorted(records, key=lambda r: r.get("started", 0))


def describe(record: dict) -> str:
    return f"{record['id']} on {record['port']} (state {record['state_dir']})"


def find(id_or_port: str) -> dict:
    """The running simulator with this id (or unique id prefix), port or state folder."""
    running = list_running()
    for record in running:
        if id_or_port in (record["id"], record["port"]):
            return record
    if os.path.isdir(id_or_port):
        for record in running:
            if Path(record["state_dir"]) == Path(id_or_port).resolve():
                return record
    matches = [r for r in running if r["id"].startswith(id_or_port)]
    if len(matches) == 1:
        return matches[0]
    raise SimNotFound(f"no running simulator matches {id_or_port!r}")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def start_background(
    state_dir=None,
    baud=None,
    heap=None,
    tcp=False,
    timeout=20,
    entry="main",
    extra_path=None,
) -> dict:
    """Start a supervisor in the background; returns its record once the port exists."""
    if heap is None:
        from tokenctl.sim.token import DEFAULT_HEAP

        heap = DEFAULT_HEAP
    if not re.fullmatch(r"\d+[KkMm]?", str(heap)):
        raise InputError(f"bad heap size {heap!r} (e.g. 128K, 2M)")
    if baud is not None and baud < 10:
        raise InputError(f"bad baud rate {baud}")
    sims = registry_dir()
    sims.mkdir(parents=True, exist_ok=True)
    sim_id = secrets.token_hex(3)
    while record_path(sim_id).exists() or (sims / sim_id).exists():
        sim_id = secrets.token_hex(3)
    state = Path(state_dir).resolve() if state_dir else sims / sim_id
    for record in list_running():
        if Path(record["state_dir"]) == state:
            raise TokenError(f"{state} is already in use by simulator {describe(record)}")
    cmd = [sys.executable, "-m", "tokenctl.sim.supervisor", "--id", sim_id, "--state", str(state)]
    cmd += ["--heap", str(heap), "--entry", entry]
    cmd += ["--baud", str(baud)] if baud else []
    cmd += ["--tcp"] if tcp else []
    cmd += ["--extra-path", str(extra_path)] if extra_path else []
    with open(log_path(sim_id), "wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    _spawned[proc.pid] = proc
    deadline = time.monotonic() + timeout
    while not record_path(sim_id).exists():
        if proc.poll() is not None:
            details = "\n".join(
                t for t in (_tail(log_path(sim_id)), _tail(state / "console.log")) if t
            )
            log_path(sim_id).unlink(missing_ok=True)
            raise TokenError(f"the simulator failed to start:\n{details}".rstrip())
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise TokenError(f"the simulator did not start within {timeout} s")
        time.sleep(0.05)
    return json.loads(record_path(sim_id).read_text())


def stop(record: dict, timeout: float = 10) -> None:
    """SIGTERM the supervisor (it stops its token and removes its record); SIGKILL if stuck."""
    pid = record["pid"]
    if _pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)  # the supervisor leads its session and the token
            except ProcessLookupError:
                pass
            while _pid_alive(pid):
                time.sleep(0.05)
    _remove(record)


def control(record: dict, cmd: str, timeout: float = 10, **args) -> dict:
    """Send one command to a simulator's supervisor; returns its reply (raises on an error)."""
    request = json.dumps({"cmd": cmd, **args}).encode() + b"\n"
    reply = b""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(record["control"])
            sock.sendall(request)
            while not reply.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
    except OSError as exc:
        raise TransportError(f"simulator {record['id']} does not answer: {exc}") from None
    try:
        answer = json.loads(reply)
    except ValueError:
        raise TransportError(f"simulator {record['id']} sent a bad reply: {reply!r}") from None
    if not answer.get("ok"):
        raise TokenError(f"simulator {record['id']}: {answer.get('error', 'failed')}")
    return answer
