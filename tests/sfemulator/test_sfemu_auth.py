"""Login flows (OAuth + SOAP), sessions and their errors."""
from __future__ import annotations

import pytest
import simple_salesforce
from sfemu_support import API_VERSION, CREDS, https_session, oauth_login
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceExpiredSession
from simple_salesforce.login import SalesforceLogin

from sfemulator.server import EmulatorServer
from tests.connectors.helpers import wait_for


def _token(emulator, http, **form):
    return http.post(f"{emulator.url}/services/oauth2/token", data=form)


def test_oauth_password_grant_returns_salesforce_token_shape(emulator, http):
    body = oauth_login(emulator, http)
    assert set(body) == {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"}
    assert body["token_type"] == "Bearer"
    assert body["instance_url"] == emulator.url
    assert body["id"].startswith(f"{emulator.url}/id/00D")
    assert body["issued_at"].isdigit()


def test_oauth_client_credentials_grant_issues_a_usable_token(emulator, http):
    r = _token(emulator, http, grant_type="client_credentials", client_id=CREDS.client_id,
               client_secret=CREDS.client_secret)
    assert r.status_code == 200
    sf = simple_salesforce.Salesforce(instance_url=emulator.url, session_id=r.json()["access_token"],
                                      session=http, version=API_VERSION)
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] > 0


@pytest.mark.parametrize("form, error, description", [
    ({"client_id": CREDS.client_id, "client_secret": CREDS.client_secret, "username": CREDS.username,
      "password": CREDS.password}, "invalid_grant", "authentication failure"),
    ({"client_id": "nope", "client_secret": CREDS.client_secret, "username": CREDS.username,
      "password": CREDS.password + CREDS.security_token}, "invalid_client_id", "client identifier invalid"),
    ({"client_id": CREDS.client_id, "client_secret": "wrong", "username": CREDS.username,
      "password": CREDS.password + CREDS.security_token}, "invalid_client", "invalid client credentials"),
])
def test_oauth_bad_credentials_return_the_real_error_body(emulator, http, form, error, description):
    r = _token(emulator, http, grant_type="password", **form)
    assert r.status_code == 400
    assert r.json() == {"error": error, "error_description": description}


def test_soap_login_as_simple_salesforce_sends_it_yields_a_working_session(emulator, http):
    session_id, instance = SalesforceLogin(username=CREDS.username, password=CREDS.password,
                                           security_token=CREDS.security_token, sf_version=API_VERSION,
                                           session=http, scratch_url=emulator.url)
    assert instance == emulator.url.removeprefix("https://")
    sf = simple_salesforce.Salesforce(instance_url=emulator.url, session_id=session_id, session=http)
    assert sf.query("SELECT Id FROM Account LIMIT 1")["totalSize"] == 1


def test_soap_login_with_bad_password_is_an_invalid_login_fault(emulator, http):
    with pytest.raises(SalesforceAuthenticationFailed) as exc:
        SalesforceLogin(username=CREDS.username, password="wrong", security_token=CREDS.security_token,
                        session=http, scratch_url=emulator.url)
    assert exc.value.code == "INVALID_LOGIN"


def test_soap_login_fault_has_the_real_envelope(emulator, http):
    envelope = (
        '<?xml version="1.0" encoding="utf-8" ?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">'
        '<env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>nobody</n1:username>'
        '<n1:password>x</n1:password></n1:login></env:Body></env:Envelope>')
    r = http.post(f"{emulator.url}/services/Soap/u/62.0", data=envelope,
                  headers={"content-type": "text/xml", "SOAPAction": "login"})
    assert r.status_code == 500
    assert "<faultcode>sf:INVALID_LOGIN</faultcode>" in r.text
    assert ("<sf:exceptionMessage>Invalid username, password, security token; or user locked out."
            "</sf:exceptionMessage>") in r.text


def test_bad_session_is_401_invalid_session_id(api):
    r = api("GET", "/sobjects/Account/describe", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    assert r.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_simple_salesforce_maps_bad_session_to_expired_session(emulator, http):
    sf = simple_salesforce.Salesforce(instance_url=emulator.url, session_id="bogus", session=http)
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Account")


def test_sessions_expire_after_the_configured_ttl(tmp_path):
    with EmulatorServer(tmp_path, port=0, creds=CREDS, session_ttl_s=1) as server:
        http = https_session(server.ca_path)
        token = oauth_login(server, http)["access_token"]
        url = f"{server.url}/services/data/v{API_VERSION}/limits"

        def status() -> int:
            return http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code

        assert status() == 200
        wait_for(lambda: status() == 401, timeout=5, interval=0.05)


def test_versions_list_needs_no_auth_and_covers_31_to_the_current_release(emulator, http):
    r = http.get(f"{emulator.url}/services/data/")
    assert r.status_code == 200
    versions = [v["version"] for v in r.json()]
    assert versions == [f"{v}.0" for v in range(31, 69)]
    by_version = {v["version"]: v for v in r.json()}
    assert by_version["31.0"]["label"] == "Summer '14"
    assert by_version["62.0"] == {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"}
    assert by_version["68.0"] == {"label": "Winter '27", "url": "/services/data/v68.0", "version": "68.0"}


@pytest.mark.parametrize("version", ["31.0", "51.0", "63.0", "66.0", "68.0"])
def test_every_listed_version_answers_alike(api, emulator, http, token, version):
    base = f"{emulator.url}/services/data/v{version}"
    headers = {"Authorization": f"Bearer {token}"}
    r = http.get(f"{base}/query", params={"q": "SELECT Id, Name FROM Account ORDER BY Id LIMIT 1"}, headers=headers)
    assert r.status_code == 200
    record = r.json()["records"][0]
    assert record["attributes"]["url"] == f"/services/data/v{version}/sobjects/Account/{record['Id']}"
    assert record == {**api("GET", "/query", params={"q": "SELECT Id, Name FROM Account ORDER BY Id LIMIT 1"})
                      .json()["records"][0], "attributes": record["attributes"]}
    assert http.get(f"{base}/sobjects/Account/describe", headers=headers).status_code == 200


@pytest.mark.parametrize("version", ["30.0", "69.0"])
def test_versions_outside_the_range_are_not_found(emulator, http, token, version):
    r = http.get(f"{emulator.url}/services/data/v{version}/limits", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 404 and r.json()[0]["errorCode"] == "NOT_FOUND"


def test_authenticated_responses_carry_api_usage_and_limits_count_it(api):
    first = api("GET", "/limits")
    used = int(first.headers["Sforce-Limit-Info"].split("=")[1].split("/")[0])
    second = api("GET", "/limits")
    assert second.json()["DailyApiRequests"]["Max"] == 15000
    assert second.json()["DailyApiRequests"]["Remaining"] <= 15000 - used - 1
    assert second.headers["Sforce-Limit-Info"].endswith("/15000")
