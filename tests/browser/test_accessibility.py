"""Every console page, with real data on it, checked by axe-core (WCAG 2 A and AA rules) in
Chromium; no serious or critical violation is allowed. Each page is also kept as a screenshot,
var/screenshots/pages/<page>.png (1280 px wide, and 390 px for the overview), for people to look at.
"""
from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pymongo.database import Database
from simple_salesforce import Salesforce

from devstack import Stack
from sfemulator.control import EmulatorControl
from tests.browser.helpers import SYNC_TIMEOUT, synced_account
from tests.browser.product import ROOT, Console
from tests.connectors.helpers import wait_for

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa"]}, "resultTypes": ["violations"]}
BLOCKING = ("serious", "critical")
PAGES = ROOT / "var" / "screenshots" / "pages"
PHONE = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Seeded:
    """What the product holds for these tests: a record with an open error, and a conflict."""

    record_id: str
    error_id: int
    conflict_id: int



@pytest.fixture(scope="module")
def seeded(console: Console, stack: Stack, sf: Salesforce, mongo: Database) -> Seeded:
    """A record Salesforce rejects (an open error, with a timeline) and a real conflict, made
    through the running product the way they happen in production."""
    PAGES.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]

    rejected = synced_account(sf, mongo, f"A11y Error {tag}")
    control = EmulatorControl(stack.salesforce_url, stack.salesforce_ca, sf.session_id)
    rule = f"test_browser_a11y_{tag}"
    control.add_rule(rule, "Account", "NumberOfEmployees", "<", 0, "Employees cannot be negative")
    try:
        mongo.accounts.update_one({"_id": rejected}, {"$set": {"numberOfEmployees": -3}})
        try:
            error_id = wait_for(lambda: _first(console.query(
                "SELECT id FROM connectors_syncerror WHERE record_key = ? AND status = 'open'", rejected)),
                timeout=SYNC_TIMEOUT, message="the rejected write parked as an error")
        except AssertionError as exc:  # once in two full runs (cause unknown): say what became of the write
            raise AssertionError(f"{exc}\n{_what_became_of(console, rejected)}") from None
    finally:
        control.remove_rule(rule)

    disputed = synced_account(sf, mongo, f"A11y Conflict {tag}")
    with console.holding("mongodb-to-salesforce"):
        mongo.accounts.update_one({"_id": disputed}, {"$set": {"name": f"A11y MongoDB side {tag}"}})
        sf.Account.update(disputed, {"Name": f"A11y Salesforce side {tag}"})
        conflict_id = wait_for(lambda: _first(console.query(
            "SELECT id FROM connectors_conflict WHERE salesforce_id = ? AND status = 'open'", disputed)),
            timeout=SYNC_TIMEOUT, message="the conflict")
    return Seeded(record_id=rejected, error_id=error_id, conflict_id=conflict_id)


def _what_became_of(console: Console, record_id: str) -> str:
    """The record's timeline, its errors and conflicts, and every worker's state and log tail."""
    asked = {
        "timeline": ("SELECT created_at, source, outcome, operation, detail FROM connectors_recordevent"
                     " WHERE salesforce_id = ? OR mongo_id = ? ORDER BY id", record_id, record_id),
        "errors": ("SELECT stage, code, status, record_key, message FROM connectors_syncerror"
                   " ORDER BY id DESC LIMIT 5",),
        "conflicts": ("SELECT salesforce_id, status FROM connectors_conflict WHERE salesforce_id = ?", record_id),
        "workers": ("SELECT name, state, last_error, counters FROM connectors_workerstatus",),
    }
    lines = [f"{what}: {console.query(*query)}" for what, query in asked.items()]
    return "\n".join(lines) + "\n" + console.log_tails(30)


def _first(rows: list[tuple]) -> int | None:
    return rows[0][0] if rows else None


def serious_violations(page: Page, include: str | None = None) -> list[dict]:
    """axe-core's WCAG 2 A/AA violations of impact serious or critical on the page as it is now
    (only inside the `include` selector when given)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    context = {"include": [include]} if include else None
    result = page.evaluate("([context, options]) => axe.run(context || document, options)",
                           [context, AXE_OPTIONS])
    return [v for v in result["violations"] if v["impact"] in BLOCKING]


def readable(violations: list[dict]) -> str:
    """One paragraph per rule: what is wrong, where (CSS selectors), and what axe suggests."""
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:8]:
            lines.append(f"    at {' '.join(map(str, node['target']))}: {node['html'][:160]}")
            summary = (node.get("failureSummary") or "").replace("\n", " / ")
            lines.append(f"       {summary[:300]}")
        if len(v["nodes"]) > 8:
            lines.append(f"    ... and {len(v['nodes']) - 8} more")
    return "\n".join(lines)


def assert_accessible(page: Page, name: str, include: str | None = None) -> None:
    """No serious or critical axe violation; the page is kept as pages/<name>.png either way."""
    page.screenshot(path=PAGES / f"{name}.png", full_page=True)
    violations = serious_violations(page, include)
    assert not violations, (f"{name}: {len(violations)} serious or critical WCAG violation(s)\n"
                            f"{readable(violations)}")


def no_sideways_scrolling(page: Page) -> bool:
    """Whether the page as a whole fits the viewport's width (wide tables scroll inside their box)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


#: The tables (by their box's label) wider than their box, which would scroll sideways.
TABLES_SCROLLING = """() => [...document.querySelectorAll('.table-scroll')]
    .filter((box) => box.offsetParent !== null && box.scrollWidth > box.clientWidth)
    .map((box) => box.getAttribute('aria-label') || box.getAttribute('aria-labelledby') || box.className)"""


def assert_fits_the_desktop(page: Page, name: str) -> None:
    """At 1280 px every column of every table is in view: nothing scrolls sideways."""
    assert no_sideways_scrolling(page), f"{name} is wider than 1280 px"
    assert page.evaluate(TABLES_SCROLLING) == [], f"{name}: tables scroll sideways at 1280 px"


#: Console pages by screenshot name, and their paths (formatted with the seeded data).
CONSOLE_PAGES = {
    "overview": "/",
    "conflicts": "/conflicts/",
    "conflict-detail": "/conflicts/{conflict_id}/",
    "errors": "/errors/",
    "error-detail": "/errors/{error_id}/",
    "record-timeline": "/records/accounts/{record_id}/",
    "find-record": "/records/",
}


@pytest.mark.parametrize("name", CONSOLE_PAGES)
def test_each_console_page_meets_wcag_2_aa(name: str, page: Page, console: Console, seeded: Seeded) -> None:
    page.goto(console.url + CONSOLE_PAGES[name].format(**asdict(seeded)))
    expect(page.locator("main h1").first).to_be_visible()
    if name == "overview":
        expect(page.locator("#live")).to_contain_text("Live")  # checked as the live updates leave it
    assert_accessible(page, name)
    assert_fits_the_desktop(page, name)


def test_the_login_page_meets_wcag_2_aa(anonymous_page: Page, console: Console) -> None:
    anonymous_page.goto(f"{console.url}/")
    expect(anonymous_page.get_by_label("Password")).to_be_visible()
    assert_accessible(anonymous_page, "login")


def test_the_overview_on_a_phone_meets_wcag_2_aa_without_sideways_scrolling(
        page: Page, seeded: Seeded) -> None:
    page.set_viewport_size(PHONE)
    expect(page.locator("#live")).to_contain_text("Live")
    assert no_sideways_scrolling(page), "the overview is wider than a 390 px screen"
    assert_accessible(page, "overview-390px")


def test_the_errors_table_fits_1280_px_with_retry_in_view_even_with_a_payload_open(
        page: Page, console: Console, seeded: Seeded) -> None:
    page.goto(f"{console.url}/errors/")
    row = page.locator(f"#error-{seeded.error_id}")
    row.get_by_text("Payload").click()
    expect(row.locator("pre.payload")).to_be_visible()
    retry = page.locator(f"#retry-{seeded.error_id}")
    expect(retry).to_be_visible()
    right_edge = retry.evaluate("b => b.getBoundingClientRect().right")
    assert right_edge <= 1280, f"Retry is off-screen at 1280 px (its right edge at {right_edge} px)"
    assert_fits_the_desktop(page, "errors")


def test_the_admin_import_page_meets_wcag_2_aa_in_our_template(page: Page, console: Console) -> None:
    """Django's admin frame is Django's; only the mapping import form (#content-main) is ours."""
    page.goto(f"{console.url}/admin/connectors/objectmapping/")
    page.get_by_role("link", name="accounts", exact=True).click()
    page.locator("#import-from-salesforce").click()
    expect(page.locator("#import-fields")).to_be_visible()
    assert_accessible(page, "admin-import-fields", include="#content-main")
