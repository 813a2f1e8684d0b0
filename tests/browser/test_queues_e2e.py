"""The conflict and error queues in a real browser: a person settles a real conflict and retries a
record Salesforce rejected, and the result reaches both sides."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pymongo.database import Database
from simple_salesforce import Salesforce

from devstack import Stack
from sfemulator.control import EmulatorControl
from tests.browser.helpers import SYNC_TIMEOUT, Shot, reload_until_visible, synced_account
from tests.browser.product import Console
from tests.connectors.helpers import wait_for


@pytest.fixture
def emulator(stack: Stack, sf: Salesforce) -> Iterator[EmulatorControl]:
    """The emulator's control API; the validation rules a test adds (test_browser_*) go after it."""
    control = EmulatorControl(stack.salesforce_url, stack.salesforce_ca, sf.session_id)
    yield control
    for rule in control.rules():
        if rule["name"].startswith("test_browser_"):
            control.remove_rule(rule["name"])


def salesforce_value(sf: Salesforce, record_id: str, field: str) -> Any:
    return sf.Account.get(record_id)[field]


def mongo_value(mongo: Database, record_id: str, field: str) -> Any:
    return (mongo.accounts.find_one({"_id": record_id}) or {}).get(field)


def test_a_person_resolves_a_conflict_and_both_sides_take_the_chosen_value(
        page: Page, console: Console, sf: Salesforce, mongo: Database, shot: Shot) -> None:
    tag = uuid.uuid4().hex[:8]
    record_id = synced_account(sf, mongo, f"Browser Conflict {tag}")
    salesforce_side, mongodb_side = f"Salesforce Side {tag}", f"MongoDB Side {tag}"
    # The MongoDB edit is held back while Salesforce's edit of the same field meets it in MongoDB:
    # a real conflict, under the mapping's manual policy (setupsync's default).
    with console.holding("mongodb-to-salesforce"):
        mongo.accounts.update_one({"_id": record_id}, {"$set": {"name": mongodb_side}})
        sf.Account.update(record_id, {"Name": salesforce_side})
        page.locator("#nav-conflicts").click()
        reload_until_visible(page, page.get_by_role("link", name=record_id))
    row = page.locator("tr[data-conflict]", has=page.get_by_role("link", name=record_id))
    expect(row).to_contain_text("Name")
    expect(row).to_contain_text("Open")
    shot("conflict-listed")

    row.get_by_role("link", name=record_id).click()
    disputed = page.locator("#field-Name")
    expect(disputed).to_have_attribute("data-disputed", "true")
    expect(disputed).to_contain_text(salesforce_side)
    expect(disputed).to_contain_text(mongodb_side)
    shot("conflict-detail")

    page.locator("#choice-Name-mongodb").check()
    page.get_by_role("button", name="Resolve", exact=True).click()
    expect(page.locator("#conflict-status")).to_contain_text("Resolved")
    shot("conflict-resolved")

    wait_for(lambda: salesforce_value(sf, record_id, "Name") == mongodb_side
             and mongo_value(mongo, record_id, "name") == mongodb_side,
             timeout=SYNC_TIMEOUT, message="the chosen value on both sides")
    # No reload: the resolved conflict's page watches the resolution land.
    expect(page.locator("#applied-status")).to_contain_text("Both sides hold the chosen values",
                                                            timeout=SYNC_TIMEOUT * 1000)
    shot("resolution-applied")


def test_a_rejected_record_is_retried_from_the_errors_page_once_salesforce_accepts_it(
        page: Page, sf: Salesforce, mongo: Database, emulator: EmulatorControl, shot: Shot) -> None:
    tag = uuid.uuid4().hex[:8]
    record_id = synced_account(sf, mongo, f"Browser Error {tag}")
    rule = f"test_browser_no_negative_staff_{tag}"
    emulator.add_rule(rule, "Account", "NumberOfEmployees", "<", 0, "Employees cannot be negative")
    mongo.accounts.update_one({"_id": record_id}, {"$set": {"numberOfEmployees": -7}})

    page.locator("#nav-errors").click()
    row = page.locator("tr[data-error]", has_text=record_id)
    reload_until_visible(page, row)
    expect(row).to_contain_text("FIELD_CUSTOM_VALIDATION_EXCEPTION")
    expect(row).to_contain_text("Employees cannot be negative")
    shot("error-listed")

    emulator.remove_rule(rule)  # the org now accepts the value: what a person fixes before retrying
    row.get_by_role("button", name="Retry").click()
    expect(page.locator("tr[data-error]", has_text=record_id)).to_have_count(0)  # no longer open
    shot("error-retried")

    wait_for(lambda: salesforce_value(sf, record_id, "NumberOfEmployees") == -7,
             timeout=SYNC_TIMEOUT, message="the retried change in Salesforce")
    page.locator("#filter-status").select_option("retried")
    page.locator("#apply-filters").click()
    retried = page.locator("tr[data-error]", has_text=record_id)
    expect(retried).to_contain_text("Retried")
    retried.get_by_role("link").first.click()  # the error's own page, where the status is in view
    expect(page.locator("#error-status")).to_contain_text("Retried")
    shot("error-succeeded")
