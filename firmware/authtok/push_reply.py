"""Push approval's last step (docs/push.md §4, §5): the person's answer counted against the
account's run of failures, and the answer frame MAC'd to the challenge. Small, as it loads
again after the prompt, when the heap holds the most garbage. A rejected challenge's answer
is made here too (`reject`), after push.py has left the heap."""

import json
import struct

from micropython import const

from authtok import log as evlog
from authtok.mac import hmac
from authtok.push_state import State

_RUN = const(3)  # failed prompts in a row before a pause
_PAUSE_S = const(900)
_RESULTS = ("approve", "deny", "report", "wrong_number", "timeout")
REASONS = ("malformed", "unknown_account", "forged", "bad_lifetime", "replayed", "expired",
           "clock_untrusted", "rate_limited")


def answer(handle, pk, nonce, body):
    """The answer frame; MAC'd under the account's answer key when the challenge was
    authentic (pk given), else with a zero handle and tag."""
    j = json.dumps(body).encode()
    head = b"\x01" + (handle if pk else bytes(8)) + struct.pack(">H", len(j)) + j
    if not pk:
        return head + bytes(16)
    return head + hmac("SHA256", hmac("SHA256", pk, b"ans"), nonce + head)[:16]


def reject(dev, nonce, now, why, e, cid, until):
    """The answer to a challenge push.py refused (why: an index in REASONS), MAC'd when it was
    authentic; logged, and a pause shown on the display."""
    dev.event(evlog.PUSH_REJECTED, why)
    body = {"id": cid, "r": "rate_limited" if until else "rejected", "pick": None, "t": now,
            "why": REASONS[why]}
    if until:
        body["until"] = until
        if dev.screen:  # the person sees why nothing asks them (docs/push.md §5)
            dev.screen.activity()
            dev.screen.show_message("Push paused", (str(e[6] or e[7], "utf-8"),
                                    "%d min left" % ((until - now + 59) // 60)), 5000)
    return answer(e and e[0], e and e[1], bytes(nonce), body)


def settle(dev, ctx, result, pick):
    """The person's answer counted (a run of failures, or a fraud report, pauses the
    account's prompts) and the MAC'd answer."""
    handle, pk, nonce, cid, num, now = ctx
    if result == "pick":
        result = "wrong_number" if pick != num else "approve"
    state = State(dev.push_file)
    e = state.find(handle)
    if e is not None:  # else revoked while the prompt was up: nothing left to count
        e[3] = 0 if result == "approve" else min(e[3] + 1, 255)
        if e[3] >= _RUN or result == "report":
            e[4], e[3] = now + _PAUSE_S, 0
        state.save()
    dev.event(evlog.PUSH_ANSWER, _RESULTS.index(result))
    return answer(handle, pk, nonce, {"id": cid, "r": result, "pick": pick,
                                      "t": dev.clock.now()})
