"""The fault matrix: each scenario's fault, and one run of a scenario from start to figures.

A run (:func:`run_scenario`): fresh services and product (:class:`SyncUnderTest`), the scenario's
`runconsumers` processes, the initial load (until both sides compare equal), then edits flowing
both ways (:class:`EditLoad`); once a quarter of them are made the fault is injected and cleared
(a scenario's `fault` returns when it has cleared it); after both the fault has cleared and the
edits have stopped, both sides are compared every 2 s until equal or `size.converge_seconds`.

Figures: lost / duplicated / stale / extra from the last comparison (see bench/chaos_compare.py),
`converge_seconds` from that moment to the first equal comparison (None: not within the
deadline), and `human_step_needed`: not converged, or a conflict or parked error left open (the
harness itself never restarts anything a supervisor would not: a killed service or runconsumers
is started again by the scenario, as systemd would, and that is not a human step).
"""
from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.chaos_compare import compare
from bench.chaos_diagnose import diagnose
from bench.chaos_load import EditLoad
from bench.chaos_sync import ROOT, SyncUnderTest

MAPPINGS = ("accounts", "contacts", "opportunities", "orders")


@dataclass(frozen=True)
class Size:
    """How big and how long; the defaults are the README's `scripts/chaos.sh` run."""

    accounts: int = 200
    rate: float = 3.0  # edits a second, both sides together
    edits: int = 240
    load_seconds: float = 150.0  # the load stops after this even if not all edits were made
    hang_seconds: float = 60.0  # SIGSTOP scenarios
    limit_seconds: float = 360.0  # the daily API limit held reached
    storm: int = 40  # injected 503s / UNABLE_TO_LOCK_ROW
    kills: int = 5  # runconsumers SIGKILLs
    undelete_after_seconds: float = 20.0  # see EditLoad; 0 shows the delete-echo race (docs/reliability.md)
    initial_load_seconds: float = 120.0
    converge_seconds: float = 120.0


@dataclass
class Context:
    sut: SyncUnderTest
    size: Size
    rng: random.Random
    load: EditLoad | None = None
    notes: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        self.notes.append(f"{time.strftime('%H:%M:%S')} {line}")


Fault = Callable[[Context], None]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    fault: Fault | None = None  # during the edits; returns once the fault is cleared
    during_initial_load: Fault | None = None  # right after runconsumers started
    consumers: int = 1


# -- faults -----------------------------------------------------------------------------------
def _kill_runconsumers(ctx: Context) -> None:
    """SIGKILL runconsumers at random points of the edits, `size.kills` times, each time started
    again at once (as a supervisor would)."""
    for n in range(ctx.size.kills):
        time.sleep(ctx.rng.uniform(2.0, 8.0))
        name = ctx.sut.consumers()[0]
        ctx.sut.kill(name)
        ctx.note(f"SIGKILL {name} ({n + 1}/{ctx.size.kills})")
        ctx.sut.start_consumers()


def _kill_and_restart(service: str) -> Fault:
    def fault(ctx: Context) -> None:
        ctx.sut.kill(service)
        ctx.note(f"SIGKILL {service}")
        time.sleep(2.0)
        ctx.sut.restart_service(service)
        ctx.note(f"{service} restarted")
    return fault


def _hang(service: str) -> Fault:
    def fault(ctx: Context) -> None:
        name = ctx.sut.consumers()[0] if service == "runconsumers" else service
        ctx.sut.signal(name, signal.SIGSTOP)
        ctx.note(f"SIGSTOP {name}")
        try:
            time.sleep(ctx.size.hang_seconds)
        finally:
            ctx.sut.signal(name, signal.SIGCONT)
        ctx.note(f"SIGCONT {name}")
    return fault


def _storm(kind: str) -> Fault:
    """`size.storm` injected failures, cleared once all were served (or after 60 s)."""
    def fault(ctx: Context) -> None:
        assert ctx.load is not None
        control = ctx.sut.control(ctx.load.session_id)
        spec = {"http_503": {"count": ctx.size.storm}} if kind == "http_503" \
            else {"unable_to_lock_row": {"count": ctx.size.storm}}
        control.set_faults(**spec)
        ctx.note(f"fault {spec}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            left = control.faults()[kind]["count"]
            if left == 0:
                break
            time.sleep(0.5)
        control.clear_faults()
        ctx.note(f"fault cleared ({left} of {ctx.size.storm} not served)")
    return fault


def _api_limit(ctx: Context) -> None:
    """The org's daily API limit lowered to today's usage: every call is refused until cleared."""
    assert ctx.load is not None
    control = ctx.sut.control(ctx.load.session_id)
    used = control.usage()["used"]
    control.set_faults(daily_api_limit=used)
    ctx.note(f"daily API limit set to {used} (reached)")
    time.sleep(ctx.size.limit_seconds)
    control.clear_faults()
    ctx.note("daily API limit back to normal")


def _revoke_sessions(ctx: Context) -> None:
    assert ctx.load is not None
    revoked = ctx.sut.revoke_sessions(keep={ctx.load.session_id})
    ctx.note(f"revoked {revoked} Salesforce sessions (the load's own kept)")


def _reconcile(dry_run: bool) -> Fault:
    """`manage.py reconcile` (or `--dry-run`, twice) of every mapping while the initial load runs."""
    def fault(ctx: Context) -> None:
        flags = ["--dry-run"] if dry_run else []
        for _ in range(2 if dry_run else 1):
            processes = [subprocess.Popen([sys.executable, "manage.py", "reconcile", mapping, *flags], cwd=ROOT,
                                          env=ctx.sut.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                          text=True) for mapping in MAPPINGS]
            try:
                for process in processes:
                    output, _ = process.communicate(timeout=600)
                    summary = [line for line in output.splitlines() if "compared" in line or "Error" in line]
                    ctx.note(f"{' '.join(['reconcile', *flags])} exit {process.returncode}: "
                             f"{'; '.join(summary)[:300]}")
            finally:
                for process in processes:  # only after a failure here: stop what this started
                    if process.poll() is None:
                        process.kill()
                        process.wait()
    return fault


def _two_consumers_one_killed(ctx: Context) -> None:
    name = ctx.sut.consumers()[0]
    ctx.sut.kill(name)
    ctx.note(f"SIGKILL {name}; {ctx.sut.consumers()} carries on alone")


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("baseline", "no fault: the edits alone (the harness's own check)"),
    Scenario("runconsumers-kill", "SIGKILL of runconsumers at random points, 5 times, restarted at once",
             _kill_runconsumers),
    Scenario("broker-kill", "SIGKILL of the Tansu broker, restarted 2 s later empty (memory storage)",
             _kill_and_restart("kafka")),
    Scenario("mongo-kill", "SIGKILL of SecantusDB, restarted 2 s later on its data directory",
             _kill_and_restart("mongo")),
    Scenario("broker-hang", "SIGSTOP of the broker for the hang time, then SIGCONT", _hang("kafka")),
    Scenario("mongo-hang", "SIGSTOP of SecantusDB for the hang time, then SIGCONT", _hang("mongo")),
    Scenario("salesforce-hang", "SIGSTOP of the Salesforce emulator for the hang time, then SIGCONT",
             _hang("salesforce")),
    Scenario("runconsumers-hang", "SIGSTOP of runconsumers for the hang time, then SIGCONT", _hang("runconsumers")),
    Scenario("http-503-storm", "the next N Salesforce REST calls answer 503 SERVER_UNAVAILABLE", _storm("http_503")),
    Scenario("lock-storm", "the next N Salesforce record writes fail with UNABLE_TO_LOCK_ROW",
             _storm("unable_to_lock_row")),
    Scenario("api-limit", "the org's daily API limit reached (lowered to today's usage) for the limit time",
             _api_limit),
    Scenario("revoked-session", "every Salesforce session but the edit load's revoked (OAuth revoke)",
             _revoke_sessions),
    Scenario("reconcile-during-load", "manage.py reconcile of all four mappings while the initial load runs",
             during_initial_load=_reconcile(dry_run=False)),
    Scenario("dry-run-during-load", "manage.py reconcile --dry-run of all four mappings, twice, during the "
             "initial load", during_initial_load=_reconcile(dry_run=True)),
    Scenario("two-consumers-one-killed", "two runconsumers; one SIGKILLed, not restarted",
             _two_consumers_one_killed, consumers=2),
)}


# -- a run ---------------------------------------------------------------------------------------
def _poll_equal(ctx: Context, timeout: float) -> tuple[float | None, Any]:
    """Seconds until both sides compared equal (None if not within `timeout`), and the last comparison."""
    sf = ctx.sut.salesforce()
    intents = ctx.load.intents if ctx.load else {}
    born_in_mongodb = ctx.load.born_in_mongodb if ctx.load else set()
    started = time.monotonic()
    while True:
        try:
            comparison = compare(ctx.sut, sf, intents, born_in_mongodb)
        except Exception as exc:  # a side still unreachable right after the fault: try again
            ctx.note(f"comparison failed: {type(exc).__name__}: {str(exc)[:200]}")
            comparison = None
        elapsed = time.monotonic() - started
        if comparison is not None and comparison.equal:
            return elapsed, comparison
        if elapsed >= timeout:
            if comparison is None:
                sf = ctx.sut.salesforce()
                comparison = compare(ctx.sut, sf, intents, born_in_mongodb)
            return None, comparison
        time.sleep(2.0)


def run_scenario(name: str, size: Size, root: Path, seed: int = 1, quiet: bool = True,
                 inspect: Callable[[Context], Any] | None = None, log_level: str = "WARNING") -> dict[str, Any]:
    """Run one scenario on fresh services under `root`; returns its figures (JSON-ready).
    `inspect(context)`, if given, runs last while everything still runs; its answer is kept
    under "inspected". Every record the last comparison counted is diagnosed under "diagnosis"
    (bench/chaos_diagnose.py); the processes' logs stay in `root`/logs."""
    scenario = SCENARIOS[name]
    with SyncUnderTest(root, size.accounts, quiet=quiet, LOG_LEVEL=log_level) as sut:
        ctx = Context(sut, size, random.Random(seed))
        for _ in range(scenario.consumers):
            sut.start_consumers()
        started = time.monotonic()
        if scenario.during_initial_load:
            scenario.during_initial_load(ctx)
        initial_seconds, initial = _poll_equal(ctx, size.initial_load_seconds)
        state = f"equal after {time.monotonic() - started:.0f} s" if initial_seconds is not None else "NOT equal"
        ctx.note(f"initial load {state} ({initial.counts['lost']} lost, {initial.counts['duplicated']} duplicated, "
                 f"{initial.counts['stale']} stale, {initial.counts['extra']} extra)")
        ctx.load = EditLoad(sut, size.rate, size.edits, size.load_seconds, seed=seed,
                            undelete_after=size.undelete_after_seconds)
        ctx.load.start()
        fault_window: dict[str, float] = {}
        if scenario.fault:
            while ctx.load.running and sum(ctx.load.done.values()) < size.edits // 4:
                time.sleep(0.2)
            fault_window["injected_at_s"] = round(time.monotonic() - ctx.load.started_at, 1)
            scenario.fault(ctx)
            fault_window["cleared_at_s"] = round(time.monotonic() - ctx.load.started_at, 1)
        ctx.load.join()
        ctx.note(f"edits stopped: {ctx.load.summary()['edits']} made")
        converge_seconds, final = _poll_equal(ctx, size.converge_seconds)
        queues = sut.queues()
        tails = {n: sut.log_tail(n, 8) for n in sut.process_names() if n.startswith("runconsumers")}
        inspected = inspect(ctx) if inspect else None
        try:
            diagnosis: Any = diagnose(sut, final, ctx.load.journal)
        except Exception as exc:  # the figures stand without it
            diagnosis = f"diagnosis failed: {type(exc).__name__}: {exc}"
    return {
        "scenario": name, "description": scenario.description, "size": asdict(size),
        "initial_load_equal": initial_seconds is not None,
        **{k: v for k, v in final.figures().items()},
        "converged": converge_seconds is not None,
        "converge_seconds": None if converge_seconds is None else round(converge_seconds, 1),
        **queues,
        "human_step_needed": converge_seconds is None or bool(queues["open_conflicts"] or queues["parked_errors"]),
        "load": ctx.load.summary(), "fault_window": fault_window, "notes": ctx.notes,
        "load_deletes": {f"{name} {record_id}": side for (name, record_id), side in ctx.load.intents.items()},
        "runconsumers_log_tails": tails, "inspected": inspected, "diagnosis": diagnosis,
        "load_journal": ctx.load.journal if not final.equal else [],
    }
