"""Logging in to Salesforce against a configurable login host.

simple-salesforce builds its login URLs from `<domain>.salesforce.com`; we call
its own login routines with our configured host instead, so a My Domain, a
sandbox, a private-CA gateway or the emulator all work the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from html import escape

import requests
from simple_salesforce.exceptions import SalesforceAuthenticationFailed
from simple_salesforce.login import soap_login, token_login


@dataclass(frozen=True)
class SalesforceCredentials:
    login_url: str
    auth_flow: str  # "oauth_password" | "client_credentials" | "soap_password"
    username: str = ""
    password: str = ""
    security_token: str = ""
    client_id: str = ""
    client_secret: str = ""
    api_version: str = "62.0"
    ca_bundle: str = ""

    def __repr__(self) -> str:  # never print secrets, even in a traceback
        return (f"SalesforceCredentials(login_url={self.login_url!r}, auth_flow={self.auth_flow!r}, "
                f"username={self.username!r})")


class SalesforceLoginError(RuntimeError):
    """Login failed; str() is one line naming the host and what to check."""


class CABundleSession(requests.Session):
    """A session whose own `verify` wins over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE.

    Plain requests lets those variables override `session.verify` (psf/requests#3829),
    which would silently drop an org's configured CA bundle on machines that set them.
    """

    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # type: ignore[no-untyped-def]
        merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None or verify is True:
            merged["verify"] = self.verify
        return merged


def new_http_session(credentials: SalesforceCredentials) -> requests.Session:
    session = CABundleSession()
    if credentials.ca_bundle:
        session.verify = credentials.ca_bundle
    return session


def _soap_body(credentials: SalesforceCredentials, client_name: str) -> str:
    # The partner-API login envelope, as simple-salesforce sends it.
    return f"""<?xml version="1.0" encoding="utf-8" ?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com">
    <soapenv:Header><urn:CallOptions><urn:client>{escape(client_name)}</urn:client>
        <urn:defaultNamespace>sf</urn:defaultNamespace></urn:CallOptions></soapenv:Header>
    <soapenv:Body><urn:login><urn:username>{escape(credentials.username)}</urn:username>
        <urn:password>{escape(credentials.password + credentials.security_token)}</urn:password></urn:login>
    </soapenv:Body>
</soapenv:Envelope>"""


def login(credentials: SalesforceCredentials, session: requests.Session, client_name: str) -> tuple[str, str]:
    """Returns (access token, instance host[:port]). Raises SalesforceLoginError."""
    base = credentials.login_url.rstrip("/")
    try:
        if credentials.auth_flow == "soap_password":
            return soap_login(
                f"{base}/services/Soap/u/{credentials.api_version}",
                _soap_body(credentials, client_name),
                {"content-type": "text/xml", "charset": "UTF-8", "SOAPAction": "login"},
                None,
                session,
            )
        if credentials.auth_flow == "client_credentials":
            data = {"grant_type": "client_credentials"}
        elif credentials.auth_flow == "oauth_password":
            data = {
                "grant_type": "password",
                "username": credentials.username,
                "password": credentials.password + credentials.security_token,
            }
        else:
            raise SalesforceLoginError(f"salesforce: unknown auth flow {credentials.auth_flow!r}")
        data.update({"client_id": credentials.client_id, "client_secret": credentials.client_secret})
        return token_login(f"{base}/services/oauth2/token", data, "", credentials.client_id, None, None, session)
    except SalesforceAuthenticationFailed as exc:
        raise SalesforceLoginError(
            f"salesforce: login to {base} as {credentials.username or credentials.client_id} refused "
            # `auth_message` is Salesforce's reason; `message` is simple-salesforce's unfilled template.
            f"({exc.code}: {exc.auth_message or 'no reason given'}); "
            "check the username, password, security token and connected app"
        ) from exc
    except requests.exceptions.SSLError as exc:
        raise SalesforceLoginError(
            f"salesforce: TLS verification of {base} failed; check SF_CA_BUNDLE / the org's CA bundle ({exc})"
        ) from exc
    except requests.exceptions.RequestException as exc:
        raise SalesforceLoginError(
            f"salesforce: {base} unreachable; check SF_LOGIN_URL / the org's login URL ({type(exc).__name__})"
        ) from exc
