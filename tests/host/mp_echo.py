# A stand-in firmware for the launcher tests (MicroPython): echoes stdin uppercased to stdout.
import select
import sys

poller = select.poll()
poller.register(sys.stdin, select.POLLIN)
while True:
    poller.poll()
    b = sys.stdin.buffer.read(1)
    if not b:
        break
    sys.stdout.buffer.write(b.upper())
