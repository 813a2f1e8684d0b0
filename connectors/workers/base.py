"""What every worker looks like to the runner."""
from __future__ import annotations

from collections import Counter
from typing import Protocol


class Worker(Protocol):
    name: str
    counters: Counter[str]

    def step(self) -> bool:
        """Do one unit of work; True if there was work (call again at once), False when idle."""

    def idle_seconds(self) -> float:
        """How long to wait after an idle step."""

    def close(self) -> None:
        """Finish in-flight work and release resources."""
