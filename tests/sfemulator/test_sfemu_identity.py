"""Who is logged in (userinfo, identity URL), the web-server flow with refresh tokens, SOAP logout."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sfemu_support import CREDS, oauth_login

from sfemulator import ids

REDIRECT = "http://localhost:1717/OauthRedirect"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_userinfo_names_the_user_and_org_of_the_token(emulator, http, token):
    r = http.get(f"{emulator.url}/services/oauth2/userinfo", headers=_bearer(token))
    assert r.status_code == 200
    body = r.json()
    assert body["user_id"] == ids.ADMIN_USER_ID and body["organization_id"] == ids.ORG_ID
    assert body["preferred_username"] == CREDS.username
    assert body["sub"] == f"{emulator.url}/id/{ids.ORG_ID}/{ids.ADMIN_USER_ID}"
    assert body["urls"]["rest"].endswith("/services/data/v{version}/")


@pytest.mark.parametrize("headers, text", [({}, "Missing_OAuth_Token"),
                                           ({"Authorization": "Bearer nope"}, "Bad_OAuth_Token")])
def test_userinfo_without_a_live_token_is_403_in_plain_text(emulator, http, headers, text):
    r = http.get(f"{emulator.url}/services/oauth2/userinfo", headers=headers)
    assert (r.status_code, r.text) == (403, text)


def test_identity_url_from_the_token_response_answers_and_refuses_other_users(emulator, http):
    body = oauth_login(emulator, http)
    r = http.get(body["id"], headers=_bearer(body["access_token"]))
    assert r.status_code == 200 and r.json()["username"] == CREDS.username
    assert r.json()["id"] == body["id"]
    other = body["id"].rsplit("/", 1)[0] + "/" + ids.make_id("005", 99)
    assert http.get(other, headers=_bearer(body["access_token"])).status_code == 403


def test_cli_user_lookup_with_doubled_slash_reads_the_user_record(emulator, http, token):
    """The CLI fetches ``<instance>//services/data/v51.0/sobjects/User/<id>`` after userinfo."""
    r = http.get(f"{emulator.url}//services/data/v51.0/sobjects/User/{ids.ADMIN_USER_ID}", headers=_bearer(token))
    assert r.status_code == 200 and r.json()["Username"]


def _authorize(emulator, http, **extra) -> dict[str, list[str]]:
    r = http.get(f"{emulator.url}/services/oauth2/authorize", allow_redirects=False, params={
        "response_type": "code", "client_id": CREDS.client_id, "redirect_uri": REDIRECT, **extra})
    assert r.status_code == 302, r.text
    assert r.headers["location"].startswith(REDIRECT + "?")
    return parse_qs(urlsplit(r.headers["location"]).query)


def _grant(emulator, http, **form):
    return http.post(f"{emulator.url}/services/oauth2/token",
                     data={"client_id": CREDS.client_id, "client_secret": CREDS.client_secret, **form})


def test_web_server_flow_then_refresh_token_grant_issues_working_tokens(emulator, http):
    query = _authorize(emulator, http, state="xyz")
    assert query["state"] == ["xyz"]
    r = _grant(emulator, http, grant_type="authorization_code", code=query["code"][0], redirect_uri=REDIRECT)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["refresh_token"] and first["scope"] == "refresh_token api"
    # the code is single-use
    again = _grant(emulator, http, grant_type="authorization_code", code=query["code"][0], redirect_uri=REDIRECT)
    assert again.json() == {"error": "invalid_grant", "error_description": "invalid authorization code"}
    r = _grant(emulator, http, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert r.status_code == 200, r.text
    fresh = r.json()
    assert "refresh_token" not in fresh and fresh["access_token"] != first["access_token"]
    api = f"{emulator.url}/services/data/v62.0/limits"
    assert http.get(api, headers=_bearer(fresh["access_token"])).status_code == 200
    # revoking the refresh token ends it
    assert http.post(f"{emulator.url}/services/oauth2/revoke",
                     data={"token": first["refresh_token"]}).status_code == 200
    r = _grant(emulator, http, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_grant", "error_description": "expired access/refresh token"}


def test_authorization_code_for_another_redirect_uri_is_refused(emulator, http):
    code = _authorize(emulator, http)["code"][0]
    r = _grant(emulator, http, grant_type="authorization_code", code=code, redirect_uri="http://evil/")
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def _soap(emulator, http, body: str, header: str = ""):
    envelope = ('<?xml version="1.0" encoding="utf-8"?><env:Envelope '
                'xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:n1="urn:partner.soap.sforce.com">'
                f"<env:Header>{header}</env:Header><env:Body>{body}</env:Body></env:Envelope>")
    return http.post(f"{emulator.url}/services/Soap/u/62.0", data=envelope,
                     headers={"content-type": "text/xml", "SOAPAction": "logout"})


def test_soap_logout_ends_the_session(emulator, http):
    session = oauth_login(emulator, http)["access_token"]
    header = f"<n1:SessionHeader><n1:sessionId>{session}</n1:sessionId></n1:SessionHeader>"
    r = _soap(emulator, http, "<n1:logout/>", header)
    assert r.status_code == 200 and "<logoutResponse/>" in r.text
    limits = http.get(f"{emulator.url}/services/data/v62.0/limits", headers=_bearer(session))
    assert limits.status_code == 401
    again = _soap(emulator, http, "<n1:logout/>", header)
    assert again.status_code == 500 and "<faultcode>sf:INVALID_SESSION_ID</faultcode>" in again.text
