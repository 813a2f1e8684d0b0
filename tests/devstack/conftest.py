"""Fixtures for the devstack tests: real Tansu + SecantusDB on free ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devstack import Stack, StackConfig, free_port


def make_config(root: Path, **overrides: object) -> StackConfig:
    """A config on fresh free ports under ``root`` with test-friendly timeouts."""
    values: dict[str, object] = dict(
        root=root,
        kafka_port=free_port(),
        mongo_port=free_port(),
        salesforce_port=free_port(),
        salesforce_pubsub_port=free_port(),
        seed_accounts=20,
        services=("kafka", "mongo"),
        start_timeout=30.0,
        stop_grace=5.0,
    )
    values.update(overrides)
    return StackConfig(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def running_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Kafka + mongo, started once for the session and stopped at its end."""
    stack = Stack(make_config(tmp_path_factory.mktemp("devstack")), echo=None)
    with stack:
        yield stack


@pytest.fixture
def stack_config(tmp_path: Path) -> Callable[..., StackConfig]:
    """Factory: ``stack_config(**overrides)`` -> :func:`make_config` under ``tmp_path``."""
    return lambda **overrides: make_config(tmp_path, **overrides)


@pytest.fixture
def echo_lines() -> list[str]:
    """A list that an ``echo=lines.append`` stack writes its progress lines to."""
    return []
