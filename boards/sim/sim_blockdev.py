"""A flash chip in a file: 4 KiB erase blocks, erased to 0xFF, for os.VfsLfs2.

Implements MicroPython's extended block device protocol (readblocks/writeblocks with an
offset, ioctl erase), as the ESP32's flash partition does. Every write goes straight to the
file, so killing the process loses at most the write in progress, as a power cut does.
"""

BLOCK = 4096
_BLOCK_COUNT = 4
_BLOCK_SIZE = 5
_ERASE = 6


class FileBlockDevice:
    def __init__(self, path, blocks):
        self.blocks = blocks
        # Allocated once, while the heap is still whole: an erase must not need 4 KiB of
        # contiguous heap later (the ESP32's flash driver erases without any).
        self._erased = b"\xff" * BLOCK
        try:
            self._f = open(path, "r+b")
        except OSError:
            with open(path, "wb") as f:
                for _ in range(blocks):
                    f.write(self._erased)
            self._f = open(path, "r+b")

    def blank(self):
        """True if the first two blocks (littlefs's superblocks) were never written."""
        buf = bytearray(BLOCK)
        for b in (0, 1):
            self.readblocks(b, buf)
            if buf != self._erased:
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
            self._f.write(self._erased)
            return 0
        return None
