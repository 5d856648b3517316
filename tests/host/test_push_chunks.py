"""BLE chunking (docs/push.md §6) and SimLink's use of it, against a scripted BLE central."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenctl.errors import TransportError
from tokenctl.push import chunks
from tokenctl.push.chunks import ChunkError, Reassembler
from tokenctl.push.link import (
    ANSWER_UUID,
    CHALLENGE_UUID,
    SERVICE_UUID,
    AnswerTimeout,
    SimLink,
    advert_name,
)


def test_default_mtu_gives_19_payload_bytes():
    assert chunks.payload_size() == 19
    pieces = chunks.split(bytes(range(40)))
    assert [len(p) for p in pieces] == [20, 20, 3]
    assert [p[0] for p in pieces] == [0x00, 0x01, 0x82]
    assert b"".join(p[1:] for p in pieces) == bytes(range(40))


def test_single_chunk_message_is_index_0_and_last():
    assert chunks.split(b"hi") == [b"\x80hi"]


def test_limits():
    assert len(chunks.split(bytes(512))) == 27  # ceil(512 / 19)
    with pytest.raises(ValueError, match="at most 512"):
        chunks.split(bytes(513))
    with pytest.raises(ValueError, match="empty"):
        chunks.split(b"")
    with pytest.raises(ValueError, match="MTU"):
        chunks.split(b"x", mtu=4)
    assert chunks.payload_size(517) == 511  # an ATT value is at most 512 bytes
    assert chunks.split(bytes(512), mtu=517)[0][0] == 0  # two chunks at the largest MTU


@settings(max_examples=200, deadline=None)
@given(message=st.binary(min_size=1, max_size=512), mtu=st.integers(5, 517))
def test_split_join_round_trip(message, mtu):
    pieces = chunks.split(message, mtu)
    assert all(len(p) <= min(mtu - 3, 512) for p in pieces)
    assert [p[0] & 0x7F for p in pieces] == list(range(len(pieces)))
    assert [bool(p[0] & 0x80) for p in pieces] == [False] * (len(pieces) - 1) + [True]
    assert chunks.join(pieces) == message


def test_gap_refused_then_next_message_accepted():
    a = chunks.split(bytes(range(50)))
    r = Reassembler()
    assert r.feed(a[0]) is None
    with pytest.raises(ChunkError, match="chunk 2 where chunk 1"):
        r.feed(a[2])
    with pytest.raises(ChunkError):  # the message was dropped: its chunk 1 is now out of order
        r.feed(a[1])
    for piece in a[:-1]:
        assert r.feed(piece) is None
    assert r.feed(a[-1]) == bytes(range(50))


def test_duplicate_chunk_refused():
    a = chunks.split(bytes(50))
    r = Reassembler()
    r.feed(a[0])
    r.feed(a[1])
    with pytest.raises(ChunkError):
        r.feed(a[1])


def test_index_0_starts_a_new_message():
    a, b = chunks.split(b"A" * 30), chunks.split(b"B" * 30)
    r = Reassembler()
    r.feed(a[0])
    r.feed(b[0])
    assert r.feed(b[1]) == b"B" * 30


def test_oversize_and_empty_refused():
    r = Reassembler()
    for n in range(26):
        r.feed(bytes([n]) + bytes(19))  # 494 bytes
    with pytest.raises(ChunkError, match="over 512"):
        r.feed(bytes([26]) + bytes(19))
    with pytest.raises(ChunkError, match="no header"):
        r.feed(b"")
    with pytest.raises(ChunkError, match="empty message"):
        r.feed(b"\x80")


def test_join_needs_exactly_one_message():
    pieces = chunks.split(bytes(30))
    with pytest.raises(ChunkError, match="missing"):
        chunks.join(pieces[:-1])
    with pytest.raises(ChunkError, match="after the last"):
        chunks.join(pieces + [b"\x80x"])


# --- SimLink over a scripted BLE central ----------------------------------------------------


class FakeCentral:
    """The simulator's ble_call API, with a peer that answers each message by `respond`."""

    def __init__(self, respond, name="Token-abcdef", mtu=23, stale=()):
        self.respond = respond
        self.adv = {"name": name, "services": [SERVICE_UUID]}
        self.mtu = mtu
        self.incoming = Reassembler()
        self.notifications = [base64.b64encode(c).decode() for c in stale]
        self.calls: list[str] = []
        self.written: list[bytes] = []
        self.connected = False

    def __call__(self, action, **args):
        self.calls.append(action)
        if action == "adv":
            return dict(self.adv)
        if action in ("connect", "disconnect"):
            self.connected = action == "connect"
            return {}
        assert self.connected, action
        if action == "write":
            assert args["uuid"] == CHALLENGE_UUID
            chunk = base64.b64decode(args["data"])
            assert len(chunk) <= self.mtu - 3
            self.written.append(chunk)
            message = self.incoming.feed(chunk)
            if message is not None:
                for piece in self.respond(message):
                    self.notifications.append(base64.b64encode(piece).decode())
            return {}
        if action == "notify":
            assert args["timeout_s"] >= 0
            return {"data": self.notifications.pop(0) if self.notifications else None}
        if action == "read":
            assert args["uuid"] in (ANSWER_UUID, "5a7c0004-8f1e-4b7a-9d2c-3e1f0a6b9c4d")
            return {"data": base64.b64encode(b'{"serial":"00abcdef","proto":1}').decode()}
        raise AssertionError(action)


def echo_reversed(message: bytes):
    return chunks.split(message[::-1])


def test_simlink_exchange_round_trip():
    central = FakeCentral(echo_reversed)
    link = SimLink(central, name=advert_name("1200ABCDEF"))
    message = bytes(range(200))
    assert link.exchange(message, timeout_s=2) == message[::-1]
    assert chunks.join(central.written) == message
    assert central.calls[:3] == ["adv", "connect", "notify"]  # stale notifications drained
    assert central.calls[-1] == "disconnect" and not central.connected


def test_simlink_drops_stale_notifications_before_writing():
    stale = chunks.split(b"an old answer")
    central = FakeCentral(echo_reversed, stale=stale)
    assert SimLink(central).exchange(b"new", timeout_s=2) == b"wen"


def test_simlink_times_out_and_disconnects():
    central = FakeCentral(lambda m: [])
    with pytest.raises(AnswerTimeout, match="within 0.2 s"):
        SimLink(central).exchange(b"x" * 30, timeout_s=0.2)
    assert not central.connected


def test_simlink_refuses_a_gapped_answer():
    central = FakeCentral(lambda m: [c for i, c in enumerate(chunks.split(bytes(60))) if i != 1])
    with pytest.raises(TransportError, match="broken"):
        SimLink(central).exchange(b"x", timeout_s=2)
    assert not central.connected


def test_simlink_checks_the_advert():
    central = FakeCentral(echo_reversed)
    central.adv = {}
    with pytest.raises(TransportError, match="not advertising"):
        SimLink(central).exchange(b"x", timeout_s=1)
    central.adv = {"name": "Token-abcdef", "services": []}
    with pytest.raises(TransportError, match="push service"):
        SimLink(central).exchange(b"x", timeout_s=1)
    central.adv = {"name": "Token-abcdef", "services": [SERVICE_UUID]}
    with pytest.raises(TransportError, match="not Token-000000"):
        SimLink(central, name="Token-000000").exchange(b"x", timeout_s=1)
    assert "connect" not in central.calls


def test_simlink_info_and_mtu():
    central = FakeCentral(echo_reversed, mtu=50)
    link = SimLink(central, mtu=50)
    assert link.info()["serial"] == "00abcdef"
    link.exchange(bytes(100), timeout_s=1)
    assert [len(c) for c in central.written] == [47, 47, 9]


def test_advert_name():
    assert advert_name("A4CF12A1B2C3") == "Token-a1b2c3"


# --- BleakLink's glue, with bleak's classes stood in (no radio here) -------------------------


class FakeBleak:
    """Stand-ins for BleakScanner and BleakClient: a peer that answers by `respond`."""

    def __init__(self, monkeypatch, respond, found=True, mtu=23):
        import bleak

        fake = self
        self.respond, self.written, self.names = respond, [], []

        class Char:
            max_write_without_response_size = mtu - 3

        class Scanner:
            @staticmethod
            async def find_device_by_name(name, timeout):
                fake.names.append(("name", name))
                return object() if found else None

            @staticmethod
            async def find_device_by_address(address, timeout):
                fake.names.append(("address", address))
                return object() if found else None

        class Client:
            def __init__(self, device, pair, timeout):
                assert pair
                self.services = self
                self.incoming = Reassembler()

            async def __aenter__(self):
                return self

            async def __aexit__(self, *exc):
                return None

            def get_characteristic(self, uuid):
                return Char() if uuid == CHALLENGE_UUID else None

            async def start_notify(self, uuid, callback):
                assert uuid == ANSWER_UUID
                self.callback = callback

            async def write_gatt_char(self, char, data, response):
                assert response and len(data) <= mtu - 3
                fake.written.append(data)
                message = self.incoming.feed(data)
                if message is not None:
                    for piece in fake.respond(message):
                        self.callback(None, bytearray(piece))

        monkeypatch.setattr(bleak, "BleakScanner", Scanner)
        monkeypatch.setattr(bleak, "BleakClient", Client)


def test_bleaklink_round_trip(monkeypatch):
    from tokenctl.push.link import BleakLink

    fake = FakeBleak(monkeypatch, echo_reversed, mtu=40)
    assert BleakLink("Token-a1b2c3").exchange(bytes(range(100)), 1) == bytes(range(99, -1, -1))
    assert [len(c) for c in fake.written] == [37, 37, 29]
    BleakLink("AA:BB:CC:DD:EE:FF").exchange(b"x", 1)
    assert fake.names == [("name", "Token-a1b2c3"), ("address", "AA:BB:CC:DD:EE:FF")]


def test_bleaklink_failures(monkeypatch):
    from tokenctl.push.link import BleakLink

    FakeBleak(monkeypatch, lambda m: [])
    with pytest.raises(AnswerTimeout):
        BleakLink("Token-a1b2c3").exchange(b"x", 0.05)
    FakeBleak(monkeypatch, lambda m: chunks.split(bytes(60))[1:])
    with pytest.raises(TransportError, match="chunk 1 where chunk 0"):
        BleakLink("Token-a1b2c3").exchange(b"x", 1)
    FakeBleak(monkeypatch, echo_reversed, found=False)
    with pytest.raises(TransportError, match="in range"):
        BleakLink("Token-a1b2c3").exchange(b"x", 1)
