"""Configuration of the embedded development services.

Contract: a :class:`StackConfig` is an immutable description of *where* the
services run (host, ports) and *where* their state lives (``root``).  It never
starts anything.  Every path the stack writes to is derived from ``root``:

* ``root/kafka/``       -- working directory of the Tansu broker (memory storage)
* ``root/mongo/``       -- SecantusDB storage (WiredTiger home) + its config file
* ``root/salesforce/``  -- emulator data dir (it writes ``tls/ca.pem`` there)
* ``root/logs/<name>.log`` -- stdout+stderr of each supervised process
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Every service the stack knows how to run, in start order.
KNOWN_SERVICES: tuple[str, ...] = ("kafka", "mongo", "salesforce")

#: Environment variable -> StackConfig field, for :meth:`StackConfig.from_env`.
_ENV_INT_FIELDS: dict[str, str] = {
    "DEVSTACK_KAFKA_PORT": "kafka_port",
    "DEVSTACK_MONGO_PORT": "mongo_port",
    "DEVSTACK_SALESFORCE_PORT": "salesforce_port",
    "DEVSTACK_SALESFORCE_PUBSUB_PORT": "salesforce_pubsub_port",
    "DEVSTACK_SEED_ACCOUNTS": "seed_accounts",
}


class ConfigError(ValueError):
    """A configuration value is invalid; ``str()`` is one line naming it."""


@dataclass(frozen=True)
class StackConfig:
    """Where the embedded services listen and keep their state.

    ``services`` selects which of :data:`KNOWN_SERVICES` :meth:`Stack.start`
    runs; they are always started in the canonical order kafka, mongo,
    salesforce regardless of the order given here.
    """

    root: Path = Path(".devstack")
    host: str = "127.0.0.1"
    kafka_port: int = 9092
    mongo_port: int = 27017
    salesforce_port: int = 8443
    #: The emulator's Pub/Sub API (gRPC over TLS); 7443 like api.pubsub.salesforce.com.
    salesforce_pubsub_port: int = 7443
    seed_accounts: int = 1000
    services: tuple[str, ...] = KNOWN_SERVICES
    #: Seconds each service (and each ``add_process`` child with a ready
    #: check) gets to pass its health check before start fails.
    start_timeout: float = 30.0
    #: Seconds between SIGTERM and SIGKILL when stopping a process group.
    stop_grace: float = 10.0
    #: Extra environment for every child the stack spawns.
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Normalise so callers may pass str paths / lists and still get a
        # hashable, comparable config.
        object.__setattr__(self, "root", Path(self.root))
        object.__setattr__(self, "services", tuple(self.services))
        unknown = [s for s in self.services if s not in KNOWN_SERVICES]
        if unknown:
            raise ConfigError(
                f"unknown service(s) {', '.join(unknown)}; choose from {', '.join(KNOWN_SERVICES)}"
            )
        ports = {name: self.port(name) for name in self.services}
        if "salesforce" in self.services:
            ports["salesforce pubsub"] = self.salesforce_pubsub_port
        for name, port in ports.items():
            if not 0 < port < 65536:
                raise ConfigError(f"{name}: port {port} is not a valid TCP port")
        seen: dict[int, str] = {}
        for name, port in ports.items():
            if port in seen:
                raise ConfigError(f"{name} and {seen[port]} are both configured for port {port}")
            seen[port] = name

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> StackConfig:
        """Build a config from ``DEVSTACK_*`` environment variables.

        Recognised: ``DEVSTACK_ROOT``, ``DEVSTACK_HOST``, ``DEVSTACK_KAFKA_PORT``,
        ``DEVSTACK_MONGO_PORT``, ``DEVSTACK_SALESFORCE_PORT``, ``DEVSTACK_SALESFORCE_PUBSUB_PORT``,
        ``DEVSTACK_SEED_ACCOUNTS`` and ``DEVSTACK_SERVICES`` (comma separated).
        Unset variables keep the defaults; keyword ``overrides`` win over both.
        Raises :class:`ConfigError` (one line, naming the variable) on bad values.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if env.get("DEVSTACK_ROOT"):
            values["root"] = Path(env["DEVSTACK_ROOT"])
        if env.get("DEVSTACK_HOST"):
            values["host"] = env["DEVSTACK_HOST"]
        for var, attr in _ENV_INT_FIELDS.items():
            raw = env.get(var, "").strip()
            if not raw:
                continue
            try:
                values[attr] = int(raw)
            except ValueError:
                raise ConfigError(f"{var}={raw!r} is not an integer") from None
        if env.get("DEVSTACK_SERVICES"):
            values["services"] = tuple(
                s.strip() for s in env["DEVSTACK_SERVICES"].split(",") if s.strip()
            )
        values.update(overrides)
        return cls(**values)

    def port(self, service: str) -> int:
        """The configured port of ``service`` (one of :data:`KNOWN_SERVICES`)."""
        return {
            "kafka": self.kafka_port,
            "mongo": self.mongo_port,
            "salesforce": self.salesforce_port,
        }[service]

    def data_dir(self, service: str) -> Path:
        """``root/<service>/`` -- the service's state directory."""
        return self.root / service

    @property
    def log_dir(self) -> Path:
        """``root/logs/`` -- one ``<name>.log`` per supervised process."""
        return self.root / "logs"

    def log_path(self, name: str) -> Path:
        """``root/logs/<name>.log``."""
        return self.log_dir / f"{name}.log"
