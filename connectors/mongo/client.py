"""MongoDB client construction and the one-line "unreachable" message."""
from __future__ import annotations

from functools import cache

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from connectors.secret_value import readable


class MongoUnavailable(RuntimeError):
    pass


def connect(uri: str, timeout_ms: int = 5000) -> MongoClient:
    """A tz-aware client; raises MongoUnavailable (one line) when the server does not answer.

    Writes are journaled (`j: true`): apply commits its Kafka offsets once a write is
    acknowledged, so a write the server acknowledged and then lost in a crash would never be
    made again (tests/connectors/test_mongo_durability.py)."""
    readable(uri, "the MongoDB connection URI")
    client: MongoClient = MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=timeout_ms, appname="sfmongosync",
                                      journal=True)
    try:
        client.admin.command("ping")
    except PyMongoError as exc:
        host = ",".join(f"{h}:{p}" for h, p in client.topology_description.server_descriptions()) or "?"
        client.close()
        raise MongoUnavailable(
            f"mongodb: {host} did not answer within {timeout_ms / 1000:.0f} s; check MONGODB_URI / "
            f"the MongoDB connection in the admin ({type(exc).__name__})"
        ) from exc
    return client


@cache
def shared_client(uri: str) -> MongoClient:
    """One client per URI for the web process's requests: a MongoClient is a connection pool,
    meant to be made once and shared, not made (and pinged) per request."""
    return connect(uri)
