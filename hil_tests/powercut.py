"""The power-cut campaign (issue 7, "Prove it"): the simulated token is killed (kill -9, through
power.cut_during) at random points during account adds, removes, PIN changes, wrong PINs,
settings changes and restores, powered on again, and checked.

Each trial picks one change from a seeded random.Random and predicts, before running it, every
state the token may hold afterwards: the old one, the new one, and for changes made of several
requests (removing three accounts, two settings, two wrong PINs) the state after each request.
After the cut and the power-on the checker (`judge`) requires that

- the vault and the PIN state open (info: vault "ok", lock_state "ok"),
- the token holds exactly one of the predicted states: the accounts (order, labels, every
  public field), the settings, which PIN opens it, the PIN tries left, the newest backup seen,
- every acknowledged request is in it (a state from before an answered request is a loss),
- the PIN tries never went back up: a wrong PIN the token may have counted is never uncounted
  (lock.py pays for each attempt in flash before it compares).

Reading the state costs nothing it checks: the tries are read before the unlock, and the unlock
(the PIN the token should hold, most likely first) then restores them as any correct PIN does.
One token serves many trials (the cut is the restart); a fresh one is started only when a
failure leaves its state unknown. The cut delays are spread over each change's expected duration
(the first trial of a kind runs uncut to measure it), so cuts land before, during and after the
write; a digest of the flash image taken with the power off tells which cuts came after the
change had started writing ("cut mid-write").

Two figures are counted apart from the failures:
- `uncounted_late`: wrong PINs left uncounted by a cut late in their time. Timing, not a rule:
  a firmware that compares before it pays passes the old/new check (an unanswered wrong PIN
  may leave the old state) but shows here (tried with such a lock.py: 4 in 20 trials).
- `recorded` is a restore's legitimate middle state: the backup recorded in the settings, the
  vault not yet swapped (restore.commit writes them in that order). Found by this campaign
  when the order was the other way round (the restored accounts without their record).

Kill -9 ends the process between two write() calls, never inside one: torn flash pages (a
real supply dropping mid-program) are not simulated.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from power import cut_during

from tokenctl import backup as fmt
from tokenctl.client import TokenClient
from tokenctl.errors import AuthError, DeviceError
from tokenctl.otpauth import Account
from tokenctl.sim.token import SimToken

KINDS = ("add", "remove", "pin_change", "wrong_pin", "settings", "restore")
FIRST_PIN = "482915"
MAX_MODEL_ACCOUNTS = 40  # past this, uncut removes back to START_ACCOUNTS: trials stay fast
START_ACCOUNTS = 6
BLOBS = 4  # backups made on a donor token, restored onto the campaign's
BLOB_POOL = 24  # labels the backups draw from: they overlap each other and the token
SPREAD = 1.3  # cut delays span 0 .. SPREAD x the change's expected duration
TIMEOUT_S = 3.0
GOLDEN = 0.6180339887498949
LATE = 0.5  # of a wrong PIN's time: by then its try must be paid for (see Report)
RANGES = {  # settings.set: the values each setting takes (docs/protocol.md)
    "max_tries": (3, 15),
    "wipe_after": (0, 99),
    "auto_lock_s": (0, 86400),
    "brightness": (0, 255),
    "screen_s": (5, 600),
}
AUTO_LOCK = (0, 60, 300, 900, 3600)  # never below a trial's length: no lock mid-trial


def canon(public: dict) -> str:
    return json.dumps(public, sort_keys=True, ensure_ascii=False)


def label(entry: str) -> tuple[str, str]:
    d = json.loads(entry)
    return d["i"], d["n"]


@dataclass(frozen=True)
class State:
    """What a power cut must not mix: everything a change in this campaign touches."""

    accounts: tuple[str, ...]  # each account's public fields (canon), in the token's order
    settings: tuple[tuple[str, int], ...]  # settings.get, sorted
    pin: str | None  # the PIN that opens the token (never printed)
    tries: int  # PIN tries left, read before any unlock
    backup: tuple[int, int | None]  # newest backup the token saw: (generation, created)

    def but(self, **changes) -> State:
        return dataclasses.replace(self, **changes)

    def setting(self, name: str) -> int:
        return dict(self.settings)[name]

    def with_setting(self, name: str, value: int) -> State:
        s = dict(self.settings)
        s[name] = value
        new = self.but(settings=tuple(sorted(s.items())))
        return new.but(tries=value) if name == "max_tries" else new


@dataclass(frozen=True)
class Candidate:
    """A state the token may hold after the cut, and how many of the change's requests it
    includes (states with fewer than the acknowledged count are losses)."""

    step: int
    name: str  # "old", "new", or what lies between ("mid", "paid")
    state: State


@dataclass
class Seen:
    """What the checker found after the power-on."""

    vault: str
    lock_state: str
    state: State | None  # None when no PIN the token should hold opened it
    pending_restore: bool = False  # a restore upload still open after the cut
    error: str = ""  # why the state could not be read


def _why(e: Exception) -> str:
    """An error in words without secrets: the device's code, or the exception's type."""
    code = getattr(e, "code", None)
    return f"{type(e).__name__} {code}" if code else type(e).__name__


def differences(a: State, b: State) -> list[str]:
    """Which parts of two states differ, in words without secrets (no PIN, no secret)."""
    out = []
    if a.accounts != b.accounts:
        la, lb = [label(x) for x in a.accounts], [label(x) for x in b.accounts]
        if la == lb:
            out.append("account fields")
        elif sorted(la) == sorted(lb):
            out.append("account order")
        else:
            extra, missing = set(la) - set(lb), set(lb) - set(la)
            out.append(f"accounts ({len(la)} vs {len(lb)}: +{len(extra)} -{len(missing)})")
    sa, sb = dict(a.settings), dict(b.settings)
    out += [f"{k} {sa.get(k)} vs {sb.get(k)}" for k in sorted(sa) if sa.get(k) != sb.get(k)]
    if a.pin != b.pin:
        out.append("PIN")
    if a.tries != b.tries:
        out.append(f"tries {a.tries} vs {b.tries}")
    if a.backup != b.backup:
        out.append(f"backup record {a.backup} vs {b.backup}")
    return out


def judge(
    before: State, candidates: list[Candidate], acked: int, seen: Seen
) -> tuple[str, list[str]]:
    """(outcome, failures): the candidate's name the token matches ("neither" when none),
    and every rule the token broke."""
    failures = []
    if seen.vault != "ok" or seen.lock_state != "ok":
        failures.append(f"does not open: vault {seen.vault}, PIN state {seen.lock_state}")
    if seen.pending_restore:
        failures.append("a restore upload survived the power cut")
    st = seen.state
    if seen.error:
        return "neither", failures + [f"its state cannot be read: {seen.error}"]
    if st is None:
        return "neither", failures + ["no PIN the token should hold opens it"]
    ceiling = max([before.tries] + [c.state.tries for c in candidates])
    if st.tries > ceiling:
        failures.append(f"PIN tries went back up: {before.tries} before, {st.tries} after")
    matches = [c for c in candidates if c.state == st]
    if not matches:
        old, new = candidates[0], candidates[-1]
        failures.append(
            "neither the old nor the new state: vs old "
            + (", ".join(differences(st, old.state)) or "-")
            + "; vs new "
            + (", ".join(differences(st, new.state)) or "-")
        )
        return "neither", failures
    best = max(matches, key=lambda c: c.step)
    if best.step < acked:
        failures.append(
            f"an acknowledged change was lost: {acked} request(s) answered, "
            f"the token holds {best.name} (after {best.step})"
        )
    return best.name, failures


@dataclass
class Plan:
    """One trial's change: the requests (each one atomic on the token) and the predictions."""

    kind: str
    steps: list[Callable[[TokenClient], object]]
    candidates: list[Candidate]
    detail: str = ""
    size: float = 1.0  # the work, in units whose time is about the same (scales the cut delay)

    def pins(self, acked: int) -> list[str]:
        """The PINs to try, the one the acknowledged requests imply first."""
        ranked = sorted(self.candidates, key=lambda c: (c.step < acked, -c.step))
        out: list[str] = []
        for c in ranked:
            if c.state.pin and c.state.pin not in out:
                out.append(c.state.pin)
        return out


def steps_plan(
    kind: str, before: State, steps: list, states: list[State], detail: str, size: float
) -> Plan:
    """A plan whose every request moves the state one step; the candidates are the prefixes."""
    names = ["old"] + ["mid"] * (len(states) - 1) + ["new"]
    candidates = [Candidate(0, "old", before)]
    candidates += [Candidate(n + 1, names[n + 1], s) for n, s in enumerate(states)]
    return Plan(kind, steps, candidates, detail, size)


def public(a: Account | fmt.Record) -> dict:
    """What acct.list shows of an account (vault.Account.public)."""
    if isinstance(a, Account):
        hotp, alg, touch, rv = a.type == "hotp", a.algorithm, a.touch, False
    else:
        hotp, alg, touch, rv = a.hotp, a.algorithm, a.touch, a.reverify
    d: dict = {"i": a.issuer, "n": a.name, "k": "hotp" if hotp else "totp"}
    d.update(a=alg, d=a.digits)
    if hotp:
        d["c"] = a.counter
    else:
        d["p"] = a.period
    if touch:
        d["t"] = 1
    if rv:
        d["rv"] = 1
    return d


def random_account(rng: random.Random, issuer: str, name: str) -> Account:
    hotp = rng.random() < 0.3
    return Account(
        type="hotp" if hotp else "totp",
        issuer=issuer,
        name=name,
        secret=rng.randbytes(rng.choice([10, 20, 32])),
        algorithm=rng.choice(["SHA1", "SHA1", "SHA256", "SHA512"]),
        digits=rng.choice([6, 6, 8]),
        period=30 if hotp else rng.choice([30, 30, 60]),
        counter=rng.randrange(1000) if hotp else 0,
    )


@dataclass
class Blob:
    """A backup made on the donor token, and what it holds."""

    key: bytes
    data: bytes
    generation: int
    created: int
    accounts: list[str]  # canon public fields, in the backup's order


@dataclass
class Trial:
    n: int
    kind: str
    detail: str
    delay_s: float | None  # None: the uncut trial that measured the kind's duration
    acked: int
    steps: int
    outcome: str
    failures: list[str]
    mid_write: bool = False  # the cut came after the flash changed, before the new state
    expect_s: float = 0.0  # the plan's expected duration (the delay's scale)


@dataclass
class Report:
    seed: int
    trials: list[Trial] = field(default_factory=list)
    seconds: float = 0.0
    tokens: int = 0  # simulated tokens the campaign started (donor included)

    @property
    def failures(self) -> list[Trial]:
        return [t for t in self.trials if t.failures]

    def by_kind(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for t in self.trials:
            k = out.setdefault(t.kind, {"outcomes": Counter()})
            for key in ("trials", "cut", "acked", "mid_write", "failures"):
                k.setdefault(key, 0)
            k["mid_write"] += t.mid_write
            k["trials"] += 1
            k["cut"] += t.delay_s is not None
            k["outcomes"][t.outcome] += 1
            k["acked"] += t.acked == t.steps
            k["failures"] += bool(t.failures)
        return out

    def lines(self) -> list[str]:
        """A plain summary: one line per kind, then each failure with its reproducer."""
        out = []
        for kind, k in self.by_kind().items():
            outcomes = ", ".join(f"{n} {o}" for o, n in sorted(k["outcomes"].items()))
            out.append(
                f"{kind:10} {k['trials']:4} trials ({k['cut']} cut): {outcomes}; "
                f"{k['acked']} acknowledged, {k['mid_write']} cut mid-write, "
                f"{k['failures']} failures"
            )
        for t in self.failures:
            out.append(f"FAIL seed {self.seed} trial {t.n} ({t.kind}, {t.detail}): {t.failures}")
        if self.uncounted_late:
            out.append(f"{self.uncounted_late} wrong PIN(s) uncounted by a late cut")
        return out

    @property
    def uncounted_late(self) -> int:
        """Wrong PINs left uncounted by a cut after LATE of their time. The try is paid
        for first, then the PBKDF2 (most of the time) compares: a late cut that finds the
        try uncounted means the compare ran before the payment. Timing, so a report figure."""
        return sum(
            t.kind == "wrong_pin" and t.outcome == "old" and (t.delay_s or 0) >= LATE * t.expect_s
            for t in self.trials
        )


class Campaign:
    """Runs trials on one simulated token, starting another only when one is lost."""

    def __init__(
        self,
        make_sim: Callable[[], SimToken],
        seed: int,
        progress: Callable[[str], None] | None = None,
        cycle: bool = False,
    ):
        self.make_sim = make_sim
        self.cycle = cycle
        self.rng = random.Random(seed)
        self.report = Report(seed)
        self.progress = progress or (lambda _: None)
        self.sim: SimToken | None = None
        self.client: TokenClient | None = None
        self.model: State | None = None
        self.durations: dict[str, list[float]] = {}
        self.cuts: Counter[str] = Counter()
        self.labels = 0  # accounts made so far: every label is new
        self.clock = 1_800_000_000  # `created` of each restore: each one newer
        self.blobs: list[Blob] = []

    # --- tokens ------------------------------------------------------------------------------

    def _start(self) -> SimToken:
        self.report.tokens += 1
        return self.make_sim()

    def _open(self) -> TokenClient:
        assert self.sim is not None and self.sim.port
        return TokenClient.open(self.sim.port, timeout_s=TIMEOUT_S)

    def fresh_token(self) -> None:
        """A new token with a PIN and a few accounts; the model reads its state."""
        if self.client:
            self.client.close()
        if self.sim:
            self.sim.stop()
        self.sim = self._start()
        self.client = c = self._open()
        c.sync_time()
        c.set_pin(FIRST_PIN)
        c.add_accounts(self._new_accounts(START_ACCOUNTS))
        self.model = self._read(c, FIRST_PIN, c.info())

    def make_blobs(self) -> None:
        """Backups made on another token (the donor), as `tokenctl backup create` makes them:
        accounts from one pool of labels, so they overlap each other and the campaign's."""
        donor = self._start()
        try:
            with TokenClient.open(donor.port or "", timeout_s=TIMEOUT_S) as c:
                c.sync_time()
                c.set_pin(FIRST_PIN)
                for _ in range(BLOBS):
                    picks = self.rng.sample(range(BLOB_POOL), self.rng.randint(3, 10))
                    accounts = [
                        random_account(self.rng, f"Backup{j % 5}", f"pool{j}@example.com")
                        for j in picks
                    ]
                    c.add_accounts(accounts)
                    key = self.rng.randbytes(32)
                    begin, data = c.backup_blob(key, FIRST_PIN)
                    c.backup_done(begin["gen"], begin["t"])
                    held = [canon(public(r)) for r in fmt.unseal(data, key)]
                    self.blobs.append(Blob(key, data, begin["gen"], begin["t"], held))
                    for a in c.accounts():
                        c.remove(a)
        finally:
            donor.stop()

    def _new_accounts(self, n: int) -> list[Account]:
        out = []
        for _ in range(n):
            self.labels += 1
            j = self.labels
            out.append(random_account(self.rng, f"Cut{j % 7}", f"user{j}@example.com"))
        return out

    @staticmethod
    def _read(c: TokenClient, pin: str | None, info: dict) -> State:
        """The token's state (the client has unlocked it); tries as `info` gave them."""
        settings = c.settings()
        backup = info["backup"]
        return State(
            accounts=tuple(canon(a) for a in c.accounts()),
            settings=tuple(sorted(settings.items())),
            pin=pin,
            tries=info["tries_left"],
            backup=(backup["gen"], backup["t"]),
        )

    def observe(self, plan: Plan, acked: int) -> Seen:
        """After the power-on: the state, read without spending a try for good."""
        self.client = c = self._open()
        try:
            info = c.info()
        except Exception as e:  # no answer at all: it did not boot
            return Seen("no answer", "?", None, error=_why(e))
        try:
            return self._observe(c, info, plan, acked)
        except Exception as e:  # booted, but its state cannot be read
            return Seen(info["vault"], info["lock_state"], None, error=_why(e))

    def _observe(self, c: TokenClient, info: dict, plan: Plan, acked: int) -> Seen:
        pin = None
        for p in plan.pins(acked):
            try:
                c.unlock(p)
            except AuthError as e:
                if e.code == "bad_pin":
                    continue
                break
            pin = p
            break
        if pin is None:
            return Seen(info["vault"], info["lock_state"], None)
        state = self._read(c, pin, info)
        pending = False
        if plan.kind == "restore":
            try:
                c.call("restore.commit")
                pending = True
            except DeviceError as e:
                pending = e.code != "no_restore"
        # The next trial starts from here: the unlock restored the tries.
        self.model = state.but(tries=c.info()["tries_left"])
        return Seen(info["vault"], info["lock_state"], state, pending)

    # --- plans -------------------------------------------------------------------------------

    def choose(self, n: int) -> str:
        """Each kind once first (uncut: it measures the kind's speed), then at random, or in
        turn with `cycle` (so that a short run covers every kind as often)."""
        assert self.model is not None
        kinds = [k for k in KINDS if self.model.accounts or k != "remove"]
        turn = KINDS[n % len(KINDS)]
        if (n < len(KINDS) or self.cycle) and turn in kinds:
            return turn
        return self.rng.choice(kinds)

    def plan(self, kind: str) -> Plan:
        return getattr(self, "plan_" + kind)()

    def plan_add(self) -> Plan:
        m = self.model
        assert m is not None
        n = self.rng.choice([1, 2, 3, 5, 8, 12, 20, 30])
        batch = self._new_accounts(n)
        new = m.but(accounts=m.accounts + tuple(canon(public(a)) for a in batch))
        size = 4 + len(batch) + len(m.accounts) / 4
        return steps_plan("add", m, [lambda c: c.add_accounts(batch)], [new], str(n), size)

    def plan_remove(self) -> Plan:
        m = self.model
        assert m is not None
        k = self.rng.randint(1, min(3, len(m.accounts)))
        gone = self.rng.sample(list(m.accounts), k)
        steps, states, left = [], [], list(m.accounts)
        for entry in gone:
            i, n = label(entry)
            steps.append(lambda c, i=i, n=n: c.remove({"i": i, "n": n}))
            left.remove(entry)
            states.append(m.but(accounts=tuple(left)))
        size = k * (4 + len(m.accounts) / 4)
        return steps_plan("remove", m, steps, states, f"{k} of {len(m.accounts)}", size)

    def plan_pin_change(self) -> Plan:
        m = self.model
        assert m is not None and m.pin
        new_pin = m.pin
        while new_pin == m.pin:
            new_pin = str(self.rng.randrange(10**3, 10**8))
        old_pin = m.pin
        max_tries = m.setting("max_tries")
        candidates = [
            Candidate(0, "old", m),
            Candidate(0, "paid", m.but(tries=m.tries - 1)),  # counted, not yet compared
            Candidate(0, "verified", m.but(tries=max_tries)),  # correct, not yet replaced
            Candidate(1, "new", m.but(pin=new_pin, tries=max_tries)),
        ]
        return Plan("pin_change", [lambda c: c.change_pin(old_pin, new_pin)], candidates)

    def plan_wrong_pin(self) -> Plan:
        """One or two wrong PINs under the cut, after none or one uncut: at least one try
        is always left for the checker's correct PIN (and the brake, 3, is never reached)."""
        m = self.model
        assert m is not None and m.pin and self.client
        budget = min(2, m.tries - 1)
        pre = self.rng.randint(0, max(0, budget - 1))
        wrong = m.pin
        while wrong == m.pin:
            wrong = str(self.rng.randrange(10**3, 10**8))
        for _ in range(pre):
            self._wrong(self.client, wrong)
        m = self.model = m.but(tries=m.tries - pre)
        k = self.rng.randint(1, max(1, budget - pre))
        states = [m.but(tries=m.tries - j) for j in range(1, k + 1)]
        steps = [lambda c: self._wrong(c, wrong)] * k
        return steps_plan("wrong_pin", m, steps, states, f"{pre} before, {k} cut", k)

    @staticmethod
    def _wrong(c: TokenClient, pin: str) -> None:
        try:
            c.unlock(pin)
        except AuthError as e:
            if e.code == "bad_pin":
                return  # the answer: the attempt was counted
            raise
        raise AssertionError("a wrong PIN opened the token")

    def plan_settings(self) -> Plan:
        m = self.model
        assert m is not None
        state, steps, states, names = m, [], [], []
        for _ in range(self.rng.randint(1, 2)):
            name = self.rng.choice(sorted(RANGES))
            value = self._setting_value(state, name)
            steps.append(lambda c, n=name, v=value: c.set_setting(n, v))
            state = state.with_setting(name, value)
            states.append(state)
            names.append(f"{name}={value}")
        return steps_plan("settings", m, steps, states, ",".join(names), len(steps))

    def _setting_value(self, st: State, name: str) -> int:
        """A valid value other than the current one (lock.py's rules)."""
        cur, rng = st.setting(name), self.rng
        x, mt = st.setting("wipe_after"), st.setting("max_tries")
        choices: list[int]
        if name == "max_tries":
            choices = list(range(3, min(x or 15, 15) + 1))
        elif name == "wipe_after":
            choices = [0] + list(range(max(mt, 3), 100))
        elif name == "auto_lock_s":
            choices = list(AUTO_LOCK)
        else:
            lo, hi = RANGES[name]
            choices = [rng.randint(lo, hi) for _ in range(4)] + [lo, hi]
        others = [v for v in choices if v != cur]
        return rng.choice(others) if others else cur

    def plan_restore(self) -> Plan:
        m = self.model
        assert m is not None
        blob = self.rng.choice(self.blobs)
        if m.accounts:
            merge: str | None = self.rng.choice(["skip", "replace"])
        else:
            merge = self.rng.choice([None, "skip", "replace"])
        mine = list(m.accounts)
        theirs = {label(a) for a in blob.accounts}
        if merge == "replace":
            accounts = [a for a in mine if label(a) not in theirs] + blob.accounts
        else:
            have = {label(a) for a in mine}
            accounts = mine + [a for a in blob.accounts if label(a) not in have]
        self.clock += 3600
        created = self.clock
        gen, t = m.backup
        new = m.but(
            accounts=tuple(accounts), backup=(max(gen, blob.generation), max(created, t or 0))
        )
        step = lambda c: c.restore_blob(blob.key, blob.data, created, merge)  # noqa: E731
        size = 4 + len(blob.accounts) + len(m.accounts) / 4
        plan = steps_plan("restore", m, [step], [new], f"merge {merge}, {len(blob.accounts)}", size)
        # restore.commit records the backup in the settings file, then swaps the vault in: a
        # cut in between leaves the old accounts and the record of a backup that exists.
        plan.candidates.insert(1, Candidate(0, "recorded", m.but(backup=new.backup)))
        return plan

    # --- trials ------------------------------------------------------------------------------

    def expect_s(self, plan: Plan) -> float:
        rates = self.durations.get(plan.kind)
        return statistics.median(rates) * plan.size if rates else 0.0

    def delay(self, plan: Plan) -> float | None:
        """None (uncut) until the kind's speed is known; then a point spread over 0..SPREAD x
        the plan's expected duration, low-discrepancy so that few trials still cover it."""
        if plan.kind not in self.durations:
            return None
        n = self.cuts[plan.kind]
        self.cuts[plan.kind] += 1
        frac = (n * GOLDEN + self.rng.random() * 0.05) % 1.0
        return frac * SPREAD * self.expect_s(plan)

    def prune(self) -> None:
        """Uncut removes back down to START_ACCOUNTS once the vault grew past
        MAX_MODEL_ACCOUNTS (adds and restores outpace removes): trials stay fast."""
        m = self.model
        assert m is not None and self.client is not None
        left = list(m.accounts)
        while len(left) > START_ACCOUNTS:
            entry = left.pop(self.rng.randrange(len(left)))
            i, n = label(entry)
            self.client.remove({"i": i, "n": n})
        self.model = m.but(accounts=tuple(left))

    def trial(self, n: int) -> Trial:
        if self.model is None:
            self.fresh_token()
        assert self.model is not None
        if len(self.model.accounts) > MAX_MODEL_ACCOUNTS:
            self.prune()
        assert self.sim is not None and self.client is not None
        kind = self.choose(n)
        plan = self.plan(kind)
        before = self.model
        assert before is not None
        delay, expect = self.delay(plan), self.expect_s(plan)
        acks: list[float] = []
        refused: list[str] = []
        client = self.client

        def work() -> dict:
            t0 = time.perf_counter()
            for step in plan.steps:
                try:
                    step(client)
                except DeviceError as e:  # the token answered, and refused
                    refused.append(e.code)
                    raise
                acks.append(time.perf_counter() - t0)
            self.durations.setdefault(kind, []).append(acks[-1] / plan.size)
            return {}

        flash = self.flash()
        wrote: list[bool] = []
        if delay is None:
            try:
                work()
            except Exception:
                pass  # the checker reports what was not acknowledged
            self.sim.power_cut()
            client.close()
            self.sim.power_on()
        else:
            cut_during(self.sim, client, work, delay, lambda: wrote.append(self.flash() != flash))
        acked = len(acks)
        seen = self.observe(plan, acked)
        outcome, failures = judge(before, plan.candidates, acked, seen)
        if refused:
            failures.append(f"the token refused a planned request: {refused[0]}")
        if failures:
            self.model = None  # its state is not what the model holds: start over
        mid_write = bool(wrote and wrote[0]) and outcome != "new"
        trial = Trial(n, kind, plan.detail, delay, acked, len(plan.steps), outcome, failures)
        trial.mid_write, trial.expect_s = mid_write, expect
        return trial

    def flash(self) -> bytes:
        """A digest of the simulated flash chip (the littlefs image)."""
        assert self.sim is not None
        data = (self.sim.state_dir / "flash.img").read_bytes()
        return hashlib.blake2b(data, digest_size=16).digest()

    def run(self, trials: int) -> Report:
        t0 = time.perf_counter()
        try:
            self.fresh_token()
            self.make_blobs()
            for n in range(trials):
                self.report.trials.append(self.trial(n))
                if n % 10 == 9:
                    bad = len(self.report.failures)
                    self.progress(f"power cuts: {n + 1}/{trials} trials, {bad} failures")
        finally:
            if self.client:
                self.client.close()
            if self.sim:
                self.sim.stop()
        self.report.seconds = time.perf_counter() - t0
        return self.report


def run_campaign(
    make_sim: Callable[[], SimToken],
    trials: int,
    seed: int,
    progress: Callable[[str], None] | None = None,
    cycle: bool = False,
) -> Report:
    """`trials` trials (seeded); make_sim() starts a new simulated token."""
    return Campaign(make_sim, seed, progress, cycle).run(trials)
