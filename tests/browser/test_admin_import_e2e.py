"""The admin in a real browser: fields of a mapping imported from Salesforce's describe."""
from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.helpers import Shot
from tests.browser.product import Console

FIELD = "Website"  # an Account field setupsync maps; the test unmaps it, then imports it back


def field_mapping_row(page: Page, sf_field: str):  # type: ignore[no-untyped-def]
    """The mapping's inline row for `sf_field` on the object mapping's change page."""
    named = page.locator(f'input[name$="-sf_field"][value="{sf_field}"]')
    return page.locator("tr.form-row", has=named)


def test_a_person_imports_a_salesforce_field_into_a_mapping(page: Page, console: Console,
                                                            shot: Shot) -> None:
    page.goto(f"{console.url}/admin/connectors/objectmapping/")
    page.get_by_role("link", name="accounts", exact=True).click()
    row = field_mapping_row(page, FIELD)
    expect(row).to_have_count(1)
    row.locator('input[name$="-DELETE"]').check()
    page.locator('input[name="_continue"]').click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    expect(field_mapping_row(page, FIELD)).to_have_count(0)
    shot("field-unmapped")

    page.locator("#import-from-salesforce").click()
    expect(page.locator("#field-Name")).to_contain_text("already mapped")
    expect(page.locator("#import-Name")).to_have_count(0)  # a mapped field cannot be imported twice
    checkbox = page.locator(f"#import-{FIELD}")
    expect(checkbox).not_to_be_checked()
    expect(page.locator(f"#mongo-{FIELD}")).to_have_value("website")
    shot("import-page")

    checkbox.check()
    page.get_by_role("button", name="Create field mappings").click()
    created = f"Created 1 field mapping(s) for Account: {FIELD}."
    expect(page.locator(".messagelist")).to_contain_text(created)
    expect(field_mapping_row(page, FIELD)).to_have_count(1)
    mongo_field = field_mapping_row(page, FIELD).locator('input[name$="-mongo_field"]')
    expect(mongo_field).to_have_value("website")
    shot("field-imported")
