"""The push prompt on the token: the sign-in's context, three numbers to pick from with the
buttons (up/down move, OK takes), "Deny" and "Report fraud"; a picked number is approved only
with a matching finger, locked or not (docs/push.md §4). Loaded for the question, dropped after.
"""

import asyncio


class Prompt:
    def __init__(self, dev, ask):
        self.dev = dev
        self.ask = ask
        self.options = ["%d" % n for n in ask["nums"]] + ["Deny", "Report fraud"]
        self.at = 0
        self.chosen = asyncio.ThreadSafeFlag()

    def key(self, name, kind):
        """A button (frontpanel.button_loop hands them here while a prompt is up)."""
        if name == "ok":
            self.chosen.set()
            return
        self.at = (self.at + (1 if name == "down" else -1)) % len(self.options)
        self.draw()

    def draw(self):
        a = self.ask
        lines = [a["app"], a["loc"], a["ip"], "< %s >" % self.options[self.at]]
        if a["skew"]:
            lines.append("Clock off %ds" % a["skew"])
        self.dev.screen.show_message("Sign in " + a["account"], lines)


def _end(screen, title, line):
    """A last word on the outcome, gone by itself after a moment (the screen clears it: no
    task here keeps this module in the heap)."""
    screen.show_message(title, (line,), 3000)


async def ask(dev, ask):
    """(result, picked number): approve needs the right number and a matching finger."""
    screen = dev.screen
    p = Prompt(dev, ask)
    dev.prompt = p
    screen.activity()
    p.draw()
    try:
        await asyncio.wait_for_ms(p.chosen.wait(), ask["timeout_ms"])
    except asyncio.TimeoutError:
        return "timeout", None
    finally:
        dev.prompt = None
        screen.clear_message()
    choice = p.options[p.at]
    if choice == "Deny":
        return "deny", None
    if choice == "Report fraud":
        _end(screen, "Reported", "Sign-in denied")
        return "report", None
    pick = int(choice)
    if pick != ask["num"]:
        _end(screen, "Wrong number", "Sign-in denied")
        return "wrong_number", pick
    if dev.sensor is None:
        _end(screen, "No sensor", "Sign-in denied")
        return "deny", pick
    screen.show_message("Touch sensor", ("to approve",))
    dev.enrolling = True  # keep the unlock loop off the sensor
    try:
        page = await dev.sensor.wait_match(ask["timeout_ms"])
    except Exception:
        return "timeout", pick
    finally:
        dev.enrolling = False
        screen.clear_message()
    if page is None:
        _end(screen, "Not recognised", "Sign-in denied")
        return "deny", pick
    _end(screen, "Approved", "Signed in")
    return "pick", pick
