"""`tokenctl bench`: provisioning staff's commands: a fleet from a manifest, the inventory,
and the chip's security fuses. `flash` and `deploy` (cli/deploy.py) register here too.

A manifest holds PINs and secrets: nothing here prints one; --dry-run shows the plan without.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import socket
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Table

from tokenctl.bench import manifest as manifest_mod
from tokenctl.bench import provision
from tokenctl.bench.inventory import RESULTS, Record, open_inventory, write_csv
from tokenctl.cli.context import Context, pass_ctx
from tokenctl.errors import InputError, TokenError, TransportError

_INVENTORY = click.option(
    "--inventory",
    "location",
    envvar="TOKENCTL_INVENTORY",
    help="SQLite file, or postgresql://user@host/db shared by several stations "
    "[default: ~/.local/share/tokenctl/inventory.sqlite3].",
)


class FleetError(TokenError):
    """Some tokens of the fleet failed (each one's reason is in the result table)."""


@click.group()
def bench():
    """Bench tools: provision a fleet from a manifest, the inventory, chip security."""


@bench.command("provision")
@click.option(
    "--manifest",
    "manifest_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML manifest: account sets, PINs, settings per serial number or slot.",
)
@click.option(
    "--port",
    "ports",
    multiple=True,
    help="A token's port (repeat it; slot = position). Default: every token attached by USB, "
    "slot = hub order.",
)
@click.option("--sim", "sims", type=click.IntRange(1, 64), help="Provision N new simulated tokens.")
@_INVENTORY
@click.option("--operator", default=getpass.getuser, show_default="login name")
@click.option("--station", default=socket.gethostname, show_default="host name")
@click.option(
    "--attempts",
    type=click.IntRange(1, 10),
    default=provision.ATTEMPTS,
    show_default=True,
    help="Connections per token (reconnects on a flaky cable).",
)
@click.option("--dry-run", is_flag=True, help="Show the plan (never a PIN) and stop.")
@pass_ctx
def provision_cmd(
    ctx: Context, manifest_path, ports, sims, location, operator, station, attempts, dry_run
):
    """Provision many tokens at once, each on its own serial port, as MANIFEST says.

    Each token gets its clock set, its settings, its accounts, its PIN, then it is verified
    and locked; a dropped line is reconnected and resumed. Tokens that already hold accounts
    or a PIN are skipped. Every token's result goes to the inventory (no secrets).

    \b
    Examples:
      FLEET_PIN=482913 tokenctl bench provision --manifest fleet.toml
      tokenctl bench provision --manifest fleet.toml --port /dev/ttyUSB0 --port /dev/ttyUSB1
      tokenctl bench provision --manifest fleet.toml --sim 8 --inventory /tmp/inv.sqlite3
      tokenctl bench provision --manifest fleet.toml --dry-run
    """
    plan = manifest_mod.load(manifest_path)
    if dry_run:
        ctx.emit(plan.describe(), _print_plan)
        return
    if ports and sims:
        raise InputError("give --port or --sim, not both")
    if not ports and not sims and ctx.port:
        ports = (ctx.port,)
    with open_inventory(location) as inventory, _slots(ports, sims) as slots:
        if not slots:
            raise TransportError(
                "no tokens found: attach them by USB, name them with --port, or use --sim N"
            )
        outcomes = _run(plan, slots, inventory, operator, station, attempts, ctx.timeout)
    data = [_outcome_dict(o) for o in outcomes]
    ctx.emit(data, _print_outcomes)
    failed = sum(o.result == "failed" for o in outcomes)
    if failed:
        raise FleetError(f"{failed} of {len(outcomes)} tokens failed")


def _run(plan, slots, inventory, operator, station, attempts, timeout_s):
    console = Console(stderr=True)
    columns = (
        TextColumn("{task.fields[slot]:>8}"),
        TextColumn("{task.fields[serial]:<14}"),
        BarColumn(bar_width=24),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=console) as bar:
        tasks: dict[provision.Slot, TaskID] = {
            s: bar.add_task("waiting", total=len(provision.STEPS), slot=s.key, serial="")
            for s in slots
        }

        def progress(slot, step, done, text):
            style = {"ok": "green", "failed": "red", "skipped": "yellow", "retry": "magenta"}
            shown = f"[{style[step]}]{text}[/]" if step in style else text
            bar.update(tasks[slot], completed=done, description=shown)

        def record(o: provision.Outcome) -> None:
            if o.serial:
                bar.update(tasks[o.slot], serial=o.serial)
            inventory.add(_record(o, plan.name, operator, station))

        runner = provision.Provisioner(
            plan, timeout_s=timeout_s, attempts=attempts, progress=progress
        )
        return runner.run(slots, on_done=record)


@contextlib.contextmanager
def _slots(ports, sims) -> Iterator[list[provision.Slot]]:
    if ports:
        yield [provision.Slot(p, n) for n, p in enumerate(ports)]
        return
    if not sims:
        yield provision.usb_slots()
        return
    from tokenctl.sim.token import SimToken

    with tempfile.TemporaryDirectory(prefix="tokfleet-") as tmp:
        started: list[SimToken] = []
        try:
            for n in range(sims):
                started.append(SimToken(Path(tmp) / f"sim{n}").start())
            yield [provision.Slot(str(t.port), n) for n, t in enumerate(started)]
        finally:
            for token in started:
                token.stop()


def _record(o: provision.Outcome, fleet: str, operator: str, station: str) -> Record:
    return Record(
        token_serial=o.serial or "unknown",
        firmware=o.firmware,
        board=o.board,
        operator=operator,
        station=station,
        port=o.slot.port,
        slot=o.slot.slot,
        result=o.result,
        detail=o.detail,
        fleet=fleet,
        accounts=o.accounts,
        push=o.push,
        attempts=o.attempts,
        duration_s=o.duration_s,
    )


def _outcome_dict(o: provision.Outcome) -> dict:
    return {
        "slot": o.slot.slot,
        "port": o.slot.port,
        "serial": o.serial,
        "result": o.result,
        "detail": o.detail,
        "entry": o.entry,
        "accounts": len(o.accounts),
        "attempts": o.attempts,
        "seconds": round(o.duration_s, 2),
    }


def _print_outcomes(rows: list[dict]) -> None:
    table = Table("Slot", "Port", "Serial", "Result", "Accounts", "Tries", "Time", "Detail")
    table.columns[2].no_wrap = True
    colour = {"ok": "green", "failed": "red", "skipped": "yellow"}
    for r in rows:
        table.add_row(
            "-" if r["slot"] is None else str(r["slot"]),
            r["port"],
            r["serial"] or "?",
            f"[{colour[r['result']]}]{r['result']}[/]",
            str(r["accounts"]),
            str(r["attempts"]),
            f"{r['seconds']:.1f} s",
            r["detail"] or r["entry"],
        )
    _console().print(table)
    counts = {k: sum(r["result"] == k for r in rows) for k in RESULTS}
    click.echo(f"{counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped.")


def _print_plan(plan: dict) -> None:
    click.echo(f"Fleet {plan['name']} ({plan['manifest']}); unlisted tokens: {plan['unlisted']}")
    entries = ([plan["defaults"]] if plan["defaults"] else []) + plan["tokens"]
    for e in entries:
        settings = ", ".join(f"{k}={v}" for k, v in e["settings"].items()) or "defaults"
        pin = {"none": "no PIN", "manifest": "PIN from the manifest"}.get(e["pin"], "")
        click.echo(f"  {e['entry']}: {len(e['accounts'])} accounts, {settings}; "
                   f"{pin or 'PIN from ' + e['pin']}")  # fmt: skip
        for label in e["accounts"]:
            click.echo(f"      {label}{'  (touch)' if label in e['touch'] else ''}")


@bench.command("report")
@_INVENTORY
@click.option("--csv", "csv_path", help="Write CSV to this file ('-': stdout) instead.")
@click.option("--serial", help="Only this token.")
@click.option("--fleet", help="Only this fleet (the manifest's name).")
@click.option("--result", type=click.Choice(RESULTS), help="Only these results.")
@click.option("--since", help="Only from this date or time on (ISO 8601, UTC unless it says).")
@pass_ctx
def report(ctx: Context, location, csv_path, serial, fleet, result, since):
    """Print the inventory of provisioned tokens, or export it as CSV.

    \b
    Examples:
      tokenctl bench report
      tokenctl bench report --fleet acme-2026-11 --result failed
      tokenctl bench report --csv inventory.csv
      tokenctl bench report --inventory postgresql://bench@db.example/tokens --since 2026-11-01
    """
    with open_inventory(location) as inventory:
        records = inventory.records(serial, fleet, result, _since(since))
        where = inventory.location
    if csv_path == "-":
        write_csv(records, sys.stdout)
        return
    if csv_path:
        with open(csv_path, "w", newline="", encoding="utf-8") as f:
            n = write_csv(records, f)
        click.echo(f"Wrote {n} rows to {csv_path}.", err=True)
        return
    rows = [r.row() for r in records]
    counts = [(len(r.accounts), sum(bool(a.get("touch")) for a in r.accounts)) for r in records]
    if ctx.as_json:
        data = [r.to_json() for r in records]
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo(
            f"No tokens in {where}{' match' if any((serial, fleet, result, since)) else ''}."
        )
        return
    table = Table(title=f"Inventory: {where}")
    for column in ("When (UTC)", "Fleet", "Serial", "FW", "Board", "Operator", "Station"):
        table.add_column(column, no_wrap=column in ("When (UTC)", "Serial"))
    for column in ("Result", "Accounts", "Touch", "Detail"):
        table.add_column(column)
    colour = {"ok": "green", "failed": "red", "skipped": "yellow"}
    for r, (n, touch) in zip(rows, counts, strict=True):
        when = r["provisioned_at"][:19].replace("T", " ")
        who = (r["fleet"], r["token_serial"], r["firmware"], r["board"], r["operator"])
        result = f"[{colour[r['result']]}]{r['result']}[/]"
        table.add_row(when, *who, r["station"], result, str(n), str(touch), r["detail"])
    _console().print(table)


def _console() -> Console:
    """Tables on stdout; wide enough for serials and details when piped."""
    return Console(width=None if sys.stdout.isatty() else 160, soft_wrap=False)


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"not a date or time: {text!r} (use ISO 8601, e.g. 2026-11-01)") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def register(cli: click.Group) -> None:
    from tokenctl.cli import deploy

    bench.add_command(deploy.check_security)
    cli.add_command(bench)
    cli.add_command(deploy.flash)
    cli.add_command(deploy.deploy)
