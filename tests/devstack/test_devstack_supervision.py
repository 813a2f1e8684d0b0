"""Supervision behaviour with plain Python children (no service binaries needed)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import pytest

from devstack import ConfigError, ServiceStartError, Stack, StackConfig
from devstack.process import ManagedProcess
from tests.connectors.helpers import wait_for


def _bare_stack(root: Path, lines: list[str]) -> Stack:
    """A stack with no built-in services, for add_process tests."""
    return Stack(
        StackConfig(root=root, services=(), start_timeout=5.0, stop_grace=3.0), echo=lines.append
    )


def _sigterm_self_after(seconds: float) -> threading.Timer:
    """Watchdog: ends a stuck ``wait()`` (it treats SIGTERM as a stop request)."""
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGTERM))
    timer.daemon = True
    timer.start()
    return timer


def test_wait_reports_child_that_dies(tmp_path: Path, echo_lines: list[str]) -> None:
    trigger = tmp_path / "die-now"
    # The child exits with 3 once the test creates the trigger file, so the
    # death happens after start-up, deterministically.
    script = (
        "import os, sys, time\n"
        "print('worker started; about to fail', flush=True)\n"
        f"while not os.path.exists({str(trigger)!r}): time.sleep(0.05)\n"
        "print('fatal: lost connection to the queue', flush=True)\n"
        "sys.exit(3)\n"
    )
    with _bare_stack(tmp_path, echo_lines) as stack:
        stack.add_process("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"])
        stack.add_process("consumer", [sys.executable, "-c", script])
        trigger.touch()
        watchdog = _sigterm_self_after(20)
        try:
            rc = stack.wait()
        finally:
            watchdog.cancel()
        assert rc == 1
        assert stack.died is not None and stack.died.name == "consumer"
        assert stack.processes["sleeper"].running, "wait() must not stop anything itself"
    report = "\n".join(echo_lines)
    assert "consumer exited unexpectedly with code 3" in report
    assert "fatal: lost connection to the queue" in report
    assert str(tmp_path / "logs" / "consumer.log") in report
    assert "stopped sleeper" in report


def test_wait_returns_zero_on_sigterm(tmp_path: Path, echo_lines: list[str]) -> None:
    with _bare_stack(tmp_path, echo_lines) as stack:
        proc = stack.add_process("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"])
        watchdog = _sigterm_self_after(0.3)
        try:
            assert stack.wait() == 0
        finally:
            watchdog.cancel()
    assert not proc.running
    assert proc.returncode == -signal.SIGTERM


def test_add_process_ready_check_timeout_is_one_line(tmp_path: Path, echo_lines: list[str]) -> None:
    stack = _bare_stack(tmp_path, echo_lines)
    cmd = [sys.executable, "-c", "print('booting', flush=True); import time; time.sleep(600)"]

    def never_ready() -> bool:
        raise ConnectionRefusedError("connection refused")

    with pytest.raises(ServiceStartError) as info:
        stack.add_process("web", cmd, ready=never_ready, timeout=0.5)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        "web: web did not answer within 0.5 s (last check: connection refused)"
    )
    assert "booting" in message and "web.log" in message
    assert stack.processes == {}


def test_child_exiting_during_startup_is_reported(tmp_path: Path, echo_lines: list[str]) -> None:
    stack = _bare_stack(tmp_path, echo_lines)
    cmd = [sys.executable, "-c", "import sys; print('bad flag --foo'); sys.exit(2)"]
    with pytest.raises(ServiceStartError) as info:
        stack.add_process("web", cmd, ready=lambda: False)
    assert "exited with code 2 during startup" in str(info.value)
    assert "bad flag --foo" in str(info.value)


def test_stop_kills_process_that_ignores_sigterm(tmp_path: Path, echo_lines: list[str]) -> None:
    stack = Stack(StackConfig(root=tmp_path, services=(), stop_grace=0.5), echo=echo_lines.append)
    ready_file = tmp_path / "handler-installed"
    script = (
        "import signal, time, pathlib\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"pathlib.Path({str(ready_file)!r}).touch()\n"
        "time.sleep(600)\n"
    )
    proc = stack.add_process("stubborn", [sys.executable, "-c", script], ready=ready_file.exists)
    stack.stop()
    assert proc.returncode == -signal.SIGKILL


def test_config_from_env() -> None:
    cfg = StackConfig.from_env(
        {
            "DEVSTACK_ROOT": "/tmp/x",
            "DEVSTACK_KAFKA_PORT": "19093",
            "DEVSTACK_MONGO_PORT": "19094",
            "DEVSTACK_SALESFORCE_PORT": "19095",
            "DEVSTACK_SERVICES": "kafka, mongo",
        }
    )
    assert cfg.root == Path("/tmp/x")
    assert (cfg.kafka_port, cfg.mongo_port, cfg.salesforce_port) == (19093, 19094, 19095)
    assert cfg.services == ("kafka", "mongo")
    assert cfg.log_path("web") == Path("/tmp/x/logs/web.log")
    assert StackConfig.from_env({}) == StackConfig()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DEVSTACK_KAFKA_PORT": "nine"}, "DEVSTACK_KAFKA_PORT='nine' is not an integer"),
        ({"DEVSTACK_MONGO_PORT": "9092"}, "mongo and kafka are both configured for port 9092"),
        ({"DEVSTACK_SERVICES": "kafka,redis"}, "unknown service(s) redis"),
    ],
)
def test_config_errors_are_one_line(env: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        StackConfig.from_env(env)
    assert expected in str(info.value)


_FORK_HANDLER_RAN: list[int] = []


def _note_fork_handler() -> None:
    if _FORK_HANDLER_RAN:
        os.write(_FORK_HANDLER_RAN[0], b"fork handler ran in the child\n")


os.register_at_fork(after_in_child=_note_fork_handler)


def test_a_service_is_spawned_without_running_fork_handlers_in_a_forked_copy_of_us(tmp_path: Path) -> None:
    """A spawn that runs our fork handlers (a pre-exec hook does) also runs gRPC's: with a Pub/Sub
    stream open they restart poller threads in the child, and Tansu died of SIGABRT before its exec
    (CI, stop 19). This handler stands for them; without a pre-exec hook the spawn uses vfork."""
    read_end, write_end = os.pipe()
    _FORK_HANDLER_RAN[:] = [write_end]
    try:
        process = ManagedProcess("child", [sys.executable, "-c", "pass"], log_path=tmp_path / "child.log")
        process.start()
        process.wait_ready(None, 10)
        assert process._popen is not None and process._popen.wait(10) == 0
    finally:
        _FORK_HANDLER_RAN.clear()
        os.close(write_end)
    with os.fdopen(read_end, "rb") as notes:
        assert notes.read() == b""


def test_a_command_that_cannot_run_is_one_line_naming_it(tmp_path: Path) -> None:
    process = ManagedProcess("ghost", [str(tmp_path / "no-such-binary")], log_path=tmp_path / "ghost.log")
    with pytest.raises(ServiceStartError, match=r"^ghost: could not run .*no-such-binary: not found"):
        process.start()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PDEATHSIG is Linux-only")
def test_the_service_keeps_the_pid_it_was_spawned_with(tmp_path: Path) -> None:
    import psutil

    process = ManagedProcess("sleeper", ["sleep", "30"], log_path=tmp_path / "sleeper.log")
    process.start()
    try:
        assert process.pid is not None
        # The launcher execs in place: the service keeps the pid Popen gave (its group's leader).
        assert wait_for(lambda: psutil.Process(process.pid).name() == "sleep", 10)
        assert psutil.Process(process.pid).ppid() == os.getpid()
        # That it dies with us is shown end to end by test_sigkilled_parent_leaves_no_orphans.
    finally:
        process.stop(grace=2)
