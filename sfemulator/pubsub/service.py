"""The ``eventbus.v1.PubSub`` gRPC service: GetTopic, GetSchema, Subscribe, Publish, PublishStream.

Authentication, as on the real service, is per call through metadata:
``accesstoken`` (a live session of this org), ``instanceurl`` and
``tenantid`` (the org Id, 15 or 18 characters).  Errors carry Salesforce's
message plus `` rpcId: <uuid>`` and the trailers ``error-code`` / ``rpc-id``.
ManagedSubscribe (beta) is left unimplemented (UNIMPLEMENTED).
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NoReturn

import grpc

from pubsub_api import pubsub_api_pb2 as pb2
from pubsub_api import pubsub_api_pb2_grpc as pb2_grpc

from .. import ids
from ..org import Org
from ..schema import OBJECTS, get_platform_event
from . import platformevents
from .bus import CHANGE_EVENTS_TOPIC, BusEvent, EventBus, replay_bytes, replay_int
from .schemas import EventSchema, change_event_schema, platform_event_schema, schema_by_id

log = logging.getLogger(__name__)

#: The real service caps one FetchRequest's num_requested at 100.
MAX_NUM_REQUESTED = 100
AUTH_ERROR = ("sfdc.platform.eventbus.grpc.service.auth.error",
              "An authentication exception occurred. Provide valid authentication via metadata headers.")
REPLAY_ERROR = ("sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted",
                "The Replay ID validation failed. Ensure that the replay_id field value in FetchRequest is valid "
                "and refers to an event that is within the retention window.")


@dataclass(frozen=True)
class Topic:
    name: str
    schema: EventSchema | None  # None for /data/ChangeEvents: each event names its own schema
    can_publish: bool


def _abort(context: grpc.ServicerContext, status: grpc.StatusCode, code: str, message: str) -> NoReturn:
    rpc_id = str(uuid.uuid4())
    context.set_trailing_metadata((("error-code", code), ("rpc-id", rpc_id)))
    context.abort(status, f"{message} rpcId: {rpc_id}")
    raise AssertionError("grpc's abort() raises")  # unreached; grpc ships no types to say so


class PubSubService(pb2_grpc.PubSubServicer):
    def __init__(self, org: Org, bus: EventBus, poll_s: float = 0.05) -> None:
        self.org = org
        self.bus = bus
        self.poll_s = poll_s

    # -- shared checks -------------------------------------------------------------------
    def _user(self, context: grpc.ServicerContext) -> str:
        meta = {k.lower(): v for k, v in context.invocation_metadata()}
        user_id = self.org.auth.user_for(meta.get("accesstoken"))
        tenant = ids.normalize(meta.get("tenantid", ""))
        if user_id is None or tenant != ids.ORG_ID or not meta.get("instanceurl", "").startswith("https://"):
            _abort(context, grpc.StatusCode.UNAUTHENTICATED, *AUTH_ERROR)
        return user_id  # type: ignore[return-value]

    def topic(self, name: str) -> Topic | None:
        if name == CHANGE_EVENTS_TOPIC:
            return Topic(name, None, False)
        if name.startswith("/data/") and name.endswith("ChangeEvent"):
            obj = name[len("/data/"):-len("ChangeEvent")]
            if obj in OBJECTS and obj in self.bus.cdc_objects():
                return Topic(name, change_event_schema(obj), False)
        if name.startswith("/event/"):
            ev = get_platform_event(name[len("/event/"):])
            if ev is not None and name == f"/event/{ev.name}":
                return Topic(name, platform_event_schema(ev.name), True)
        return None

    def _topic_or_abort(self, name: str, context: grpc.ServicerContext) -> Topic:
        topic = self.topic(name)
        if topic is None:
            _abort(context, grpc.StatusCode.NOT_FOUND, "sfdc.platform.eventbus.grpc.service.topic.not.found",
                   f"The topic information for org CORE/prod/{ids.ORG_ID} and topic {name} not found. "
                   "Ensure the topic name is correct and that the topic exists.")
        return topic  # type: ignore[return-value]

    # -- unary ---------------------------------------------------------------------------
    def GetTopic(self, request: pb2.TopicRequest, context: grpc.ServicerContext) -> pb2.TopicInfo:
        self._user(context)
        topic = self._topic_or_abort(request.topic_name, context)
        return pb2.TopicInfo(topic_name=topic.name, tenant_guid=ids.ORG_ID, can_publish=topic.can_publish,
                             can_subscribe=True, schema_id=topic.schema.schema_id if topic.schema else "",
                             rpc_id=str(uuid.uuid4()))

    def GetSchema(self, request: pb2.SchemaRequest, context: grpc.ServicerContext) -> pb2.SchemaInfo:
        self._user(context)
        schema = schema_by_id(request.schema_id)
        if schema is None:
            _abort(context, grpc.StatusCode.NOT_FOUND, "sfdc.platform.eventbus.grpc.schema.not.found",
                   f"The schema for schema ID {request.schema_id} not found. Ensure the schema ID is correct.")
        return pb2.SchemaInfo(schema_json=schema.schema_json, schema_id=schema.schema_id,  # type: ignore[union-attr]
                              rpc_id=str(uuid.uuid4()))

    def Publish(self, request: pb2.PublishRequest, context: grpc.ServicerContext) -> pb2.PublishResponse:
        user_id = self._user(context)
        topic = self._topic_or_abort(request.topic_name, context)
        return self._publish(topic, request, user_id, context)

    def PublishStream(self, request_iterator: Iterator[pb2.PublishRequest],
                      context: grpc.ServicerContext) -> Iterator[pb2.PublishResponse]:
        user_id = self._user(context)
        topic: Topic | None = None
        for request in request_iterator:
            if topic is None:
                topic = self._topic_or_abort(request.topic_name, context)
            elif request.topic_name and request.topic_name != topic.name:
                _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "sfdc.platform.eventbus.grpc.publish.topic.mismatch",
                       f"The topic {request.topic_name} doesn't match the stream's topic {topic.name}.")
            yield self._publish(topic, request, user_id, context)

    def _publish(self, topic: Topic, request: pb2.PublishRequest, user_id: str,
                 context: grpc.ServicerContext) -> pb2.PublishResponse:
        if not topic.can_publish or topic.schema is None:
            _abort(context, grpc.StatusCode.PERMISSION_DENIED, "sfdc.platform.eventbus.grpc.publish.not.allowed",
                   f"Publishing to topic {topic.name} is not allowed.")
        schema = topic.schema
        ev = get_platform_event(schema.entity)
        results = []
        for event in request.events:
            key = event.id or str(uuid.uuid4())
            if event.schema_id != schema.schema_id:
                err = pb2.Error(code=pb2.PUBLISH, msg=f"The schema ID {event.schema_id} doesn't match the "
                                                      f"topic's schema ID {schema.schema_id}.")
                results.append(pb2.PublishResult(error=err, correlation_key=key))
                continue
            try:
                replay = platformevents.publish_avro(self.bus, ev, event.payload, user_id)  # type: ignore[arg-type]
            except ValueError as exc:
                results.append(pb2.PublishResult(error=pb2.Error(code=pb2.PUBLISH, msg=str(exc)), correlation_key=key))
                continue
            results.append(pb2.PublishResult(replay_id=replay_bytes(replay), correlation_key=key))
        return pb2.PublishResponse(results=results, schema_id=schema.schema_id, rpc_id=str(uuid.uuid4()))

    # -- Subscribe -----------------------------------------------------------------------
    def Subscribe(self, request_iterator: Iterator[pb2.FetchRequest],
                  context: grpc.ServicerContext) -> Iterator[pb2.FetchResponse]:
        self._user(context)
        flow = _Flow(request_iterator)
        first = flow.wait_first(context, self.poll_s)
        if first is None:
            return
        topic = self._topic_or_abort(first.topic_name, context)
        cursor = self._start(first, context)
        rpc_id = str(uuid.uuid4())
        last_sent = time.monotonic()
        # A half-closed request stream does not end the subscription; only the client cancelling does.
        while context.is_active():
            if flow.error:
                _abort(context, grpc.StatusCode.INVALID_ARGUMENT,
                       "sfdc.platform.eventbus.grpc.subscription.topic.mismatch", flow.error)
            pending = flow.pending
            events = self.bus.after(topic.name, cursor, pending) if pending > 0 else []
            if events:
                cursor = events[-1].replay
                yield pb2.FetchResponse(events=[_consumer(e) for e in events], latest_replay_id=replay_bytes(cursor),
                                        rpc_id=rpc_id, pending_num_requested=flow.take(len(events)))
                last_sent = time.monotonic()
                continue
            if time.monotonic() - last_sent >= self.bus.keepalive_s:
                if not self.bus.after(topic.name, cursor, 1):
                    cursor = max(cursor, self.bus.latest())  # nothing of ours in between: move up
                yield pb2.FetchResponse(latest_replay_id=replay_bytes(cursor), rpc_id=rpc_id,
                                        pending_num_requested=flow.pending)
                last_sent = time.monotonic()
            flow.wait(self.poll_s)

    def _start(self, first: pb2.FetchRequest, context: grpc.ServicerContext) -> int:
        """The replay number to deliver events after, from the first request's replay option."""
        if first.replay_preset == pb2.EARLIEST:
            return self.bus.earliest_start()
        if first.replay_preset == pb2.CUSTOM:
            replay = replay_int(first.replay_id)
            if replay is None or not self.bus.retained(replay):
                _abort(context, grpc.StatusCode.INVALID_ARGUMENT, *REPLAY_ERROR)
            return replay  # type: ignore[return-value]
        return self.bus.latest()


def _consumer(e: BusEvent) -> pb2.ConsumerEvent:
    return pb2.ConsumerEvent(event=pb2.ProducerEvent(id=e.event_id, schema_id=e.schema_id, payload=e.payload),
                             replay_id=replay_bytes(e.replay))


class _Flow:
    """Reads a subscriber's FetchRequests on a thread of its own and keeps the pending count."""

    def __init__(self, requests: Iterator[pb2.FetchRequest]) -> None:
        self._cond = threading.Condition()
        self.first: pb2.FetchRequest | None = None
        self.pending = 0
        self.closed = False
        self.error: str | None = None
        threading.Thread(target=self._read, args=(requests,), name="pubsub-fetch", daemon=True).start()

    def _read(self, requests: Iterator[pb2.FetchRequest]) -> None:
        try:
            for req in requests:
                with self._cond:
                    if self.first is None:
                        self.first = req
                    elif req.topic_name and req.topic_name != self.first.topic_name:
                        self.error = (f"The topic name {req.topic_name} in the FetchRequest doesn't match the "
                                      f"subscription's topic {self.first.topic_name}.")
                    self.pending += max(0, min(req.num_requested, MAX_NUM_REQUESTED))
                    self._cond.notify_all()
        except grpc.RpcError:  # the client went away (cancelled stream): nothing more to read
            pass
        except Exception:  # a fault of ours: said, and the subscription below still ends
            log.exception("pubsub: reading a Subscribe stream's FetchRequests failed")
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def wait_first(self, context: grpc.ServicerContext, poll_s: float) -> pb2.FetchRequest | None:
        with self._cond:
            while self.first is None and not self.closed and context.is_active():
                self._cond.wait(poll_s)
            return self.first

    def take(self, n: int) -> int:
        with self._cond:
            self.pending -= n
            return self.pending

    def wait(self, timeout: float) -> None:
        with self._cond:
            self._cond.wait(timeout)
