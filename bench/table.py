"""The one way the benchmark scripts print their figures: (figure, value, bar, verdict) rows."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

COLOUR = {"pass": "green", "fail": "red", "report": "dim"}


def print_rows(title: str, rows: list[tuple[str, str, str, str]]) -> Console:
    console = Console(width=None if sys.stdout.isatty() else 140)
    console.print(title, markup=False, highlight=False)
    table = Table()
    for column in ("figure", "value", "bar", "verdict"):
        table.add_column(column)
    for figure, value, bar, verdict in rows:
        table.add_row(figure, value, bar, f"[{COLOUR[verdict]}]{verdict}[/]")
    console.print(table)
    return console
