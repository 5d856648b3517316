"""A flash chip in a file: 4 KiB erase blocks, erased to 0xFF, for os.VfsLfs2.

Implements MicroPython's extended block device protocol (readblocks/writeblocks with an
offset, ioctl erase), as the ESP32's flash partition does. Every write goes straight to the
file, so killing the process loses at most the write in progress, as a power cut does.
Erasing and checking for blank flash go in small pieces: the ESP32's flash driver needs no
4 KiB buffer for them, and neither does its stand-in (the heap is the token's budget).
"""

from micropython import const

BLOCK = 4096
_PIECE = const(256)  # bytes per erase write or blank check
_BLOCK_COUNT = const(4)
_BLOCK_SIZE = const(5)
_ERASE = const(6)


class FileBlockDevice:
    def __init__(self, path, blocks):
        self.blocks = blocks
        self._ff = b"\xff" * _PIECE
        try:
            self._f = open(path, "r+b")
        except OSError:
            with open(path, "wb") as f:
                for _ in range(blocks * BLOCK // _PIECE):
                    f.write(self._ff)
            self._f = open(path, "r+b")

    def blank(self):
        """True if the first two blocks (littlefs's superblocks) were never written."""
        buf = bytearray(_PIECE)
        self._f.seek(0)
        for _ in range(2 * BLOCK // _PIECE):
            self._f.readinto(buf)
            if buf != self._ff:
                return False
        return True

    def readblocks(self, block, buf, offset=0):
        self._f.seek(block * BLOCK + offset)
        self._f.readinto(buf)

    def writeblocks(self, block, buf, offset=None):
        if offset is None:  # the simple protocol: erase, then write whole blocks
            for i in range(len(buf) // BLOCK):
                self.ioctl(_ERASE, block + i)
            offset = 0
        self._f.seek(block * BLOCK + offset)
        self._f.write(buf)

    def ioctl(self, op, arg):
        if op == _BLOCK_COUNT:
            return self.blocks
        if op == _BLOCK_SIZE:
            return BLOCK
        if op == _ERASE:
            self._f.seek(arg * BLOCK)
            for _ in range(BLOCK // _PIECE):
                self._f.write(self._ff)
            return 0
        return None
