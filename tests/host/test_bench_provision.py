"""The provisioning engine against simulated tokens: a flaky cable, a reset mid-run, a swapped
token, refusals, skips. (8 tokens in parallel, through the CLI: hil_tests/test_bench.py.)"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenctl.bench import manifest
from tokenctl.bench.manifest import Manifest, TokenPlan
from tokenctl.bench.provision import Provisioner, Slot
from tokenctl.client import TokenClient
from tokenctl.errors import TransportError
from tokenctl.sim.token import SimToken

PIN = "Kv83#q"
MANIFEST = """
[fleet]
name = "test"
unlisted = "defaults"

[defaults]
sets = ["staff", "bank"]
pin = "{pin}"
auto_lock_s = 120

[sets.staff]
uris = [
  "otpauth://totp/Acme:ana?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Acme",
  "otpauth://hotp/VPN:ana?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=VPN&counter=7",
]

[sets.bank]
uris = ["otpauth://totp/Bank:ops?secret=NBSWY3DPEB3W64TMMQQHO2LUNAQGK6DBNVYGYZI&issuer=Bank"]
touch = true
"""


@pytest.fixture
def plan(tmp_path) -> Manifest:
    path = tmp_path / "fleet.toml"
    path.write_text(textwrap.dedent(MANIFEST.format(pin=PIN)))
    return manifest.load(path)


@pytest.fixture
def sims(tmp_path) -> Iterator:
    made: list[SimToken] = []

    def make() -> SimToken:
        made.append(SimToken(tmp_path / f"sim{len(made)}").start())
        return made[-1]

    yield make
    for token in made:
        token.stop()


def opener(cut_after: str | None = None, fail_first: int = 0, then=None):
    """Opens ports like TokenClient.open, but the first `fail_first` opens fail (the port is
    gone) and, on the first good one, the line drops right after the token answered
    `cut_after` (the answer is lost); `then(port)` runs at the drop (e.g. a reset)."""
    state = {"opens": 0, "cut": False}

    def open_client(port: str, timeout_s: float) -> TokenClient:
        state["opens"] += 1
        if state["opens"] <= fail_first:
            raise TransportError(f"could not open port {port}: device disconnected")
        client = TokenClient.open(port, timeout_s=timeout_s)
        if cut_after and not state["cut"]:
            real = client.call

            def call(op: str, **args):
                answer = real(op, **args)
                if op == cut_after and not state["cut"]:
                    state["cut"] = True
                    client.transport._ser.close()
                    if then:
                        then(port)
                    raise TransportError("the cable was pulled")
                return answer

            client.call = call  # type: ignore[method-assign]
        return client

    return open_client, state


def check_provisioned(port: str, plan: TokenPlan) -> None:
    with TokenClient.open(port) as c:
        info = c.info()
        assert info["pin"] and info["locked"] and info["accounts"] == len(plan.accounts)
        c.unlock(PIN)
        listed = [(a["i"], a["n"], bool(a.get("t"))) for a in c.accounts()]
        assert listed == [(a.issuer, a.name, a.touch) for a in plan.accounts]
        assert c.settings()["auto_lock_s"] == 120
        c.lock()


def test_a_flaky_cable_is_reconnected_and_nothing_is_added_twice(plan, sims):
    token = sims()
    open_client, state = opener(cut_after="acct.add", fail_first=1)
    out = Provisioner(plan, open_client=open_client, backoff_s=0.01).provision(Slot(token.port, 0))
    assert out.result == "ok", out.detail
    assert out.attempts == 3 and state["opens"] == 3
    assert [a["name"] for a in out.accounts] == ["ana", "ana", "ops"]
    assert out.accounts[2]["touch"] and out.entry == "defaults"
    check_provisioned(token.port, plan.defaults)


def test_a_token_reset_after_its_pin_was_set_is_unlocked_and_finished(plan, sims):
    token = sims()
    open_client, _ = opener(cut_after="pin.set", then=lambda port: token.restart())
    out = Provisioner(plan, open_client=open_client, backoff_s=0.01).provision(Slot(token.port))
    assert out.result == "ok", out.detail
    assert out.attempts == 2
    check_provisioned(token.port, plan.defaults)


def test_it_gives_up_after_the_attempts(plan, sims):
    token = sims()
    open_client, state = opener(fail_first=99)
    out = Provisioner(plan, open_client=open_client, attempts=3, backoff_s=0.01).provision(
        Slot(token.port, 4)
    )
    assert out.result == "failed" and out.attempts == 3 and state["opens"] == 3
    assert out.detail.startswith("connect: could not open port") and PIN not in out.detail


def test_a_token_swapped_mid_run_is_caught(plan, sims):
    first, second = sims(), sims()
    open_client, _ = opener(cut_after="settings.set")
    ports = iter([first.port, second.port])
    out = Provisioner(
        plan, open_client=lambda _, t: open_client(next(ports), t), backoff_s=0.01
    ).provision(Slot("/dev/ttyUSB9", 0))
    assert out.result == "failed" and "is not" in out.detail and "seen before" in out.detail


def test_a_port_named_twice_is_provisioned_once(plan, sims, tmp_path):
    token = sims()
    link = tmp_path / "by-id-link"
    link.symlink_to(token.port)
    outs = Provisioner(plan).run([Slot(token.port, 0), Slot(str(link), 1)])
    assert [o.result for o in outs] == ["ok", "failed"]
    assert f"is the same port as slot 0 ({token.port})" in outs[1].detail


def test_the_same_serial_in_two_slots_fails_the_second(plan, sims):
    token = sims()
    bench = Provisioner(plan, open_client=lambda _, t: TokenClient.open(token.port, timeout_s=t))
    assert bench.provision(Slot("/dev/ttyUSB0", 0)).result == "ok"
    again = bench.provision(Slot("/dev/ttyUSB1", 1))  # e.g. a hub that shows it twice
    assert again.result == "failed" and "is already in slot 0 (/dev/ttyUSB0)" in again.detail


def test_provisioned_and_unlisted_tokens_are_left_alone(plan, sims, tmp_path):
    token = sims()
    assert Provisioner(plan).provision(Slot(token.port)).result == "ok"
    again = Provisioner(plan).provision(Slot(token.port))
    assert again.result == "skipped" and "already provisioned (PIN set, 3 accounts)" in again.detail
    strict = Manifest(Path("m.toml"), "t", "skip", plan.defaults, {}, {})
    other = sims()
    out = Provisioner(strict).provision(Slot(other.port, 3))
    assert out.result == "skipped" and "not in the manifest" in out.detail
    with TokenClient.open(other.port) as c:
        assert c.info()["accounts"] == 0


def test_a_refusal_by_the_token_fails_at_once(plan, sims):
    token = sims()
    bad = TokenPlan("slot 0", plan.defaults.accounts, (("max_tries", 99),), None)
    out = Provisioner(Manifest(Path("m.toml"), "t", "skip", None, {}, {0: bad})).provision(
        Slot(token.port, 0)
    )
    assert out.result == "failed" and out.attempts == 1
    assert out.detail.startswith("settings: ") and "(bad_param)" in out.detail
