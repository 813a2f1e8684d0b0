"""Port helpers and health probes for the embedded services.

Every probe returns ``True`` when the service answers and raises (with the
client library's own message) when it does not, so a caller polling it can
quote the last failure.  Probes never retry; :meth:`ManagedProcess.wait_ready`
does the polling.
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
from pathlib import Path
from urllib.parse import urlsplit

# librdkafka reports every refused connection on stderr by default; probes run
# while the broker is still coming up, so route that chatter to a quiet logger.
_kafka_log = logging.getLogger("devstack.kafka_probe")
_kafka_log.addHandler(logging.NullHandler())
_kafka_log.propagate = False


def port_in_use(host: str, port: int) -> bool:
    """True if something already listens on (or otherwise holds) ``host:port``.

    Binds with SO_REUSEADDR like the servers themselves do, so sockets left in
    TIME_WAIT by a previous run do not count as "in use".
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that was free a moment ago (for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tcp_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if a TCP connection to ``host:port`` succeeds; raises otherwise."""
    with socket.create_connection((host, port), timeout=timeout):
        return True


def kafka_ready(bootstrap: str, timeout: float = 2.0) -> bool:
    """Kafka answers a metadata request (AdminClient ``list_topics``)."""
    from confluent_kafka.admin import AdminClient  # heavy import; only when probing

    host, _, port = bootstrap.rpartition(":")
    tcp_open(host, int(port), timeout)  # cheap gate before librdkafka spins up
    # confluent-kafka's config type leaves out its documented "logger" option (a logging.Logger).
    admin = AdminClient({"bootstrap.servers": bootstrap, "logger": _kafka_log})  # type: ignore[dict-item]
    metadata = admin.list_topics(timeout=timeout)
    if not metadata.brokers:
        raise RuntimeError("metadata lists no brokers")
    return True


def mongo_ready(uri: str, timeout: float = 2.0) -> bool:
    """The MongoDB-wire server answers ``admin.command('ping')``."""
    from pymongo import MongoClient

    ms = int(timeout * 1000)
    client: MongoClient = MongoClient(
        uri, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms
    )
    try:
        client.admin.command("ping")
    finally:
        client.close()
    return True


def salesforce_ready(url: str, ca: Path, timeout: float = 2.0) -> bool:
    """``GET {url}/services/data/`` returns 200 over TLS verified with ``ca``."""
    if not Path(ca).is_file():
        raise FileNotFoundError(f"CA file {ca} does not exist yet")
    parts = urlsplit(url)
    context = ssl.create_default_context(cafile=str(ca))
    conn = http.client.HTTPSConnection(
        parts.hostname or "127.0.0.1", parts.port or 443, timeout=timeout, context=context
    )
    try:
        conn.request("GET", "/services/data/")
        status = conn.getresponse().status
    finally:
        conn.close()
    if status != 200:
        raise RuntimeError(f"GET /services/data/ returned HTTP {status}")
    return True
