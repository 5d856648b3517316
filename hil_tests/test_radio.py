"""The simulated radio refuses what a real BLE stack refuses, and keeps working after: a
write longer than an attribute value can be (512 bytes) is an error to the central and never
reaches the firmware; a flood of writes reaches it in small polls. Simulator only."""

from __future__ import annotations

import base64

import pytest
from accounts import GITHUB_URI
from soak_run import SOAK_HEAP

from tokenctl.otpauth import parse_uri
from tokenctl.push.api import PushServer
from tokenctl.push.link import CHALLENGE_UUID, SimLink
from tokenctl.push.store import PushStore
from tokenctl.sim.radio import RadioError

pytestmark = pytest.mark.heap(SOAK_HEAP)


def test_long_writes_are_refused_and_a_flood_is_survived(sim_only, token, tmp_path):
    token.add_accounts([parse_uri(GITHUB_URI)])
    radio = sim_only.parts.ble
    with PushStore.open(tmp_path / "push.db") as store:
        server = PushServer(store)
        server.enroll(token, "GitHub")
        serial = token.info()["serial"]

        def write(data: bytes) -> None:
            radio.control("write", uuid=CHALLENGE_UUID, data=base64.b64encode(data).decode())

        radio.control("connect")
        for size in (513, 600, 6000, 70000):  # a last chunk, too long to be a value
            with pytest.raises(RadioError, match="at most 512 bytes"):
                write(b"\x80" + bytes(size - 1))
        for _ in range(100):  # 50 KB of chunks out of sequence: each one dropped
            write(b"\x05" + bytes(511))
        radio.control("disconnect")
        # The radio still works: a challenge arrives, the token prompts, nobody answers
        # before it expires, and the token says so in an authenticated answer.
        link = SimLink(lambda action, **a: radio.control(action, **a))
        challenge = server.prepare(serial, "GitHub", "App", "Here", lifetime_s=8)
        result = server.deliver(link, challenge, timeout_s=20)
    assert (result.result, result.authenticated) == ("timeout", True), result.why
    assert token.info()["accounts"] == 1  # and the serial side never noticed
    log = (sim_only.state_dir / "console.log").read_text(errors="replace")
    assert "Traceback" not in log
