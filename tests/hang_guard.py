"""Turn a hang into a failure with every thread's stack printed.

pytest-timeout's signal method can only interrupt Python code: a test (or a session fixture's
teardown, which runs inside the last test) blocked in C (librdkafka, a socket read, a thread join
at interpreter exit) sleeps through it, and a CI run then ends at its wall-clock limit with nothing
to show. faulthandler's watchdog is a C thread: after the deadline it prints the traceback of every
thread and ends the process, which pytest-xdist reports as a crashed worker on that test.
"""
from __future__ import annotations

import faulthandler
import os
from collections.abc import Iterator
from typing import IO

import pytest

# Beyond pytest-timeout's limit (300 s, which fails a test stuck in Python code first and lets the
# run go on), for one test with its setup and teardown.
TEST_HANG_SECONDS = float(os.environ.get("TEST_HANG_SECONDS", "480"))
# For the process to exit once the session has finished (non-daemon threads, atexit handlers).
EXIT_HANG_SECONDS = 120.0

_terminal: IO[str] | None = None


def _terminal_stderr(config: pytest.Config) -> IO[str]:
    """The run's real stderr: while pytest captures output, fd 2 points at its capture file."""
    global _terminal
    if _terminal is None:
        capture = getattr(config.pluginmanager.getplugin("capturemanager"), "_global_capturing", None)
        fd = getattr(getattr(capture, "err", None), "targetfd_save", 2)
        _terminal = os.fdopen(os.dup(fd), "w")
    return _terminal


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    out = _terminal_stderr(item.config)
    faulthandler.dump_traceback_later(TEST_HANG_SECONDS, exit=True, file=out)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def pytest_unconfigure(config: pytest.Config) -> None:
    faulthandler.dump_traceback_later(EXIT_HANG_SECONDS, exit=True, file=_terminal_stderr(config))
