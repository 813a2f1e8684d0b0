"""Large re-reads go through ONE Bulk API 2.0 query job (a handful of API calls where REST pages
take one per chunk), interleaved with live capture a chunk at a time, resumed after a restart
at the page and row Kafka has; small ones stay on REST."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from connectors.models import CaptureCheckpoint, FieldMapping
from connectors.workers.mongo_apply import MongoApply
from connectors.workers.mongo_reread import MongoRereadApply
from connectors.workers.sf_capture import SalesforceCapture
from tests.connectors.helpers import step_until
from tests.connectors.test_backfill_live import LOOKBACK, create_accounts, of_type, synced

pytestmark = pytest.mark.django_db

CHUNK = 25
PAGE = 60  # records per results page: several pages, each published over several steps


def query_jobs(sf) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    return {j["id"]: j for j in sf.restful("jobs/query")["records"]}


def all_accounts(sf) -> int:  # type: ignore[no-untyped-def]
    return sf.query("SELECT COUNT() FROM Account", include_deleted=True)["totalSize"]


@pytest.fixture
def bulk_polling(make_workers, sync_settings):  # type: ignore[no-untyped-def]
    sync_settings.update(REREAD_CHUNK_SIZE=CHUNK, CAPTURE_LOOKBACK_SECONDS=LOOKBACK, BULK_REREAD_THRESHOLD=100,
                         BULK_PAGE_SIZE=PAGE)
    return make_workers(kinds=("sf-capture", "mongo-apply"), direction="sf_to_mongo")


def restarted(capture: SalesforceCapture) -> SalesforceCapture:
    capture.close()
    return SalesforceCapture(capture.mapping, capture.client, capture.kafka, owner="another process",
                             lookback=timedelta(seconds=LOOKBACK), chunk_size=CHUNK)


def test_a_large_initial_load_runs_as_one_bulk_job_resumed_after_a_restart(sf, mongo, sync_settings, make_workers):
    create_accounts(sf, 300, f"Bulk {uuid.uuid4().hex[:6]}")
    typed = sf.Account.create({"Name": "Bulk Typed", "NumberOfEmployees": 42, "AnnualRevenue": 1234000})["id"]
    sync_settings.update(REREAD_CHUNK_SIZE=CHUNK, CAPTURE_LOOKBACK_SECONDS=LOOKBACK, BULK_REREAD_THRESHOLD=100,
                         BULK_PAGE_SIZE=PAGE)
    workers = make_workers(kinds=("sf-capture", "mongo-apply"), direction="sf_to_mongo")
    capture = of_type(workers, SalesforceCapture)
    count = all_accounts(sf)
    assert count > 100
    # Mid-way through the second page: part of a page in Kafka, the rest not yet.
    step_until([capture], lambda: capture._reread.bulk_locator and capture._reread.bulk_row > 0,
               message="the second results page under way")
    job_id, locator, row = capture._reread.bulk_job, capture._reread.bulk_locator, capture._reread.bulk_row
    job = query_jobs(sf)[job_id]
    assert job["operation"] == "queryAll" and job["state"] == "JobComplete"

    again = restarted(capture)
    workers[workers.index(capture)] = again
    reread = again._reread
    assert (reread.bulk_job, reread.bulk_locator, reread.bulk_row) == (job_id, locator, row)
    step_until([again], lambda: not reread.active, message="the re-read finished")
    # The same job read on, every record published once, the job deleted once read.
    assert CaptureCheckpoint.objects.get(pk=again._checkpoint_id).reread_published == count
    assert job_id not in query_jobs(sf)
    # After the restart: the rest of page 2 and the pages after it, then the status and delete calls.
    pages_left = -(-(count - PAGE) // PAGE)
    assert reread.bulk.calls <= pages_left + 3, "one call a results page, not one a chunk"
    step_until([w for w in workers if isinstance(w, (MongoApply, MongoRereadApply))], lambda: synced(sf, mongo),
               message="every record in MongoDB")
    fields = dict(FieldMapping.objects.filter(mapping=again.mapping).values_list("sf_field", "mongo_field"))
    doc = mongo.accounts.find_one({"_id": typed})
    # CSV text typed as REST gives it: numbers stay numbers in MongoDB (currency as Decimal128).
    assert doc[fields["NumberOfEmployees"]] == 42 and doc[fields["AnnualRevenue"]].to_decimal() == 1234000


def test_a_bulk_job_gone_after_a_restart_is_read_again(sf, mongo, bulk_polling):
    create_accounts(sf, 150, f"Gone {uuid.uuid4().hex[:6]}")
    capture = of_type(bulk_polling, SalesforceCapture)
    count = all_accounts(sf)
    step_until([capture], lambda: capture._reread.bulk_row > 0, message="the first chunk of the job published")
    job_id = capture._reread.bulk_job
    again = restarted(capture)
    bulk_polling[bulk_polling.index(capture)] = again
    sf.restful(f"jobs/query/{job_id}", method="DELETE")  # e.g. its results expired while the process was down

    step_until([again], lambda: not again._reread.active, message="the re-read finished")
    assert job_id not in query_jobs(sf) and again._reread.bulk.calls >= 2  # a new job was created and read
    assert CaptureCheckpoint.objects.get(pk=again._checkpoint_id).reread_published >= count
    step_until([w for w in bulk_polling if isinstance(w, (MongoApply, MongoRereadApply))], lambda: synced(sf, mongo),
               message="every record in MongoDB")


def test_a_reread_below_the_threshold_stays_on_rest(sf, mongo, sync_settings, make_workers):
    sync_settings.update(REREAD_CHUNK_SIZE=CHUNK, CAPTURE_LOOKBACK_SECONDS=LOOKBACK)
    workers = make_workers(kinds=("sf-capture", "mongo-apply"), direction="sf_to_mongo")
    capture = of_type(workers, SalesforceCapture)
    assert all_accounts(sf) <= sync_settings["BULK_REREAD_THRESHOLD"]
    jobs_before = set(query_jobs(sf))
    step_until(workers, lambda: not capture._reread.active and synced(sf, mongo), message="the initial load")
    assert capture._reread.bulk.calls == 0 and set(query_jobs(sf)) == jobs_before
