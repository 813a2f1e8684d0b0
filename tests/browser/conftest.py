"""Fixtures for the browser tests: the real product (tests/browser/product.py), Debian's Chromium
driven by Playwright, a logged-in page and screenshots of every step under var/screenshots/.

Without /usr/bin/chromium (scripts/install-browser.sh installs it) these tests skip, saying so;
with REQUIRE_BROWSER=1 (CI) they fail instead.
"""
from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from pymongo import MongoClient
from pymongo.database import Database
from simple_salesforce import Salesforce

from devstack import Stack
from tests.browser.helpers import Shot, log_in
from tests.browser.product import ROOT, Console, start_console
from tests.connectors.helpers import salesforce_for_tests

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# On a machine without a network, Chromium's background services (updates, sync, QUIC probes,
# first-run) wait on connections that never come; these switch them off.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = ROOT / "var" / "screenshots"
#: Playwright's wait for any one page condition, in milliseconds.
UI_TIMEOUT_MS = 30_000

expect.set_options(timeout=UI_TIMEOUT_MS)

#: Where the failure hook finds the running product, to quote its logs.
_console_key = pytest.StashKey[Console]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session", autouse=True)
def _chromium_present() -> None:
    """Skip (or with REQUIRE_BROWSER=1 fail) before anything starts when there is no Chromium."""
    if CHROMIUM.is_file():
        return
    message = f"{CHROMIUM} is missing: run scripts/install-browser.sh (installs Debian's chromium)"
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {message}")
    pytest.skip(message)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """On a failure, keep a screenshot of the page and add the product's logs to the report."""
    report = yield
    if report.failed and call.when in ("setup", "call"):
        page = getattr(item, "funcargs", {}).get("anonymous_page")
        if page is not None:
            try:
                page.screenshot(path=screenshot_dir(item.name) / "failure.png", full_page=True)
            except Exception:  # the page may be what failed
                pass
        console: Console | None = item.config.stash.get(_console_key, None)
        if console is not None:
            report.sections.append(("product logs", console.log_tails()))
    return report


@pytest.fixture(scope="package")
def console(stack: Stack, tmp_path_factory: pytest.TempPathFactory,
            pytestconfig: pytest.Config) -> Iterator[Console]:
    """The product running against the session's services, with its own database, topics and
    MongoDB database. Stopped after the last browser test: its workers poll the shared emulator,
    and other tests count the emulator's API calls."""
    running = start_console(stack, tmp_path_factory.mktemp("console"))
    pytestconfig.stash[_console_key] = running
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    # Per test: Playwright's sync API keeps its event loop running in this thread while it is open,
    # and Django refuses database calls from a thread with a running loop (SynchronousOnlyOperation),
    # which broke every database test run after a browser test in the same process (pytest-xdist).
    # launch() gives every run a fresh temporary profile (user data dir) of its own.
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
        yield chromium
        chromium.close()


@pytest.fixture
def anonymous_page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh browser context (no cookies)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def page(anonymous_page: Page, console: Console) -> Page:
    """A page logged in as the console's staff user, on the overview."""
    log_in(anonymous_page, console)
    return anonymous_page


def screenshot_dir(test_name: str) -> Path:
    return SCREENSHOTS / re.sub(r"[^\w.-]+", "_", test_name)


@pytest.fixture
def shot(request: pytest.FixtureRequest, anonymous_page: Page) -> Shot:
    """`shot("step")` saves the page as var/screenshots/<test>/<NN>-<step>.png (this run's only)."""
    directory = screenshot_dir(request.node.name)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    taken: list[Path] = []

    def take(step: str) -> Path:
        path = directory / f"{len(taken) + 1:02d}-{step}.png"
        anonymous_page.screenshot(path=path, full_page=True)
        taken.append(path)
        return path

    return take


@pytest.fixture(scope="session")
def sf(stack: Stack) -> Salesforce:
    """simple-salesforce on the emulator, logged in apart from the product."""
    return salesforce_for_tests(stack)


@pytest.fixture(scope="package")
def mongo(stack: Stack, console: Console) -> Iterator[Database]:
    """The product's MongoDB database."""
    client: MongoClient = MongoClient(stack.mongodb_uri)
    yield client[console.mongodb_database]
    client.drop_database(console.mongodb_database)
    client.close()
