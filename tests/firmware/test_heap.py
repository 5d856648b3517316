"""Import heap cost of the firmware's modules, each on its own.

The simulator runs the firmware from .mpy, whose bytecode lives in the 128K MicroPython heap
(the ESP32 would run frozen modules from flash), so every function and string costs heap; see
bench/run.py "Smallest heap". These limits keep the diet from sliding back.
"""

import pytest

# Own cost measured when the limits were set (bytes): errors ~900, store 4576, vault 3744-4000,
# commands 8352, lock 5632, frontpanel 3296, screen 2688, log 3712, r503 4736-4960. The limits
# leave ~8% for heap layout, which moves with the length of the temporary folder's path.
LIMITS = [
    ("authtok.errors", ["authtok"], 1152),
    ("authtok.store", ["authtok.mac"], 5000),
    ("authtok.vault", ["authtok.errors", "authtok.store"], 4300),
    ("authtok.commands", ["authtok.otp", "authtok.log", "authtok.vault"], 9000),
    ("authtok.lock", ["authtok.errors", "authtok.store"], 6200),
    (
        "authtok.frontpanel",
        ["asyncio", "authtok.errors", "authtok.log", "authtok.otp", "authtok.commands"],
        3600,
    ),
    ("authtok.screen", ["authtok.otp", "authtok.ui", "authtok.vault"], 3000),
    ("authtok.log", ["authtok"], 4096),
    ("drivers.r503", ["drivers", "asyncio"], 5376),
]


@pytest.mark.parametrize("module, deps, limit", LIMITS)
def test_import_heap_cost(import_heap_cost, module, deps, limit):
    cost = import_heap_cost(module, deps)
    assert cost <= limit, f"{module} costs {cost} bytes of heap (limit {limit})"
