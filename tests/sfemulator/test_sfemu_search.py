"""SOSL over REST: GET /search?q=FIND {…} … answers {"searchRecords": [...]}."""
from __future__ import annotations

import uuid

import pytest


@pytest.fixture(scope="module")
def word(sf):
    """A unique word in an Account name, a Contact's last name and an email."""
    w = f"Zq{uuid.uuid4().hex[:8]}"
    account = sf.Account.create({"Name": f"{w} Holdings", "Industry": "Energy"})["id"]
    other = sf.Account.create({"Name": f"{w}ville Supplies"})["id"]
    contact = sf.Contact.create({"LastName": w, "Email": f"{w.lower()}@example.com", "AccountId": account})["id"]
    return {"word": w, "account": account, "other": other, "contact": contact}


def search(api, sosl: str):
    r = api("GET", "/search", params={"q": sosl})
    assert r.status_code == 200, r.text
    return r.json()["searchRecords"]


def test_find_in_all_fields_returning_accounts_matches_whole_words(api, word):
    rows = search(api, f"FIND {{{word['word']}}} IN ALL FIELDS RETURNING Account(Id, Name)")
    assert [(r["attributes"]["type"], r["Id"]) for r in rows] == [("Account", word["account"])]
    assert rows[0]["Name"] == f"{word['word']} Holdings"
    assert rows[0]["attributes"]["url"] == f"/services/data/v62.0/sobjects/Account/{word['account']}"


def test_wildcards_several_objects_where_and_limit(api, word):
    w = word["word"]
    rows = search(api, f"FIND {{{w}*}} RETURNING Account(Name ORDER BY Name), Contact(LastName, Account.Name)")
    assert [r["attributes"]["type"] for r in rows] == ["Account", "Account", "Contact"]
    assert rows[2]["Account"]["Name"] == f"{w} Holdings"
    filtered = search(api, f"FIND {{{w}*}} RETURNING Account(Id WHERE Industry = 'Energy')")
    assert [r["Id"] for r in filtered] == [word["account"]]
    assert len(search(api, f"FIND {{{w}*}} RETURNING Account(Id), Contact(Id) LIMIT 2")) == 2


def test_email_scope_and_all_terms_must_match(api, word):
    w = word["word"].lower()
    assert [r["Id"] for r in search(api, f"FIND {{{w}@example.com}} IN EMAIL FIELDS RETURNING Contact")] == \
        [word["contact"]]
    assert search(api, f"FIND {{{word['word']} Nonexistentword}} RETURNING Account") == []
    either = search(api, f"FIND {{{word['word']} OR Nonexistentword}} RETURNING Account")
    assert [r["Id"] for r in either] == [word["account"]]


@pytest.mark.parametrize("sosl, code", [("SELECT Id FROM Account", "MALFORMED_SEARCH"),
                                        ("FIND {xy} RETURNING Nope__c", "INVALID_TYPE"),
                                        ("FIND {a}", "INVALID_SEARCH")])
def test_bad_searches_are_refused(api, sosl, code):
    r = api("GET", "/search", params={"q": sosl})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == code


def test_simple_salesforce_search(sf, word):
    assert [r["Id"] for r in sf.search(f"FIND {{{word['word']}}} RETURNING Contact(Id)")["searchRecords"]] == \
        [word["contact"]]


def test_without_returning_every_object_answers_ids_and_phrases_match_in_order(api, word):
    w = word["word"]
    rows = search(api, f"FIND {{{w}}}")
    assert {(r["attributes"]["type"], r["Id"]) for r in rows} == {("Account", word["account"]),
                                                                  ("Contact", word["contact"])}
    assert all(set(r) == {"attributes", "Id"} for r in rows)
    assert [r["Id"] for r in search(api, f'FIND {{"{w} Holdings"}} RETURNING Account')] == [word["account"]]
    assert search(api, f'FIND {{"Holdings {w}"}} RETURNING Account') == []


def test_resources_map_names_search(api):
    assert api("GET", "/").json()["search"] == "/services/data/v62.0/search"
