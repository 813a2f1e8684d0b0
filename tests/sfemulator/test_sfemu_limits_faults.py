"""API usage limits and the emulator's fault injection (503, UNABLE_TO_LOCK_ROW, latency)."""
from __future__ import annotations

import re
import time
import uuid

import pytest
from simple_salesforce.exceptions import (
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

LIMIT_RE = re.compile(r"^api-usage=(\d+)/(\d+)$")


def _usage_header(response) -> tuple[int, int]:
    m = LIMIT_RE.match(response.headers["Sforce-Limit-Info"])
    assert m, response.headers["Sforce-Limit-Info"]
    return int(m[1]), int(m[2])


def test_every_authenticated_response_carries_the_limit_header_and_counts_one_call(api):
    first, max_ = _usage_header(api("GET", "/limits"))
    second, _ = _usage_header(api("GET", "/sobjects/Account/describe"))
    error, _ = _usage_header(api("GET", "/query", params={"q": "SELECT Nope FROM Account"}))
    assert max_ == 15000 and second == first + 1 and error == second + 1


def test_a_composite_call_counts_as_one_request(api):
    before, _ = _usage_header(api("GET", "/limits"))
    records = [{"attributes": {"type": "Account"}, "Name": f"Count {i}"} for i in range(5)]
    after, _ = _usage_header(api("POST", "/composite/sobjects", json={"records": records}))
    assert after == before + 1


def test_limits_resource_reports_daily_api_requests_and_other_real_keys(sf, ctl):
    body = sf.limits()
    assert set(body["DailyApiRequests"]) == {"Max", "Remaining"}
    assert body["DailyApiRequests"]["Max"] == 15000
    assert body["DailyApiRequests"]["Remaining"] == 15000 - ctl.usage()["used"]
    assert {"DataStorageMB", "FileStorageMB", "DailyBulkApiBatches", "DailyAsyncApexExecutions"} <= set(body)


def test_exhausted_daily_limit_refuses_calls_with_request_limit_exceeded(sf, api, faults):
    faults.reset_usage()
    faults.set_faults(daily_api_limit=3)
    for _ in range(3):
        sf.query("SELECT Id FROM Account LIMIT 1")
    with pytest.raises(SalesforceRefusedRequest) as exc:
        sf.query("SELECT Id FROM Account LIMIT 1")
    assert exc.value.status == 403
    assert exc.value.content == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    used, max_ = _usage_header(api("GET", "/limits"))
    assert (used, max_) == (5, 3)  # usage keeps counting past the limit
    faults.clear_faults()
    faults.reset_usage()
    assert sf.query("SELECT Id FROM Account LIMIT 1")["done"] is True


def test_injected_503s_fail_exactly_the_next_n_calls(sf, faults):
    state = faults.set_faults(http_503={"count": 2})
    assert state["http_503"] == {"count": 2}
    for remaining in (1, 0):
        with pytest.raises(SalesforceGeneralError) as exc:
            sf.query("SELECT Id FROM Account LIMIT 1")
        assert exc.value.status == 503
        assert exc.value.content == [{"message": "Server Unavailable", "errorCode": "SERVER_UNAVAILABLE"}]
        assert faults.faults()["http_503"]["count"] == remaining
    assert sf.query("SELECT Id FROM Account LIMIT 1")["done"] is True


def test_unable_to_lock_row_fails_single_writes_then_counts_down(sf, faults):
    faults.set_faults(unable_to_lock_row={"count": 1, "objects": ["Account"]})
    assert sf.Contact.create({"LastName": "Unlocked"})["success"] is True  # other objects unaffected
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.create({"Name": "Locked"})
    assert exc.value.content[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    assert exc.value.content[0]["message"].startswith("unable to obtain exclusive access to this record")
    assert faults.faults()["unable_to_lock_row"]["count"] == 0
    assert sf.Account.create({"Name": "Locked no more"})["success"] is True


def test_unable_to_lock_row_fails_per_record_inside_a_collection(sf, faults):
    faults.set_faults(unable_to_lock_row={"count": 2})
    tag = uuid.uuid4().hex[:8]
    records = [{"attributes": {"type": "Account"}, "Name": f"Lock {tag} {i}"} for i in range(4)]
    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records})
    assert [r["success"] for r in results] == [False, False, True, True]
    assert results[0]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    assert faults.faults()["unable_to_lock_row"]["count"] == 0


def test_latency_injection_delays_every_api_response(sf, faults):
    faults.set_faults(latency_ms=400)
    started = time.monotonic()
    sf.query("SELECT Id FROM Account LIMIT 1")
    assert time.monotonic() - started >= 0.4
    faults.set_faults(latency_ms=0)


def test_control_api_needs_the_bearer_token(emulator, http):
    r = http.get(f"{emulator.url}/_emulator/faults")
    assert r.status_code == 401 and r.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_unknown_fault_names_are_rejected(faults):
    r = faults.http.post(faults.base + "/faults", json={"disk_full": True})
    assert r.status_code == 400 and "disk_full" in r.json()[0]["message"]
