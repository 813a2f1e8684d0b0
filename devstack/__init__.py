"""Embedded development services (Kafka, MongoDB, Salesforce emulator).

Installed, started, health-checked and stopped by the project itself; see
:class:`Stack` for the lifecycle contract and :class:`StackConfig` for where
things live.  ``python -m devstack up|check`` is the command-line face.
"""

from __future__ import annotations

from .config import ConfigError, StackConfig
from .health import free_port
from .process import ManagedProcess, ServiceStartError
from .stack import Stack

__all__ = [
    "ConfigError",
    "ManagedProcess",
    "ServiceStartError",
    "Stack",
    "StackConfig",
    "free_port",
]
