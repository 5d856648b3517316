"""What push remembers (`/flash/push`, sealed under the device key, never in the vault and so
never in a backup): each enrolment's handle, push key, last sequence number, failed-prompt run,
pause and prompt history, the last 32 challenge ids and nonces, and the last prompts overall.
Its own module so a backup, which needs only the enrolled labels, loads no push code."""

import struct


class State:
    """entries: [handle, key, seq, run, paused_until, [prompt times], issuer, name]; times:
    the last prompts overall; ring: the last challenges' id + nonce, 24 bytes each, in one
    bytes (one object, not 32)."""

    def __init__(self, sealed):
        self._sealed = sealed
        self.entries = []
        self.times = []
        self.ring = b""
        data = sealed.load()  # store.Corrupt if it fails its check
        if data:
            self._parse(data)

    def _parse(self, d):
        if d[:2] != b"P1":
            raise ValueError("push state version")
        n, nt, nr = d[2], d[3], d[4]
        at = 5
        self.times = list(struct.unpack_from(">%dI" % nt, d, at))
        at += 4 * nt
        self.ring = bytes(d[at : at + 24 * nr])
        at += 24 * nr
        for _ in range(n):
            h, k = bytes(d[at : at + 8]), bytes(d[at + 8 : at + 40])
            seq, run, until, np = struct.unpack_from(">QBIB", d, at + 40)
            at += 54
            times = list(struct.unpack_from(">%dI" % np, d, at))
            at += 4 * np
            label = []
            for _ in "in":
                label.append(bytes(d[at + 1 : at + 1 + d[at]]))
                at += 1 + d[at]
            self.entries.append([h, k, seq, run, until, times, label[0], label[1]])

    def save(self):
        out = [b"P1", bytes((len(self.entries), len(self.times), len(self.ring) // 24))]
        out.append(struct.pack(">%dI" % len(self.times), *self.times))
        out.append(self.ring)
        for h, k, seq, run, until, times, issuer, name in self.entries:
            out.append(h + k + struct.pack(">QBIB", seq, run, until, len(times)))
            out.append(struct.pack(">%dI" % len(times), *times))
            out.append(bytes((len(issuer),)) + issuer + bytes((len(name),)) + name)
        self._sealed.save(out)

    def find(self, handle):
        for e in self.entries:
            if e[0] == handle:
                return e
        return None
