"""Test helpers: an independent Salesforce client and waiting on conditions."""
from __future__ import annotations

import time
from typing import Callable, TypeVar

from simple_salesforce import Salesforce

from connectors.salesforce.auth import CABundleSession

T = TypeVar("T")


def salesforce_for_tests(stack) -> Salesforce:  # type: ignore[no-untyped-def]
    """simple-salesforce logged in with the OAuth password grant, written apart from the
    connectors' own login code so one cannot hide the other's mistake."""
    session = CABundleSession()  # keeps our CA even where REQUESTS_CA_BUNDLE is set
    session.verify = str(stack.salesforce_ca)
    response = session.post(
        f"{stack.salesforce_url}/services/oauth2/token",
        data={"grant_type": "password", "client_id": "sfemu-demo-client", "client_secret": "sfemu-demo-secret",
              "username": "admin@demo.sfemu", "password": "demo-passwordDEMOTOKEN"},
        timeout=10,
    )
    response.raise_for_status()
    token = response.json()
    return Salesforce(instance_url=token["instance_url"], session_id=token["access_token"], session=session,
                      version="62.0")


def wait_for(condition: Callable[[], T], timeout: float = 30.0, interval: float = 0.1,
             message: str = "condition") -> T:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message} (last value: {last!r})")


def step_until(workers: list, condition: Callable[[], bool], timeout: float = 60.0, message: str = "condition") -> None:
    """Run each worker's step in turn until `condition()` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for worker in workers:
            worker.step()
        if condition():
            return
    raise AssertionError(f"timed out after {timeout:.0f} s stepping workers until {message}")


def wait_until_replay_expired(org, replay_id: str, timeout: float, message: str) -> None:  # type: ignore[no-untyped-def]
    """Until the emulator's Pub/Sub API refuses `replay_id` of Account change events (past retention)."""
    from connectors.salesforce.pubsub.client import CUSTOM, ReplayIdInvalid
    from connectors.wiring import pubsub_client, salesforce_client

    probe = pubsub_client(org, salesforce_client(org))

    def expired() -> bool:
        subscription = probe.subscribe("/data/AccountChangeEvent", CUSTOM, replay_id, batch_size=1)
        try:
            subscription.poll(0.5)
            return False
        except ReplayIdInvalid:
            return True
        finally:
            subscription.close()

    try:
        wait_for(expired, timeout=timeout, message=message)
    finally:
        probe.close()
