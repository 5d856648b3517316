"""Push figures for bench/run.py: from `push send` to the prompt on the token's display, and from
the finger on the sensor to the verified answer, in the simulator, with the token's share.

The token's share is read off the simulated radio: when the firmware took the challenge's last
chunk, and when it sent its answer (host/tokenctl/sim/radio.py timestamps both)."""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hil_tests"))

from accounts import GITHUB_URI  # noqa: E402
from test_device import enroll  # noqa: E402
from test_push import PUSH_HEAP  # noqa: E402

from tokenctl.client import TokenClient  # noqa: E402
from tokenctl.otpauth import parse_uri  # noqa: E402
from tokenctl.push.api import PushServer  # noqa: E402
from tokenctl.push.link import SimLink  # noqa: E402
from tokenctl.push.store import PushStore  # noqa: E402
from tokenctl.sim.token import SimToken  # noqa: E402

ROUNDS = 3
PERSON = 4
# The push tests' heap (bench/suite_heap.py finds the smallest that passes them).
HEAP = PUSH_HEAP


def _wait(pred, timeout_s: float = 20.0, step_s: float = 0.005) -> float:
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError("the token did not get there")
        time.sleep(step_s)
    return time.monotonic()


def measure_push(heap: str) -> dict:
    """Median over ROUNDS approvals, each: send, prompt seen, pick, finger, verified answer."""
    rows: dict[str, list[float]] = {k: [] for k in ("to_prompt", "prompt_dev", "to_answer",
                                                    "answer_dev")}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="pushbench-") as d:
        sim = SimToken(Path(d) / "tok", heap=heap).start()
        try:
            client = TokenClient.open(sim.port, timeout_s=5)
            client.sync_time()
            client.add_accounts([parse_uri(GITHUB_URI)])
            enroll(sim, client, PERSON)
            server = PushServer(PushStore.open(Path(d) / "push.db"))
            server.enroll(client, "GitHub")
            serial = client.info()["serial"]
            radio = sim.parts.ble
            link = SimLink(lambda action, **a: radio.control(action, **a))
            for _ in range(ROUNDS):
                time.sleep(3.5)  # the last round's "Approved" note clears itself
                challenge = server.prepare(serial, "GitHub", "Bench", "Here", "192.0.2.1")
                marks: dict[str, float] = {}
                before = bytes(sim.parts.ssd1306.gddram)

                def person(number=challenge.number, before=before, marks=marks):
                    marks["seen"] = _wait(lambda: bytes(sim.parts.ssd1306.gddram) != before)
                    marks["taken"] = radio.taken_at
                    _pick(sim, number)
                    marks["finger"] = time.monotonic()
                    sim.parts.finger("place", PERSON)

                worker = threading.Thread(target=person)
                t0 = time.monotonic()
                worker.start()
                result = server.deliver(link, challenge, 30)
                t_done = time.monotonic()
                worker.join(30)
                sim.parts.finger("remove")
                if not result.approved:
                    return {"error": f"not approved: {result.result} ({result.why})"}
                rows["to_prompt"].append(marks["seen"] - t0)
                rows["prompt_dev"].append(marks["seen"] - marks["taken"])
                t_finger = marks["finger"]
                rows["to_answer"].append(t_done - t_finger)
                rows["answer_dev"].append(radio.notified_at - t_finger)
            client.close()
        finally:
            sim.stop()
    return {k: statistics.median(v) for k, v in rows.items()} | {"rounds": ROUNDS}


def _pick(sim: SimToken, number: int) -> None:
    """Walk the prompt to the right number by reading the panel (hil_tests/screen.py renders
    what each option looks like), then OK."""
    from screen import pages, render

    wanted = pages(render("draw_message", title="Sign in GitHub",
                          lines=["Bench", "Here", "192.0.2.1", f"< {number} >"]))  # fmt: skip
    for _ in range(6):
        if pages(bytes(sim.parts.ssd1306.gddram)) == wanted:
            break
        sim.parts.press("down", 0.1)
        time.sleep(0.35)
    sim.parts.press("ok", 0.1)
    time.sleep(0.3)


def rows(res: dict) -> list[tuple[str, str, str, str]]:
    if "error" in res:
        return [("Push round trip", res["error"], "works", "fail")]
    return [
        (
            f"Push: send to prompt on the display (heap {HEAP})",
            f"{res['to_prompt'] * 1000:.0f} ms (token's share {res['prompt_dev'] * 1000:.0f} ms)",
            "report",
            "report",
        ),
        (
            "Push: finger to verified answer",
            f"{res['to_answer'] * 1000:.0f} ms (token's share {res['answer_dev'] * 1000:.0f} ms)",
            "report",
            "report",
        ),
    ]


if __name__ == "__main__":
    print(measure_push(sys.argv[1] if len(sys.argv) > 1 else HEAP))
