"""Heap the firmware costs: each module's import on its own, and no growth from what it is given.

The simulator runs the firmware from .mpy, whose bytecode lives in the 128K MicroPython heap
(the ESP32 would run frozen modules from flash), so every function and string costs heap; see
bench/run.py "Smallest heap". These limits keep the diet from sliding back.
"""

import re

import pytest
from mp_helpers import DEVICE, results, script_data
from test_commands import mpy_env, run_fw, sim_bus  # noqa: F401  (fixtures)

# Own cost measured when the limits were set (bytes), compiled as tokenctl.sim.build does (no
# line-number tables): errors 1024, store 3808, vault 4448, commands 7648, lock 5696,
# frontpanel 2912, screen 2432, log 3104, r503 3776, ui 4992, app 3872, sha512 2720 (loaded at
# the first SHA-512 code), provision 5376 (loaded by acct.add while a frame's parsed accounts
# fill the heap: the batch's peak; renaming, moving, removing and the PIN are in admin.py),
# ssd1306 2112, buttons 2048, ds3231 2208, stdio_link 1152, mac 1504 (the drivers offer only
# what the token calls), ble 3040, push_state 1760, push 3712, prompt 2592, push_reply 2720.
# The limits leave ~8% for heap layout, which moves with the length of the temporary folder's
# path.
LIMITS = [
    ("authtok.errors", ["authtok"], 1152),
    ("authtok.store", ["authtok.mac"], 4150),
    ("authtok.vault", ["authtok.errors", "authtok.store"], 4600),
    ("authtok.commands", ["authtok.otp", "authtok.log", "authtok.vault"], 8200),
    ("authtok.lock", ["authtok.errors", "authtok.store"], 6000),
    (
        "authtok.frontpanel",
        ["asyncio", "authtok.errors", "authtok.log", "authtok.otp", "authtok.commands"],
        3100,
    ),
    ("authtok.screen", ["authtok.otp", "authtok.ui", "authtok.vault"], 2800),
    ("authtok.log", ["authtok"], 3400),
    ("drivers.r503", ["drivers", "asyncio"], 4100),
    ("drivers.ssd1306", ["drivers"], 2300),
    ("drivers.buttons", ["drivers", "asyncio"], 2200),
    ("drivers.ds3231", ["drivers", "authtok.civil"], 2400),
    ("drivers.stdio_link", ["drivers", "asyncio"], 1250),
    ("authtok.mac", ["authtok"], 1650),
    ("authtok.ui", ["authtok"], 5400),
    ("authtok.app", ["asyncio", "authtok.commands", "authtok.frame", "authtok.log"], 4400),
    ("authtok.sha512", ["authtok"], 2950),
    ("authtok.provision", ["authtok.commands", "authtok.lock", "authtok.vault"], 5800),
    # Push, while the radio is on: ble resident; a challenge loads push (+ push_state), then
    # prompt, then push_reply (+ push_state), one at a time (ble.challenge).
    ("authtok.ble", ["asyncio", "authtok"], 3300),
    ("authtok.push_state", ["authtok"], 1900),
    ("authtok.push", ["authtok.log", "authtok.mac", "authtok.store", "authtok.push_state"], 4000),
    ("authtok.prompt", ["asyncio", "authtok"], 2850),
    ("authtok.push_reply", ["authtok.log", "authtok.mac", "authtok.push_state"], 2950),
]


@pytest.mark.parametrize("module, deps, limit", LIMITS)
def test_import_heap_cost(import_heap_cost, module, deps, limit):
    cost = import_heap_cost(module, deps)
    assert cost <= limit, f"{module} costs {cost} bytes of heap (limit {limit})"


# Two rounds of the same requests, the second with characters the first never had. MicroPython
# interns each distinct character a str is iterated or indexed into (a qstr, never freed): the
# firmware must work on bytes where the host's text goes (labels, secrets, PINs, the screen).
# The clock stays unset, so the screen draws labels and no codes.
QSTRS = """
import micropython


def round(tag, accounts, pin, new_pin):
    call(dev, "acct.add", a=accounts)
    for i in range(dev.vault.count):
        dev.screen.index = i
        dev.screen.activity()
        dev.screen.update()
    if new_pin:
        call(dev, "pin.change", old=pin, new=new_pin)
    else:
        call(dev, "pin.set", pin=pin)
    R(tag, call(dev, "unlock", pin=new_pin or pin).get("ok"))
    micropython.qstr_info()


dev = device(DIR)
round("first", FIRST, PIN1, None)
round("second", SECOND, PIN1, PIN2)
"""

FIRST = [
    {"i": "Société", "n": "renée@example.com", "s": "JBSWY3DPEHPK3PXP"},
    {"i": "", "n": "Zürich", "s": "GEZDGNBVGY3TQOJQ"},
]
SECOND = [
    {"i": "東京都", "n": "Ελλάδα ✓", "s": "MFRGGZDFMZTWQ2LK"},
    {"i": "Ærø", "n": "ñŋŧ—ß", "s": "ONSWG4TFOQYTEMZU", "k": 1},
]


def test_what_the_host_sends_interns_nothing(run_fw, tmp_path):  # noqa: F811 (fixture)
    params = dict(DIR=str(tmp_path), FIRST=FIRST, SECOND=SECOND, PIN1="Åse1", PIN2="жзий")
    out = run_fw(script_data(QSTRS, DEVICE, data_path=tmp_path / "params.json", **params))
    assert results(out) == {"first": 1, "second": 1}
    counts = [int(n) for n in re.findall(r"n_qstr=(\d+)", out)]
    assert len(counts) == 2 and counts[1] == counts[0], f"qstrs after each round: {counts}"
