"""The protocol client: typed calls to a token, device errors turned into host exceptions.

No click here: scripts, the bench tools and the tests use this API as the CLI does.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable, Iterator

from tokenctl import frame
from tokenctl.errors import AuthError, DeviceError, NotFoundError
from tokenctl.otpauth import Account
from tokenctl.transport import SerialTransport

_AUTH_CODES = {"locked", "bad_pin", "pin_blocked", "pin_brake", "bad_finger", "finger_limit"}
# Bytes of accounts per acct.add frame: half a frame, so the token parses at most ~2 KB of
# JSON at once (its heap is small); the line rate, not the round trips, still dominates.
_BATCH_BUDGET = frame.MAX_LINE // 2
RESTORE_CHUNK = 1536  # raw bytes per restore.data frame: 2 KiB of base64


def _raise_for(answer: dict) -> dict:
    code = answer.get("err")
    if code is None:
        return answer
    message = answer.get("msg") or code
    if "tries_left" in answer:
        message += f" ({answer['tries_left']} PIN tries left)"
    details = {k: v for k, v in answer.items() if k not in ("err", "msg", "id")}
    if code in _AUTH_CODES:
        raise AuthError(code, message, **details)
    if code == "not_found":
        raise NotFoundError(code, message, **details)
    raise DeviceError(code, message, **details)


class TokenClient:
    def __init__(self, transport: SerialTransport):
        self.transport = transport

    @classmethod
    def open(cls, port: str, timeout_s: float | None = None) -> TokenClient:
        if timeout_s is None:
            return cls(SerialTransport(port))
        return cls(SerialTransport(port, timeout_s=timeout_s))

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> TokenClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def call(self, op: str, **args) -> dict:
        return _raise_for(self.transport.request(op, **args))

    # --- device and clock
    def info(self) -> dict:
        return self.call("info")

    def time(self) -> dict:
        return self.call("time.get")

    def sync_time(self, now: float | None = None) -> dict:
        """Set the token's clock to the host's (or `now`); returns the correction applied."""
        t = int(round(time.time() if now is None else now))
        return self.call("time.set", t=t)

    # --- App Lock
    def unlock(self, pin: str) -> None:
        self.call("unlock", pin=pin)

    def lock(self) -> None:
        self.call("lock")

    def set_pin(self, pin: str) -> None:
        self.call("pin.set", pin=pin)

    def change_pin(self, old: str, new: str) -> None:
        self.call("pin.change", old=old, new=new)

    # --- fingerprints, settings, log, factory reset
    def enroll_finger(self, name: str = "", timeout_s: float = 60) -> int:
        """Enroll a finger on the token (three touches there); returns its id."""
        answer = _raise_for(
            self.transport.request(
                "fp.enroll", timeout_s=timeout_s, name=name, timeout_ms=int(timeout_s * 1000) - 2000
            )
        )
        return answer["fid"]

    def fingers(self) -> list[tuple[int, str]]:
        return [(f[0], f[1]) for f in self.call("fp.list")["f"]]

    def remove_finger(self, fid: int) -> None:
        self.call("fp.remove", fid=fid)

    def settings(self) -> dict:
        answer = self.call("settings.get")
        return {k: v for k, v in answer.items() if k not in ("ok", "id")}

    def set_setting(self, name: str, value: int) -> dict:
        answer = self.call("settings.set", name=name, value=value)
        return {k: v for k, v in answer.items() if k not in ("ok", "id")}

    def set_touch(self, account: dict, touch: bool) -> None:
        self.call("acct.touch", i=account["i"], n=account["n"], t=1 if touch else 0)

    def log(self) -> list[list]:
        """Every record of the on-device diagnostic log, oldest first."""
        out: list[list] = []
        since = 0
        while True:
            page = self.call("log.read", since=since)["r"]
            out += page
            if not page:
                return out
            since = page[-1][0]

    def clear_log(self) -> None:
        self.call("log.clear")

    def wipe(self, pin: str | None) -> None:
        self.call("wipe", confirm="wipe", **({"pin": pin} if pin else {}))

    # --- backup and restore (the key is the one tokenctl.backup derived; never a secret)
    def backup_blob(
        self, key: bytes, pin: str, progress: Callable[[int, int], None] | None = None
    ) -> tuple[dict, bytes]:
        """The token seals its accounts under `key` and hands over the blob in chunks."""
        begin = self.call("backup.begin", k=key.hex(), pin=pin)
        size = begin["size"]
        blob = bytearray()
        while len(blob) < size:
            chunk = base64.b64decode(self.call("backup.read", o=len(blob))["d"])
            if not chunk:
                raise DeviceError("short_backup", "the token's backup ended early")
            blob += chunk
            if progress:
                progress(len(blob), size)
        return begin, bytes(blob[:size])

    def backup_done(self, generation: int, created: int) -> None:
        """The file is safe on the host: the token forgets its copy and remembers this one as
        its newest backup."""
        self.call("backup.done", gen=generation, t=created)

    def restore_blob(
        self,
        key: bytes,
        blob: bytes,
        created: int,
        merge: str | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict:
        """Upload a sealed blob and have the token swap it in whole (or change nothing)."""
        self.call("restore.begin", k=key.hex(), size=len(blob))
        for at in range(0, len(blob), RESTORE_CHUNK):
            piece = base64.b64encode(blob[at : at + RESTORE_CHUNK]).decode()
            self.call("restore.data", o=at, d=piece)
            if progress:
                progress(min(at + RESTORE_CHUNK, len(blob)), len(blob))
        args = {"merge": merge} if merge else {}
        return self.call("restore.commit", t=created, **args)

    # --- accounts
    def add_accounts(self, accounts: Iterable[Account]) -> dict:
        """Add accounts in as few frames as fit; the device stages all but the last frame
        and writes the whole batch at once, so the batch is added whole or not at all."""
        batches = list(_batches([a.to_wire() for a in accounts]))
        answer: dict = {}
        for n, batch in enumerate(batches):
            more = n < len(batches) - 1
            answer = self.call("acct.add", a=batch, seq=n, **({"more": 1} if more else {}))
        return {"added": answer.get("added", 0), "total": answer.get("total")}

    def accounts(self) -> list[dict]:
        return list(self._pages("acct.list", "a"))

    def find(self, query: str) -> dict:
        """The one account whose label or name matches `query` (exact first, then a
        case-insensitive substring, as ykman does)."""
        accounts = self.accounts()
        exact = [a for a in accounts if query in (_label(a), a["n"])]
        if len(exact) == 1:
            return exact[0]
        q = query.lower()
        hits = exact or [a for a in accounts if q in _label(a).lower()]
        if not hits:
            raise NotFoundError("not_found", f"no account matches {query!r}")
        if len(hits) > 1:
            names = ", ".join(_label(a) for a in hits[:5])
            raise DeviceError("ambiguous", f"{query!r} matches several accounts: {names}")
        return hits[0]

    def rename(self, account: dict, issuer: str, name: str) -> None:
        self.call("acct.rename", i=account["i"], n=account["n"], ni=issuer, nn=name)

    def remove(self, account: dict) -> None:
        self.call("acct.remove", i=account["i"], n=account["n"])

    def move(self, account: dict, position: int) -> None:
        self.call("acct.move", i=account["i"], n=account["n"], to=position)

    def code(self, account: dict, touch_timeout_s: float = 25) -> dict:
        """One account's code; an HOTP account's counter moves on. A touch-required account
        waits for a finger on the token."""
        wait = touch_timeout_s if account.get("t") else None
        return _raise_for(
            self.transport.request("code", timeout_s=wait, i=account["i"], n=account["n"])
        )

    def codes(self) -> tuple[int, list[dict]]:
        """(device time, TOTP codes of every account; HOTP accounts listed without a code)."""
        now = None
        items = []
        for page in self._raw_pages("code"):
            now = now if now is not None else page["now"]
            items += page["c"]
        return now or 0, items

    def _raw_pages(self, op: str) -> Iterator[dict]:
        offset = 0
        while True:
            page = self.call(op, o=offset)
            yield page
            got = len(page.get("a", page.get("c", [])))
            offset += got
            if got == 0 or offset >= page["total"]:
                return

    def _pages(self, op: str, key: str) -> Iterator[dict]:
        for page in self._raw_pages(op):
            yield from page[key]


def _label(a: dict) -> str:
    return f"{a['i']}:{a['n']}" if a.get("i") else a["n"]


def _batches(wires: list[dict]) -> Iterator[list[dict]]:
    batch: list[dict] = []
    size = 0
    for w in wires:
        n = len(frame.encode(w)) - len(frame.MARKER) - 10
        if batch and size + n > _BATCH_BUDGET:
            yield batch
            batch, size = [], 0
        batch.append(w)
        size += n + 1
    if batch:
        yield batch
