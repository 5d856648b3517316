"""Hardware-in-the-loop fixtures: a simulated token by default, a real board with --port.

`--port` is pytest-embedded's own option, so the same command line drives both:

    pytest hil_tests                       # a fresh simulated token per test
    pytest hil_tests --port /dev/ttyUSB0   # a real token (sim-only tests are skipped)
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import leaks
import pytest

from tokenctl.client import TokenClient
from tokenctl.push.store import PushStore
from tokenctl.sim import token as sim_token
from tokenctl.sim.token import DEFAULT_HEAP, SimToken


def _real_port(config: pytest.Config) -> str | None:
    return config.getoption("port", default=None)


@pytest.fixture(autouse=True)
def no_secret_leaks(monkeypatch):
    """Every test ends with the leak scan (leaks.py): no provisioned secret and no push key in
    anything a simulated token sent over serial or BLE, or wrote to its console log."""
    sim_token.STARTED.clear()
    push_keys: list[bytes] = []
    add = PushStore.add

    def remembering_add(self, *args, **kwargs):
        enrolment = add(self, *args, **kwargs)
        push_keys.append(enrolment.push_key)
        return enrolment

    monkeypatch.setattr(PushStore, "add", remembering_add)
    yield
    secrets = list(push_keys)
    places: dict[str, bytes] = {}
    for n, token in enumerate(sim_token.STARTED):
        secrets += leaks.provisioned(bytes(token.wire_in))
        places[f"token {n} serial output"] = bytes(token.wire_out)
        parts = getattr(token, "parts", None)
        if parts is not None:
            places[f"token {n} BLE link"] = bytes(parts.ble.air)
        log = token.state_dir / "console.log"
        if log.exists():
            places[f"token {n} console log"] = log.read_bytes()
    hits = leaks.scan(places, secrets)
    assert not hits, "secret leak: " + "; ".join(hits)


def _heap(request) -> str:
    """TOKEN_HEAP if set, else the test's @pytest.mark.heap, else the bar (DEFAULT_HEAP)."""
    marker = request.node.get_closest_marker("heap")
    return os.environ.get("TOKEN_HEAP") or (marker.args[0] if marker else DEFAULT_HEAP)


@pytest.fixture
def sim(request, tmp_path) -> Iterator[SimToken | None]:
    """The simulated token behind the port (None on a real board)."""
    if _real_port(request.config):
        yield None
        return
    token = SimToken(tmp_path / "token", heap=_heap(request))
    token.start()
    try:
        yield token
    finally:
        token.stop()


@pytest.fixture
def sim_only(sim) -> SimToken:
    """For tests that cut the power or need a blank token: the simulator only."""
    if sim is None:
        pytest.skip("needs the simulator (power cuts / a blank token)")
    return sim


@pytest.fixture
def new_sim(request, tmp_path) -> Iterator:
    """Makes more simulated tokens (e.g. behind a real 115200-baud line); stops them after."""
    if _real_port(request.config):
        pytest.skip("needs the simulator (power cuts)")
    made: list[SimToken] = []

    def make(baud: int | None = None) -> SimToken:
        token = SimToken(tmp_path / f"sim{len(made)}", baud=baud, heap=_heap(request))
        made.append(token)
        return token.start()

    yield make
    for token in made:
        token.stop()


@pytest.fixture
def port(request, sim) -> str:
    """Overrides pytest-embedded's `port`: the real board's, else the simulator's."""
    return _real_port(request.config) or sim.port


@pytest.fixture
def token(port) -> Iterator[TokenClient]:
    """A protocol client on the token, its clock synced."""
    with TokenClient.open(port, timeout_s=5) as client:
        client.sync_time()
        yield client


@pytest.fixture
def cli(port):
    """Run `tokenctl --port PORT ...` as a user would; returns the CompletedProcess."""

    def run(*args: str, stdin: str | None = None, json: bool = False, timeout_s: float = 60):
        cmd = [sys.executable, "-m", "tokenctl.cli.main", "--port", port, "--timeout", "3"]
        if json:
            cmd.append("--json")
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENCTL_")}
        return subprocess.run(
            cmd + list(args),
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout_s,
        )

    return run
