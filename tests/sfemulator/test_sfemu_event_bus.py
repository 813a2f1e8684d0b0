"""The event bus in-process: what an idle subscriber poll costs, and that its caches never hide an event."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from sfemu_support import CREDS

from sfemulator import ids
from sfemulator.changes import Caller
from sfemulator.org import Org
from sfemulator.schema import OBJECTS
from tests.connectors.helpers import wait_for

TOPIC = "/data/AccountChangeEvent"


@pytest.fixture
def org(tmp_path) -> Iterator[Org]:
    org = Org(tmp_path, CREDS)
    yield org
    org.close()


def create_account(org: Org, name: str) -> str:
    return org.records.create(OBJECTS["Account"], {"Name": name}, Caller(ids.ADMIN_USER_ID))


def test_an_idle_poll_reads_sqlite_once(org):
    create_account(org, "Polled")
    tip = org.events.after(TOPIC, 0, 100)[-1].replay
    org.events.after(TOPIC, tip, 100)  # the first poll after a commit looks at the change log
    statements: list[str] = []
    org.store.conn().set_trace_callback(statements.append)
    for _ in range(20):
        assert org.events.after(TOPIC, tip, 100) == []
    org.store.conn().set_trace_callback(None)
    assert len(statements) == 20


def test_a_change_committed_after_idle_polls_is_on_the_next_poll(org):
    tip = org.events.latest()
    assert org.events.after(TOPIC, tip, 100) == []
    assert org.events.after(TOPIC, tip, 100) == []
    create_account(org, "Late")
    assert len(org.events.after(TOPIC, tip, 100)) == 1


def test_events_leave_the_retention_window_without_any_write(org):
    create_account(org, "Aging")
    replay = org.events.after(TOPIC, 0, 100)[-1].replay
    assert org.events.retained(replay)
    org.events.retention_s = 0.2
    wait_for(lambda: org.events.after(TOPIC, 0, 100) == [], timeout=5, interval=0.05)
    assert not org.events.retained(replay)
    create_account(org, "Fresh")  # the bus is empty again: the new event is the oldest
    assert len(org.events.after(TOPIC, 0, 100)) == 1
