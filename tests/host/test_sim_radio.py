"""The simulated radio's central side (tokenctl.sim.radio.SimRadio), without a firmware: what a
real BLE stack refuses, it refuses, and what it hands the firmware comes in small polls."""

import base64
import struct

import pytest

from tokenctl.sim.radio import (
    BLE_ADV,
    BLE_EVENTS,
    BLE_GATTS,
    EVENTS_PER_POLL,
    MAX_ATTRIBUTE,
    RadioError,
    SimRadio,
)

UUID = "5a7c0002-8f1e-4b7a-9d2c-3e1f0a6b9c4d"
HANDLE = 3


@pytest.fixture
def radio() -> SimRadio:
    """Advertising, with one writable characteristic, and a central connected."""
    r = SimRadio()
    r.handle(BLE_ADV, b"\x02\x01\x06")
    r.handle(BLE_GATTS, struct.pack(">HHB", HANDLE, 0x0008, len(UUID)) + UUID.encode())
    r.control("connect")
    assert r.handle(BLE_EVENTS, b"")[0] == 1  # the firmware hears of the connection
    return r


def write(r: SimRadio, data: bytes) -> dict:
    return r.control("write", uuid=UUID, data=base64.b64encode(data).decode())


def events(blob: bytes) -> list[tuple[int, bytes]]:
    out, at = [], 0
    while at < len(blob):
        kind, _conn, _handle, n = struct.unpack_from(">BHHH", blob, at)
        out.append((kind, blob[at + 7 : at + 7 + n]))
        at += 7 + n
    return out


def test_a_write_above_512_bytes_is_refused_and_the_link_goes_on(radio):
    with pytest.raises(RadioError, match="at most 512 bytes"):
        write(radio, bytes(600))
    assert radio.handle(BLE_EVENTS, b"") == b""  # the firmware never sees it
    write(radio, b"\x80hello")
    assert events(radio.handle(BLE_EVENTS, b"")) == [(3, b"\x80hello")]
    write(radio, bytes(MAX_ATTRIBUTE))  # the longest value is fine
    assert events(radio.handle(BLE_EVENTS, b"")) == [(3, bytes(MAX_ATTRIBUTE))]


def test_queued_writes_reach_the_firmware_in_small_polls_in_order(radio):
    sent = [bytes([i]) * MAX_ATTRIBUTE for i in range(200)]  # ~100 KB queued
    for data in sent:
        write(radio, data)
    got = []
    while blob := radio.handle(BLE_EVENTS, b""):
        assert len(blob) <= max(EVENTS_PER_POLL, MAX_ATTRIBUTE + 7)
        got += [data for _, data in events(blob)]
    assert got == sent
