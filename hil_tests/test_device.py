"""The token as a person holds it: the screen, the fingerprint sensor, the buttons, App Lock.

Simulator only: these place fingers, press buttons and read the panel's GDDRAM."""

from __future__ import annotations

import threading
import time

import pyotp
import pytest
from accounts import GITHUB_URI, expected_totp
from screen import BAR_PAGE, lit_in_page, pages, render

from tokenctl.errors import AuthError, DeviceError
from tokenctl.otpauth import parse_uri


def _settle(s: float = 0.5) -> None:
    time.sleep(s)  # the UI task redraws every 0.2 s


def enroll(sim, token, person: int) -> int:
    """Enroll `person`'s finger: three touches, lifted in between, as on the real sensor."""
    result: list = []
    worker = threading.Thread(target=lambda: result.append(token.enroll_finger("f", 40)))
    worker.start()
    for _ in range(3):
        time.sleep(0.8)
        sim.parts.finger("place", person)
        time.sleep(0.8)
        sim.parts.finger("remove")
    worker.join(30)
    assert result, "enrollment did not finish"
    return result[0]


def touch(sim, person: int | None) -> None:
    """A finger on the sensor long enough for the token's polling to see it, then lifted."""
    if person is None:
        sim.parts.finger("unknown")
    else:
        sim.parts.finger("place", person)
    time.sleep(1.0)
    sim.parts.finger("remove")
    time.sleep(0.5)


def test_screen_shows_the_code_and_the_seconds_left(sim_only, token):
    token.add_accounts([parse_uri(GITHUB_URI)])
    for _ in range(3):  # a period boundary may fall between the two reads: try again
        _settle()
        now = token.time()["now"]
        ram = bytes(sim_only.parts.ssd1306.gddram)
        want = render(
            "draw_account",
            issuer="GitHub",
            name="alice@example.com",
            code=expected_totp(GITHUB_URI, now),
            seconds_left=30 - now % 30,
            period=30,
            index=1,
            total=1,
        )
        if pages(ram) == pages(want):
            break
    assert pages(ram) == pages(want)
    bar = lit_in_page(ram, BAR_PAGE)
    full = lit_in_page(render("draw_bar", seconds_left=30, period=30), BAR_PAGE)
    assert abs(bar / full - (30 - now % 30) / 30) < 0.1


def test_screen_never_shows_a_code_while_locked(sim_only, token):
    token.add_accounts([parse_uri(GITHUB_URI)])
    token.set_pin("482913")
    token.lock()
    _settle()
    ram = bytes(sim_only.parts.ssd1306.gddram)
    assert pages(ram) == pages(render("draw_locked"))


def test_clock_untrusted_after_the_oscillator_stopped(sim_only, token):
    token.add_accounts([parse_uri(GITHUB_URI)])
    with sim_only.parts.lock:
        sim_only.parts.ds3231.state["status"] |= 0x80  # OSF: the battery ran out
    _settle()
    assert token.info()["clock"]["trusted"] is False
    with pytest.raises(DeviceError) as e:
        token.codes()
    assert e.value.code == "clock_untrusted"
    ram = bytes(sim_only.parts.ssd1306.gddram)
    want = render(
        "draw_account",
        issuer="GitHub",
        name="alice@example.com",
        code=None,
        seconds_left=0,
        period=30,
        index=1,
        total=1,
        warnings=["clock"],
    )
    assert pages(ram) == pages(want)
    token.sync_time()
    assert token.info()["clock"]["trusted"] is True


def test_unlock_by_finger_and_not_by_another(sim_only, token):
    token.set_pin("482913")
    fid = enroll(sim_only, token, person=7)
    assert (fid, "f") in token.fingers()
    token.lock()
    touch(sim_only, None)  # a stranger
    assert token.info()["locked"] is True
    touch(sim_only, 7)
    assert token.info()["locked"] is False
    events = [r[2] for r in token.log()]
    assert 3 in events and 5 in events  # UNLOCK_FINGER, BAD_FINGER


def test_five_failed_fingers_require_the_pin(sim_only, token):
    token.set_pin("482913")
    enroll(sim_only, token, person=7)
    token.lock()
    for _ in range(5):
        touch(sim_only, None)
    assert token.info()["app_lock"]["finger_locked"] is True
    touch(sim_only, 7)  # even the right finger is refused now
    assert token.info()["locked"] is True
    token.unlock("482913")
    assert token.info()["app_lock"]["finger_fails"] == 0


def test_touch_required_account(sim_only, token):
    acc = parse_uri(GITHUB_URI)
    import dataclasses

    token.add_accounts([dataclasses.replace(acc, touch=True)])
    enroll(sim_only, token, person=3)
    now, items = token.codes()
    assert "code" not in items[0] and items[0]["k"] == "touch"
    target = token.find("GitHub")
    got: list = []
    worker = threading.Thread(target=lambda: got.append(token.code(target)))
    worker.start()
    time.sleep(1.0)
    touch(sim_only, 3)
    worker.join(30)
    item = got[0]["c"][0]
    assert item["code"] == expected_totp(GITHUB_URI, got[0]["now"])


def test_pin_lockout_and_wipe_counted_across_a_power_cycle(sim_only, token):
    token.add_accounts([parse_uri(GITHUB_URI)])
    token.set_pin("482913")
    token.set_setting("max_tries", 3)
    token.set_setting("wipe_after", 3)
    token.lock()
    for _ in range(2):
        with pytest.raises(AuthError):
            token.unlock("000000")
    sim_only.restart()
    assert token.info()["tries_left"] == 1
    with pytest.raises(DeviceError) as e:
        token.unlock("000000")
    assert e.value.code == "wiped"
    info = token.info()
    assert info["accounts"] == 0 and info["pin"] is False


def test_brake_after_three_wrong_pins_until_power_cycle(sim_only, token):
    token.set_pin("482913")
    token.lock()
    for _ in range(3):
        with pytest.raises(AuthError):
            token.unlock("000000")
    with pytest.raises(DeviceError) as e:
        token.unlock("482913")
    assert e.value.code == "pin_brake"
    sim_only.restart()
    token.unlock("482913")


def test_auto_lock_after_idle(sim_only, token):
    token.set_pin("482913")
    token.set_setting("auto_lock_s", 15)
    assert token.info()["locked"] is False
    time.sleep(16.5)
    assert token.info()["locked"] is True


def test_buttons_walk_the_accounts_and_reveal_hotp(sim_only, token):
    hotp_uri = "otpauth://hotp/VPN:bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&counter=4&issuer=VPN"
    token.add_accounts([parse_uri(GITHUB_URI), parse_uri(hotp_uri)])
    sim_only.parts.press("down")
    time.sleep(0.6)
    sim_only.parts.press("ok")
    time.sleep(0.8)
    ram = bytes(sim_only.parts.ssd1306.gddram)
    want = render(
        "draw_account",
        issuer="VPN",
        name="bob",
        code=pyotp.HOTP("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").at(4),
        seconds_left=0,
        period=0,
        index=2,
        total=2,
        hotp=True,
    )
    assert pages(ram) == pages(want)
    assert token.find("bob")["c"] == 5  # the counter moved on before the code showed


def _press(sim, name: str, long: bool = False) -> None:
    sim.parts.press(name, 1.2 if long else 0.15)
    time.sleep(1.5 if long else 0.35)  # released, debounced and handled before the next


def test_pin_typed_with_the_buttons(sim_only, token):
    token.set_pin("1234")
    token.lock()
    _press(sim_only, "ok")  # starts PIN entry on the locked screen
    for digit in (1, 2, 3):
        for _ in range(digit):
            _press(sim_only, "up")
        _press(sim_only, "ok")
    for _ in range(4):
        _press(sim_only, "up")
    _press(sim_only, "ok", long=True)  # the last digit, and send
    assert token.info()["locked"] is False
    assert 2 in [r[2] for r in token.log()]  # UNLOCK_PIN


def test_a_wrong_pin_typed_with_the_buttons_costs_a_try(sim_only, token):
    token.set_pin("1234")
    token.lock()
    _press(sim_only, "ok")
    for _ in range(3):
        _press(sim_only, "ok")  # 0, 0, 0
    _press(sim_only, "ok", long=True)  # 0000
    info = token.info()
    assert info["locked"] is True and info["tries_left"] == 7


def test_screen_sleeps_when_idle_and_a_button_wakes_it(sim_only, token):
    token.set_setting("screen_s", 5)
    token.set_setting("brightness", 40)
    assert sim_only.parts.ssd1306.contrast == 40
    time.sleep(6.5)
    assert sim_only.parts.ssd1306.on is False  # asleep: the panel is off
    _press(sim_only, "down")
    _settle()
    assert sim_only.parts.ssd1306.on is True
