"""The Pub/Sub gRPC server: TLS with the emulator's own certificate, on a port of its own."""
from __future__ import annotations

from concurrent import futures

import grpc

from pubsub_api import pubsub_api_pb2_grpc as pb2_grpc

from ..org import Org
from ..tls import TlsFiles
from .service import PubSubService

#: Each subscription holds one worker thread (plus its own request-reader thread).
MAX_WORKERS = 64
#: The ping policy of a gRPC server left at its defaults, stated so that a client pinging more
#: often than a real server allows meets the same GOAWAY "too_many_pings" here: at most one ping
#: per 5 minutes while the server sends nothing, the third one sooner ends the connection.
MIN_PING_INTERVAL_MS = 300_000
MAX_PING_STRIKES = 2


class PubSubServer:
    """``start()`` binds and serves in grpc's own threads; ``port`` is the bound port afterwards."""

    def __init__(self, org: Org, tls: TlsFiles, host: str = "127.0.0.1", port: int = 0,
                 min_ping_interval_ms: int = MIN_PING_INTERVAL_MS) -> None:
        self.org = org
        self.min_ping_interval_ms = min_ping_interval_ms
        self.tls = tls
        self.host = host
        self.port = port
        self._server: grpc.Server | None = None

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def start(self) -> None:
        """Bind and serve; raises OSError when the port cannot be bound."""
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="pubsub"),
                             options=[("grpc.so_reuseport", 0),
                                      ("grpc.http2.min_recv_ping_interval_without_data_ms", self.min_ping_interval_ms),
                                      ("grpc.http2.max_ping_strikes", MAX_PING_STRIKES)])
        pb2_grpc.add_PubSubServicer_to_server(PubSubService(self.org, self.org.events), server)
        creds = grpc.ssl_server_credentials([(self.tls.key.read_bytes(), self.tls.cert.read_bytes())])
        try:
            bound = server.add_secure_port(self.address, creds)
        except RuntimeError as exc:
            raise OSError(f"cannot bind the Pub/Sub port {self.address}: {exc}") from None
        if not bound:
            raise OSError(f"cannot bind the Pub/Sub port {self.address}")
        self.port = bound
        server.start()
        self._server = server

    def stop(self, grace: float = 1.0) -> None:
        if self._server is not None:
            self._server.stop(grace).wait(grace + 5)
            self._server = None
