"""PushServer and `tokenctl push` end to end against a token written in Python (the reference
side in tokenctl.push.crypto) behind a scripted BLE central: results, exit codes, replays,
forged and unauthenticated answers, revocation. The real firmware: hil_tests."""

from __future__ import annotations

import base64
import json
import re

import pytest

from tokenctl import errors
from tokenctl.cli.main import main
from tokenctl.push import chunks, crypto
from tokenctl.push.api import PushServer
from tokenctl.push.link import SERVICE_UUID, SimLink, advert_name
from tokenctl.push.store import PushStore

NOW = 1_900_000_000
SERIAL = "24a1b2c3d4e5"


class FakeToken:
    """A token's push side: enrolment over 'serial', challenges over 'BLE'."""

    def __init__(self, serial=SERIAL):
        self.serial = serial
        self.keys: dict[bytes, bytes] = {}
        self.last_seq: dict[bytes, int] = {}
        self.seen: list[dict] = []
        self.decide = lambda f: {"r": "approve", "pick": f["num"]}
        self.tamper = lambda answer: answer
        self.silent = False
        self.notes: list[str] = []
        self.incoming = chunks.Reassembler()

    # --- the serial side (as TokenClient)
    def find(self, query):
        if query not in ("alice", "Example:alice"):
            raise errors.NotFoundError("not_found", f"no account matches {query!r}")
        return {"i": "Example", "n": "alice"}

    def info(self):
        return {"serial": self.serial}

    def call(self, op, **args):
        if op == "push.enroll":
            assert (args["i"], args["n"]) == ("Example", "alice")
            handle, device_pub, pk = crypto.token_enroll(base64.b64decode(args["rp"]))
            self.keys = {handle: pk}  # re-enrolling replaces
            return {
                "h": handle.hex(),
                "pub": base64.b64encode(device_pub).decode(),
                "serial": SERIAL,
            }
        if op == "push.revoke":
            self.keys.clear()
            return {}
        raise AssertionError(op)

    # --- the BLE side (as the simulator's central)
    def ble_call(self, action, **args):
        if action == "adv":
            return {"name": advert_name(self.serial), "services": [SERVICE_UUID]}
        if action in ("connect", "disconnect"):
            return {}
        if action == "write":
            message = self.incoming.feed(base64.b64decode(args["data"]))
            if message is not None and not self.silent:
                answer = self.tamper(self.answer(message))
                self.notes += [base64.b64encode(c).decode() for c in chunks.split(answer)]
            return {}
        if action == "notify":
            return {"data": self.notes.pop(0) if self.notes else None}
        raise AssertionError(action)

    def answer(self, message: bytes) -> bytes:
        nonce = message[9:25]
        try:
            handle = crypto.challenge_handle(message)
            if handle not in self.keys:
                raise crypto.ChallengeRejected("unknown_account", authenticated=False)
            pk = self.keys[handle]
            _, nonce, fields = crypto.open_challenge(pk, message)
        except crypto.ChallengeRejected as e:
            doc = {"id": None, "r": "rejected", "why": e.reason, "t": NOW}
            return crypto.seal_answer(None, None, nonce, doc)
        self.seen.append(fields)
        if fields["seq"] <= self.last_seq.get(handle, 0):
            doc = {"id": fields["id"], "r": "rejected", "why": "replayed", "t": NOW}
            return crypto.seal_answer(pk, handle, nonce, doc)
        self.last_seq[handle] = fields["seq"]
        doc = {"id": fields["id"], "pick": None, "t": NOW + 3, **self.decide(fields)}
        return crypto.seal_answer(pk, handle, nonce, doc)


@pytest.fixture
def token():
    return FakeToken()


@pytest.fixture
def server(token):
    s = PushServer(PushStore.open(":memory:"), clock=lambda: NOW)
    s.enroll(token, "alice")  # type: ignore[arg-type]
    return s


def send(server, token, **kw):
    kw.setdefault("timeout_s", 1)
    return server.send(SimLink(token.ble_call), SERIAL, "alice", "VPN", "Berlin, DE", **kw)


def test_enrol_stores_the_same_key_the_token_holds(server, token):
    (e,) = server.store.enrolments()
    assert (e.serial, e.label, e.next_seq) == (SERIAL, "Example:alice", 1)
    assert token.keys == {e.handle: e.push_key}


def test_approve(server, token):
    shown = []
    result = send(server, token, ip="192.0.2.7", on_number=shown.append)
    assert result.approved and result.authenticated and result.result == "approve"
    assert shown == [result.number] and 10 <= result.number <= 99
    assert result.pick == result.number and result.device_time == NOW + 3
    fields = token.seen[0]
    assert (fields["app"], fields["loc"], fields["ip"], fields["seq"]) == (
        "VPN",
        "Berlin, DE",
        "192.0.2.7",
        1,
    )
    assert fields["exp"] - fields["iat"] == 120 and fields["rpt"] == NOW
    assert re.fullmatch(r"[0-9a-f]{16}", fields["id"]) and fields["id"] == result.id
    result.raise_for_result()
    (row,) = server.store.log()
    assert (row["id"], row["result"], row["seq"]) == (result.id, "approve", 1)


def test_seq_increases_and_numbers_vary(server, token):
    results = [send(server, token) for _ in range(20)]
    assert [f["seq"] for f in token.seen] == list(range(1, 21))
    assert len({r.id for r in results}) == 20 and len({r.number for r in results}) > 1


@pytest.mark.parametrize(
    "decision, error, code",
    [
        ({"r": "deny"}, errors.PushDenied, 10),
        ({"r": "wrong_number", "pick": 11}, errors.PushWrongNumber, 11),
        ({"r": "report"}, errors.PushReported, 12),
        ({"r": "timeout"}, errors.PushTimeout, 13),
        ({"r": "rate_limited", "until": NOW + 900}, errors.PushRateLimited, 14),
        ({"r": "rejected", "why": "expired"}, errors.PushRejected, 15),
    ],
)
def test_failures_map_to_exit_codes(server, token, decision, error, code):
    token.decide = lambda f: decision
    result = send(server, token)
    assert not result.approved and result.authenticated and result.result == decision["r"]
    with pytest.raises(error) as e:
        result.raise_for_result()
    assert e.value.exit_code == code
    assert server.store.log()[0]["result"] == decision["r"]


def test_token_that_forgot_the_account_answers_unauthenticated(server, token):
    token.keys.clear()
    result = send(server, token)
    assert (result.result, result.authenticated, result.why) == (
        "rejected",
        False,
        "unknown_account",
    )
    assert not result.approved
    with pytest.raises(errors.PushRejected, match="unauthenticated"):
        result.raise_for_result()
    assert server.store.log()[0]["why"] == "unauthenticated:unknown_account"


def test_forged_unauthenticated_approval_refused(server, token):
    def forge(answer):
        doc = {"id": token.seen[-1]["id"], "r": "approve", "pick": token.seen[-1]["num"]}
        return crypto.seal_answer(None, answer[1:9], b"", doc)

    token.tamper = forge
    with pytest.raises(errors.PushRejected, match="unauthenticated"):
        send(server, token)
    assert server.store.log()[0]["result"] == "error"


def test_flipped_answer_refused(server, token):
    token.tamper = lambda a: a[:-1] + bytes([a[-1] ^ 1])
    with pytest.raises(errors.PushRejected, match="tag"):
        send(server, token)


def test_old_approval_replayed_to_a_new_challenge_refused(server, token):
    captured = []
    token.tamper = lambda a: captured.append(a) or a
    assert send(server, token).approved
    token.tamper = lambda a: captured[0]
    token.decide = lambda f: {"r": "deny"}
    with pytest.raises(errors.PushRejected):
        send(server, token)


def test_approval_of_another_number_refused(server, token):
    token.decide = lambda f: {"r": "approve", "pick": 10 if f["num"] != 10 else 11}
    with pytest.raises(errors.PushRejected, match="different number"):
        send(server, token)


def test_no_answer_is_a_timeout(server, token):
    token.silent = True
    result = send(server, token, timeout_s=0.1)
    assert (result.result, result.authenticated, result.why) == ("timeout", False, "no_answer")
    with pytest.raises(errors.PushTimeout):
        result.raise_for_result()


def test_replayed_seq_is_refused_by_the_token(server, token):
    send(server, token)
    (e,) = server.store.enrolments()
    server.store.conn.execute("UPDATE enrolments SET next_seq = 1 WHERE id = ?", (e.id,))
    result = send(server, token)
    assert (result.result, result.why, result.authenticated) == ("rejected", "replayed", True)


def test_bad_context_refused_before_a_seq_is_used(server, token):
    with pytest.raises(errors.InputError, match="app is longer"):
        server.send(SimLink(token.ble_call), SERIAL, "alice", "A" * 33, "x")
    with pytest.raises(errors.InputError, match="lifetime"):
        send(server, token, lifetime_s=301)
    assert server.store.enrolments()[0].next_seq == 1 and not token.seen


def test_revoke(server, token):
    e = server.revoke(SERIAL, "alice", client=token)  # type: ignore[arg-type]
    assert e.revoked == NOW
    assert not token.keys
    with pytest.raises(errors.NotFoundError):
        send(server, token)


def test_revoke_on_the_wrong_token_changes_nothing(server, token):
    with pytest.raises(errors.InputError, match="not token"):
        server.revoke(SERIAL, "alice", client=FakeToken(serial="ffffff"))  # type: ignore[arg-type]
    assert server.store.enrolments() and token.keys


def test_bad_enrol_answers(token):
    server = PushServer(PushStore.open(":memory:"))
    for bad in (
        {"h": "00", "pub": base64.b64encode(bytes(32)).decode(), "serial": "x"},
        {"h": "00" * 8, "pub": "!!", "serial": "x"},
        {"h": "00" * 8, "pub": base64.b64encode(bytes(32)).decode(), "serial": "x"},  # low order
        {"h": "00" * 8, "pub": base64.b64encode(bytes(31)).decode(), "serial": "x"},
        {"h": "00" * 8, "pub": base64.b64encode(b"\x09" + bytes(31)).decode(), "serial": ""},
    ):
        token.call = lambda op, bad=bad, **args: bad
        with pytest.raises(errors.DeviceError, match="push.enroll"):
            server.enroll(token, "alice")  # type: ignore[arg-type]
    assert not server.store.enrolments()


# --- the CLI ----------------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch, tmp_path, token):
    """Run tokenctl with the fake token on both 'serial' and 'BLE'; returns (code, out, err)."""
    import tokenctl.cli.push as cli_push
    from tokenctl.cli.context import Context

    monkeypatch.setattr(Context, "client", lambda self: token)
    monkeypatch.setattr(cli_push, "_sim_link", lambda ctx, serial: SimLink(token.ble_call))
    store = str(tmp_path / "push.db")

    def run(capsys, *args):
        argv = list(args)
        at = argv.index("push") + 2  # after the subcommand's name
        argv[at:at] = ["--store", store]
        with pytest.raises(SystemExit) as e:
            main(argv)
        out, err = capsys.readouterr()
        for pk in token.keys.values():
            assert pk.hex() not in out + err and base64.b64encode(pk).decode() not in out + err
        return e.value.code, out, err

    return run


SEND = ["push", "send", "--account", "alice", "--app", "VPN", "--location", "Berlin, DE"]


def test_cli_enrol_send_list_revoke(cli, capsys, token):
    code, out, _ = cli(capsys, "push", "enroll", "alice")
    assert code == 0 and "Enrolled Example:alice on token 24a1b2c3d4e5" in out
    assert "Token-c3d4e5" in out
    code, out, _ = cli(capsys, *SEND, "--timeout", "2")
    number = int(re.search(r"Number to match: (\d+)", out).group(1))
    assert code == 0 and out.index("Number to match") < out.index("Approved")
    assert token.seen[-1]["num"] == number
    token.decide = lambda f: {"r": "report"}
    code, out, err = cli(capsys, "--json", *SEND)
    assert code == errors.EXIT_PUSH_REPORTED and "Number to match" in err
    data = json.loads(out)
    assert data["result"] == "report" and not data["approved"] and "reported" in err
    code, out, _ = cli(capsys, "--json", "push", "list")
    (row,) = json.loads(out)
    assert row["account"] == "Example:alice" and row["next_seq"] == 3
    code, _, err = cli(capsys, "push", "revoke", "alice", "--on-token")
    assert code == 0 and "Revoked on the token too" in err and not token.keys
    code, _, err = cli(capsys, *SEND)
    assert code == errors.EXIT_NOT_FOUND and "no push enrolment" in err


def test_cli_exit_codes(cli, capsys, token):
    cli(capsys, "push", "enroll", "alice")
    for decision, code in [
        ({"r": "deny"}, 10),
        ({"r": "wrong_number", "pick": 12}, 11),
        ({"r": "timeout"}, 13),
        ({"r": "rate_limited", "until": NOW}, 14),
        ({"r": "rejected", "why": "expired"}, 15),
    ]:
        token.decide = lambda f, d=decision: d
        assert cli(capsys, *SEND)[0] == code
    token.keys.clear()
    code, _, err = cli(capsys, *SEND)
    assert code == 15 and "unknown_account, unauthenticated" in err


def test_cli_bad_input(cli, capsys, token):
    cli(capsys, "push", "enroll", "alice")
    assert cli(capsys, *SEND, "--lifetime", "301")[0] == errors.EXIT_USAGE
    code, _, err = cli(capsys, *SEND[:-1], "x" * 49)
    assert code == errors.EXIT_INPUT and "loc is longer" in err
    assert cli(capsys, "push", "enroll", "carol")[0] == errors.EXIT_NOT_FOUND


def test_cli_without_a_simulator(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("TOKENCTL_STATE_DIR", str(tmp_path / "state"))
    store = PushStore.open(tmp_path / "push.db")
    store.add(SERIAL, "Example", "alice", b"h" * 8, bytes(32), bytes(32))
    store.close()
    with pytest.raises(SystemExit) as e:
        main([*SEND[:2], "--store", str(tmp_path / "push.db"), *SEND[2:]])
    assert e.value.code == errors.EXIT_NOT_FOUND
    assert "--ble" in capsys.readouterr().err
