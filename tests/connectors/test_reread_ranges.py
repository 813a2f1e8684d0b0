"""A re-read split into key ranges: two workers (as two runconsumers processes run them) share the
ranges and every record reaches MongoDB once; a worker that dies leaves its range to the other,
which goes on from its position; live edits arrive while the ranges are read; the backfill job is
done only once the last row is in MongoDB."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.models import CaptureCheckpoint, ObjectMapping, RereadRange, SalesforceOrg, SyncJob
from connectors.operations import jobs
from connectors.salesforce.id_ranges import boundaries
from connectors.wiring import kafka_settings, salesforce_client
from connectors.workers.job_runner import JobRunner
from connectors.workers.mongo_apply import MongoApply
from connectors.workers.mongo_reread import MongoRereadApply
from connectors.workers.reread_ranges import RangeWorker
from connectors.workers.sf_capture import SalesforceCapture
from connectors.workers.sf_cdc_capture import SalesforceCdcCapture
from tests.connectors.helpers import step_until
from tests.connectors.test_backfill_live import accounts, create_accounts, name_in_mongo, of_type, synced

pytestmark = pytest.mark.django_db

CHUNK = 10
RANGE = 25


def test_boundaries_cut_the_id_span_evenly_and_sort_as_ids():
    first, last = "001Hn0000000001IAA", "001Hn0000000Q0uIAE"  # the emulator's 1st and 100,000th Account
    cuts = boundaries(first, last, 4)
    assert cuts == sorted(cuts) and len(set(cuts)) == 3 and first < cuts[0] and cuts[-1] < last
    assert cuts[0] == "001Hn00000006VEIAY"  # 1 + 24,999 in base 62, with its case-safe suffix
    assert boundaries(first, "001Hn0000000003IAA", 10) == ["001Hn0000000002IAA"]  # no more cuts than Ids
    with pytest.raises(ValueError):
        boundaries(first, "003Hn0000000003IAA", 2)


@pytest.fixture
def split(make_workers, sync_settings, sf):  # type: ignore[no-untyped-def]
    """The Account mapping's workers with re-reads of more than RANGE records split, and a second
    process's range worker (another lease owner)."""
    sync_settings["REREAD_CHUNK_SIZE"] = CHUNK
    sync_settings["REREAD_RANGE_SIZE"] = RANGE
    if len(accounts(sf)) < 4 * RANGE:
        create_accounts(sf, 4 * RANGE, "Key Range")
    workers = make_workers(kinds=("sf-capture", "mongo-apply", "jobs"), direction="sf_to_mongo")
    mapping = ObjectMapping.objects.get(name="accounts")
    other = RangeWorker(mapping, salesforce_client(mapping.org), kafka_settings(mapping.kafka), owner="other-host:2",
                        chunk_size=CHUNK)
    yield workers, other
    other.close()


def everything(sf) -> set[str]:  # type: ignore[no-untyped-def]
    return {r["Id"] for r in sf.query_all("SELECT Id FROM Account", include_deleted=True)["records"]}


def current_ranges() -> list[RereadRange]:
    checkpoint = CaptureCheckpoint.objects.get(mapping__name="accounts")
    return list(RereadRange.objects.filter(checkpoint=checkpoint, generation=checkpoint.reread_generation))


def ids_in(key_range: RereadRange, ids: set[str]) -> set[str]:
    before = RereadRange.objects.filter(checkpoint_id=key_range.checkpoint_id, generation=key_range.generation,
                                        number=key_range.number - 1).values_list("upto_id", flat=True).first() or ""
    return {i for i in ids if i > before and (not key_range.upto_id or i <= key_range.upto_id)}


def start_split(capture: SalesforceCapture) -> list[RereadRange]:
    step_until([capture], lambda: capture._reread.split, message="the re-read split into key ranges")
    ranges = current_ranges()
    assert len(ranges) >= 4 and ranges[0].after_id == "" and ranges[-1].upto_id == ""
    return ranges


def test_two_workers_share_the_ranges_and_every_record_arrives_once(sf, mongo, split):
    workers, other = split
    capture, ours = of_type(workers, SalesforceCapture), of_type(workers, RangeWorker)
    live, reread, runner = of_type(workers, MongoApply), of_type(workers, MongoRereadApply), of_type(workers, JobRunner)
    start_split(capture)
    sync = [capture, ours, other, live, reread]
    step_until(sync, lambda: synced(sf, mongo) and CaptureCheckpoint.objects.get().backfill_done,
               message="the initial load in key ranges")
    records = everything(sf)
    checkpoint = CaptureCheckpoint.objects.get()
    assert checkpoint.reread_reason == "" and checkpoint.reread_published == checkpoint.reread_total == len(records)
    assert ours.counters["records_reread"] > 0 and other.counters["records_reread"] > 0, "both read ranges"
    assert capture.counters["records_reread"] == 0, "the capture worker reads no chunks of a split re-read"
    assert ours.counters["records_reread"] + other.counters["records_reread"] == len(records), "each record once"
    assert mongo.accounts.count_documents({}) == len(accounts(sf))

    # A backfill job: split again (a new generation), done once its last row is applied.
    job = jobs.start(ObjectMapping.objects.get(name="accounts"), "backfill")
    runner.step()

    def job_done() -> bool:
        runner.step()
        return SyncJob.objects.get(pk=job.pk).state == "done"

    step_until(sync, job_done, message="the split backfill job done")
    job.refresh_from_db()
    assert (job.progress_done, job.progress_total) == (len(records), len(records)), job.message
    generations = set(RereadRange.objects.values_list("generation", flat=True))
    assert generations == {checkpoint.reread_generation + 1}, "the older generation's ranges are gone"
    assert all(r.done and r.lease_owner == "" for r in current_ranges())
    assert mongo.accounts.count_documents({}) == len(accounts(sf))


def test_a_dead_workers_range_is_taken_over_at_its_position(sf, mongo, split):
    workers, other = split
    capture, dead = of_type(workers, SalesforceCapture), of_type(workers, RangeWorker)
    live, reread = of_type(workers, MongoApply), of_type(workers, MongoRereadApply)
    start_split(capture)
    step_until([dead], lambda: dead._reader is not None and dead._reader.published > 0, message="a first chunk")
    held = RereadRange.objects.get(pk=dead._reader.range_id)
    assert not held.done and held.lease_owner == dead.owner and held.published == CHUNK
    # The process dies: nothing releases the lease, which expires; the other takes the range over.
    RereadRange.objects.filter(pk=held.pk).update(lease_expires=timezone.now() - timedelta(seconds=1))
    step_until([capture, other, live, reread], lambda: CaptureCheckpoint.objects.get().backfill_done,
               message="the other worker reading every range")
    taken = RereadRange.objects.get(pk=held.pk)
    assert taken.done and taken.published == len(ids_in(taken, everything(sf))), "went on from its position"
    assert other.counters["records_reread"] == len(everything(sf)) - CHUNK
    assert CaptureCheckpoint.objects.get().reread_published == len(everything(sf))
    step_until([live, reread], lambda: synced(sf, mongo), message="every record in MongoDB")
    assert mongo.accounts.count_documents({}) == len(accounts(sf))
    # The dead worker, come back (a process that only stalled), moves no position: the range is
    # no longer its own.
    position = (taken.after_id, taken.published)
    # A process that stalled past the lease's ttl finds its last renewal too old to trust and asks
    # the database (the test expired the lease by hand, so no time passed: forget the renewal).
    assert dead._lease is not None
    dead._lease._renewed_at = None
    published = dead.counters["records_reread"]
    dead.step()
    # It lets the range go (taken over, or found finished once its new holder freed it) and sends nothing.
    assert dead._reader is None and dead.counters["records_reread"] == published
    assert dead.counters["ranges_lost"] == 1
    taken.refresh_from_db()
    assert (taken.after_id, taken.published) == position


def test_live_edits_arrive_while_the_ranges_are_read(sf, mongo, split):
    workers, other = split
    capture, ours = of_type(workers, SalesforceCapture), of_type(workers, RangeWorker)
    live, reread = of_type(workers, MongoApply), of_type(workers, MongoRereadApply)
    start_split(capture)
    step_until([ours, other], lambda: ours.counters["records_reread"] > 0 and other.counters["records_reread"] > 0,
               message="both reading ranges")
    # The newest live record: in the last range, not read yet (the newest Id of all may be one an
    # earlier test deleted, in the session's shared org).
    record = max(r["Id"] for r in accounts(sf))
    sf.Account.update(record, {"Name": "Live Beside Key Ranges"})
    created = sf.Account.create({"Name": "Created Beside Key Ranges"})["id"]  # after every Id: the last range's
    # Only live capture and live apply are stepped: the edit waits for no range.
    step_until([capture, live], lambda: name_in_mongo(mongo, record) == "Live Beside Key Ranges", timeout=20,
               message="the live edit in MongoDB")
    assert not all(r.done for r in current_ranges()), "the edit arrived while ranges were still unread"
    step_until([capture, ours, other, live, reread], lambda: CaptureCheckpoint.objects.get().backfill_done,
               message="the ranges read")
    step_until([live, reread], lambda: synced(sf, mongo), message="every record in MongoDB")
    assert name_in_mongo(mongo, record) == "Live Beside Key Ranges", "the older range row did not overwrite it"
    last = current_ranges()[-1]
    assert created in ids_in(last, everything(sf)) and last.published == len(ids_in(last, everything(sf))), \
        "the last range, with no upper bound, read the record created meanwhile"


def test_a_cdc_capture_leaves_its_split_initial_load_to_the_ranges(sf, mongo, make_workers, sync_settings, stack,
                                                                    emulator):
    emulator.set_cdc("Account", True)
    sync_settings["REREAD_CHUNK_SIZE"] = CHUNK
    sync_settings["REREAD_RANGE_SIZE"] = RANGE
    if len(accounts(sf)) < 4 * RANGE:
        create_accounts(sf, 4 * RANGE, "Key Range")

    def cdc(mapping: ObjectMapping) -> None:
        mapping.capture_mode = ObjectMapping.CaptureMode.CDC
        SalesforceOrg.objects.filter(pk=mapping.org_id).update(pubsub_endpoint=stack.salesforce_pubsub_address)

    workers = make_workers(prepare=cdc, kinds=("sf-capture", "mongo-apply"), direction="sf_to_mongo")
    capture, ranges = of_type(workers, SalesforceCdcCapture), of_type(workers, RangeWorker)
    step_until([capture], lambda: capture._reread.split, message="the initial load split into key ranges")
    step_until(workers, lambda: synced(sf, mongo) and CaptureCheckpoint.objects.get().backfill_done,
               message="the initial load read by the range worker")
    assert ranges.counters["records_reread"] == len(everything(sf)) and capture.counters["records_reread"] == 0
    record = min(everything(sf))
    sf.Account.update(record, {"Name": "Streamed After Key Ranges"})
    step_until(workers, lambda: name_in_mongo(mongo, record) == "Streamed After Key Ranges", timeout=20,
               message="the change event in MongoDB")
