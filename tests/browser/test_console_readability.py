"""The console read as a person reads it, in Chromium: checkpoints as UTC times with how long
ago, worker counters in words, charts over a chosen range with 24-hour axes, an icon on every
page, no misleading line for a Salesforce delete, and the admin's field-mapping table within a
1280 px screen."""
from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect
from pymongo.database import Database
from simple_salesforce import Salesforce

from tests.browser.helpers import SYNC_TIMEOUT, Shot, synced_account
from tests.browser.product import Console

MOMENT = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \((just now|\d+ (s|min|h|d) ago)\)$")
#: The labels Chart.js drew under each chart's x axis.
AXIS_LABELS = "(id) => Chart.getChart(id).scales.x.ticks.map((tick) => tick.label)"
#: The chart's span in hours, from its axis' ends.
AXIS_HOURS = "(id) => { const x = Chart.getChart(id).scales.x; return (x.max - x.min) / 3600000; }"
#: Every element whose right edge is past the window's, by tag#id.class.
PAST_THE_RIGHT_EDGE = """() => [...document.querySelectorAll('body *')]
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5 && e.getClientRects().length)
  .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`)"""


def test_the_overview_says_checkpoints_counters_and_chart_times_plainly(
        page: Page, sf: Salesforce, mongo: Database, shot: Shot) -> None:
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    page.reload()
    card = page.locator("#mapping-accounts")
    # A MongoDB edit gives MongoDB capture a resume point; the card shows it as a moment.
    record_id = synced_account(sf, mongo, f"Browser Moment {uuid.uuid4().hex[:8]}")
    mongo.accounts.update_one({"_id": record_id}, {"$set": {"name": f"Moment Edited {uuid.uuid4().hex[:6]}"}})
    resume = card.locator('[data-field="mongo_resume_at"]')
    expect(resume).to_have_text(MOMENT, timeout=SYNC_TIMEOUT * 1000)
    expect(card.locator('[data-field="checkpoint_modstamp"]')).to_have_text(MOMENT)
    expect(card).not_to_contain_text("replay id")
    expect(page.locator("#workers")).to_contain_text("changes published to Kafka")
    assert "events_published" not in page.locator("#workers").inner_text()
    expect(page.locator('link[rel="icon"]')).to_have_attribute("href", re.compile(r"favicon\.svg$"))
    shot("checkpoints-and-counters")

    axis = page.evaluate(AXIS_LABELS, "chart-throughput")
    assert axis and all(re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", label) for label in axis), axis
    assert round(page.evaluate(AXIS_HOURS, "chart-throughput")) == 1
    page.get_by_role("link", name="24 h").click()
    expect(page.get_by_role("link", name="24 h")).to_have_attribute("aria-current", "true")
    expect(page.locator("#charts-heading")).to_have_text("The last 24 h")
    page.wait_for_function(f"({AXIS_HOURS})('chart-lag') > 23")
    assert page.url.endswith("?range=24h")
    assert all(re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", label) for label in page.evaluate(AXIS_LABELS, "chart-lag"))
    page.locator("#charts-heading").scroll_into_view_if_needed()
    shot("charts-over-24-hours")
    assert script_errors == []


def test_a_salesforce_delete_adds_no_ignored_line_to_the_activity_feed(
        page: Page, sf: Salesforce, mongo: Database, shot: Shot) -> None:
    record_id = synced_account(sf, mongo, f"Browser Deleted {uuid.uuid4().hex[:8]}")
    sf.Account.delete(record_id)
    feed = page.locator("#activity-feed tbody")
    lines = feed.locator("tr", has_text=record_id)
    expect(lines.filter(has_text="Deleted")).to_have_count(1, timeout=SYNC_TIMEOUT * 1000)
    # The delete comes back from MongoDB's change stream as the sync's own: MongoDB capture does not
    # send it on, so it adds no line. A later MongoDB edit shows once capture has read past it (a
    # change stream is in order).
    later = synced_account(sf, mongo, f"Browser Later {uuid.uuid4().hex[:8]}")
    mongo.accounts.update_one({"_id": later}, {"$set": {"phone": "+1 555 0101"}})
    expect(feed.locator("tr", has_text=later).filter(has_text="MongoDB")).not_to_have_count(
        0, timeout=SYNC_TIMEOUT * 1000)
    expect(lines.filter(has_text="MongoDB")).to_have_count(0)
    expect(feed).not_to_contain_text("Ignored")
    shot("feed-after-a-salesforce-delete")


def test_the_admin_field_mapping_table_fits_a_1280_px_screen(page: Page, console: Console, shot: Shot) -> None:
    page.goto(f"{console.url}/admin/connectors/objectmapping/")
    page.get_by_role("link", name="accounts", exact=True).click()
    table = page.locator("#fields-group table")
    expect(table).to_be_visible()
    assert page.evaluate(PAST_THE_RIGHT_EDGE) == []
    assert table.evaluate("t => t.getBoundingClientRect().right") <= 1280
    # Each Salesforce field's name is readable in its box, not cut off.
    cut = page.locator("#fields-group td.field-sf_field input").evaluate_all(
        "boxes => boxes.filter((b) => b.scrollWidth > b.clientWidth).map((b) => b.value)")
    assert cut == []
    expect(page.locator('link[rel="icon"]')).to_have_attribute("href", re.compile(r"favicon\.svg$"))
    table.scroll_into_view_if_needed()
    shot("field-mappings")
