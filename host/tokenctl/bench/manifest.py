"""The fleet manifest: which token gets which accounts, PIN and settings (TOML, docs/bench.md).

Everything is checked when the file is read, before any token is touched: a typo in a key, a
PIN the token would refuse, an unknown account set or an out-of-range setting stops the run
with an InputError. A manifest holds PINs and (through its account sets) secrets: no message
here quotes a value, and a plan's repr and `describe()` show neither.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokenctl import otpauth
from tokenctl.errors import InputError
from tokenctl.otpauth import Account

MAX_ACCOUNTS = 250  # the token's capacity (info.max_accounts)
# Settings in the order they are applied: max_tries before wipe_after, which must not be
# below it (protocol.md §5.19). Ranges as the device checks them.
SETTINGS: dict[str, tuple[int, int]] = {
    "max_tries": (3, 15),
    "wipe_after": (0, 99),
    "auto_lock_s": (0, 86400),
    "brightness": (0, 255),
    "screen_s": (5, 600),
}
DEFAULT_MAX_TRIES = 8
UNLISTED = ("skip", "defaults")
_TOKEN_KEYS = {"sets", "pin", "pin_env", *SETTINGS}
_SET_KEYS = {"file", "uris", "touch"}


@dataclass(frozen=True)
class TokenPlan:
    """What one token gets. `pin` is a secret: it is never shown."""

    entry: str  # where it comes from: "serial a4cf12a1b2c3", "slot 3", "defaults"
    accounts: tuple[Account, ...]
    settings: tuple[tuple[str, int], ...]
    pin: str | None = field(default=None, repr=False)
    pin_source: str = "none"  # "none", "manifest" or "$NAME": safe to show

    def describe(self) -> dict:
        """The plan without secrets: labels, touch flags, settings, where the PIN comes from."""
        return {
            "entry": self.entry,
            "accounts": [a.label for a in self.accounts],
            "touch": [a.label for a in self.accounts if a.touch],
            "settings": dict(self.settings),
            "pin": self.pin_source,
        }


@dataclass(frozen=True)
class Manifest:
    path: Path
    name: str
    unlisted: str
    defaults: TokenPlan | None
    by_serial: dict[str, TokenPlan]
    by_slot: dict[int, TokenPlan]

    def plan_for(self, serial: str, slot: int | None) -> TokenPlan | None:
        """The token's own entry (by serial first, then by slot), else the defaults when
        unlisted tokens get them, else None (the token is skipped)."""
        plan = self.by_serial.get(serial.lower())
        if plan is None and slot is not None:
            plan = self.by_slot.get(slot)
        if plan is None and self.unlisted == "defaults":
            plan = self.defaults
        return plan

    def describe(self) -> dict:
        return {
            "manifest": str(self.path),
            "name": self.name,
            "unlisted": self.unlisted,
            "defaults": self.defaults.describe() if self.defaults else None,
            "tokens": [p.describe() for p in (*self.by_serial.values(), *self.by_slot.values())],
        }


def load(path: str | os.PathLike, environ: dict[str, str] | None = None) -> Manifest:
    """Read and check a manifest; `environ` (default os.environ) resolves `pin_env`."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:  # says where, never what
        raise InputError(f"{path} is not valid TOML: {exc}") from None
    return _Reader(path, os.environ if environ is None else environ).manifest(data)


class _Reader:
    def __init__(self, path: Path, environ) -> None:
        self.path, self.environ = path, environ
        self.sets: dict[str, tuple[Account, ...]] = {}

    def fail(self, where: str, what: str) -> InputError:
        return InputError(f"{self.path}: {where}: {what}")

    def manifest(self, data: dict) -> Manifest:
        _only(self, "the top level", data, {"fleet", "defaults", "sets", "token"})
        fleet = _table(self, "[fleet]", data.get("fleet", {}))
        _only(self, "[fleet]", fleet, {"name", "unlisted"})
        name = fleet.get("name", self.path.stem)
        if not isinstance(name, str) or not name.strip():
            raise self.fail("[fleet]", "name must be non-empty text")
        unlisted = fleet.get("unlisted", "skip")
        if unlisted not in UNLISTED:
            raise self.fail("[fleet]", 'unlisted must be "skip" or "defaults"')
        for set_name, spec in _table(self, "[sets]", data.get("sets", {})).items():
            self.sets[set_name] = self.account_set(set_name, spec)
        base = _table(self, "[defaults]", data.get("defaults", {}))
        _only(self, "[defaults]", base, _TOKEN_KEYS)
        defaults = self.plan("defaults", "[defaults]", base, {}) if base else None
        if unlisted == "defaults" and defaults is None:
            raise self.fail("[fleet]", 'unlisted = "defaults" needs a [defaults] table')
        entries = data.get("token", [])
        if not isinstance(entries, list):
            raise self.fail("token", "use [[token]] tables")
        by_serial: dict[str, TokenPlan] = {}
        by_slot: dict[int, TokenPlan] = {}
        for n, entry in enumerate(entries, start=1):
            where = f"[[token]] #{n}"
            entry = _table(self, where, entry)
            _only(self, where, entry, _TOKEN_KEYS | {"serial", "slot"})
            if ("serial" in entry) == ("slot" in entry):
                raise self.fail(where, "give exactly one of serial or slot")
            if "serial" in entry:
                serial = entry["serial"]
                if not isinstance(serial, str) or not _is_hex(serial):
                    raise self.fail(where, "serial must be the token's hex serial number")
                serial = serial.lower()
                if serial in by_serial:
                    raise self.fail(where, f"serial {serial} is listed twice")
                by_serial[serial] = self.plan(f"serial {serial}", where, entry, base)
            else:
                slot = entry["slot"]
                if type(slot) is not int or slot < 0:
                    raise self.fail(where, "slot must be an integer >= 0")
                if slot in by_slot:
                    raise self.fail(where, f"slot {slot} is listed twice")
                by_slot[slot] = self.plan(f"slot {slot}", where, entry, base)
        if not by_serial and not by_slot and defaults is None:
            raise self.fail("the top level", "no [[token]] entries and no [defaults]")
        return Manifest(self.path, name.strip(), unlisted, defaults, by_serial, by_slot)

    def account_set(self, name: str, spec: Any) -> tuple[Account, ...]:
        where = f"[sets.{name}]"
        spec = _table(self, where, spec)
        _only(self, where, spec, _SET_KEYS)
        if ("file" in spec) == ("uris" in spec):
            raise self.fail(where, "give exactly one of file or uris")
        touch = spec.get("touch", False)
        if not isinstance(touch, bool):
            raise self.fail(where, "touch must be true or false")
        try:
            if "file" in spec:
                if not isinstance(spec["file"], str):
                    raise self.fail(where, "file must be a path")
                accounts = otpauth.read_uri_file(self.path.parent / spec["file"])
            else:
                uris = spec["uris"]
                if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
                    raise self.fail(where, "uris must be a list of otpauth:// URIs")
                accounts = otpauth.read_uri_file("\n".join(uris) + "\n")
        except InputError as exc:
            raise self.fail(where, str(exc)) from None
        if not accounts:
            raise self.fail(where, "holds no accounts")
        return tuple(Account(**{**_fields(a), "touch": touch}) for a in accounts)

    def plan(self, entry: str, where: str, own: dict, base: dict) -> TokenPlan:
        """A token's plan: its own keys over the defaults' (sets replace, not merge)."""
        merged = {**base, **own}
        if "pin" in own or "pin_env" in own:  # the token's own PIN replaces the default's
            merged = {k: v for k, v in merged.items() if k not in ("pin", "pin_env")}
            merged.update({k: own[k] for k in ("pin", "pin_env") if k in own})
        pin, source = self.pin(where, merged)
        return TokenPlan(entry, self.accounts(where, merged), self.settings(where, merged),
                         pin, source)  # fmt: skip

    def accounts(self, where: str, merged: dict) -> tuple[Account, ...]:
        names = merged.get("sets", [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise self.fail(where, "sets must be a list of set names")
        out: list[Account] = []
        seen: set[tuple[str, str]] = set()
        for name in names:
            if name not in self.sets:
                raise self.fail(where, f"no account set named {name!r} in [sets]")
            for account in self.sets[name]:
                if (account.issuer, account.name) in seen:
                    raise self.fail(where, f"{account.label} comes twice (set {name!r})")
                seen.add((account.issuer, account.name))
                out.append(account)
        if len(out) > MAX_ACCOUNTS:
            raise self.fail(where, f"{len(out)} accounts; a token holds {MAX_ACCOUNTS}")
        return tuple(out)

    def settings(self, where: str, merged: dict) -> tuple[tuple[str, int], ...]:
        out = []
        for name, (low, high) in SETTINGS.items():
            if name not in merged:
                continue
            value = merged[name]
            if type(value) is not int or not low <= value <= high:
                raise self.fail(where, f"{name} must be an integer from {low} to {high}")
            out.append((name, value))
        chosen = dict(out)
        max_tries = chosen.get("max_tries", DEFAULT_MAX_TRIES)
        wipe_after = chosen.get("wipe_after", 0)
        if chosen.get("auto_lock_s", 15) in range(1, 15):
            raise self.fail(where, "auto_lock_s must be 0 (never) or from 15 to 86400")
        if wipe_after and wipe_after < max_tries:
            raise self.fail(
                where, f"wipe_after must be 0 (off) or at least max_tries ({max_tries})"
            )
        return tuple(out)

    def pin(self, where: str, merged: dict) -> tuple[str | None, str]:
        if "pin" in merged and "pin_env" in merged:
            raise self.fail(where, "give pin or pin_env, not both")
        if "pin_env" in merged:
            var = merged["pin_env"]
            if not isinstance(var, str) or not var:
                raise self.fail(where, "pin_env must name an environment variable")
            if not self.environ.get(var):
                raise self.fail(where, f"the environment variable {var} (pin_env) is not set")
            pin, source = self.environ[var], f"${var}"
        elif "pin" in merged:
            pin, source = merged["pin"], "manifest"
            if not isinstance(pin, str):
                raise self.fail(where, "pin must be text (quote it)")
        else:
            return None, "none"
        if len(pin) < 4 or len(pin.encode("utf-8", "surrogatepass")) > 64:
            raise self.fail(where, "the PIN must be 4 characters to 64 bytes long")
        if any(0xD800 <= ord(c) <= 0xDFFF for c in pin):
            raise self.fail(where, "the PIN holds an invalid character")
        return pin, source


def _fields(a: Account) -> dict:
    return {k: getattr(a, k) for k in Account.__dataclass_fields__}


def _table(reader: _Reader, where: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise reader.fail(where, "must be a table")
    return value


def _only(reader: _Reader, where: str, table: dict, allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise reader.fail(
            where, f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})"
        )


def _is_hex(text: str) -> bool:
    return bool(text) and all(c in "0123456789abcdefABCDEF" for c in text)
