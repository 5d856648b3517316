"""The buttons driver (firmware/drivers/buttons.py) over simulated pins (boards/sim/sim_pin.py),
under real MicroPython with asyncio.

Most tests drive `poll()` by hand on an injected clock, stepping poll_ms at a time exactly as
the `run()` task does, so timing is exact; one runs the real task on the real ticks_ms.
Defaults: debounce 20 ms, long 800 ms, poll 10 ms.
"""

import sys
from pathlib import Path

import pytest
from mp_helpers import results, script

ROOT = Path(__file__).resolve().parents[2]

SIM = """
import time

import micropython
from sim_pin import SimPin

from drivers.buttons import Buttons

T = [0]


def ticks():
    return T[0]


def make(names=("ok",), start=0, **kw):
    T[0] = start
    pins = [SimPin() for _ in names]
    woke = []
    kw.setdefault("on_activity", woke.append)
    b = Buttons(pins, names, ticks_ms=ticks, **kw)
    return b, pins, woke


def run(b, ms):
    # ms of simulated time: advance poll_ms, then poll, as the run() task does.
    for _ in range(ms // b.poll_ms):
        T[0] = time.ticks_add(T[0], b.poll_ms)
        b.poll()


def ev(b):
    # Drain: every pending event, oldest first, without waiting.
    out = []
    while True:
        e = b.get()
        if e is None:
            return out
        out.append(list(e))


def pressed(b, name):
    # The debounced state of one button (the driver keeps no method for it: heap).
    return bool(b._stable[b.names.index(name)])


def tap(b, pin, hold_ms, gap_ms=100):
    pin.press()
    run(b, hold_ms)
    pin.release()
    run(b, gap_ms)
"""


def mp(run_mp, body, **params):
    return results(run_mp(script(body, SIM, **params)))


def test_clean_short_press(run_mp):
    res = mp(
        run_mp,
        """
        b, (p,), woke = make()
        p.press()
        run(b, 200)
        R("held", [ev(b), woke, pressed(b, "ok")])
        p.release()
        run(b, 100)
        R("released", [ev(b), woke, pressed(b, "ok"), b.dropped, b.get()])
        """,
    )
    assert res["held"] == [[], ["ok"], True]  # short fires on release, activity on press
    assert res["released"] == [[["ok", "short"]], ["ok"], False, 0, None]


@pytest.mark.parametrize("poll_ms,every", [(10, 1), (2, 2), (1, 5)])
def test_bounce_on_press_and_release_gives_one_event(run_mp, poll_ms, every):
    # Each bounce level lasts every * poll_ms < 20 ms: never long enough to count.
    res = mp(
        run_mp,
        """
        b, (p,), woke = make(poll_ms=POLL)
        p.press(bounces=4, every=EVERY)
        run(b, 200)
        settled_on_press = p.settled()
        p.release(bounces=4, every=EVERY)
        run(b, 200)
        R("r", [ev(b), woke, settled_on_press, p.settled()])
        """,
        POLL=poll_ms,
        EVERY=every,
    )
    assert res["r"] == [[["ok", "short"]], ["ok"], True, True]


def test_hold_fires_one_long_and_no_short(run_mp):
    res = mp(
        run_mp,
        """
        b, (p,), woke = make()
        p.press()
        run(b, 800)  # the contact is first seen at +10: long is due at +810
        R("before", ev(b))
        run(b, 10)
        R("at", ev(b))
        run(b, 3000)
        R("still_held", [ev(b), pressed(b, "ok")])
        p.release(bounces=2)
        run(b, 200)
        R("released", [ev(b), woke])
        tap(b, p, 700)  # just under long_ms: a short
        R("then_short", ev(b))
        """,
    )
    assert res["before"] == []
    assert res["at"] == [["ok", "long"]]
    assert res["still_held"] == [[], True]
    assert res["released"] == [[], ["ok"]]
    assert res["then_short"] == [["ok", "short"]]


def test_buttons_in_sequence_and_overlapping(run_mp):
    res = mp(
        run_mp,
        """
        b, (up, down, ok), woke = make(("up", "down", "ok"))
        tap(b, up, 100)
        tap(b, down, 1000)
        tap(b, ok, 50)
        R("seq", [ev(b), woke])
        up.press()
        run(b, 100)
        down.press()
        run(b, 100)
        R("both", [pressed(b, "up"), pressed(b, "down"), pressed(b, "ok")])
        up.release()
        run(b, 100)
        down.release()
        run(b, 100)
        R("overlap", ev(b))
        """,
    )
    assert res["seq"] == [
        [["up", "short"], ["down", "long"], ["ok", "short"]],
        ["up", "down", "ok"],
    ]
    assert res["both"] == [True, True, False]
    assert res["overlap"] == [["up", "short"], ["down", "short"]]


def test_presses_shorter_than_debounce_are_ignored(run_mp):
    res = mp(
        run_mp,
        """
        b, (p,), woke = make()
        for hold in (0, 10, 20):  # seen by at most 2 polls, 10 ms apart: under 20 ms stable
            tap(b, p, hold)
        R("short", [ev(b), woke])
        tap(b, p, 30)  # seen by 3 polls: stable for 20 ms, counts
        R("threshold", [ev(b), woke])
        b2, (p2,), woke2 = make(debounce_ms=0)
        tap(b2, p2, 10)  # without debounce, a single sample counts
        R("no_debounce", [ev(b2), woke2])
        """,
    )
    assert res["short"] == [[], []]
    assert res["threshold"] == [[["ok", "short"]], ["ok"]]
    assert res["no_debounce"] == [[["ok", "short"]], ["ok"]]


def test_queue_overflow_drops_oldest_and_counts(run_mp):
    res = mp(
        run_mp,
        """
        b, (up, down, ok), woke = make(("up", "down", "ok"), queue_len=4)
        for p in (up, down, ok):
            tap(b, p, 50)
        for p in (up, down, ok):
            tap(b, p, 900)
        R("full", [b._count, b.dropped])
        R("kept", ev(b))
        tap(b, up, 50)
        R("after", [ev(b), b.dropped, b._count])
        """,
    )
    assert res["full"] == [4, 2]
    assert res["kept"] == [["ok", "short"], ["up", "long"], ["down", "long"], ["ok", "long"]]
    assert res["after"] == [[["up", "short"]], 2, 0]


def test_ticks_wraparound(run_mp):
    # Start just before the wrap point of ticks_ms (2**30 on the ESP32, 2**62 on the 64-bit
    # unix port), built with ticks_add so it holds on any port; debounce and the long-press
    # timer both straddle the wrap. The event timing must match a start at 0 exactly.
    res = mp(
        run_mp,
        """
        PERIOD = time.ticks_add(0, -1) + 1


        def scenario(start):
            out = []
            b, (p,), woke = make(start=start)
            p.press()
            for n in range(100):  # the poll at which long fires
                run(b, 10)
                if b._count:
                    out.append([n] + ev(b))
                    break
            p.release()
            run(b, 100)
            out.append(ev(b))
            wrapped = T[0] < start
            for hold in (30, 20, 500):  # a short, an ignored blip, a short
                T[0] = time.ticks_add(start, -15 if hold == 30 else -25)
                tap(b, p, hold, 10)
                run(b, 100)
            out.append(ev(b))
            return out, wrapped, woke


        R("period_pow2", PERIOD & (PERIOD - 1) == 0)
        R("ref", scenario(0)[0])
        for back in (1, 15, 400, 805):
            R("wrap%d" % back, list(scenario(time.ticks_add(0, -back))))
        """,
    )
    assert res["period_pow2"] is True
    ref = res["ref"]
    assert ref == [[80, ["ok", "long"]], [], [["ok", "short"], ["ok", "short"]]]
    for back in (1, 15, 400, 805):
        out, wrapped, woke = res[f"wrap{back}"]
        assert out == ref, back
        assert wrapped and woke == ["ok"] * 3, back


def test_poll_loop_allocates_nothing(run_mp):
    res = mp(
        run_mp,
        """
        def scenario(b, up, down, ok, out):
            # In a function: a new module global would grow the globals dict (an allocation).
            up.press(bounces=3)
            run(b, 100)
            down.press()
            run(b, 1000)
            up.release(bounces=3)
            down.release()
            run(b, 100)
            for _ in range(3):
                ok.press()
                run(b, 50)
                ok.release()
                run(b, 50)
            out[0] = b.get()
            out[1] = b.get()


        b, pins, woke = make(("up", "down", "ok"), on_activity=None, queue_len=4)
        b.get()  # warm up
        up, down, ok = pins
        err = None
        got = [None, None]
        micropython.heap_lock()
        try:
            scenario(b, up, down, ok, got)
        except MemoryError:
            err = "allocated"
        finally:
            micropython.heap_unlock()
        R("r", [err, got[0] and list(got[0]), got[1] and list(got[1]), ev(b), b.dropped])
        """,
    )
    assert res["r"] == [
        None,
        ["down", "long"],
        ["ok", "short"],
        [["ok", "short"], ["ok", "short"]],
        1,  # up long, down long, 3 ok short: 5 into 4
    ]


def test_run_task_and_next_on_real_ticks(run_mp):
    res = mp(
        run_mp,
        """
        import asyncio


        async def user(pins):
            up, ok = pins
            await asyncio.sleep_ms(30)
            ok.press(bounces=2)
            await asyncio.sleep_ms(80)
            ok.release(bounces=2)
            await asyncio.sleep_ms(40)
            up.press()
            await asyncio.sleep_ms(400)
            up.release()


        async def main():
            pins = [SimPin(), SimPin()]
            woke = []
            b = Buttons(pins, ("up", "ok"), poll_ms=5, long_ms=200, on_activity=woke.append)
            task = asyncio.create_task(b.run())
            asyncio.create_task(user(pins))
            got = []
            for _ in range(2):
                got.append(list(await asyncio.wait_for_ms(b.next(), 3000)))
            try:
                await asyncio.wait_for_ms(b.next(), 500)
                extra = "event"
            except asyncio.TimeoutError:
                extra = None
            task.cancel()
            R("r", [got, extra, woke, b.dropped])


        asyncio.run(main())
        """,
    )
    assert res["r"] == [[["ok", "short"], ["up", "long"]], None, ["ok", "up"], 0]


def test_next_returns_queued_events_first_and_wakes_several_waiters(run_mp):
    res = mp(
        run_mp,
        """
        import asyncio


        async def main():
            b, (up, ok), woke = make(("up", "ok"))
            tap(b, ok, 50)
            first = list(await b.next())  # already queued: no wait
            out = []

            async def waiter(tag):
                out.append([tag] + list(await b.next()))

            tasks = [asyncio.create_task(waiter(t)) for t in ("a", "b")]
            await asyncio.sleep_ms(10)
            tap(b, up, 50)
            await asyncio.sleep_ms(10)
            tap(b, ok, 900)
            await asyncio.sleep_ms(10)
            R("r", [first, sorted(out), b._count])
            for t in tasks:
                t.cancel()


        asyncio.run(main())
        """,
    )
    first, out, pending = res["r"]
    assert first == ["ok", "short"]
    assert sorted(e[1:] for e in out) == [["ok", "long"], ["up", "short"]]
    assert pending == 0


def test_bad_arguments(run_mp):
    res = mp(
        run_mp,
        """
        for kw in ({"names": ("a", "b")}, {"queue_len": 0}, {"poll_ms": 0}):
            names = kw.pop("names", ("a",))
            try:
                Buttons([SimPin()], names, **kw)
                R(str(kw) + str(names), "accepted")
            except ValueError:
                pass
        R("ok", True)
        """,
    )
    assert res == {"ok": True}


def test_sim_pin_under_cpython(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "boards" / "sim"))
    sys.modules.pop("sim_pin", None)
    from sim_pin import SimPin

    p = SimPin()
    assert p.value() == 1 and not p.is_pressed()
    p.press()
    assert p.value() == 0 and p() == 0 and p.is_pressed()
    p.bounce(3, every=2)
    seen = [p.value() for _ in range(7)]
    assert seen == [0, 1, 1, 0, 0, 1, 1] and p.settled()
    p.release(bounces=1)
    assert [p.value() for _ in range(3)] == [0, 1, 1]
    p.bounce(5)
    p.value(0)  # a write cancels the bounce
    assert p.settled() and p.value() == 0
    assert SimPin(initial=0).value() == 0
    with pytest.raises(ValueError):
        p.bounce(-1)
