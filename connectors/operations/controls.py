"""Holding a mapping from the console: capture stops and apply leaves its topics unread
(see connectors.workers.pause); resuming carries on from the checkpoints and the committed
offsets, so nothing is lost while it is held."""
from __future__ import annotations

import logging

from connectors.models import ObjectMapping

log = logging.getLogger(__name__)


def set_paused(mapping: ObjectMapping, paused: bool, by: str = "") -> bool:
    """Pause or resume; True if that changed anything. Workers notice within about a second."""
    changed = ObjectMapping.objects.filter(pk=mapping.pk, paused=not paused).update(paused=paused) == 1
    mapping.paused = paused
    if changed:
        log.info("mapping %s %s by %s", mapping.name, "paused" if paused else "resumed", by or "someone")
    return changed
