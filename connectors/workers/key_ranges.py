"""The key ranges of a split re-read: cut when the re-read starts, claimed one at a time under a
lease, and the re-read finished once its last range is in Kafka.

A re-read of more than SYNC["REREAD_RANGE_SIZE"] records is cut into ceil(total / size) ranges of
equal width between the object's first and last Id (connectors.salesforce.id_ranges; two REST
queries, whatever the size): the first range has no lower bound and the last no upper one, so a
record created meanwhile falls in one. Each range is a RereadRange row of the checkpoint's
current generation; a new re-read (a newer generation) deletes the ranges of the older ones,
whose readers then find their row gone and stop.
"""
from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from connectors.models import CaptureCheckpoint, RereadRange
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.id_ranges import boundaries
from connectors.salesforce.polling import edge_id_query

LEASE_TTL = timedelta(seconds=30)


def is_split(checkpoint_id: int, generation: int) -> bool:
    return RereadRange.objects.filter(checkpoint_id=checkpoint_id, generation=generation).exists()


def _edge_id(client: SalesforceClient, sf_object: str, last: bool) -> str:
    records = next(client.query_pages(edge_id_query(sf_object, last), include_deleted=True)).records
    return records[0]["Id"] if records else ""


def split(client: SalesforceClient, sf_object: str, checkpoint_id: int, generation: int, total: int) -> int:
    """Cut re-read `generation` of the checkpoint into key ranges if it is larger than one range;
    returns how many (0: not split, its capture worker reads it in chunks)."""
    RereadRange.objects.filter(checkpoint_id=checkpoint_id).exclude(generation=generation).delete()
    size = settings.SYNC["REREAD_RANGE_SIZE"]
    if total <= size:
        return 0
    first, last = _edge_id(client, sf_object, last=False), _edge_id(client, sf_object, last=True)
    cuts = boundaries(first, last, math.ceil(total / size)) if first and last else []
    if not cuts:
        return 0
    lower, upper = ["", *cuts], [*cuts, ""]
    estimate = math.ceil(total / len(lower))
    RereadRange.objects.bulk_create(
        RereadRange(checkpoint_id=checkpoint_id, generation=generation, number=number, after_id=after,
                    upto_id=upto, estimate=estimate)
        for number, (after, upto) in enumerate(zip(lower, upper, strict=True)))
    return len(lower)


def claim(mapping_id: int, owner: str, ttl: timedelta = LEASE_TTL) -> int | None:
    """Take the lease of an unfinished range of the mapping's running re-read that no live process
    holds (free, expired or already ours), lowest first; its id, or None when there is none.
    A range whose holder died is taken over at its position once its lease expired."""
    now = timezone.now()
    claimable = Q(lease_owner="") | Q(lease_owner=owner) | Q(lease_expires__lt=now)
    current = RereadRange.objects.filter(claimable, checkpoint__mapping_id=mapping_id, done=False,
                                         generation=F("checkpoint__reread_generation")
                                         ).exclude(checkpoint__reread_reason="")
    for pk in current.order_by("number").values_list("pk", flat=True)[:10]:
        if RereadRange.objects.filter(claimable, pk=pk, done=False).update(lease_owner=owner,
                                                                         lease_expires=now + ttl):
            return pk
    return None


def finish_if_last(checkpoint_id: int, generation: int) -> bool:
    """Once every range of the generation is in Kafka, end the re-read on the checkpoint as an
    unsplit one ends (its total is what was published; a whole-object one marks the object
    loaded). True if this call ended it; two workers finishing the last two ranges at once may
    both try, and the conditional update lets one do it."""
    if RereadRange.objects.filter(checkpoint_id=checkpoint_id, generation=generation, done=False).exists():
        return False
    running = CaptureCheckpoint.objects.filter(pk=checkpoint_id, reread_generation=generation).exclude(
        reread_reason="")
    since = running.values_list("reread_since", flat=True).first()
    loaded = {"backfill_done": True} if since is None else {}
    return running.update(reread_reason="", reread_total=F("reread_published"), **loaded) == 1
