"""Power cuts in the middle of a request, for the tests that check the token is left with the
old state or the new one, never a mix."""

from __future__ import annotations

import threading
from collections.abc import Callable

from tokenctl.client import TokenClient


def cut_during(
    sim,
    client: TokenClient,
    work: Callable[[], object],
    delay_s: float,
    while_off: Callable[[], object] | None = None,
) -> bool:
    """Run work() (requests on `client`), cut the power after delay_s, close the client (the
    cable goes with the power: the pending request fails now), power on. Returns whether the
    token acknowledged the work before the cut. `while_off()` runs with the power off (to
    look at the flash the cut left)."""
    outcome: list = []

    def run():
        try:
            outcome.append(work())
        except Exception as e:  # the port closed under the read: any error will do
            outcome.append(e)

    worker = threading.Thread(target=run)
    worker.start()
    threading.Event().wait(delay_s)
    sim.power_cut()
    client.close()
    worker.join(timeout=30)
    if while_off:
        while_off()
    sim.power_on()
    return bool(outcome) and isinstance(outcome[0], dict)
