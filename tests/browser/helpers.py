"""Steps the browser tests share: logging in, making a record the product has synced, and
waiting for a page that is not live to show a row."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Locator, Page, expect
from pymongo.database import Database
from simple_salesforce import Salesforce

from tests.browser.product import Console
from tests.connectors.helpers import wait_for

#: Seconds the sync gets to carry one change across.
SYNC_TIMEOUT = 60.0

#: `shot("step")` saves the page as a numbered screenshot of the test (see conftest.py).
Shot = Callable[[str], Path]


def synced_account(sf: Salesforce, mongo: Database, name: str) -> str:
    """A new Salesforce Account, once the product has copied it into MongoDB; returns its Id.
    Each test makes its own, so tests sharing the emulator never edit the same record."""
    record_id = sf.Account.create({"Name": name})["id"]
    wait_for(lambda: mongo.accounts.find_one({"_id": record_id}), timeout=SYNC_TIMEOUT,
             message=f"Account {name!r} in MongoDB")
    return record_id


def reload_until_visible(page: Page, locator: Locator, timeout: float = SYNC_TIMEOUT) -> None:
    """Reload `page` until `locator` shows: for pages rendered once, not kept live."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            expect(locator.first).to_be_visible(timeout=1_000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.reload()


def log_in(page: Page, console: Console) -> None:
    """Log in through the console's login form (/accounts/login/)."""
    page.goto(f"{console.url}/accounts/login/")
    submit_login(page, console)


def submit_login(page: Page, console: Console) -> None:
    """Fill in the login form the page shows and land on the overview."""
    page.get_by_label("Username").fill(console.username)
    page.get_by_label("Password").fill(console.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{console.url}/")
