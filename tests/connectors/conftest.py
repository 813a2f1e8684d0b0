"""Fixtures for the sync tests: a test-side Salesforce client, the test's MongoDB database,
and workers built from the Account mapping, stepped by the test itself."""
from __future__ import annotations

import threading

import pytest
from django.core.management import call_command

from connectors.models import ObjectMapping
from connectors.mongo.client import connect
from connectors.workers.registry import WORKER_KINDS, build_workers
from sfemulator.control import EmulatorControl
from tests.connectors.helpers import salesforce_for_tests


@pytest.fixture
def sf(stack):
    return salesforce_for_tests(stack)


@pytest.fixture
def emulator(stack, sf):
    """The emulator's control API (faults, validation rules, API usage), cleaned up after the test."""
    control = EmulatorControl(stack.salesforce_url, stack.salesforce_ca, sf.session_id)
    yield control
    control.clear_faults()
    for rule in control.rules():
        if rule["name"].startswith("test_"):
            control.remove_rule(rule["name"])


@pytest.fixture
def mongo(sync_settings):
    client = connect(sync_settings["MONGODB_URI"])
    yield client[sync_settings["MONGODB_DATABASE"]]
    client.drop_database(sync_settings["MONGODB_DATABASE"])
    client.close()


@pytest.fixture
def make_workers(sync_settings):
    """Set up the Account mapping; `prepare(mapping)` may change it before the workers are built."""
    stop = threading.Event()
    built: list = []

    def make(prepare=lambda mapping: None, kinds=("sf-capture", "mongo-apply"), direction="both"):  # type: ignore[no-untyped-def]
        call_command("setupsync", objects="Account", direction=direction)
        mapping = ObjectMapping.objects.get(name="accounts")
        prepare(mapping)
        mapping.save()
        built.extend(build_workers(set(kinds), stop))
        return built

    yield make
    stop.set()
    for worker in built:
        worker.close()


@pytest.fixture
def workers(make_workers):
    return make_workers()


@pytest.fixture
def all_workers(make_workers):
    return make_workers(kinds=WORKER_KINDS)
