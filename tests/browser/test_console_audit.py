"""The audit trail as an operator reads it, in Chromium: pausing and resuming a mapping from the
overview shows up on /audit/ under the person who did it, and the filters narrow it down."""
from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.helpers import Shot
from tests.browser.product import Console
from tests.browser.test_accessibility import assert_accessible, assert_fits_the_desktop


def test_pausing_and_resuming_from_the_console_is_on_the_audit_page(page: Page, console: Console, shot: Shot) -> None:
    card = page.locator("#mapping-accounts")
    card.locator("#pause-accounts").click()
    expect(card.locator('[data-field="state"]')).to_have_text("paused", timeout=30_000)
    card.locator("#resume-accounts").click()
    expect(card.locator("#pause-accounts")).to_be_visible(timeout=30_000)

    page.goto(f"{console.url}/audit/")
    rows = page.locator("#audit tbody tr")
    expect(rows.filter(has_text="Paused a mapping").filter(has_text="accounts").first).to_contain_text(console.username)
    expect(rows.filter(has_text="Resumed a mapping").filter(has_text="accounts").first).to_contain_text("Console")
    shot("audit-trail")
    assert_accessible(page, "audit")
    assert_fits_the_desktop(page, "audit")

    page.locator("#filter-action").select_option("resume")
    page.locator("#apply-filters").click()
    expect(page.locator("#audit tbody tr").first).to_contain_text("Resumed a mapping")
    actions = page.locator("#audit tbody tr").evaluate_all("(rows) => rows.map((r) => r.dataset.action)")
    assert set(actions) == {"resume"}
    shot("audit-filtered-by-action")
