"""The console in a real browser, against the real product processes: logging in, a Salesforce
edit showing up live in the activity feed and the counters, and a platform event in the relays."""
from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect
from pymongo.database import Database
from simple_salesforce import Salesforce

from tests.browser.helpers import SYNC_TIMEOUT, Shot, submit_login, synced_account
from tests.browser.product import RELAY_CHANNEL, Console
from tests.connectors.helpers import wait_for

ACTIVITY_ROWS = "[...document.querySelectorAll('#activity-feed tbody tr[data-id]')]"
NEWEST_ACTIVITY_ID = f"() => Math.max(0, ...{ACTIVITY_ROWS}.map((row) => Number(row.dataset.id)))"
#: True once the feed shows a line about record `id` newer than line `after`.
NEW_ACTIVITY_FOR = (f"([id, after]) => {ACTIVITY_ROWS}.some("
                    "(row) => Number(row.dataset.id) > after && row.textContent.includes(id))")


def test_an_anonymous_visitor_is_sent_to_log_in_and_staff_get_in(
        anonymous_page: Page, console: Console, shot: Shot) -> None:
    page = anonymous_page
    page.goto(f"{console.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    expect(page.get_by_label("Password")).to_be_visible()
    shot("login-form")

    submit_login(page, console)
    expect(page.get_by_role("heading", name="Mappings")).to_be_visible()
    expect(page.locator("#mapping-accounts")).to_be_visible()
    # `hidden` wins over .badge's display: no drift, no badge.
    expect(page.locator('#mapping-accounts [data-field="drift"]')).to_be_hidden()
    expect(page.locator("header")).to_contain_text(console.username)
    shot("overview")


def test_a_salesforce_edit_shows_on_the_overview_without_a_reload(
        page: Page, sf: Salesforce, mongo: Database, shot: Shot) -> None:
    record_id = synced_account(sf, mongo, f"Browser Live {uuid.uuid4().hex[:8]}")
    page.reload()
    expect(page.locator("#live")).to_contain_text("Live")  # the status websocket is delivering
    published = page.locator('#mapping-accounts [data-field="events_published"]')
    published_before = published.inner_text()
    newest_line = page.evaluate(NEWEST_ACTIVITY_ID)
    page.evaluate("window.sameDocument = true")  # gone if the page were reloaded
    shot("before-the-edit")

    edited = f"Browser Edited {uuid.uuid4().hex[:8]}"
    sf.Account.update(record_id, {"Name": edited})

    page.wait_for_function(NEW_ACTIVITY_FOR, arg=[record_id, newest_line],
                           timeout=SYNC_TIMEOUT * 1000)
    expect(published).not_to_have_text(published_before)
    assert page.evaluate("window.sameDocument") is True
    shot("after-the-edit")
    wait_for(lambda: (mongo.accounts.find_one({"_id": record_id}) or {}).get("name") == edited,
             timeout=SYNC_TIMEOUT, message="the edit in MongoDB")


def test_a_platform_event_shows_in_the_relays_table_without_a_reload(
        page: Page, sf: Salesforce, mongo: Database, shot: Shot) -> None:
    relay = page.locator("#relay-order-update")
    expect(relay).to_contain_text(RELAY_CHANNEL)
    expect(relay).to_contain_text("order_updates")
    expect(page.locator("#relays-empty")).to_be_hidden()
    expect(page.locator("#live")).to_contain_text("Live")
    stored = relay.locator('[data-field="events_stored"]')
    stored_before = int(stored.inner_text())
    page.evaluate("window.sameDocument = true")

    order_id = f"801{uuid.uuid4().hex[:15]}"
    sf.Order_Update__e.create({"Order_Id__c": order_id, "Status__c": "Shipped"})
    wait_for(lambda: mongo.order_updates.find_one({"Order_Id__c": order_id}),
             timeout=SYNC_TIMEOUT, message="the order update in MongoDB")
    expect(stored).to_have_text(str(stored_before + 1), timeout=SYNC_TIMEOUT * 1000)
    expect(relay.locator('[data-field="last_event_at"]')).not_to_have_text("—")
    assert page.evaluate("window.sameDocument") is True
    shot("order-update-relayed")
