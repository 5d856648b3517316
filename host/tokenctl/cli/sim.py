"""`tokenctl sim`: run simulated tokens (the real firmware on the MicroPython unix port)."""

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from tokenctl.errors import InputError, TokenError
from tokenctl.sim import registry
from tokenctl.sim.token import DEFAULT_HEAP


def _pick(id_or_port: str | None) -> dict:
    """The simulator named, or the only one running."""
    if id_or_port:
        return registry.find(id_or_port)
    running = registry.list_running()
    if not running:
        raise registry.SimNotFound("no simulator is running (start one with: tokenctl sim start)")
    if len(running) > 1:
        names = "\n".join(f"  {registry.describe(r)}" for r in running)
        raise InputError(f"several simulators are running, name one:\n{names}")
    return running[0]


def _global_json() -> bool:
    """`tokenctl --json sim ...` asks for JSON as much as `sim ... --json` does."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx else None
    return bool(getattr(obj, "as_json", False))


@click.group()
def sim():
    """Run simulated tokens: the real firmware on the MicroPython unix port, behind a serial
    port (a pty, or a TCP socket) that the other commands open like real hardware.
    """


@sim.command()
@click.option(
    "--flash",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="State folder (flash image, RTC, console log); default: a new one.",
)
@click.option("--baud", type=click.IntRange(min=10), help="Throttle the link to this baud rate.")
@click.option("--heap", default=DEFAULT_HEAP, show_default=True, help="MicroPython heap size.")
@click.option("--tcp", is_flag=True, help="Serve socket://127.0.0.1:PORT instead of a pty.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def start(state_dir, baud, heap, tcp, as_json):
    """Start a simulated token in the background and print its port.

    \b
    Examples:
      tokenctl sim start
      tokenctl sim start --flash ./mytoken --baud 115200
      PORT=$(tokenctl sim start) && tokenctl --port "$PORT" info
    """
    record = registry.start_background(state_dir=state_dir, baud=baud, heap=heap, tcp=tcp)
    if as_json or _global_json():
        keys = ("port", "id", "state_dir", "pid")
        click.echo(json.dumps({k: record[k] for k in keys}))
    else:
        click.echo(record["port"])
        click.echo(f"Started simulator {record['id']} (state {record['state_dir']})", err=True)


@sim.command()
@click.argument("id_or_port", required=False)
@click.option("--all", "stop_all", is_flag=True, help="Stop every running simulator.")
def stop(id_or_port, stop_all):
    """Stop a simulated token (the only one running when none is named).

    \b
    Examples:
      tokenctl sim stop
      tokenctl sim stop 3fa9c1
      tokenctl sim stop /dev/pts/5
      tokenctl sim stop --all
    """
    if stop_all and id_or_port:
        raise InputError("give an ID or PORT, or --all, not both")
    records = registry.list_running() if stop_all else [_pick(id_or_port)]
    for record in records:
        registry.stop(record)
        click.echo(f"Stopped simulator {record['id']} ({record['port']})", err=True)


@sim.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def list_(as_json):
    """List the running simulated tokens.

    \b
    Examples:
      tokenctl sim list
      tokenctl sim list --json
    """
    records = registry.list_running()
    for record in records:
        try:
            status = registry.control(record, "status", timeout=2)
            record["power"] = "on" if status["alive"] else "off"
            if status.get("exit_code") is not None:
                record["power"] = f"crashed ({status['exit_code']})"
        except TokenError:
            record["power"] = "?"
    if as_json or _global_json():
        click.echo(json.dumps(records, indent=2))
        return
    if not records:
        click.echo("No simulator is running.", err=True)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None)
    for column in ("ID", "PORT", "POWER", "BAUD", "HEAP", "STATE"):
        table.add_column(column)
    for r in records:
        baud = str(r["baud"]) if r.get("baud") else "-"
        table.add_row(r["id"], r["port"], r["power"], baud, r["heap"], r["state_dir"])
    Console(soft_wrap=True).print(table)


def _power_command(name: str, cmd: str, doc: str):
    @sim.command(name=name, help=doc)
    @click.argument("id_or_port", required=False)
    def run(id_or_port):
        record = _pick(id_or_port)
        registry.control(record, cmd)
        click.echo(f"{name}: simulator {record['id']} ({record['port']})", err=True)

    return run


power_cut = _power_command(
    "power-cut",
    "power_cut",
    """Cut the power: kill the firmware at once, as pulling the battery. The port stays.

    \b
    Examples:
      tokenctl sim power-cut
      tokenctl sim power-cut 3fa9c1
    """,
)
power_on = _power_command(
    "power-on",
    "power_on",
    """Power the token on again (boots the firmware on the same state and port).

    \b
    Examples:
      tokenctl sim power-on
      tokenctl sim power-on /dev/pts/5
    """,
)
restart = _power_command(
    "restart",
    "restart",
    """Power-cycle the token: a power cut, then power on.

    \b
    Examples:
      tokenctl sim restart
      tokenctl sim restart 3fa9c1
    """,
)


_SIM = click.option(
    "--sim", "id_or_port", help="Which simulator (id or port); default: the only one."
)


def _when(text: str) -> float:
    """Unix seconds from 'now', a number, or an ISO 8601 time (UTC unless it says)."""
    if text == "now":
        return time.time()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"not a time: {text!r} (use now, Unix seconds, or ISO 8601)") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


@sim.command(name="clock", context_settings={"ignore_unknown_options": True})
@click.argument("op", type=click.Choice(["show", "set", "skew", "rate"]))
@click.argument("value", required=False)
@_SIM
def clock(op, value, id_or_port):
    """Read or move the simulated DS3231: set TIME, skew SECONDS, rate FACTOR.

    The RTC keeps its setting across power cycles, as its battery would.

    \b
    Examples:
      tokenctl sim clock show
      tokenctl sim clock set 2038-01-19T03:14:08
      tokenctl sim clock skew -90
      tokenctl sim clock rate 3600     # an hour passes every second
    """
    if op != "show" and value is None:
        raise InputError(f"sim clock {op} needs a value")
    number = None
    if op == "set":
        number = _when(value)
    elif op in ("skew", "rate"):
        try:
            number = float(value)
        except ValueError:
            raise InputError(f"not a number: {value!r}") from None
    reply = registry.control(_pick(id_or_port), "clock", op=op, value=number)
    if reply.get("ok") is False:
        raise InputError(reply.get("error", "the simulator refused"))
    rtc = reply["rtc"]
    if _global_json():
        click.echo(json.dumps({"rtc": rtc}))
    else:
        shown = datetime.fromtimestamp(rtc, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        click.echo(f"RTC: {shown}")


@sim.command(name="press")
@click.argument("button", type=click.Choice(["up", "down", "ok"]))
@click.option("--long", "long_press", is_flag=True, help="Hold it (about 1.2 s).")
@_SIM
def press(button, long_press, id_or_port):
    """Press a button on the simulated token.

    \b
    Examples:
      tokenctl sim press ok
      tokenctl sim press down --long
    """
    reply = registry.control(_pick(id_or_port), "press", button=button, long=long_press)
    if reply.get("ok") is False:
        raise InputError(reply.get("error", "the simulator refused"))


@sim.command(name="finger")
@click.argument("action", type=click.Choice(["place", "remove"]))
@click.option("--id", "finger_id", type=int, help="Whose finger: a person's finger number.")
@click.option("--unknown", is_flag=True, help="A finger nobody enrolled.")
@_SIM
def finger(action, finger_id, unknown, id_or_port):
    """Place a finger on the simulated sensor (or lift it).

    \b
    Examples:
      tokenctl sim finger place --id 1
      tokenctl sim finger place --unknown
      tokenctl sim finger remove
    """
    if action == "place":
        if unknown == (finger_id is not None):
            raise InputError("place needs exactly one of --id N or --unknown")
        args = {"action": "unknown"} if unknown else {"action": "place", "id": finger_id}
    else:
        args = {"action": "remove"}
    reply = registry.control(_pick(id_or_port), "finger", **args)
    if reply.get("ok") is False:
        raise InputError(reply.get("error", "the simulator refused"))


@sim.command(name="screenshot")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--scale", type=click.IntRange(1, 16), default=4, show_default=True)
@_SIM
def screenshot(path, scale, id_or_port):
    """Save what the simulated display shows as a PNG, scaled up.

    \b
    Examples:
      tokenctl sim screenshot token.png
      tokenctl sim screenshot big.png --scale 8
    """
    reply = registry.control(_pick(id_or_port), "screenshot", path=str(path.resolve()), scale=scale)
    if reply.get("ok") is False:
        raise TokenError(reply.get("error", "the simulator refused"))
    w, h = reply["size"]
    click.echo(f"Saved {path} ({w}x{h})", err=True)
