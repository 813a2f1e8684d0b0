"""Emulator settings: credentials and session policy (CLI flags override env)."""
from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_SESSION_TTL_S = 2 * 60 * 60


@dataclass(frozen=True)
class Credentials:
    """The single integration user and connected app the emulated org accepts."""

    username: str = "admin@demo.sfemu"
    password: str = "demo-password"
    security_token: str = "DEMOTOKEN"
    client_id: str = "sfemu-demo-client"
    client_secret: str = "sfemu-demo-secret"

    @classmethod
    def from_env(cls, **overrides: str | None) -> Credentials:
        """Defaults <- SFEMU_* environment variables <- non-None ``overrides``."""
        values: dict[str, str] = {}
        for name in cls.__dataclass_fields__:
            env = os.environ.get(f"SFEMU_{name.upper()}")
            if env is not None:
                values[name] = env
            override = overrides.get(name)
            if override is not None:
                values[name] = override
        return cls(**values)
