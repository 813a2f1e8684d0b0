"""Helpers shared by the emulator tests (clients, login, Pub/Sub channels)."""
from __future__ import annotations

from pathlib import Path

import requests
import simple_salesforce

from sfemulator.config import Credentials
from sfemulator.server import EmulatorServer

SEEDED_ACCOUNTS = 5000
API_VERSION = "62.0"
CREDS = Credentials()


def https_session(ca_path: Path | str) -> requests.Session:
    """A session trusting only the emulator's CA.

    ``trust_env=False`` matters: requests lets REQUESTS_CA_BUNDLE override ``Session.verify``.
    """
    s = requests.Session()
    s.verify = str(ca_path)
    s.trust_env = False
    return s


def oauth_login(server: EmulatorServer, http: requests.Session) -> dict:
    r = http.post(f"{server.url}/services/oauth2/token", data={
        "grant_type": "password", "client_id": CREDS.client_id, "client_secret": CREDS.client_secret,
        "username": CREDS.username, "password": CREDS.password + CREDS.security_token})
    assert r.status_code == 200, r.text
    return r.json()


def connect(server: EmulatorServer) -> simple_salesforce.Salesforce:
    http = https_session(server.ca_path)
    token = oauth_login(server, http)["access_token"]
    return simple_salesforce.Salesforce(instance_url=server.url, session_id=token, session=http,
                                        version=API_VERSION)


def pubsub_channel(server: EmulatorServer):
    """A gRPC channel to the emulator's Pub/Sub API, trusting only its CA."""
    import grpc

    return grpc.secure_channel(server.pubsub_address,
                               grpc.ssl_channel_credentials(Path(server.ca_path).read_bytes()))


def pubsub_metadata(server: EmulatorServer, token: str) -> tuple[tuple[str, str], ...]:
    """The real service's auth metadata; the tenant id is the org Id (from the identity URL)."""
    from sfemulator import ids

    return (("accesstoken", token), ("instanceurl", server.url), ("tenantid", ids.ORG_ID))
