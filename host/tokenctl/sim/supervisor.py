"""Run one simulated token in the background until SIGTERM (started by registry.start_background).

    python -m tokenctl.sim.supervisor --state DIR [--baud N] [--heap SIZE] [--tcp] [--id ID]

Writes the registry record once the port exists and removes it on exit. Serves a unix control
socket: one JSON line in ({"cmd": "status", ...}), one JSON line out ({"ok": true, ...} or
{"ok": false, "error": "..."}). A new command is one function decorated with @command("name").
"""

import argparse
import json
import os
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable

from tokenctl.errors import TokenError
from tokenctl.sim import registry
from tokenctl.sim.token import DEFAULT_HEAP, SimToken

HANDLERS: dict[str, Callable[["Supervisor", dict], dict]] = {}


def command(name):
    """Register `handler(supervisor, args: dict) -> dict` for {"cmd": name, **args}."""

    def register(handler):
        HANDLERS[name] = handler
        return handler

    return register


@command("status")
def _status(sup, args):
    token = sup.token
    alive = token.alive()
    return {
        **sup.record,
        "alive": alive,
        "firmware_pid": token.pid,
        "exit_code": None if alive else token.exit_code,
    }


@command("power_cut")
def _power_cut(sup, args):
    sup.token.power_cut()
    return {"alive": False}


@command("power_on")
def _power_on(sup, args):
    sup.token.power_on()
    return {"alive": sup.token.alive(), "firmware_pid": sup.token.pid}


@command("restart")
def _restart(sup, args):
    sup.token.restart()
    return {"alive": sup.token.alive(), "firmware_pid": sup.token.pid}


@command("clock")
def _clock(sup, args):
    try:
        return {"rtc": sup.token.parts.clock(args.get("op", "show"), args.get("value"))}
    except ValueError as e:
        return {"ok": False, "error": str(e)}


@command("screenshot")
def _screenshot(sup, args):
    try:
        size = sup.token.parts.screenshot(args["path"], int(args.get("scale", 4)))
    except (KeyError, ValueError, OSError) as e:
        return {"ok": False, "error": f"screenshot failed: {e}"}
    return {"path": args["path"], "size": list(size)}


@command("finger")
def _finger(sup, args):
    try:
        sup.token.parts.finger(args.get("action", ""), args.get("id"))
    except ValueError as e:
        return {"ok": False, "error": str(e)}
    return {}


@command("press")
def _press(sup, args):
    try:
        sup.token.parts.press(args.get("button", ""), 1.2 if args.get("long") else 0.15)
    except ValueError as e:
        return {"ok": False, "error": str(e)}
    return {}


@command("ble")
def _ble(sup, args):
    """A BLE central's action on the token's radio (tokenctl.push.link.SimLink)."""
    from tokenctl.sim.radio import RadioError

    action = args.pop("action", "")
    args.pop("cmd", None)
    try:
        return sup.token.parts.ble.control(action, **args)
    except RadioError as e:
        return {"ok": False, "error": str(e)}


@command("stop")
def _stop(sup, args):
    sup.stopping.set()
    return {}


class Supervisor:
    def __init__(self, token: SimToken, sim_id: str):
        self.token, self.id = token, sim_id
        self.stopping = threading.Event()
        self.record: dict = {}

    def handle(self, line: bytes) -> dict:
        try:
            request = json.loads(line)
            handler = HANDLERS.get(request.get("cmd"))
            if handler is None:
                return {"ok": False, "error": f"unknown command {request.get('cmd')!r}"}
            return {"ok": True, **handler(self, request)}
        except (ValueError, AttributeError) as exc:
            return {"ok": False, "error": f"bad request: {exc}"}
        except TokenError as exc:
            return {"ok": False, "error": str(exc)}

    def serve(self, server: socket.socket) -> None:
        server.settimeout(0.2)
        was_alive = True
        while not self.stopping.is_set():
            alive = self.token.alive()
            if was_alive and not alive and self.token.exit_code is not None:
                print(f"firmware exited with code {self.token.exit_code}", file=sys.stderr)
            was_alive = alive
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            # One thread per request: a central waiting for a BLE notification must not hold
            # up the button press that answers it.
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            line = b""
            try:
                while not line.endswith(b"\n") and len(line) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    line += chunk
                conn.sendall(json.dumps(self.handle(line)).encode() + b"\n")
            except OSError:
                pass  # the client went away


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tokenctl.sim.supervisor")
    parser.add_argument("--state", required=True, help="the token's state folder")
    parser.add_argument("--id", default=None)
    parser.add_argument("--baud", type=int, default=None)
    parser.add_argument("--heap", default=DEFAULT_HEAP)
    parser.add_argument("--tcp", action="store_true")
    parser.add_argument("--entry", default="main", help="module to run (tests use an echo)")
    parser.add_argument("--extra-path", default=None, help="folder put first on MICROPYPATH")
    args = parser.parse_args(argv)

    sim_id = args.id or secrets.token_hex(3)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stopping.set())

    token = SimToken(args.state, args.baud, args.heap, args.entry, args.tcp, args.extra_path)
    sup = Supervisor(token, sim_id)
    sup.stopping = stopping
    control = registry.control_path(sim_id)
    record = {"id": sim_id, "pid": os.getpid(), "control": str(control)}
    try:
        token.start()
        control.unlink(missing_ok=True)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
            server.bind(str(control))
            server.listen(8)
            record.update(
                port=token.port,
                state_dir=str(token.state_dir),
                baud=args.baud,
                heap=args.heap,
                tcp=args.tcp,
                started=time.time(),
            )
            sup.record = record
            registry.write_record(record)
            sup.serve(server)
    except TokenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        token.stop()
        registry.record_path(sim_id).unlink(missing_ok=True)
        control.unlink(missing_ok=True)
    registry.log_path(sim_id).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
