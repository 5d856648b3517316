"""The fleet manifest: the documented example, precedence, and every way a manifest is wrong,
without a PIN or a secret ever in a message."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from tokenctl.bench import manifest
from tokenctl.cli.main import cli
from tokenctl.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "fleet.toml"
PIN = "Pq7#xZ"  # distinctive, so a leak cannot hide in a path
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
GOOD_SET = f"""
[sets.a]
uris = ["otpauth://totp/A:x?secret={SECRET}&issuer=A"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_the_documented_example_loads():
    m = manifest.load(EXAMPLE, environ={"FLEET_PIN": PIN})
    assert m.name == "acme-2026-11" and m.unlisted == "defaults"
    slot0 = m.plan_for("ffff", 0)
    assert slot0 is not None and slot0.entry == "slot 0" and slot0.pin == PIN
    assert [a.label for a in slot0.accounts if a.touch] == ["Bank:treasury"]
    assert dict(slot0.settings) == {"max_tries": 5, "wipe_after": 10, "auto_lock_s": 60}
    by_serial = m.plan_for("A4CF12A1B2C3", 0)  # the serial wins over the slot
    assert by_serial is not None and by_serial.entry == "serial a4cf12a1b2c3"
    other = m.plan_for("0123", 5)
    assert other is m.defaults and len(other.accounts) == 3
    shown = repr(m) + repr(m.describe())
    assert PIN not in shown and SECRET not in shown
    assert m.describe()["defaults"]["pin"] == "$FLEET_PIN"


def test_unlisted_tokens_are_skipped_by_default(tmp_path):
    path = write(tmp_path, GOOD_SET + '[[token]]\nslot = 1\nsets = ["a"]\npin = "4321"\n')
    m = manifest.load(path, environ={})
    assert m.plan_for("abcd", 0) is None
    plan = m.plan_for("abcd", 1)
    assert plan is not None and plan.pin == "4321" and plan.pin_source == "manifest"


def test_a_token_entry_overrides_the_default_pin(tmp_path):
    text = GOOD_SET + '[defaults]\nsets = ["a"]\npin_env = "P"\n[[token]]\nslot = 0\npin = "9999"\n'
    m = manifest.load(write(tmp_path, text), environ={"P": PIN})
    assert m.defaults is not None and m.defaults.pin == PIN
    slot0 = m.by_slot[0]
    assert slot0.pin == "9999" and [a.label for a in slot0.accounts] == ["A:x"]


def test_an_account_file_is_read_relative_to_the_manifest(tmp_path):
    (tmp_path / "acc.txt").write_text(f"otpauth://hotp/B:y?secret={SECRET}&counter=3\n")
    text = '[sets.b]\nfile = "acc.txt"\ntouch = true\n[[token]]\nserial = "AB12"\nsets = ["b"]\n'
    plan = manifest.load(write(tmp_path, text)).by_serial["ab12"]
    assert plan.accounts[0].counter == 3 and plan.accounts[0].touch and plan.pin is None


BAD = [
    ("[fleet]\nname = 3\n", "name must be non-empty"),
    ('[fleet]\nunlisted = "all"\n', "unlisted must be"),
    ('[fleet]\nunlisted = "defaults"\n[[token]]\nslot = 0\n', "needs a [defaults]"),
    ("[fleet]\n", "no [[token]] entries"),
    ("colour = 1\n", "unknown key 'colour'"),
    ("[[token]]\nslot = 0\npn = 1\n", "unknown key 'pn'"),
    ('[[token]]\nslot = 0\nserial = "ab"\n', "exactly one of serial or slot"),
    ("[[token]]\nslot = -1\n", "slot must be an integer >= 0"),
    ('[[token]]\nserial = "xyz!"\n', "hex serial"),
    ('[[token]]\nserial = "ab"\n[[token]]\nserial = "AB"\n', "serial ab is listed twice"),
    ("[[token]]\nslot = 2\n[[token]]\nslot = 2\n", "slot 2 is listed twice"),
    ('[[token]]\nslot = 0\nsets = ["nope"]\n', "no account set named 'nope'"),
    ('[[token]]\nslot = 0\nsets = "a"\n', "sets must be a list"),
    ("[[token]]\nslot = 0\nmax_tries = 99\n", "max_tries must be an integer from 3 to 15"),
    ("[[token]]\nslot = 0\nmax_tries = true\n", "max_tries must be an integer"),
    ("[[token]]\nslot = 0\nauto_lock_s = 5\n", "auto_lock_s must be 0 (never) or from 15"),
    ("[[token]]\nslot = 0\nwipe_after = 5\n", "wipe_after must be 0 (off) or at least max_tries"),
    (f'[[token]]\nslot = 0\npin = "{PIN[:3]}"\n', "the PIN must be 4 characters"),
    (f'[[token]]\nslot = 0\npin = "{PIN * 11}"\n', "the PIN must be 4 characters"),
    ("[[token]]\nslot = 0\npin = 1234\n", "pin must be text"),
    (f'[[token]]\nslot = 0\npin = "{PIN}"\npin_env = "P"\n', "pin or pin_env, not both"),
    ('[[token]]\nslot = 0\npin_env = "UNSET_VAR"\n', "UNSET_VAR (pin_env) is not set"),
    ("[sets.b]\ntouch = true\n", "exactly one of file or uris"),
    ('[sets.b]\nfile = "missing.txt"\n', "cannot read"),
    ('[sets.b]\nuris = ["otpauth://totp/B:y?secret=not*base32"]\n', "line 1: secret is not valid"),
    ('[sets.b]\nuris = []\n', "holds no accounts"),
    ('[sets.b]\nuris = ["otpauth://totp/B:y?secret=' + SECRET + '"]\ntouch = 1\n', "touch must"),
    ('[[token]]\nslot = 0\nsets = ["a", "a"]\n', "A:x comes twice"),
    ("[[token]\nslot = 0\n", "is not valid TOML"),
    ("token = 3\n", "use [[token]] tables"),
]  # fmt: skip


@pytest.mark.parametrize("text, message", BAD, ids=[m for _, m in BAD])
def test_a_bad_manifest_says_what_and_where_without_secrets(tmp_path, text, message):
    path = write(tmp_path, text + GOOD_SET)
    with pytest.raises(InputError) as err:
        manifest.load(path, environ={"P": PIN})
    assert message in str(err.value)
    assert str(path) in str(err.value)
    for secret in (PIN[:3], SECRET, "not*base32"):
        assert secret not in str(err.value)


def test_a_manifest_that_is_not_utf8_or_missing(tmp_path):
    bad = tmp_path / "bin.toml"
    bad.write_bytes(b"\xff\xfe[fleet]")
    with pytest.raises(InputError, match="not UTF-8"):
        manifest.load(bad)
    with pytest.raises(InputError, match="cannot read"):
        manifest.load(tmp_path / "none.toml")


def test_dry_run_shows_the_plan_but_never_the_pin():
    runner = CliRunner()
    result = runner.invoke(
        cli, ["bench", "provision", "--manifest", str(EXAMPLE), "--dry-run"], env={"FLEET_PIN": PIN}
    )
    assert result.exit_code == 0, result.output
    assert "slot 0: 4 accounts" in result.output and "Bank:treasury  (touch)" in result.output
    assert "PIN from $FLEET_PIN" in result.output
    assert PIN not in result.output and SECRET not in result.output
    as_json = runner.invoke(
        cli,
        ["--json", "bench", "provision", "--manifest", str(EXAMPLE), "--dry-run"],
        env={"FLEET_PIN": PIN},
    )
    assert as_json.exit_code == 0 and '"pin": "$FLEET_PIN"' in as_json.output
    assert PIN not in as_json.output
