"""One supervised child process: spawn, readiness wait, log tail, group stop.

Contract of :class:`ManagedProcess`:

* the child runs in its **own session / process group** (so a terminal Ctrl-C
  reaches only us, and we can signal the child's whole tree at once);
* on Linux the child gets ``PR_SET_PDEATHSIG=SIGKILL`` so it dies if the
  *thread* that spawned it dies -- a SIGKILLed parent (e.g. a killed pytest
  run) leaves no orphan.  Call :meth:`start` from a long-lived thread (the
  main thread in practice): the kernel ties the signal to the spawning thread;
* stdout and stderr go to one log file, truncated at each start so the tail
  quoted in errors always belongs to this run;
* :meth:`stop` sends SIGTERM to the group, waits up to ``grace`` seconds, then
  SIGKILLs the group and any descendant that moved to another group.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil

#: A readiness probe: returns truthy once the child serves requests.  It may
#: raise; the last exception is quoted if the wait times out.
ReadyCheck = Callable[[], object]

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class ServiceStartError(RuntimeError):
    """A service could not be started; ``str()`` is one line: ``"<service>: <what to check>"``."""

    def __init__(self, service: str, message: str) -> None:
        self.service = service
        self.detail = " ".join(message.split())  # guarantee a single line
        super().__init__(f"{service}: {self.detail}")


#: The launcher that sets PDEATHSIG and execs the command (see its docstring for why not a pre-exec hook).
_PDEATHSIG_EXEC = Path(__file__).with_name("pdeathsig_exec.py")


def _launch_argv(argv: list[str]) -> list[str]:
    """``argv`` run through the PDEATHSIG launcher on Linux; as it is elsewhere."""
    if not sys.platform.startswith("linux"):
        return argv
    return [sys.executable, "-I", "-S", os.fspath(_PDEATHSIG_EXEC), str(os.getpid()), *argv]


def describe_returncode(returncode: int) -> str:
    """``"code 3"`` or ``"signal SIGKILL"`` -- for messages."""
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"code {returncode}"


class ManagedProcess:
    """A child process with its own process group and log file (see module doc)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        *,
        log_path: Path,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> None:
        self.name = name
        self.argv = [os.fspath(a) for a in argv]
        self.log_path = Path(log_path)
        self.cwd = cwd
        #: Full environment of the child (``None`` = inherit ours unchanged).
        self.env = dict(env) if env is not None else None
        #: Human name used in messages, e.g. "SecantusDB".
        self.description = description or name
        self._popen: subprocess.Popen[bytes] | None = None
        self._stopping = False
        #: ``time.monotonic()`` at spawn; readiness time and timeout count from here.
        self.started_at: float | None = None

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        """Spawn the child.  Raises :class:`ServiceStartError` if exec fails."""
        if self._popen is not None:
            raise RuntimeError(f"{self.name} already started")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.cwd is not None:
            Path(self.cwd).mkdir(parents=True, exist_ok=True)
        search_path = (self.env if self.env is not None else os.environ).get("PATH")
        if shutil.which(self.argv[0], path=search_path) is None:
            raise ServiceStartError(self.name, f"could not run {self.argv[0]}: not found or not executable")
        with open(self.log_path, "wb") as log:
            try:
                self._popen = subprocess.Popen(
                    _launch_argv(self.argv),
                    cwd=self.cwd,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # own session => own process group
                    close_fds=True,
                )
                self.started_at = time.monotonic()
            except OSError as exc:
                raise ServiceStartError(
                    self.name, f"could not run {self.argv[0]}: {exc.strerror or exc}"
                ) from exc

    @property
    def pid(self) -> int | None:
        """PID of the child (also its process-group id), or ``None`` before start."""
        return self._popen.pid if self._popen else None

    @property
    def returncode(self) -> int | None:
        """Exit status once exited (negative = killed by that signal), else ``None``."""
        return self._popen.poll() if self._popen else None

    @property
    def running(self) -> bool:
        """True while the child has been started and has not exited."""
        return self._popen is not None and self._popen.poll() is None

    @property
    def exited_unexpectedly(self) -> bool:
        """True if the child exited without :meth:`stop` having been asked for."""
        return self._popen is not None and not self._stopping and self._popen.poll() is not None

    def wait_ready(self, ready: ReadyCheck | None, timeout: float, target: str = "") -> float:
        """Poll ``ready`` until truthy; return the seconds since spawn.

        Fails fast with :class:`ServiceStartError` if the child exits first,
        and once ``timeout`` seconds have passed since spawn if it never
        becomes ready (so children spawned together share one time budget).  ``target``
        (e.g. ``"127.0.0.1:9092"``) only improves the message.  With
        ``ready=None`` the child counts as ready once spawned.
        """
        assert self._popen is not None and self.started_at is not None, "start() first"
        started = self.started_at
        deadline = started + timeout
        last_error: BaseException | None = None
        while True:
            if self._popen.poll() is not None:
                raise ServiceStartError(
                    self.name,
                    f"{self.description} exited with {describe_returncode(self._popen.returncode)}"
                    f" during startup; {self.log_hint()}",
                )
            if ready is None:
                return time.monotonic() - started
            try:
                if ready():
                    return time.monotonic() - started
            except Exception as exc:  # any probe failure just means "not yet"
                last_error = exc
            if time.monotonic() >= deadline:
                where = f" on {target}" if target else ""
                why = f" (last check: {_one_line(last_error)})" if last_error else ""
                raise ServiceStartError(
                    self.name,
                    f"{self.description} did not answer{where} within {timeout:g} s{why};"
                    f" {self.log_hint()}",
                )
            time.sleep(0.1)  # poll interval between probes, not a settle delay

    def stop(self, grace: float) -> int | None:
        """Stop the child's whole tree; return its exit status (idempotent).

        SIGTERM goes to the process group; after ``grace`` seconds anything
        left in the group -- and any descendant that escaped into another
        group, snapshotted before signalling -- gets SIGKILL.
        """
        self._stopping = True
        if self._popen is None:
            return None
        pgid = self._popen.pid  # start_new_session makes the child the group leader
        descendants = _descendants(pgid)
        deadline = time.monotonic() + grace
        _killpg(pgid, signal.SIGTERM)
        try:
            self._popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        # The leader is gone (or overdue); give the rest of its tree what is
        # left of the grace period, then kill whatever remains.
        alive = [p for p in descendants if _is_alive(p)]
        if alive:
            _, alive = psutil.wait_procs(alive, timeout=max(0.0, deadline - time.monotonic()))
        _killpg(pgid, signal.SIGKILL)
        for proc in alive:
            try:
                proc.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(alive, timeout=2)
        return self._popen.wait()

    # -- logs ------------------------------------------------------------------

    def log_tail(self, lines: int = 10) -> list[str]:
        """The last ``lines`` non-blank lines of the log, colour codes removed."""
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 16384))
                text = fh.read().decode("utf-8", errors="replace")
        except OSError:
            return []
        cleaned = (_ANSI_ESCAPE.sub("", ln).rstrip() for ln in text.splitlines())
        return [ln for ln in cleaned if ln.strip()][-lines:]

    def log_hint(self, lines: int = 3) -> str:
        """``"its log: PATH (last lines: a | b | c)"`` -- for one-line errors."""
        tail = " | ".join(ln.strip()[:200] for ln in self.log_tail(lines))
        return f"its log: {self.log_path}" + (f" (last lines: {tail})" if tail else " (empty)")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def _killpg(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # group already empty


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _is_alive(proc: psutil.Process) -> bool:
    # is_running() also guards against PID reuse (it compares create times).
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
