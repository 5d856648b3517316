"""BLE chunking (docs/push.md §6): a message of up to 512 bytes in GATT-sized pieces.

Each chunk is one header byte (bit 7: last chunk; bits 0-6: index 0, 1, ...) and at most
MTU - 3 - 1 payload bytes. Reassembly refuses gaps and oversize messages, so a lost or
reordered notification fails the exchange instead of splicing two messages.
"""

from __future__ import annotations

MAX_MESSAGE = 512
DEFAULT_MTU = 23
MAX_ATTRIBUTE = 512  # the largest value an ATT attribute can hold
LAST = 0x80
INDEX = 0x7F


class ChunkError(ValueError):
    """A chunk out of order, an empty one, or a message over the limit."""


def payload_size(mtu: int = DEFAULT_MTU) -> int:
    """Payload bytes per chunk at this ATT MTU (19 at the default 23)."""
    if mtu < 5:
        raise ValueError(f"an ATT MTU of {mtu} leaves no room for a chunk")
    return min(mtu - 3, MAX_ATTRIBUTE) - 1


def split(message: bytes, mtu: int = DEFAULT_MTU) -> list[bytes]:
    if not message:
        raise ValueError("an empty message")
    if len(message) > MAX_MESSAGE:
        raise ValueError(f"a message is at most {MAX_MESSAGE} bytes, not {len(message)}")
    size = payload_size(mtu)
    pieces = [message[at : at + size] for at in range(0, len(message), size)]
    if len(pieces) > INDEX + 1:
        raise ValueError(f"{len(pieces)} chunks at MTU {mtu}: more than {INDEX + 1}")
    last = len(pieces) - 1
    return [bytes([n | (LAST if n == last else 0)]) + p for n, p in enumerate(pieces)]


class Reassembler:
    """Feed chunks in arrival order; `feed` returns the message when its last chunk came.

    Index 0 always starts a new message (dropping a partial one); any other out-of-order
    index drops the message and raises ChunkError."""

    def __init__(self, max_message: int = MAX_MESSAGE):
        self.max_message = max_message
        self._parts: list[bytes] = []

    def reset(self) -> None:
        self._parts = []

    def feed(self, chunk: bytes) -> bytes | None:
        if not chunk:
            self.reset()
            raise ChunkError("an empty chunk (no header byte)")
        index, last = chunk[0] & INDEX, bool(chunk[0] & LAST)
        if index == 0:
            self._parts = []
        elif index != len(self._parts):
            expected = len(self._parts)
            self.reset()
            raise ChunkError(f"chunk {index} where chunk {expected} was due: message dropped")
        self._parts.append(chunk[1:])
        if sum(map(len, self._parts)) > self.max_message:
            self.reset()
            raise ChunkError(f"a message over {self.max_message} bytes: dropped")
        if not last:
            return None
        message = b"".join(self._parts)
        self.reset()
        if not message:
            raise ChunkError("an empty message")
        return message


def join(chunks: list[bytes]) -> bytes:
    """The one message these chunks make, exactly (no extra chunks after the last)."""
    r = Reassembler()
    for n, chunk in enumerate(chunks):
        message = r.feed(chunk)
        if message is not None:
            if n != len(chunks) - 1:
                raise ChunkError("chunks after the last one")
            return message
    raise ChunkError("the last chunk is missing")
