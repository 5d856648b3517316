"""The relying party's API: enrol a token's account, send a push challenge, revoke.

For a login server to embed, as `tokenctl push` does:

    server = PushServer(PushStore.open())
    challenge = server.prepare(serial, "Example:alice", app="VPN", location="Berlin, DE")
    show_on_login_page(challenge.number)
    result = server.deliver(link, challenge)      # blocks until the token answers
    if result.approved: ...

Only an authenticated `approve` for this very challenge is an approval; everything else,
including any error raised here, is a failure.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tokenctl import errors
from tokenctl.client import TokenClient
from tokenctl.errors import DeviceError, InputError, PushRejected, TokenError
from tokenctl.push import crypto
from tokenctl.push.link import AnswerTimeout, Link
from tokenctl.push.store import Enrolment, PushStore

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_LIFETIME_S = 120

_FAILURES: dict[str, type[errors.PushNotApproved]] = {
    "deny": errors.PushDenied,
    "wrong_number": errors.PushWrongNumber,
    "report": errors.PushReported,
    "timeout": errors.PushTimeout,
    "rate_limited": errors.PushRateLimited,
    "rejected": errors.PushRejected,
}
_MESSAGES = {
    "deny": "the sign-in was denied on the token",
    "wrong_number": "a wrong number was picked on the token: denied",
    "report": "the sign-in was denied and reported as fraud on the token",
    "timeout": "no answer on the token in time",
    "rate_limited": "the token paused push prompts for this account",
    "rejected": "the token refused the challenge",
}


@dataclass(frozen=True)
class Challenge:
    """A sealed challenge, ready to send; `number` is what the sign-in page shows."""

    enrolment: Enrolment
    id: str
    seq: int
    number: int
    iat: int
    exp: int
    nonce: bytes = field(repr=False)
    message: bytes = field(repr=False)


@dataclass(frozen=True)
class PushResult:
    result: str  # approve, deny, report, wrong_number, timeout, rate_limited, rejected
    number: int
    id: str
    authenticated: bool
    why: str | None = None
    until: int | None = None
    device_time: int | None = None
    pick: int | None = None

    @property
    def approved(self) -> bool:
        return self.authenticated and self.result == "approve"

    def to_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "approved": self.approved,
            "number": self.number,
            "id": self.id,
            "authenticated": self.authenticated,
            "why": self.why,
            "until": self.until,
            "device_time": self.device_time,
            "pick": self.pick,
        }

    def raise_for_result(self) -> None:
        """Return on an approval; raise the PushNotApproved subclass of the outcome."""
        if self.approved:
            return
        message = _MESSAGES.get(self.result, self.result)
        if self.why:
            trust = "" if self.authenticated else ", unauthenticated"
            message += f" ({self.why}{trust})"
        if self.until is not None:
            message += f" until {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(self.until))}"
        raise _FAILURES.get(self.result, errors.PushRejected)(message)


def _enrol_answer(answer: dict) -> tuple[bytes, bytes, str]:
    try:
        handle = bytes.fromhex(answer["h"])
        device_pub = base64.b64decode(answer["pub"], validate=True)
        serial = answer["serial"]
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise DeviceError("bad_answer", "the token's push.enroll answer is malformed") from None
    if len(handle) != crypto.HANDLE_LEN or len(device_pub) != 32:
        raise DeviceError("bad_answer", "the token's push.enroll answer has bad lengths")
    if not isinstance(serial, str) or not serial:
        raise DeviceError("bad_answer", "the token's push.enroll answer has no serial")
    return handle, device_pub, serial


class PushServer:
    def __init__(self, store: PushStore, clock: Callable[[], float] = time.time):
        self.store = store
        self.clock = clock

    def enroll(
        self, client: TokenClient, account_query: str, now: float | None = None
    ) -> Enrolment:
        """Enrol one of the token's accounts for push over USB serial (the token must be
        open). The RP's private key lives only for this call; the push key never travels."""
        account = client.find(account_query)
        key = crypto.RpKey.generate()
        rp = base64.b64encode(key.public).decode()
        answer = client.call("push.enroll", i=account.get("i", ""), n=account["n"], rp=rp)
        handle, device_pub, serial = _enrol_answer(answer)
        try:
            push_key = key.push_key(handle, device_pub)
        except ValueError as e:
            raise DeviceError("bad_answer", f"push.enroll: {e}") from None
        del key
        created = self.clock() if now is None else now
        return self.store.add(
            serial, account.get("i", ""), account["n"], handle, push_key, device_pub, created
        )

    def prepare(
        self,
        serial: str | None,
        account: str,
        app: str,
        location: str,
        ip: str = "",
        lifetime_s: int = DEFAULT_LIFETIME_S,
        now: float | None = None,
    ) -> Challenge:
        """Seal a challenge for the account's enrolment (on token `serial`, or the only one).
        Its seq is committed as used here, before anything is sent."""
        if not 0 < lifetime_s <= crypto.MAX_LIFETIME_S:
            raise InputError(f"the lifetime must be 1..{crypto.MAX_LIFETIME_S} s")
        enrolment = self.store.find(account, serial)
        iat = int(self.clock() if now is None else now)
        fields: dict[str, Any] = {
            "id": secrets.token_hex(8),
            "seq": enrolment.next_seq,
            "iat": iat,
            "exp": iat + int(lifetime_s),
            "rpt": iat,
            "app": app,
            "loc": location,
            "ip": ip,
            "num": 10 + secrets.randbelow(90),
        }
        if problem := crypto.field_problem(fields):
            raise InputError(f"cannot send this challenge: {problem[1]}")
        fields["seq"] = self.store.take_seq(enrolment.id)
        message, nonce = crypto.seal_challenge(enrolment.push_key, enrolment.handle, fields)
        self.store.log_sent(fields["id"], enrolment.id, fields["seq"], iat, fields["exp"])
        return Challenge(
            enrolment,
            fields["id"],
            fields["seq"],
            fields["num"],
            iat,
            fields["exp"],
            nonce,
            message,
        )

    def deliver(
        self, link: Link, challenge: Challenge, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> PushResult:
        """Send the challenge, wait for the answer, verify it and log the outcome. Raises
        PushRejected for an answer that fails verification, TransportError for the link."""
        try:
            data = link.exchange(challenge.message, timeout_s)
        except AnswerTimeout:
            self._log(challenge, "timeout", "no_answer")
            return PushResult("timeout", challenge.number, challenge.id, False, why="no_answer")
        except TokenError:
            self._log(challenge, "error", "link")
            raise
        e = challenge.enrolment
        try:
            answer = crypto.open_answer(e.push_key, e.handle, challenge.nonce, challenge.id, data)
            if answer.result == "approve" and answer.pick not in (None, challenge.number):
                raise PushRejected("the token's answer is not valid: approved a different number")
        except PushRejected:
            self._log(challenge, "error", "bad_answer")
            raise
        why = answer.why if answer.authenticated else f"unauthenticated:{answer.why}"
        self._log(challenge, answer.result, why)
        return PushResult(
            answer.result,
            challenge.number,
            challenge.id,
            answer.authenticated,
            why=answer.why,
            until=answer.until,
            device_time=answer.device_time,
            pick=answer.pick,
        )

    def send(
        self,
        link: Link,
        serial: str | None,
        account: str,
        app: str,
        location: str,
        ip: str = "",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        lifetime_s: int = DEFAULT_LIFETIME_S,
        now: float | None = None,
        on_number: Callable[[int], None] | None = None,
    ) -> PushResult:
        """prepare + deliver; `on_number` gets the number to show before the wait."""
        challenge = self.prepare(serial, account, app, location, ip, lifetime_s, now)
        if on_number:
            on_number(challenge.number)
        return self.deliver(link, challenge, timeout_s)

    def revoke(
        self,
        serial: str | None,
        account: str,
        client: TokenClient | None = None,
        now: float | None = None,
    ) -> Enrolment:
        """End an enrolment here (a lost token: this is enough); with a client, on the
        token too. The store is revoked first, so a failing token call cannot undo it."""
        enrolment = self.store.find(account, serial)
        if client is not None and client.info().get("serial") != enrolment.serial:
            raise InputError(f"the token on this port is not token {enrolment.serial}")
        self.store.revoke(enrolment.id, self.clock() if now is None else now)
        if client is not None:
            client.call("push.revoke", i=enrolment.issuer, n=enrolment.name)
        return self.store.get(enrolment.id)

    def _log(self, challenge: Challenge, result: str, why: str | None) -> None:
        self.store.log_result(challenge.id, result, why, int(self.clock()))
