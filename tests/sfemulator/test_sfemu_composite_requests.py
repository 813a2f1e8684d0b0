"""/composite (references, allOrNone), /composite/batch, /composite/tree and sObject Collections retrieve."""
from __future__ import annotations

import uuid

V = "/services/data/v62.0"


def _marker() -> str:
    return f"cmp-{uuid.uuid4().hex[:8]}"


def test_composite_references_flow_from_one_subrequest_to_the_next(api, sf):
    name = _marker()
    r = api("POST", "/composite", json={"compositeRequest": [
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "newAccount", "body": {"Name": name}},
        {"method": "GET", "url": f"{V}/sobjects/Account/@{{newAccount.id}}?fields=Name", "referenceId": "read"},
        {"method": "POST", "url": f"{V}/sobjects/Contact", "referenceId": "newContact",
         "body": {"LastName": "Ref", "AccountId": "@{newAccount.id}"}},
        {"method": "GET", "url": f"{V}/query?q=SELECT+Id+FROM+Contact+WHERE+AccountId='@{{newAccount.id}}'",
         "referenceId": "found"},
        {"method": "PATCH", "url": f"{V}/sobjects/Contact/@{{found.records[0].Id}}", "referenceId": "rename",
         "body": {"Title": "via @{read.Name}"}},
    ]})
    assert r.status_code == 200, r.text
    answers = r.json()["compositeResponse"]
    assert [a["httpStatusCode"] for a in answers] == [201, 200, 201, 200, 204]
    account_id = answers[0]["body"]["id"]
    assert answers[0]["httpHeaders"] == {"Location": f"{V}/sobjects/Account/{account_id}"}
    assert answers[1]["body"]["Name"] == name and answers[4]["body"] is None
    contact = sf.Contact.get(answers[2]["body"]["id"])
    assert contact["AccountId"] == account_id and contact["Title"] == f"via {name}"


def test_composite_without_all_or_none_keeps_what_succeeded_and_halts_dependants(api, sf):
    name = _marker()
    answers = api("POST", "/composite", json={"compositeRequest": [
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "ok", "body": {"Name": name}},
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "bad", "body": {"Nope__c": 1}},
        {"method": "POST", "url": f"{V}/sobjects/Contact", "referenceId": "child",
         "body": {"LastName": "x", "AccountId": "@{bad.id}"}},
    ]}).json()["compositeResponse"]
    assert [a["httpStatusCode"] for a in answers] == [201, 400, 400]
    assert answers[1]["body"][0]["errorCode"] == "INVALID_FIELD"
    assert answers[2]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert sf.query(f"SELECT COUNT() FROM Account WHERE Name = '{name}'")["totalSize"] == 1


def test_composite_all_or_none_rolls_everything_back(api, sf):
    name = _marker()
    answers = api("POST", "/composite", json={"allOrNone": True, "compositeRequest": [
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "first", "body": {"Name": name}},
        {"method": "PATCH", "url": f"{V}/sobjects/Account/@{{first.id}}", "referenceId": "rename",
         "body": {"Name": name + "-2"}},
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "broken", "body": {"Nope__c": 1}},
        {"method": "GET", "url": f"{V}/limits", "referenceId": "later"},
    ]}).json()["compositeResponse"]
    assert [a["httpStatusCode"] for a in answers] == [400, 400, 400, 400]
    assert [a["body"][0]["errorCode"] for a in answers] == \
        ["PROCESSING_HALTED", "PROCESSING_HALTED", "INVALID_FIELD", "PROCESSING_HALTED"]
    assert sf.query(f"SELECT COUNT() FROM Account WHERE Name LIKE '{name}%'")["totalSize"] == 0


def test_composite_refuses_more_than_25_subrequests(api):
    subs = [{"method": "GET", "url": f"{V}/limits", "referenceId": f"r{i}"} for i in range(26)]
    r = api("POST", "/composite", json={"compositeRequest": subs})
    assert r.status_code == 400


def test_composite_batch_runs_independent_subrequests_and_halts_on_error(api):
    body = {"haltOnError": True, "batchRequests": [
        {"method": "GET", "url": "v62.0/limits"},
        {"method": "PATCH", "url": "v62.0/sobjects/Account/001000000000000AAA", "richInput": {"Name": "x"}},
        {"method": "GET", "url": "v62.0/limits"},
    ]}
    r = api("POST", "/composite/batch", json=body)
    assert r.status_code == 200
    out = r.json()
    assert out["hasErrors"] is True
    assert [x["statusCode"] for x in out["results"]] == [200, 404, 412]
    assert out["results"][0]["result"]["DailyApiRequests"]["Max"] > 0
    assert out["results"][2]["result"][0]["errorCode"] == "BATCH_PROCESSING_HALTED"


def test_composite_tree_creates_parents_with_children(api, sf):
    name = _marker()
    r = api("POST", "/composite/tree/Account", json={"records": [
        {"attributes": {"type": "Account", "referenceId": "acc1"}, "Name": name,
         "Contacts": {"records": [{"attributes": {"type": "Contact", "referenceId": "c1"}, "LastName": "One"},
                                  {"attributes": {"type": "Contact", "referenceId": "c2"}, "LastName": "Two"}]}},
        {"attributes": {"type": "Account", "referenceId": "acc2"}, "Name": name + "-b"},
    ]})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["hasErrors"] is False
    assert [x["referenceId"] for x in body["results"]] == ["acc1", "c1", "c2", "acc2"]
    acc1 = body["results"][0]["id"]
    kids = sf.query(f"SELECT LastName FROM Contact WHERE AccountId = '{acc1}' ORDER BY LastName")["records"]
    assert [k["LastName"] for k in kids] == ["One", "Two"]


def test_composite_tree_is_all_or_none(api, sf):
    name = _marker()
    r = api("POST", "/composite/tree/Account", json={"records": [
        {"attributes": {"type": "Account", "referenceId": "good"}, "Name": name},
        {"attributes": {"type": "Account", "referenceId": "bad"}, "Nope__c": 1,
         "Contacts": {"records": [{"attributes": {"type": "Contact", "referenceId": "kid"}, "LastName": "K"}]}},
    ]})
    assert r.status_code == 400
    assert r.json() == {"hasErrors": True, "results": [{"referenceId": "bad", "errors": [
        {"statusCode": "INVALID_FIELD", "message": "No such column 'Nope__c' on sobject of type Account",
         "fields": []}]}]}
    assert sf.query(f"SELECT COUNT() FROM Account WHERE Name = '{name}'")["totalSize"] == 0


def test_collections_retrieve_by_ids_with_get_and_post(api, sf):
    a = sf.Account.create({"Name": _marker(), "Industry": "Energy"})["id"]
    b = sf.Account.create({"Name": _marker()})["id"]
    gone = sf.Account.create({"Name": _marker()})["id"]
    sf.Account.delete(gone)
    r = api("GET", "/composite/sobjects/Account", params={"ids": f"{a},{gone},{b}", "fields": "Name,Industry"})
    assert r.status_code == 200
    first, missing, last = r.json()
    assert missing is None
    assert first["Id"] == a and first["Industry"] == "Energy" and first["attributes"]["type"] == "Account"
    assert set(last) == {"attributes", "Id", "Name", "Industry"}
    posted = api("POST", "/composite/sobjects/Account", json={"ids": [b], "fields": ["Name"]})
    assert posted.status_code == 200 and posted.json()[0]["Id"] == b
    assert api("GET", "/composite/sobjects/Account", params={"ids": a}).json()[0]["errorCode"] == "MISSING_ARGUMENT"
