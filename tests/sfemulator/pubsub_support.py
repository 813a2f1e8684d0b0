"""Pub/Sub API helpers for the emulator tests: a Subscribe stream and reading events off it.

Kept apart from ``sfemu_support`` so that only the tests that subscribe import gRPC."""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator

import grpc

from pubsub_api import pubsub_api_pb2 as pb2
from pubsub_api import pubsub_api_pb2_grpc as pb2_grpc


class Subscription:
    """One Subscribe stream: ``request(n)`` sends a FetchRequest, ``next()`` returns the next FetchResponse."""

    def __init__(self, stub: pb2_grpc.PubSubStub, auth, topic: str, preset=pb2.EARLIEST, replay_id: bytes = b"",
                 num_requested: int = 100) -> None:
        self._requests: queue.Queue = queue.Queue()
        self._responses: queue.Queue = queue.Queue()
        self._requests.put(pb2.FetchRequest(topic_name=topic, replay_preset=preset, replay_id=replay_id,
                                            num_requested=num_requested))
        self.call = stub.Subscribe(self._request_stream(), metadata=auth)
        threading.Thread(target=self._pump, daemon=True).start()

    def _request_stream(self) -> Iterator[pb2.FetchRequest]:
        while (req := self._requests.get()) is not None:
            yield req

    def _pump(self) -> None:
        try:
            for resp in self.call:
                self._responses.put(resp)
        except grpc.RpcError as exc:
            self._responses.put(exc)

    def request(self, n: int) -> None:
        self._requests.put(pb2.FetchRequest(num_requested=n))

    def next(self, timeout: float = 10.0) -> pb2.FetchResponse:
        item = self._responses.get(timeout=timeout)
        if isinstance(item, grpc.RpcError):
            raise item
        return item

    def close(self) -> None:
        self._requests.put(None)
        self.call.cancel()


def collect(sub: Subscription, decoder, want: Callable[[dict], bool], count: int, timeout: float = 15.0
            ) -> list[tuple[pb2.ConsumerEvent, dict, dict]]:
    """Read until ``count`` events whose payload satisfies ``want`` arrived (asking for more as needed)."""
    found = []
    deadline = time.monotonic() + timeout
    while len(found) < count:
        resp = sub.next(timeout=max(0.1, deadline - time.monotonic()))
        for ev in resp.events:
            payload, schema = decoder(ev)
            if want(payload):
                found.append((ev, payload, schema))
        if resp.events and resp.pending_num_requested == 0:
            sub.request(100)
    return found


def for_records(*ids: str) -> Callable[[dict], bool]:
    return lambda p: bool(set(p["ChangeEventHeader"]["recordIds"]) & set(ids))
