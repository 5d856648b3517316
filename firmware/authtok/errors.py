"""Device errors with stable codes: the protocol sends `code` and `msg` to the host as they are.

Messages are for people and never carry a secret or a PIN. Kept small: its bytecode lives in
the heap (tests/firmware/test_heap.py).
"""


class Error(Exception):
    def __init__(self, code, msg, **extra):
        super().__init__(msg)
        self.code, self.msg, self.extra = code, msg, extra


def bad_param(msg):
    return Error("bad_param", msg)


def not_found(msg="no account"):
    return Error("not_found", msg)
