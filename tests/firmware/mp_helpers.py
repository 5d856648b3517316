"""Shared pieces for the firmware tests that run under MicroPython (not a test module).

A test builds one script with `script(body, NAME=value, ...)`: PRELUDE, then one
`NAME = repr(value)` line per parameter, then the dedented body (`script_data` passes the
parameters through a JSON file instead). The script reports with `R(key, value)`, one JSON
line per key, and the test reads them back with `results(out)`.
"""

import json
import textwrap

PRELUDE = """\
import gc
import json
import os
import sys


def R(key, value):
    # Streamed out, and after a collection: the harness must not be what runs the heap out.
    gc.collect()
    sys.stdout.write("[" + json.dumps(key) + ", ")
    json.dump(value, sys.stdout)
    sys.stdout.write("]\\n")


def catch(f, *args):
    # ["ok", value] or [exception type, error code, message, extra] (authtok.errors.Error)
    try:
        return ["ok", f(*args)]
    except Exception as e:
        return [type(e).__name__, getattr(e, "code", None), str(e), getattr(e, "extra", None)]


def mount(path, blocks=64, fresh=True):
    # littlefs2 at /flash over a FileBlockDevice in `path`; fresh formats it first.
    from sim_blockdev import FileBlockDevice

    try:
        os.umount("/flash")
    except OSError:
        pass
    dev = FileBlockDevice(path, blocks)
    if fresh:
        os.VfsLfs2.mkfs(dev)
    os.mount(os.VfsLfs2(dev), "/flash")
    return dev


def frame_bytes(obj):
    # One frame as bytes, written by the firmware's own frame.send.
    import io

    from authtok import frame

    out = io.BytesIO()
    frame.send(out, obj)
    return out.getvalue()


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
"""

# The Device over the sim board (boards/sim/board.py), as firmware/main.py builds it.
DEVICE = """\
from board import Board
from authtok import app, commands


def device(state_dir):
    try:
        os.umount("/flash")
    except OSError:
        pass
    from authtok import frame

    return app.Device(Board(state_dir=state_dir), frame.Lines())


_ids = [0]


def call(dev, op, **fields):
    _ids[0] += 1
    req = {"op": op, "id": _ids[0]}
    req.update(fields)
    # Parsed afresh, as app.serve hands it over: a handler may consume its request (acct.add
    # drops each account once encoded), and the test's own lists must stay whole.
    req = json.loads(json.dumps(req))
    gc.collect()  # as app.serve does between requests
    resp = commands.dispatch(dev, req)
    assert resp["id"] == _ids[0], resp
    return resp


# The blob of a started backup (backup.begin answered `size`), read chunk by chunk as tokenctl
# does: the chunks, base64 as they came.
def read_backup(dev, size):
    import binascii

    got, o = [], 0
    while o < size:
        r = call(dev, "backup.read", o=o)
        got.append(r["d"])
        o += len(binascii.a2b_base64(r["d"]))
    return got
"""


def script(body: str, *snippets: str, **params) -> str:
    """PRELUDE, extra snippets, NAME = repr(value) per parameter, then the body."""
    head = "".join(f"{name} = {value!r}\n" for name, value in params.items())
    return PRELUDE + "".join(snippets) + head + textwrap.dedent(body)


def script_data(body: str, *snippets: str, data_path, **params) -> str:
    """Like script(), but the parameters travel as a JSON file (JSON types only): a big literal
    in the script itself would cost the 128K heap its compiled form."""
    with open(data_path, "w", encoding="utf-8") as f:
        json.dump(params, f)
    load = (
        f"with open({str(data_path)!r}) as _f:\n    globals().update(json.load(_f))\ngc.collect()\n"
    )
    return PRELUDE + "".join(snippets) + load + textwrap.dedent(body)


def results(out: str) -> dict:
    """The script's R(key, value) lines as a dict (a key reported twice is a test bug)."""
    res: dict = {}
    for line in out.splitlines():
        if not line.startswith("["):
            continue
        key, value = json.loads(line)
        assert key not in res, f"key {key!r} reported twice"
        res[key] = value
    return res
