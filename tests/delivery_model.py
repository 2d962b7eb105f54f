"""A model-based driver for the delivery model: random sequences of what real nightly jobs do, against
two sandboxes (two targets), for an account mapping and a survey mapping, with the promises checked
after every step. `tests/test_delivery_model.py` runs it for a bounded time; `make soak` for longer.

Steps: an import (plain, --resume, --restart; with --state, sometimes --full), the same killed with
SIGKILL at a random moment, two overlapping processes, a changed or appended input, a switch of
target, lost answers and server faults, and a human who deals with survey rows that may have arrived.

Promises checked after every step:
- no survey row (an event) reaches a target twice;
- after an account import that exits 0, each account's value on the target is the last row of the file;
- after a survey import that exits 0, every row of the file is on the target (exactly once);
- no run ends with an internal error, and exit 0 only when every row is accepted (the two above).
Survey imports always keep a state: without one, `--restart` is the user's explicit "send them all again".
Account imports without the state are followed by `cg records state --forget`, as a state only knows
what went through it (docs/reliability.md).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cg_cli.importing.delivery import Destination
from cg_cli.importing.journal import row_digest
from cg_cli.records.mappings import Mapping
from cg_cli.records.readers import Row
from cg_cli.sandbox.faults import Fault
from cg_cli.sandbox.server import Sandbox

CG = str(Path(sys.executable).parent / "cg")
CLIENT_ID, SECRET = "model-client", "model-secret-never-shown"
ACCOUNTS = Mapping("accounts", "acc-ref", "account", ("Account Name", "First Name"))
SURVEYS = Mapping("responses", "resp-ref", "survey-response", ("Email", "Score"))
ALLOWED_EXITS = {0, 2, 5, 6}
FAULTS: list[dict[str, Any]] = [
    {"drop_after": True},  # the service stores it, the answer is lost
    {"drop": True},  # the connection drops before the service reads it
    {"status": 500},
    {"status": 502},
    {"status": 503, "retry_after": "0"},
    {"status": 500, "process": True},  # stored, then a 500
]


class Broken(AssertionError):
    """A promise broken: the message says which, and the log says how we got there."""


@dataclass
class Model:
    root: Path
    rng: random.Random
    targets: list[Sandbox] = field(default_factory=list)
    current: int = 0
    accounts: list[tuple[str, str]] = field(default_factory=list)  # (Account Name, First Name)
    surveys: list[tuple[str, str]] = field(default_factory=list)  # (Email, Score), every pair unique
    log: list[str] = field(default_factory=list)
    exits: Counter[str] = field(default_factory=Counter)  # "import 0", "kill -9", ...: what the steps met
    snapshots: list[list[tuple[str, str]]] = field(default_factory=list)  # earlier account files
    steps: int = 0
    serial: int = 0

    # -- setting up ------------------------------------------------------------------------------

    def start(self) -> None:
        for _ in range(2):
            sandbox = Sandbox(
                "127.0.0.1", 0, client_id=CLIENT_ID, client_secret=SECRET, mappings=(ACCOUNTS, SURVEYS), latency=0.004
            )
            self.targets.append(sandbox.start())
        lines = []
        for m in (ACCOUNTS, SURVEYS):
            fields = ", ".join(f'"{f}"' for f in m.fields)
            lines += [f"[{m.name}]", f'reference = "{m.reference}"', f'type = "{m.type}"', f"fields = [{fields}]", ""]
        (self.root / "cg-mappings.toml").write_text("\n".join(lines))
        keys = [f"Acct {k}" for k in range(24)]
        self.accounts = [(self.rng.choice(keys), self._value()) for _ in range(30)]
        self.surveys = [(f"p{self.rng.randrange(8)}@x.com", self._value()) for _ in range(25)]
        self._write()

    def stop(self) -> None:
        for sandbox in self.targets:
            sandbox.stop()

    def _value(self) -> str:
        self.serial += 1
        return f"v{self.serial}"

    def _write(self) -> None:
        (self.root / "a.csv").write_text("Account Name,First Name\n" + "".join(f"{k},{v}\n" for k, v in self.accounts))
        (self.root / "s.csv").write_text("Email,Score\n" + "".join(f"{e},{s}\n" for e, s in self.surveys))

    # -- running cg ------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CG_")}
        url = self.targets[self.current].url
        env.update(
            CG_API_URL=url,
            CG_AUTH_URL=url,
            CG_CLIENT_ID=CLIENT_ID,
            CG_CLIENT_SECRET=SECRET,
            CG_CONFIG_DIR=str(self.root / "config"),
            CG_MAPPINGS_FILE=str(self.root / "cg-mappings.toml"),
            NO_COLOR="1",
        )
        return env

    def _args(self, surveys: bool) -> list[str]:
        mode = self.rng.choice([[], ["--resume"], ["--resume"], ["--restart"]])
        state = surveys or self.rng.random() < 0.75
        extra = ["--state", "s.db"] if state else []
        if state and self.rng.random() < 0.15:
            extra.append("--full")
        name, mapping = ("s.csv", "responses") if surveys else ("a.csv", "accounts")
        workers = str(self.rng.choice([1, 2, 4]))
        return [
            CG,
            "records",
            "import",
            name,
            "--mapping",
            mapping,
            "--workers",
            workers,
            "--retries",
            "1",
            *mode,
            *extra,
        ]

    def _spawn(self, args: list[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            args,
            cwd=self.root,
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

    def _finish(self, proc: subprocess.Popen[bytes], args: list[str]) -> int:
        try:
            _, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise Broken(f"{' '.join(args[2:])} did not end within 120 s") from None
        code = proc.returncode
        self.exits[f"{'survey' if 'responses' in args else 'account'} exit {code}"] += 1
        self.log.append(f"  exit {code}: {err.decode(errors='replace').strip().splitlines()[-1:] if err else ''}")
        if code not in ALLOWED_EXITS and code != -signal.SIGKILL:
            raise Broken(f"{' '.join(args[2:])} exited {code}: {err.decode(errors='replace')[-600:]}")
        if code == 2 and b"in use by" not in err and b"journal" not in err:
            raise Broken(f"{' '.join(args[2:])} refused: {err.decode(errors='replace')[-600:]}")
        return code

    def _after_plain_account_run(self, args: list[str]) -> None:
        if "accounts" in args and "--state" not in args and (self.root / "s.db").exists():
            # A state only knows what went through it: a push without it makes it stale.
            done = subprocess.run(
                [CG, "records", "state", "s.db", "--forget", ACCOUNTS.reference],
                cwd=self.root,
                env=self.env(),
                capture_output=True,
                timeout=60,
            )
            if done.returncode == 2 and b"in use by" in done.stderr:
                return  # an overlapping run holds it; it is forgotten after that run
            self.log.append(f"  forget accounts in the state: exit {done.returncode}")

    # -- the steps --------------------------------------------------------------------------------

    def step(self) -> None:
        self.steps += 1
        action = self.rng.choices(
            ["import", "kill", "overlap", "change", "switch", "fault", "human"], weights=[6, 3, 1, 3, 1, 2, 1]
        )[0]
        getattr(self, f"_{action}")()
        self.check_events()

    def _import(self) -> None:
        surveys = self.rng.random() < 0.5
        args = self._args(surveys)
        self.log.append(f"{self.steps}: run {' '.join(args[3:])} → target {self.current}")
        code = self._finish(self._spawn(args), args)
        self._after_plain_account_run(args)
        if code == 0:
            self.check_complete(surveys)

    def _kill(self) -> None:
        args = self._args(self.rng.random() < 0.5)
        delay = self.rng.uniform(0.0, 0.8)
        self.log.append(f"{self.steps}: run {' '.join(args[3:])} → target {self.current}, SIGKILL after {delay:.2f} s")
        proc = self._spawn(args)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        self._finish(proc, args)
        self._after_plain_account_run(args)

    def _overlap(self) -> None:
        surveys = self.rng.random() < 0.5
        first, second = self._args(surveys), self._args(surveys)
        self.log.append(f"{self.steps}: overlapping {' '.join(first[3:])} and {' '.join(second[3:])}")
        procs = [self._spawn(first)]
        time.sleep(self.rng.uniform(0, 0.3))
        procs.append(self._spawn(second))
        broken: list[Broken] = []
        for proc, args in zip(procs, (first, second), strict=True):
            try:
                self._finish(proc, args)
            except Broken as exc:  # wait for the other one first: no process outlives the step
                broken.append(exc)
        if broken:
            raise broken[0]
        for args in (first, second):
            self._after_plain_account_run(args)

    def _change(self) -> None:
        rows: list[tuple[str, str]] = self.rng.choice([self.accounts, self.surveys])
        self.snapshots.append(list(self.accounts))
        if rows is self.accounts and self.rng.random() < 0.4 and len(self.snapshots) > 1:
            back = self.rng.randrange(len(self.snapshots) - 1)
            self.accounts = list(self.snapshots[back])  # yesterday's export again: older values come back
            self.log.append(f"{self.steps}: account file back to snapshot {back}")
        elif self.rng.random() < 0.5 and rows:
            index = self.rng.randrange(len(rows))
            rows[index] = (rows[index][0], self._value())
            self.log.append(f"{self.steps}: change row {index + 1}")
        else:
            key = rows[self.rng.randrange(len(rows))][0] if rows else "Acct new"
            rows.extend((key if self.rng.random() < 0.5 else f"{key}2", self._value()) for _ in range(3))
            self.log.append(f"{self.steps}: append 3 rows")
        self._write()

    def _switch(self) -> None:
        self.current = 1 - self.current
        self.log.append(f"{self.steps}: switch to target {self.current}")

    def _fault(self) -> None:
        fault = dict(self.rng.choice(FAULTS))
        count = self.rng.randint(1, 3)
        self.log.append(f"{self.steps}: {count} × fault {fault} on target {self.current}")
        queue = self.targets[self.current].state.faults["records"]
        with self.targets[self.current].state.lock:
            queue.extend(Fault(**fault) for _ in range(count))

    def _human(self) -> None:
        """Survey rows that may have arrived: take them out of the input, then clear their marks."""
        state = self.root / "s.db"
        if not state.exists():
            return
        with sqlite3.connect(state) as db:
            uncertain = {key for (key,) in db.execute("SELECT key FROM records WHERE status = 'U'")}
        if not uncertain:
            return
        before = len(self.surveys)
        self.surveys = [r for r in self.surveys if survey_key(r) not in uncertain]
        self._write()
        done = subprocess.run(
            [CG, "records", "state", "s.db", "--forget-uncertain", SURVEYS.reference],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            timeout=60,
        )
        self.log.append(
            f"{self.steps}: human took {before - len(self.surveys)} uncertain row(s) out: {done.returncode}"
        )

    # -- the promises ---------------------------------------------------------------------------------

    def _received(self, target: int, reference: str) -> list[dict[str, str]]:
        state = self.targets[target].state
        with state.lock:
            return [dict(r["record"]) for r in state.records if r["configuration"] == reference]

    def check_events(self) -> None:
        for target in range(len(self.targets)):
            counts = Counter((r["Email"], r["Score"]) for r in self._received(target, SURVEYS.reference))
            twice = [pair for pair, n in counts.items() if n > 1]
            if twice:
                raise Broken(f"survey rows reached target {target} twice: {twice[:5]}")

    def check_complete(self, surveys: bool) -> None:
        received = self._received(self.current, (SURVEYS if surveys else ACCOUNTS).reference)
        if surveys:
            there = Counter((r["Email"], r["Score"]) for r in received)
            missing = [r for r in self.surveys if there[r] != 1]
            if missing:
                raise Broken(f"exit 0, yet survey rows are not on target {self.current} exactly once: {missing[:5]}")
            return
        last_sent = {r["Account Name"]: r.get("First Name") for r in received}
        last_row = dict(self.accounts)
        wrong = {k: (last_sent.get(k), v) for k, v in last_row.items() if last_sent.get(k) != v}
        if wrong:
            raise Broken(f"exit 0, yet accounts on target {self.current} are not at the file's last row: {wrong}")


def survey_key(row: tuple[str, str]) -> str:
    """The state's key for a survey row (the delivery model's event key)."""
    digest = row_digest(Row(0, {"Email": row[0], "Score": row[1]}, [], None, 0))
    return "event\0" + digest.hex()


def destination_of(sandbox: Sandbox, reference: str) -> Destination:
    return Destination(reference, sandbox.url + "/records/", sandbox.url + "/oauth2/token", CLIENT_ID)


def explore(root: Path, seconds: float, seed: int) -> Model:
    """Run random steps for about `seconds`; raise Broken (with the steps that led there) on a broken promise."""
    model = Model(root, random.Random(seed))
    model.start()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            try:
                model.step()
            except Broken as broken:
                raise Broken(f"seed {seed}, step {model.steps}: {broken}\n" + "\n".join(model.log[-40:])) from None
    finally:
        model.stop()
    return model
