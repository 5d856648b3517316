"""What every command shares: the port, the PIN, output format, and one open client."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from tokenctl import ports
from tokenctl.client import TokenClient
from tokenctl.errors import AuthError, TokenError

T = TypeVar("T")


class Context:
    def __init__(self, port: str | None, pin: str | None, as_json: bool, timeout: float):
        self.port = port
        self.pin = pin
        self.as_json = as_json
        self.timeout = timeout
        self._client: TokenClient | None = None
        self._relock = False

    def client(self) -> TokenClient:
        """The token, opened on first use (so `--help` and offline commands need none)."""
        if self._client is None:
            self._client = TokenClient.open(ports.resolve(self.port), timeout_s=self.timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            if self._relock:  # leave the token as locked as we found it
                try:
                    self._client.lock()
                except TokenError:
                    pass  # it locks again at its next power cycle
            self._client.close()
            self._client = None

    def unlocked(self, action: Callable[[TokenClient], T]) -> T:
        """Run `action`; if the token is locked, unlock it with the PIN and run it again.
        The token is locked again when the command ends (`tokenctl unlock` keeps it open)."""
        client = self.client()
        try:
            return action(client)
        except AuthError as e:
            if e.code != "locked":
                raise
        client.unlock(self.ask_pin())
        self._relock = True
        return action(client)

    def ask_pin(self, prompt: str = "PIN") -> str:
        if self.pin:
            return self.pin
        if not sys.stdin.isatty():
            raise AuthError(
                "locked", "the token is locked: give the PIN with --pin or TOKENCTL_PIN"
            )
        return click.prompt(prompt, hide_input=True, err=True)

    def emit(self, data: Any, text: Callable[[Any], None]) -> None:
        """Data to stdout: JSON with --json, else the command's text rendering."""
        if self.as_json:
            click.echo(json.dumps(data, indent=2, sort_keys=True))
        else:
            text(data)


pass_ctx = click.make_pass_decorator(Context)
