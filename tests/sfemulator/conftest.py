"""Fixtures: a real emulator over HTTPS on a free port, plus ready-made clients."""
from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

# This folder has no __init__.py (a package named after it would shadow the real
# ``sfemulator``), so make the shared helper module and the repo root importable.
_HERE = Path(__file__).resolve().parent
for _p in (str(_HERE), str(_HERE.parents[1])):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import pytest
import requests
import simple_salesforce
from sfemu_support import API_VERSION, CREDS, SEEDED_ACCOUNTS, https_session, oauth_login

from sfemulator.control import EmulatorControl
from sfemulator.server import EmulatorServer

if TYPE_CHECKING:
    from pubsub_support import Subscription

    from pubsub_api import pubsub_api_pb2 as pb2


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    server = EmulatorServer(tmp_path_factory.mktemp("sfemu"), port=0, seed=SEEDED_ACCOUNTS, creds=CREDS)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def http(emulator: EmulatorServer) -> requests.Session:
    return https_session(emulator.ca_path)


@pytest.fixture(scope="session")
def token(emulator: EmulatorServer, http: requests.Session) -> str:
    return oauth_login(emulator, http)["access_token"]


@pytest.fixture(scope="session")
def sf(emulator: EmulatorServer, http: requests.Session, token: str) -> simple_salesforce.Salesforce:
    return simple_salesforce.Salesforce(instance_url=emulator.url, session_id=token, session=http,
                                        version=API_VERSION)


@pytest.fixture(scope="session")
def api(emulator: EmulatorServer, http: requests.Session, token: str) -> Callable[..., requests.Response]:
    """Plain-requests caller for status/body assertions: api("GET", "/sobjects/Account/describe")."""
    base = f"{emulator.url}/services/data/v{API_VERSION}"

    def call(method: str, path: str, **kw) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        return http.request(method, base + path, headers=headers, **kw)

    return call


@pytest.fixture(scope="session")
def ctl(emulator: EmulatorServer, token: str) -> EmulatorControl:
    """Client of the emulator-only /_emulator control API."""
    return EmulatorControl(emulator.url, emulator.ca_path, token)


@pytest.fixture
def faults(ctl: EmulatorControl) -> Iterator[EmulatorControl]:
    """``ctl`` with faults cleared before and after the test (the emulator is shared)."""
    ctl.clear_faults()
    yield ctl
    ctl.clear_faults()


@pytest.fixture(scope="session")
def pubsub_stub(emulator: EmulatorServer):
    """A ``PubSubStub`` on the emulator's Pub/Sub API (pass ``metadata=pubsub_auth``)."""
    from sfemu_support import pubsub_channel

    from pubsub_api import pubsub_api_pb2_grpc

    channel = pubsub_channel(emulator)
    yield pubsub_api_pb2_grpc.PubSubStub(channel)
    channel.close()


@pytest.fixture(scope="session")
def pubsub_auth(emulator: EmulatorServer, token: str) -> tuple[tuple[str, str], ...]:
    from sfemu_support import pubsub_metadata

    return pubsub_metadata(emulator, token)


@pytest.fixture
def subscribe(pubsub_stub, pubsub_auth) -> Iterator[Callable[..., Subscription]]:
    """``subscribe(topic, preset=…, replay_id=…)`` opens a Subscribe stream, closed after the test."""
    from pubsub_support import Subscription

    subs: list[Subscription] = []

    def open_(topic: str, **kw) -> Subscription:
        subs.append(Subscription(pubsub_stub, pubsub_auth, topic, **kw))
        return subs[-1]

    yield open_
    for s in subs:
        s.close()


@pytest.fixture
def decoder(pubsub_stub, pubsub_auth) -> Callable[[pb2.ConsumerEvent], tuple[dict, dict]]:
    """ConsumerEvent -> (decoded payload, Avro schema dict), fetching schemas with GetSchema."""
    from fastavro import parse_schema, schemaless_reader

    from pubsub_api import pubsub_api_pb2 as pb2

    cache: dict[str, dict] = {}

    def decode(ev: pb2.ConsumerEvent) -> tuple[dict, dict]:
        sid = ev.event.schema_id
        if sid not in cache:
            cache[sid] = json.loads(pubsub_stub.GetSchema(pb2.SchemaRequest(schema_id=sid),
                                                          metadata=pubsub_auth).schema_json)
        return schemaless_reader(io.BytesIO(ev.event.payload), parse_schema(cache[sid]), None), cache[sid]

    return decode
