"""The fault matrix, short (issue 10 item 6): the worst faults, small and quick, against the real
services (each test starts its own Tansu, SecantusDB and emulator, since it kills or hangs them),
with edits flowing both ways on all four demo objects and every record compared on both sides.
The full matrix is `bash scripts/chaos.sh` (docs/reliability.md)."""
from __future__ import annotations

import signal
from typing import Any

import pytest
from pymongo.errors import DuplicateKeyError

from bench.chaos_compare import compare
from bench.chaos_matrix import Context, Size, run_scenario

#: Small and quick: about a minute each on the 2-core CI machine.
CI_SIZE = Size(accounts=40, rate=4.0, edits=60, load_seconds=20.0, hang_seconds=10.0, limit_seconds=20.0,
               storm=20, kills=2, initial_load_seconds=45.0, converge_seconds=60.0, undelete_after_seconds=6.0)

pytestmark = pytest.mark.timeout(240)


def _explain(result: dict[str, Any]) -> str:
    return "\n".join([*result["examples"][:10], *result["notes"],
                      *(f"{name}| {line}" for name, tail in result["runconsumers_log_tails"].items() for line in tail)])


def _assert_exact(result: dict[str, Any]) -> None:
    figures = {k: result[k] for k in ("lost", "duplicated", "stale", "extra")}
    assert figures == {"lost": 0, "duplicated": 0, "stale": 0, "extra": 0}, _explain(result)
    assert result["converged"] and result["converge_seconds"] <= 60, _explain(result)
    assert (result["open_conflicts"], result["parked_errors"]) == (0, 0), _explain(result)
    assert result["load"]["edits"] >= CI_SIZE.edits * 0.8, result["load"]


@pytest.mark.parametrize("scenario", ["broker-kill", "reconcile-during-load", "lock-storm"])
def test_after_the_fault_both_sides_hold_the_same_records(scenario: str, tmp_path) -> None:
    _assert_exact(run_scenario(scenario, CI_SIZE, tmp_path / "stack"))


def _synced(collection: Any, key: str) -> dict[str, Any]:
    """A seeded record's document."""
    return next(d for d in collection.find({}).limit(200) if isinstance(d.get(key), str))


def _plant_differences(ctx: Context) -> dict[str, Any]:
    """With the sync stopped, make one difference of each kind behind its back; the comparison
    must count each exactly once (the harness's own check: it can see what it claims to see)."""
    for name in ctx.sut.consumers():
        ctx.sut.signal(name, signal.SIGKILL)
    sf = ctx.sut.salesforce()
    accounts, contacts = ctx.sut.collection("Account"), ctx.sut.collection("Contact")
    phone = next(f.mongo_field for f in ctx.sut.specs["Account"].fields if f.sf_field == "Phone")
    key = ctx.sut.specs["Account"].key_field  # the same for the four demo mappings
    stale = _synced(accounts, key)
    accounts.update_one({"_id": stale["_id"]}, {"$set": {phone: "planted"}})
    duplicate = _synced(contacts, key)
    try:
        contacts.insert_one({**duplicate, "_id": "planted-duplicate"})
        duplicates = 1
    except DuplicateKeyError:  # a unique index on the Salesforce Id rules duplicates out
        duplicates = 0
    extra = _synced(ctx.sut.collection("Opportunity"), key)
    sf.Opportunity.delete(extra[key])
    intents = {**ctx.load.intents, ("Opportunity", extra[key]): "deleted in salesforce"}
    lost = _synced(ctx.sut.collection("Order"), key)
    ctx.sut.collection("Order").delete_one({"_id": lost["_id"]})
    found = compare(ctx.sut, sf, intents, ctx.load.born_in_mongodb)
    return {"found": {k: found.counts[k] for k in ("lost", "duplicated", "stale", "extra")},
            "planted": {"lost": 1, "duplicated": duplicates, "stale": 1, "extra": 1}}


def test_without_a_fault_both_sides_are_equal_and_planted_differences_are_counted(tmp_path) -> None:
    result = run_scenario("baseline", CI_SIZE, tmp_path / "stack", inspect=_plant_differences)
    _assert_exact(result)
    assert result["inspected"]["found"] == result["inspected"]["planted"], result["inspected"]
