"""Shared by the benchmarks: the embedded services, a product process environment, timing."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable

import psutil
from confluent_kafka import Consumer, KafkaException, TopicPartition
from simple_salesforce import Salesforce

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors.salesforce.auth import CABundleSession  # noqa: E402
from devstack import Stack, StackConfig  # noqa: E402
from devstack.health import free_port  # noqa: E402

RESULTS = ROOT / "bench" / "results"

# A benchmark stopped with SIGTERM unwinds like Ctrl-C, so its `finally` stops what it started.
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def start_stack(name: str, seed_accounts: int) -> Stack:
    """Fresh services on free ports under bench/results/<name>-stack (reused seed if present)."""
    config = StackConfig(
        root=RESULTS / f"{name}-stack", kafka_port=free_port(), mongo_port=free_port(),
        salesforce_port=free_port(), salesforce_pubsub_port=free_port(), seed_accounts=seed_accounts, start_timeout=600,
    )
    stack = Stack(config)
    try:
        stack.start()
    except BaseException:
        stack.stop()  # whatever of it did start
        raise
    return stack


def product_env(stack: Stack, workdir: Path, **extra: str) -> dict[str, str]:
    prefix = "b" + uuid.uuid4().hex[:8]
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        **stack.connection_env(),
        "KAFKA_TOPIC_PREFIX": prefix,
        "MONGODB_DATABASE": prefix,
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


#: Every runconsumers this benchmark started: `stop_started` ends those still running.
_STARTED: list[subprocess.Popen] = []


def start_consumers(env: dict[str, str], log: Path, only: tuple[str, ...] = ()) -> subprocess.Popen:
    argv = [sys.executable, "manage.py", "runconsumers", *[a for kind in only for a in ("--only", kind)]]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    _STARTED.append(process)
    profile(process.pid, str(len(_STARTED)))
    return process


def profile(pid: int, label: str) -> None:
    """With BENCH_PYSPY=/dir/name, sample `pid` with py-spy until it exits into /dir/name.<label>.txt:
    raw collapsed stacks of the thread holding the GIL, taken without pausing the process (its CPU
    time is not inflated). py-spy is not a project dependency (`pip install py-spy` into the venv)."""
    if where := os.environ.get("BENCH_PYSPY"):
        _profile(pid, Path(where).with_suffix(f".{label}.txt"))


def _profile(pid: int, output: Path) -> None:
    spy = Path(sys.executable).with_name("py-spy")
    # BENCH_PYSPY_IDLE=1: every thread, waiting ones too, each named: where a thread waits, not
    # only which one holds the GIL.
    which = ["--idle", "--threads"] if os.environ.get("BENCH_PYSPY_IDLE") else ["--gil"]
    argv = [str(spy) if spy.exists() else "py-spy", "record", "--pid", str(pid), "--format", "raw",
            "--nonblocking", *which, "--rate", "50", "--output", str(output)]
    _PROFILERS.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


#: py-spy samplers `_profile` started: each ends with its process, `stop_started` waits for them.
_PROFILERS: list[subprocess.Popen] = []


def stop_started() -> None:
    """Stop every process `start_consumers` started (call in `finally`, before stopping the stack),
    so that a benchmark failing part-way leaves nothing running."""
    while _STARTED:
        stop_process(_STARTED.pop())
    while _PROFILERS:
        profiler = _PROFILERS.pop()
        try:
            profiler.wait(timeout=10)  # writes its output once the sampled process is gone
        except subprocess.TimeoutExpired:  # a service still running: py-spy writes it on SIGINT
            profiler.send_signal(signal.SIGINT)
            try:
                profiler.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stop_process(profiler)


def stop_process(process: subprocess.Popen, timeout: float = 60.0) -> None:
    """Stop a process this benchmark started (SIGTERM, then SIGKILL), whatever state it is in."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


def salesforce(stack: Stack) -> Salesforce:
    session = CABundleSession()  # keeps our CA even where REQUESTS_CA_BUNDLE is set
    session.verify = str(stack.salesforce_ca)
    token = session.post(
        f"{stack.salesforce_url}/services/oauth2/token",
        data={"grant_type": "password", "client_id": "sfemu-demo-client", "client_secret": "sfemu-demo-secret",
              "username": "admin@demo.sfemu", "password": "demo-passwordDEMOTOKEN"},
        timeout=30,
    ).json()
    return Salesforce(instance_url=token["instance_url"], session_id=token["access_token"], session=session,
                      version="62.0")


class PeakRss:
    """Samples a process's resident memory (with its children) until stopped."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0

    def sample(self) -> None:
        try:
            total = self.process.memory_info().rss
            total += sum(c.memory_info().rss for c in self.process.children(recursive=True))
        except psutil.Error:
            return
        self.peak = max(self.peak, total)


class CpuSeconds:
    """CPU time (user + system, children included) that named processes use between
    `start()` and `stop()`: on a 2-core machine it shows which process bounds a run."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self._started: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        totals = {}
        for name, process in self._processes.items():
            try:
                family = [process, *process.children(recursive=True)]
                totals[name] = sum(p.cpu_times().user + p.cpu_times().system for p in family)
            except psutil.Error:
                totals[name] = 0.0
        totals["this benchmark"] = sum(psutil.Process().cpu_times()[:2])
        return totals

    def start(self) -> None:
        self._started = self._now()

    def stop(self) -> dict[str, float]:
        return {name: round(value - self._started.get(name, 0.0), 2) for name, value in self._now().items()}


def stack_pids(stack: Stack) -> dict[str, int]:
    return {name: process.pid for name, process in stack.processes.items() if process.pid}


def wait_until(condition: Callable[[], bool], timeout: float, every: Callable[[], None] = lambda: None,
               interval: float = 0.2) -> float:
    """Seconds until `condition()` held; raises TimeoutError."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        every()
        if condition():
            return time.monotonic() - started
        time.sleep(interval)
    raise TimeoutError(f"not done after {timeout:.0f} s")


def save(name: str, figures: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))


class CommittedOffsets:
    """How many messages of a topic a consumer group has committed: a progress check that costs
    the server under test nothing. Polling `count` does not: SecantusDB answers it by scanning
    the whole collection under its storage lock, which stalled the very writes being timed."""

    def __init__(self, env: dict[str, str], group: str, topic: str) -> None:
        self._probe = Consumer({"bootstrap.servers": env["KAFKA_BOOTSTRAP_SERVERS"], "group.id": group,
                                "enable.auto.commit": False})
        self._partitions = [TopicPartition(topic, p) for p in range(int(env.get("KAFKA_TOPIC_PARTITIONS", 3)))]

    def total(self) -> int:
        try:
            committed = self._probe.committed(self._partitions, timeout=5)
        except KafkaException:  # topic or group not there yet
            return 0
        return sum(max(tp.offset, 0) for tp in committed)

    def close(self) -> None:
        self._probe.close()
