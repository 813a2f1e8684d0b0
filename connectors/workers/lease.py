"""A renewable lease on a checkpoint row, so each capture runs in exactly one process."""
from __future__ import annotations

import time
from datetime import timedelta

from django.db.models import Model, Q
from django.utils import timezone

#: How often a process that does not hold a lease asks for it again (its worker's idle wait): a
#: standby took it over within this of its expiry. Asking at every step kept a standby's thread
#: spinning on UPDATEs (a second runconsumers spent 31 of its 42 CPU-seconds there in a backfill).
STANDBY_SECONDS = 1.0


class CaptureLease:
    """Held on a checkpoint row (any model with `lease_owner` and `lease_expires`)."""

    def __init__(
        self, model: type[Model], checkpoint_id: int, owner: str, ttl: timedelta = timedelta(seconds=30)
    ) -> None:
        self.model = model
        self.checkpoint_id = checkpoint_id
        self.owner = owner
        self.ttl = ttl
        self._renewed_at: float | None = None  # monotonic time of our last successful take or renewal
        self._refused = False  # the last hold() found the lease held by another process

    def hold(self) -> bool:
        """Take or renew the lease; True if we hold it. One conditional UPDATE: exactly one
        process can win a free or expired lease. Workers call this every step, so a lease
        renewed less than a third of its ttl ago is still ours without asking the database."""
        if self._renewed_at is not None and time.monotonic() - self._renewed_at < self.ttl.total_seconds() / 3:
            return True
        now = timezone.now()
        claimable = Q(lease_owner=self.owner) | Q(lease_owner="") | Q(lease_expires__lt=now)
        updated = self.model._default_manager.filter(Q(pk=self.checkpoint_id) & claimable).update(
            lease_owner=self.owner, lease_expires=now + self.ttl
        )
        self._renewed_at = time.monotonic() if updated == 1 else None
        self._refused = updated != 1
        return updated == 1

    def retry_in(self) -> float:
        """How long a worker whose last hold() was refused should wait before its next step."""
        return STANDBY_SECONDS if self._refused else 0.0

    def release(self) -> None:
        self._renewed_at = None
        self.model._default_manager.filter(pk=self.checkpoint_id, lease_owner=self.owner).update(
            lease_owner="", lease_expires=None
        )
