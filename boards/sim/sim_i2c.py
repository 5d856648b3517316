"""A simulated I2C bus with the machine.I2C API subset the drivers use.

Devices see only raw transactions, like on the wire: `write(data)` for a write transaction and
`read(n)` for a read transaction. The *_mem helpers are built from those exactly as a real
combined transaction (write register address, repeated start, read) is, so a simulated part
that gets the register pointer right for the mem helpers also does for raw writeto/readfrom.
"""

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


_ENODEV = const(19)  # what MicroPython's machine.I2C raises when nobody ACKs the address


class SimI2C:
    def __init__(self):
        self._devices = {}

    def attach(self, addr, device):
        self._devices[addr] = device

    def detach(self, addr):
        self._devices.pop(addr, None)

    def _device(self, addr):
        dev = self._devices.get(addr)
        if dev is None:
            raise OSError(_ENODEV)
        return dev

    @staticmethod
    def _memaddr(memaddr, addrsize):
        if addrsize == 8:
            return bytes((memaddr & 0xFF,))
        if addrsize == 16:
            return bytes(((memaddr >> 8) & 0xFF, memaddr & 0xFF))
        raise ValueError("addrsize")

    def scan(self):
        return sorted(self._devices)

    def writeto(self, addr, buf, stop=True):
        """Raw write transaction; returns the number of ACKed bytes like machine.I2C."""
        self._device(addr).write(bytes(buf))
        return len(buf)

    def readfrom_into(self, addr, buf, stop=True):
        data = self._device(addr).read(len(buf))
        buf[: len(data)] = data

    def readfrom(self, addr, nbytes, stop=True):
        return bytes(self._device(addr).read(nbytes))

    def writeto_mem(self, addr, memaddr, buf, addrsize=8):
        self._device(addr).write(self._memaddr(memaddr, addrsize) + bytes(buf))

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        dev = self._device(addr)
        dev.write(self._memaddr(memaddr, addrsize))
        data = dev.read(len(buf))
        buf[: len(data)] = data

    def readfrom_mem(self, addr, memaddr, nbytes, addrsize=8):
        dev = self._device(addr)
        dev.write(self._memaddr(memaddr, addrsize))
        return bytes(dev.read(nbytes))
