"""A renewable lease on a checkpoint row, so each capture runs in exactly one process."""
from __future__ import annotations

from datetime import timedelta

from django.db.models import Model, Q
from django.utils import timezone


class CaptureLease:
    """Held on a checkpoint row (any model with `lease_owner` and `lease_expires`)."""

    def __init__(
        self, model: type[Model], checkpoint_id: int, owner: str, ttl: timedelta = timedelta(seconds=30)
    ) -> None:
        self.model = model
        self.checkpoint_id = checkpoint_id
        self.owner = owner
        self.ttl = ttl

    def hold(self) -> bool:
        """Take or renew the lease; True if we hold it. One conditional UPDATE: exactly one
        process can win a free or expired lease."""
        now = timezone.now()
        claimable = Q(lease_owner=self.owner) | Q(lease_owner="") | Q(lease_expires__lt=now)
        updated = self.model.objects.filter(Q(pk=self.checkpoint_id) & claimable).update(
            lease_owner=self.owner, lease_expires=now + self.ttl
        )
        return updated == 1

    def release(self) -> None:
        self.model.objects.filter(pk=self.checkpoint_id, lease_owner=self.owner).update(
            lease_owner="", lease_expires=None
        )
