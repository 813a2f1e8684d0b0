"""Running the emulator: uvicorn over TLS, in the foreground (CLI) or a thread (tests).

``EmulatorServer(data_dir, host, port, seed=None).start()`` blocks until the
socket is listening; ``.url`` and ``.ca_path`` tell clients where and what
to trust; ``.pubsub_address`` ("host:port") is the Pub/Sub API (gRPC over TLS,
same CA), served alongside on ``pubsub_port`` (0 = a free port);
``.stop()`` shuts down cleanly and closes the database.
"""
from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Self

import uvicorn

from .api.app import build_app
from .config import DEFAULT_SESSION_TTL_S, Credentials
from .faults import Faults
from .org import Org
from .pubsub.server import PubSubServer
from .tls import ensure_tls


class PortInUse(Exception):
    """The requested port is already bound by another process."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(f"port {port} on {host} is already in use")
        self.host, self.port = host, port


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves so 'port taken' is detected before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise PortInUse(host, port) from exc
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class _Uvicorn(uvicorn.Server):
    """uvicorn.Server that calls ``on_ready`` once it is accepting connections."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets=None) -> None:  # type: ignore[override]
        await super().startup(sockets=sockets)
        if self.started and self._on_ready:
            self._on_ready()


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class EmulatorServer:
    """One emulated org served over HTTPS."""

    def __init__(self, data_dir: Path | str, host: str = "127.0.0.1", port: int = 0,
                 seed: int | None = None, creds: Credentials | None = None,
                 session_ttl_s: int = DEFAULT_SESSION_TTL_S, access_log: bool = False,
                 faults: Faults | None = None, pubsub_port: int = 0) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.pubsub_port = pubsub_port
        self._pubsub: PubSubServer | None = None
        self.seed = seed
        self.creds = creds or Credentials.from_env()
        self.session_ttl_s = session_ttl_s
        self.access_log = access_log
        self.faults = faults
        self.org: Org | None = None
        self._server: _Uvicorn | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._ready = threading.Event()
        self.ca_path = self.data_dir / "tls" / "ca.pem"

    @property
    def url(self) -> str:
        return f"https://{url_host(self.host)}:{self.port}"

    @property
    def pubsub_address(self) -> str:
        """``host:port`` of the Pub/Sub API (gRPC over TLS; trust ``ca_path``)."""
        return f"{url_host(self.host)}:{self.pubsub_port}"

    def prepare(self, on_ready: Callable[[], None] | None = None) -> None:
        """Create dirs/certs/DB, seed if asked and empty, bind the socket (may raise PortInUse)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._sock = bind(self.host, self.port)
        self.port = self._sock.getsockname()[1]
        try:
            tls = ensure_tls(self.data_dir)
            self.ca_path = tls.ca
            self.org = Org(self.data_dir, self.creds, self.session_ttl_s, faults=self.faults)
            if self.seed is not None and self.org.store.is_empty():
                from .seed import seed_org
                seed_org(self.org.store, self.seed)
            self._pubsub = PubSubServer(self.org, tls, self.host, self.pubsub_port)
            try:
                self._pubsub.start()
            except OSError:
                self._pubsub = None
                raise PortInUse(self.host, self.pubsub_port) from None
            self.pubsub_port = self._pubsub.port
        except BaseException:
            self._sock.close()
            if self.org is not None:
                self.org.close()
                self.org = None
            raise
        config = uvicorn.Config(build_app(self.org), ssl_keyfile=str(tls.key), ssl_certfile=str(tls.cert),
                                log_level="warning", access_log=self.access_log, lifespan="off",
                                timeout_graceful_shutdown=5, loop="asyncio", http="h11")

        def ready() -> None:
            self._ready.set()
            if on_ready:
                on_ready()

        self._server = _Uvicorn(config, ready)

    def serve_forever(self) -> None:
        """Serve in the calling (main) thread until SIGINT/SIGTERM; then close the org."""
        assert self._server and self._sock
        try:
            self._server.run(sockets=[self._sock])
        finally:
            self._close()

    def start(self, timeout: float = 30.0) -> Self:
        """Serve in a background thread; returns once listening."""
        self.prepare()
        assert self._server and self._sock
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name="sfemulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError("sfemulator did not start listening in time")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            if self._thread.is_alive() and self._server is not None:
                # Idle keep-alive TLS connections only close when the client speaks again;
                # don't wait out the graceful timeout for them.
                self._server.force_exit = True
                self._thread.join(timeout=15)
            self._thread = None
        self._close()

    def _close(self) -> None:
        if self._pubsub is not None:
            self._pubsub.stop()
            self._pubsub = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self.org is not None:
            self.org.close()
            self.org = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
