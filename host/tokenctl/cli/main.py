"""tokenctl: provision, sync and inspect authenticator tokens, real or simulated.

One exit path: commands raise tokenctl.errors.TokenError subclasses; `main` prints the message
and exits with its documented code. Only unexpected errors print a traceback.
"""

from __future__ import annotations

import sys

import click

from tokenctl.cli import accounts, admin, backup, bench, device, imports, pin, push, sim
from tokenctl.cli.context import Context
from tokenctl.errors import EXIT_ERROR, TokenError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-p",
    "--port",
    envvar="TOKENCTL_PORT",
    help="Serial port or URL of the token "
    "(a device path, a pty, socket://host:port). Default: the only token attached.",
)
@click.option(
    "--pin",
    envvar="TOKENCTL_PIN",
    help="PIN to unlock the token when it is locked (else asked for on a terminal).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--timeout", type=float, default=5.0, show_default=True, help="Seconds to wait for each answer."
)
@click.version_option(package_name="tokenctl")
@click.pass_context
def cli(ctx: click.Context, port, pin, as_json, timeout):
    """Provision, sync and inspect authenticator tokens over USB serial.

    Exit codes: 0 ok, 1 error, 2 usage, 3 no device, 4 device refused,
    5 locked or wrong PIN, 6 not found, 7 device stopped answering, 8 bad input.
    """
    ctx.obj = Context(port=port, pin=pin, as_json=as_json, timeout=timeout)
    ctx.call_on_close(ctx.obj.close)


device.register(cli)
accounts.register(cli)
pin.register(cli)
admin.register(cli)
backup.register(cli)
imports.register(cli)
cli.add_command(sim.sim)
bench.register(cli)
push.register(cli)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="tokenctl", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_ERROR)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except TokenError as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(0)


if __name__ == "__main__":
    main()
