"""The push service over BLE (docs/push.md §6): a GATT service, chunked messages, advertising,
and on real hardware LE Secure Connections pairing with the passkey on the display.

The board hands in MicroPython's `bluetooth` module (or the simulator's stand-in), so this
runs the same on both. A challenge is reassembled from its chunks in the IRQ handler into one
buffer allocated at start; push.py (loaded per challenge) answers it.
"""

import asyncio

from micropython import const

_IRQ_CONNECT = const(1)
_IRQ_DISCONNECT = const(2)
_IRQ_WRITE = const(3)
_IRQ_MTU = const(21)
_IRQ_ENCRYPTION = const(28)
_IRQ_GET_SECRET = const(29)
_IO_DISPLAY_ONLY = const(0)
_F_READ = const(0x0002)
_F_WRITE = const(0x0008)
_F_NOTIFY = const(0x0010)
_F_WRITE_ENCRYPTED = const(0x1000)
_F_WRITE_AUTHENTICATED = const(0x2000)
_LAST = const(0x80)
MAX_MESSAGE = const(512)

# An unauthenticated rejection built in advance: out of memory, the token still says so.
_NO_MEMORY = (b'\x01' + bytes(8) + b'\x00>{"id":null,"r":"rejected","pick":null,"t":0,'
              b'"why":"no_memory"}' + bytes(16))

SERVICE = "5a7c0001-8f1e-4b7a-9d2c-3e1f0a6b9c4d"
CHALLENGE = "5a7c0002-8f1e-4b7a-9d2c-3e1f0a6b9c4d"
ANSWER = "5a7c0003-8f1e-4b7a-9d2c-3e1f0a6b9c4d"
INFO = "5a7c0004-8f1e-4b7a-9d2c-3e1f0a6b9c4d"


def start(dev):
    """Radio on: advertise the push service and answer challenges. Called at boot when an
    account is enrolled for push, and by the first enrolment; never without one, so a token
    that does no push has no radio on (less to attack, less battery)."""
    if dev.ble is not None or dev.bt is None:
        return
    import gc
    import json

    from authtok import VERSION

    def passkey(n):
        if dev.screen:
            dev.screen.activity()
            dev.screen.show_message("Pairing", ("Passkey", "%06d" % n))

    gc.collect()
    info = json.dumps({"serial": dev.serial, "fw": VERSION, "proto": 1, "push": 1})
    try:
        dev.ble = PushLink(dev.bt, "Token-" + dev.serial[-6:], info, dev.bonds, dev.ble_secure,
                           passkey)
    except (OSError, MemoryError) as e:  # no radio is better than no token
        dev.ble = None
        gc.collect()
        dev.log("BLE radio did not start (%r): no push until the next boot" % e)
        return
    asyncio.create_task(serve(dev))


async def serve(dev):
    """Challenges arriving over BLE, one at a time; push.py is loaded for each and dropped."""
    import gc

    from authtok.commands import drop

    link = dev.ble
    while True:
        await link.ready.wait()
        msg = link.message()
        gc.collect()
        try:
            from authtok import push

            answer = await push.handle(dev, msg)
        except Exception as e:  # a bad challenge must cost one answer, never the radio
            dev.log("push: %r" % e)
            answer = _NO_MEMORY if isinstance(e, MemoryError) else None
        drop("push")
        drop("prompt")
        gc.collect()
        if answer:
            link.send(answer)


def adv_payloads(name, service):
    """(advertising data, scan response): flags and the service UUID; the name. A legacy
    advertisement holds 31 bytes, too few for both."""
    uuid = bytes(reversed(bytes.fromhex(service.replace("-", ""))))
    adv = b"\x02\x01\x06" + bytes((17, 0x07)) + uuid
    n = name.encode()
    return adv, bytes((len(n) + 1, 0x09)) + n


class PushLink:
    def __init__(self, bt, name, info, bonds=None, secure=True, show_passkey=None):
        """bt: the `bluetooth` module; bonds: a store.Sealed for bond keys; secure: refuse
        challenges on a link that is not encrypted (real radios; the simulator has none)."""
        ble = self.ble = bt.BLE()
        ble.active(True)
        ble.config(gap_name=name)
        if secure:
            ble.config(bond=True, mitm=True, le_secure=True, io=_IO_DISPLAY_ONLY)
        self._secure = secure
        self.bonds = bonds
        self.show_passkey = show_passkey
        write = _F_WRITE | (_F_WRITE_ENCRYPTED | _F_WRITE_AUTHENTICATED if secure else 0)
        u = bt.UUID
        service = (u(SERVICE), ((u(CHALLENGE), write), (u(ANSWER), _F_READ | _F_NOTIFY),
                                (u(INFO), _F_READ)))
        ((self._chal, self._ans, info_h),) = ble.gatts_register_services((service,))
        ble.gatts_write(info_h, info.encode())
        # A written value is kept to 20 bytes unless told: a chunk may fill the largest MTU.
        ble.gatts_set_buffer(self._chal, 512)
        self._adv = adv_payloads(name, SERVICE)
        self._buf = bytearray(MAX_MESSAGE)
        self._n = 0
        self._next = -1  # the chunk index expected next; -1: waiting for a first chunk
        self.size = 0  # bytes of the last whole message
        self.ready = asyncio.ThreadSafeFlag()
        self.conn = None
        self.mtu = 23
        self.encrypted = not secure
        ble.irq(self._irq)
        self.advertise()

    def advertise(self):
        self.ble.gap_advertise(250_000, adv_data=self._adv[0], resp_data=self._adv[1])

    def _irq(self, event, data):
        if event == _IRQ_WRITE:
            if data[1] == self._chal and (self.encrypted or not self._secure):
                self._chunk(self.ble.gatts_read(self._chal))
        elif event == _IRQ_CONNECT:
            self.conn = data[0]
            self._next = -1
        elif event == _IRQ_DISCONNECT:
            self.conn = None
            self.encrypted = not self._secure
            self.mtu = 23
            self.advertise()
        elif event == _IRQ_MTU:
            self.mtu = data[1]
        elif event == _IRQ_ENCRYPTION:
            self.encrypted = bool(data[1])
        elif event >= _IRQ_GET_SECRET:  # pairing and bonding: real radios only
            from authtok import ble_bond

            return ble_bond.irq(self, event, data)
        return None

    def _chunk(self, chunk):
        """One chunk of a challenge: bit 7 of its first byte marks the last, bits 0-6 count."""
        if not chunk:
            return
        head = chunk[0]
        index = head & ~_LAST
        if index == 0:
            self._n, self._next = 0, 0
        n = len(chunk) - 1
        if index != self._next or self._n + n > MAX_MESSAGE:
            self._next = -1  # a gap or an overflow: drop the message
            return
        self._buf[self._n : self._n + n] = chunk[1:]
        self._n += n
        self._next += 1
        if head & _LAST:
            self.size, self._next = self._n, -1
            self.ready.set()

    def message(self):
        return bytes(self._buf[: self.size])

    def send(self, data):
        """An answer, as notifications of MTU-sized chunks; also the characteristic's value."""
        step = max(self.mtu - 4, 8)
        for i, at in enumerate(range(0, max(len(data), 1), step)):
            last = at + step >= len(data)
            chunk = bytes((i | (_LAST if last else 0),)) + data[at : at + step]
            self.ble.gatts_write(self._ans, chunk)
            if self.conn is not None:
                self.ble.gatts_notify(self.conn, self._ans, chunk)
