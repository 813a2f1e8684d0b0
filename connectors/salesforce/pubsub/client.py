"""A Salesforce Pub/Sub API client: TLS gRPC, session metadata, flow-controlled subscriptions.

Every RPC carries the `accesstoken`, `instanceurl` and `tenantid` metadata of a
logged-in Salesforce session. A subscription pulls: it asks for `batch_size`
events and tops the request up once half of them have been handed out, so a slow
consumer is never flooded (at most `batch_size` are on their way or waiting) and a
fast one never waits a round trip for the next request. A stream that breaks for a
transient reason is opened again, with backoff, after the last event handed out. Errors that retrying cannot fix
(refused session, unknown topic, a replay id Salesforce no longer holds) are
raised as one-line exceptions naming what to check.
"""
from __future__ import annotations

import logging
import queue
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import grpc

from connectors.salesforce.pubsub.avro import EventSchema
from pubsub_api import pubsub_api_pb2 as pb2
from pubsub_api import pubsub_api_pb2_grpc as pb2_grpc

log = logging.getLogger(__name__)

LATEST, EARLIEST, CUSTOM = "LATEST", "EARLIEST", "CUSTOM"
_PRESETS = {LATEST: pb2.ReplayPreset.LATEST, EARLIEST: pb2.ReplayPreset.EARLIEST, CUSTOM: pb2.ReplayPreset.CUSTOM}
#: Statuses worth opening the stream again for (network trouble, server restarts, idle cut-offs).
_TRANSIENT = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL,
              grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED, grpc.StatusCode.UNKNOWN,
              grpc.StatusCode.CANCELLED}


class PubSubError(RuntimeError):
    """A Pub/Sub API failure; str() is one line naming the endpoint and what to check."""


class PubSubUnavailable(PubSubError):
    """The endpoint cannot be reached or the stream broke: worth retrying later."""


class PubSubAuthError(PubSubError):
    """The session was refused."""


class UnknownTopic(PubSubError):
    """No such topic, or the user may not use it."""


class ReplayIdInvalid(PubSubError):
    """The replay id is unknown to Salesforce: corrupt, or older than the retention window."""


@dataclass(frozen=True)
class PubSubAuth:
    access_token: str
    instance_url: str
    tenant_id: str

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("accesstoken", self.access_token), ("instanceurl", self.instance_url), ("tenantid", self.tenant_id))

    def __repr__(self) -> str:  # never print the token
        return f"PubSubAuth(instance_url={self.instance_url!r}, tenant_id={self.tenant_id!r})"


def org_id_from_identity_url(identity_url: str) -> str:
    """`https://host/id/<org id>/<user id>` -> the org id. Raises PubSubError otherwise."""
    parts = identity_url.rstrip("/").split("/")
    if len(parts) < 3 or parts[-3] != "id" or not parts[-2].startswith("00D"):
        raise PubSubError(f"pubsub: cannot read the org id from identity URL {identity_url!r}")
    return parts[-2]


def _error_code(exc: grpc.RpcError) -> str:
    """Salesforce's own error code, sent in the `error-code` trailer."""
    trailers = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
    return next((str(value) for key, value in (trailers or ()) if key == "error-code"), "")


def translate(exc: grpc.RpcError, endpoint: str, topic: str = "") -> PubSubError:
    """One gRPC failure as the matching one-line PubSubError."""
    code: grpc.StatusCode = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = (exc.details() if hasattr(exc, "details") else "") or ""
    sf_code = _error_code(exc)
    said = f"{code.name}{' ' + sf_code if sf_code else ''}: {details}".strip()
    on = f" on {topic}" if topic else ""
    if "replayid" in sf_code.lower() or "replay id" in details.lower():
        return ReplayIdInvalid(f"pubsub: {endpoint} refused the replay id{on} ({said}); it is corrupt or older "
                               "than the event retention window (72 hours for change events)")
    if code == grpc.StatusCode.UNAUTHENTICATED or ".auth." in sf_code:
        return PubSubAuthError(f"pubsub: {endpoint} refused the session ({said}); check the org's credentials "
                               "and that the user has the API Enabled permission")
    if code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED) or "topic" in sf_code.lower():
        return UnknownTopic(f"pubsub: topic{' ' + topic if topic else ''} unknown or not allowed at {endpoint} "
                            f"({said}); check the topic name and that Change Data Capture is enabled for it")
    if code in _TRANSIENT:
        return PubSubUnavailable(f"pubsub: {endpoint} unavailable ({said}); check the org's Pub/Sub endpoint "
                                 "and the network")
    return PubSubError(f"pubsub: {endpoint} failed{on} ({said})")


#: HTTP/2 keepalive pings notice a dead peer (a half-open TCP connection after a NAT or load
#: balancer dropped it) on an idle stream. A gRPC server refuses pings that come more often than
#: its minimum interval (5 minutes by default; Salesforce documents no other) with GOAWAY
#: "too_many_pings", which ends the stream: so ping less often than that, with a minute to spare
#: (a ping at exactly the minimum is refused: tests/connectors/test_pubsub_keepalive.py). The
#: server's own empty FetchResponse within 270 s of idleness keeps the stream busy in between.
KEEPALIVE_TIME_MS = 360_000
#: How long a ping may go unanswered before the connection is taken for dead.
KEEPALIVE_TIMEOUT_MS = 20_000


def _channel(endpoint: str, ca_bundle: str, keepalive_ms: int) -> grpc.Channel:
    roots = None
    if ca_bundle:
        try:
            with open(ca_bundle, "rb") as handle:
                roots = handle.read()
        except OSError as exc:
            raise PubSubError(f"pubsub: cannot read the CA bundle {ca_bundle} ({exc.strerror})") from None
    options = [("grpc.keepalive_time_ms", keepalive_ms), ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
               # Keep pinging through a long idle stream (the default stops after two pings
               # without data), and only while a call is open, as a server expects.
               ("grpc.http2.max_pings_without_data", 0), ("grpc.keepalive_permit_without_calls", 0)]
    return grpc.secure_channel(endpoint, grpc.ssl_channel_credentials(root_certificates=roots), options=options)


@dataclass
class FetchedBatch:
    """The FetchResponses delivered so far, as one: their events (ConsumerEvent) and the stream
    position after them (hex)."""

    events: list[Any]
    latest_replay_id: str


class PubSubClient:
    """Thread-safe; one channel per client. `auth()` is called for each RPC batch of metadata
    and again (once) after the session is refused, so it should log in again when asked."""

    def __init__(self, endpoint: str, auth: Callable[[bool], PubSubAuth], ca_bundle: str = "",
                 timeout: float = 30.0, keepalive_ms: int = KEEPALIVE_TIME_MS) -> None:
        self.endpoint = endpoint
        self._auth_source = auth
        self._auth: PubSubAuth | None = None
        self._timeout = timeout
        self._channel = _channel(endpoint, ca_bundle, keepalive_ms)
        self._stub = pb2_grpc.PubSubStub(self._channel)
        self._schemas: dict[str, EventSchema] = {}
        self._lock = threading.Lock()

    def metadata(self, refresh: bool = False) -> tuple[tuple[str, str], ...]:
        with self._lock:
            if self._auth is None or refresh:
                self._auth = self._auth_source(refresh)
            return self._auth.metadata()

    def _unary(self, method: Callable[..., Any], request: Any, topic: str = "") -> Any:
        for refresh in (False, True):
            try:
                return method(request, metadata=self.metadata(refresh), timeout=self._timeout)
            except grpc.RpcError as exc:
                error = translate(exc, self.endpoint, topic)
                if isinstance(error, PubSubAuthError) and not refresh:
                    continue  # the session may have expired: log in again once
                raise error from None
        raise AssertionError("unreachable")

    def get_topic(self, topic: str) -> Any:
        """TopicInfo (topic_name, schema_id, can_publish, can_subscribe). Raises UnknownTopic."""
        return self._unary(self._stub.GetTopic, pb2.TopicRequest(topic_name=topic), topic)

    def get_schema(self, schema_id: str) -> EventSchema:
        """The parsed schema, fetched once per id (ids are fingerprints: a schema never changes)."""
        schema = self._schemas.get(schema_id)
        if schema is None:
            info = self._unary(self._stub.GetSchema, pb2.SchemaRequest(schema_id=schema_id))
            schema = self._schemas[schema_id] = EventSchema.from_json(schema_id, info.schema_json)
        return schema

    def publish(self, topic: str, records: list[dict[str, Any]]) -> list[str]:
        """Publish platform events; returns their replay ids (hex). Raises PubSubError if any failed."""
        schema = self.get_schema(self.get_topic(topic).schema_id)
        events = [pb2.ProducerEvent(schema_id=schema.schema_id, payload=schema.encode(r)) for r in records]
        response = self._unary(self._stub.Publish, pb2.PublishRequest(topic_name=topic, events=events), topic)
        failed = [r.error.msg for r in response.results if r.error.code or r.error.msg]
        if failed:
            raise PubSubError(f"pubsub: {len(failed)} of {len(records)} events to {topic} refused: {failed[0]}")
        return [r.replay_id.hex() for r in response.results]

    def subscribe(self, topic: str, replay: str = LATEST, replay_id: str = "", batch_size: int = 100,
                  should_stop: Callable[[], bool] = lambda: False, retry_for_seconds: float = 300.0) -> Subscription:
        """Start a subscription from LATEST, EARLIEST, or after `replay_id` (hex, with CUSTOM)."""
        if replay not in _PRESETS:
            raise ValueError(f"pubsub: replay must be one of {', '.join(_PRESETS)}, not {replay!r}")
        if replay == CUSTOM and not replay_id:
            raise ValueError("pubsub: a CUSTOM replay needs a replay id")
        return Subscription(self, topic, replay, replay_id, batch_size, should_stop, retry_for_seconds)

    def _open_stream(self, requests: Iterator[Any], refresh: bool) -> Any:
        return self._stub.Subscribe(requests, metadata=self.metadata(refresh))

    def close(self) -> None:
        self._channel.close()


@dataclass
class _Stream:
    call: Any
    requests: queue.Queue[Any]
    outstanding: int
    responses: queue.Queue[Any] = field(default_factory=queue.Queue)
    closed: bool = False
    reader: threading.Thread | None = None
    #: An error met while gathering a batch, raised by the next poll.
    held: Any = None


class Subscription:
    """One Subscribe stream, read by a background thread; `poll` hands out its batches.

    Not thread-safe: one consumer polls. The position after the last batch handed out is
    `position` (hex); a broken stream is reopened from there.
    """

    def __init__(self, client: PubSubClient, topic: str, replay: str, replay_id: str, batch_size: int,
                 should_stop: Callable[[], bool], retry_for_seconds: float) -> None:
        self.client = client
        self.topic = topic
        self.batch_size = batch_size
        self._preset = replay
        self.position = replay_id if replay == CUSTOM else ""
        self._should_stop = should_stop
        self._retry_for = retry_for_seconds
        self.reconnects = 0
        self._failing_since: float | None = None
        self._attempt = 0
        self._stream = self._open(refresh=False)

    def _open(self, refresh: bool) -> _Stream:
        requests: queue.Queue[Any] = queue.Queue()
        preset = CUSTOM if self.position else self._preset
        requests.put(pb2.FetchRequest(topic_name=self.topic, replay_preset=_PRESETS[preset],
                                      replay_id=bytes.fromhex(self.position), num_requested=self.batch_size))

        def request_iterator() -> Iterator[Any]:
            while (request := requests.get()) is not None:
                yield request

        stream = _Stream(self.client._open_stream(request_iterator(), refresh), requests, self.batch_size)
        stream.reader = threading.Thread(target=self._read, args=(stream,), daemon=True, name=f"pubsub:{self.topic}")
        stream.reader.start()
        return stream

    @staticmethod
    def _read(stream: _Stream) -> None:
        try:
            for response in stream.call:
                stream.responses.put(response)
            stream.responses.put(PubSubUnavailable("pubsub: the server ended the subscription stream"))
        except grpc.RpcError as exc:
            stream.responses.put(exc)

    def poll(self, timeout: float) -> FetchedBatch | None:
        """Every batch delivered so far, as one (possibly empty: a keepalive), or None if nothing
        came within `timeout`. Returns as soon as one batch is there.

        Raises ReplayIdInvalid, UnknownTopic, PubSubAuthError at once; PubSubUnavailable only
        after reopening the stream kept failing for `retry_for_seconds`."""
        stream = self._stream
        item, stream.held = stream.held, None
        if item is None:
            try:
                item = stream.responses.get(timeout=timeout)
            except queue.Empty:
                return None
        if not isinstance(item, (grpc.RpcError, PubSubError)):
            # One FetchResponse may hold a single event: handing out each alone would make the
            # caller pay its per-batch cost (Kafka confirm, checkpoint) per event under load.
            responses = [item]
            while True:
                try:
                    item = stream.responses.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, (grpc.RpcError, PubSubError)):
                    stream.held = item  # after the events before it
                    break
                responses.append(item)
            return self._handed_out(responses)
        error = item if isinstance(item, PubSubError) else translate(item, self.client.endpoint, self.topic)
        if isinstance(error, (PubSubUnavailable, PubSubAuthError)) and not self._stream.closed:
            self._reopen(error)
            return None
        raise error

    def _handed_out(self, responses: list[Any]) -> FetchedBatch:
        self._failing_since = None
        stream = self._stream
        events: list[Any] = []
        for response in responses:
            events.extend(response.events)
            if response.events:
                self.position = response.events[-1].replay_id.hex()
            elif response.latest_replay_id and self.position:
                # An empty batch moves the position on without events (Salesforce's own advice),
                # so a later reconnect does not start far behind.
                self.position = response.latest_replay_id.hex()
        stream.outstanding -= len(events)
        if stream.outstanding <= self.batch_size // 2:
            stream.requests.put(pb2.FetchRequest(topic_name=self.topic,
                                                 num_requested=self.batch_size - max(stream.outstanding, 0)))
            stream.outstanding = self.batch_size
        return FetchedBatch(events, responses[-1].latest_replay_id.hex())

    def _reopen(self, cause: PubSubError) -> None:
        """Open the stream again after a backoff that grows while it keeps failing (gRPC opens
        lazily: a failed reopen shows as the next poll's error). Gives up with `cause` after
        `retry_for_seconds` of failures, or at once on a second refused session."""
        self._shutdown(self._stream)
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since, self._attempt = now, 0
        elif now - self._failing_since > self._retry_for or (
                isinstance(cause, PubSubAuthError) and self._attempt > 0):
            raise cause
        delay = min(15.0, 0.5 * 2 ** self._attempt) * random.uniform(0.8, 1.2)
        log.warning("%s; reopening the subscription to %s after %s in %.1f s", cause, self.topic,
                    self.position or self._preset, delay)
        deadline = now + delay
        while time.monotonic() < deadline and not self._should_stop():
            time.sleep(min(0.2, max(deadline - time.monotonic(), 0)))
        self._attempt += 1
        self._stream = self._open(refresh=isinstance(cause, PubSubAuthError))
        self.reconnects += 1

    @staticmethod
    def _shutdown(stream: _Stream) -> None:
        stream.closed = True
        stream.requests.put(None)
        stream.call.cancel()

    def close(self) -> None:
        self._shutdown(self._stream)
        if self._stream.reader is not None:
            self._stream.reader.join(timeout=5)
