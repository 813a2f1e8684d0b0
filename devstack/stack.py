"""The stack: start the configured services, supervise extra children, stop all.

Contract of :class:`Stack`:

* :meth:`start` checks every configured port is free and every service's
  software is installed *before* spawning anything, then spawns the services
  together and waits for each health check (``config.start_timeout``).  On
  any failure -- including Ctrl-C -- it stops what it started and raises
  :class:`ServiceStartError` (one line naming the service and what to check).
* :meth:`add_process` adds a supervised child at any time.
* :meth:`wait` blocks until SIGINT/SIGTERM (returns 0) or until a child exits
  on its own (reports it with its log tail, returns 1).  It does not stop
  anything: call :meth:`stop` or use the stack as a context manager.
* :meth:`stop` is idempotent and stops children in reverse start order.
* If the interpreter exits without :meth:`stop`, an ``atexit`` hook stops the
  children; if it is SIGKILLed, the kernel kills them (PDEATHSIG, Linux).
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from . import health, services
from .config import KNOWN_SERVICES, StackConfig
from .process import ManagedProcess, ReadyCheck, ServiceStartError, describe_returncode

Echo = Callable[[str], None]


def _stderr_echo(line: str) -> None:
    print(f"devstack: {line}", file=sys.stderr, flush=True)


class Stack:
    """Embedded kafka/mongo/salesforce services plus any extra children."""

    def __init__(
        self, config: StackConfig | None = None, *, echo: Echo | None = _stderr_echo
    ) -> None:
        """``echo`` receives short progress lines; pass ``None`` for silence."""
        self.config = config or StackConfig.from_env()
        self._echo: Echo = echo or (lambda _line: None)
        self._procs: dict[str, ManagedProcess] = {}  # insertion order = start order
        #: Seconds each child took from spawn to passing its health check.
        self.timings: dict[str, float] = {}
        #: The child whose unexpected exit ended :meth:`wait`, if any.
        self.died: ManagedProcess | None = None
        self._atexit_registered = False

    # -- addresses -------------------------------------------------------------

    @property
    def kafka_bootstrap(self) -> str:
        """``"host:port"`` for ``bootstrap.servers``."""
        return services.kafka_bootstrap(self.config)

    @property
    def mongodb_uri(self) -> str:
        """``"mongodb://host:port"``."""
        return services.mongodb_uri(self.config)

    @property
    def salesforce_url(self) -> str:
        """``"https://host:port"`` of the emulator."""
        return services.salesforce_url(self.config)

    @property
    def salesforce_pubsub_address(self) -> str:
        """``"host:port"`` of the emulator's Pub/Sub API (gRPC over TLS; trust :attr:`salesforce_ca`)."""
        return services.salesforce_pubsub_address(self.config)

    @property
    def salesforce_ca(self) -> Path:
        """CA pem to verify the emulator's TLS certificate with."""
        return services.salesforce_ca(self.config)

    def connection_env(self) -> dict[str, str]:
        """The environment variables the sync product reads to reach these services."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "MONGODB_URI": self.mongodb_uri,
            "SF_LOGIN_URL": self.salesforce_url,
            "SF_CA_BUNDLE": str(self.salesforce_ca),
            "SF_PUBSUB_ENDPOINT": self.salesforce_pubsub_address,
            # Tansu answers a waiting fetch only when the wait is over: a short one keeps live
            # changes from waiting up to librdkafka's 500 ms at every hop through Kafka.
            "KAFKA_FETCH_WAIT_MS": "20",
        }

    @property
    def processes(self) -> Mapping[str, ManagedProcess]:
        """Supervised children by name, in start order (read-only view)."""
        return dict(self._procs)

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> Stack:
        """Start the configured services and wait until all answer (see module doc)."""
        cfg = self.config
        specs = [services.service_spec(cfg, name) for name in _ordered(cfg.services)]
        for spec in specs:
            if spec.name in self._procs:
                raise RuntimeError(f"{spec.name} is already running in this stack")
            if health.port_in_use(cfg.host, spec.port):
                raise ServiceStartError(
                    spec.name,
                    f"port {spec.port} on {cfg.host} is already in use"
                    f" (set DEVSTACK_{spec.name.upper()}_PORT or stop what holds it)",
                )
        try:
            # Spawn all first and probe afterwards: start-up time is then the
            # slowest service, not the sum of all of them.
            for spec in specs:
                if spec.prepare:
                    spec.prepare()
                self._spawn(
                    spec.name, spec.argv, env=spec.env, cwd=spec.cwd, description=spec.description
                )
            for spec in specs:
                self._await_ready(
                    self._procs[spec.name], spec.ready, cfg.start_timeout, spec.target
                )
        except BaseException:
            self.stop(quiet=True)
            raise
        return self

    def add_process(
        self,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        env: Mapping[str, str] | None = None,
        ready: ReadyCheck | None = None,
        *,
        cwd: Path | None = None,
        timeout: float | None = None,
    ) -> ManagedProcess:
        """Start ``argv`` as supervised child ``name``; log to ``root/logs/<name>.log``.

        ``env`` is added to the inherited environment.  If ``ready`` is given,
        wait (up to ``timeout``, default ``config.start_timeout``) until it
        returns truthy; on failure the child is stopped and
        :class:`ServiceStartError` raised.  The child is then watched by
        :meth:`wait` and stopped by :meth:`stop`.
        """
        if name in self._procs:
            raise ValueError(f"a process named {name!r} is already in this stack")
        proc = self._spawn(name, argv, env=env or {}, cwd=cwd, description=name)
        try:
            self._await_ready(
                proc, ready, self.config.start_timeout if timeout is None else timeout, ""
            )
        except BaseException:
            proc.stop(self.config.stop_grace)
            del self._procs[name]
            raise
        return proc

    def wait(self, poll_interval: float = 0.2) -> int:
        """Block until SIGINT/SIGTERM (-> 0) or a child dies on its own (-> 1).

        Signal handlers are installed only when called from the main thread;
        elsewhere only child deaths end the wait.  A Ctrl-C arriving before
        this is called raises ``KeyboardInterrupt`` as usual -- treat that as
        a stop request too.
        """
        # A plain flag, not a threading.Event: the handler runs in the main thread, and if the
        # signal lands while that thread holds the Event's internal lock inside wait(), set()
        # would deadlock on it.
        stop_requested: list[int] = []
        previous: dict[signal.Signals, signal._HANDLER] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda signum, frame: stop_requested.append(signum))
        try:
            while not stop_requested:
                time.sleep(poll_interval)
                for proc in self._procs.values():
                    if proc.exited_unexpectedly:
                        self.died = proc
                        self._report_death(proc)
                        return 1
            self._echo("stop requested; stopping everything")
            return 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self, *, quiet: bool = False) -> None:
        """Stop every child, newest first: SIGTERM, grace period, SIGKILL.  Idempotent."""
        for name in reversed(list(self._procs)):
            proc = self._procs.pop(name)
            was_running = proc.running
            began = time.monotonic()
            rc = proc.stop(self.config.stop_grace)
            if not quiet and was_running:
                took = time.monotonic() - began
                self._echo(f"stopped {name} ({took:.1f} s, exit {describe_returncode(rc or 0)})")
        if self._atexit_registered:
            atexit.unregister(self._stop_at_exit)
            self._atexit_registered = False

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals -------------------------------------------------------------

    def _spawn(
        self,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        *,
        env: Mapping[str, str],
        cwd: Path | None,
        description: str,
    ) -> ManagedProcess:
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.config.extra_env, **env}
        proc = ManagedProcess(
            name,
            argv,
            log_path=self.config.log_path(name),
            cwd=cwd,
            env=full_env,
            description=description,
        )
        proc.start()
        self._procs[name] = proc
        if not self._atexit_registered:
            atexit.register(self._stop_at_exit)
            self._atexit_registered = True
        return proc

    def _await_ready(
        self, proc: ManagedProcess, ready: ReadyCheck | None, timeout: float, target: str
    ) -> None:
        elapsed = proc.wait_ready(ready, timeout, target)
        self.timings[proc.name] = elapsed
        where = f" on {target}" if target else ""
        self._echo(f"{proc.name} ready{where} ({elapsed:.2f} s, pid {proc.pid})")

    def _report_death(self, proc: ManagedProcess) -> None:
        self._echo(
            f"{proc.name} exited unexpectedly with {describe_returncode(proc.returncode or 0)};"
            f" its log: {proc.log_path}"
        )
        for line in proc.log_tail(15):
            self._echo(f"  {proc.name}| {line}")

    def _stop_at_exit(self) -> None:
        self.stop(quiet=True)


def _ordered(names: Sequence[str]) -> list[str]:
    """``names`` in canonical start order (kafka, mongo, salesforce)."""
    return [n for n in KNOWN_SERVICES if n in names]
