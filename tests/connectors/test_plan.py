"""Planning a Salesforce upsert against a document and its sync state (`engine.plan`), pure: each
stage of the plan seen through its outcome."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from connectors.engine.mapping import MappingSpec, build_field_specs
from connectors.engine.plan import PlanOutcome, never_synced_nor_set, plan_salesforce_upsert
from connectors.engine.sync_state import Push, SyncState

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def spec(policy: str = "manual") -> MappingSpec:
    return MappingSpec(name="accounts", sf_object="Account", collection="accounts", key_field="sf_id",
                       delete_mode="remove", conflict_policy=policy, two_way=True,
                       fields=build_field_specs([("Name", "name", "string", "auto", True),
                                                 ("Phone", "phone", "string", "auto", True),
                                                 ("Rating__c", "rating", "string", "auto", False)]))


def synced(**base: str) -> SyncState:
    return SyncState(sf_modstamp=T0 - timedelta(minutes=1), base=base)


def test_a_change_older_than_the_applied_version_is_stale_even_against_a_naive_stored_stamp():
    state = SyncState(sf_modstamp=(T0 + timedelta(seconds=1)).replace(tzinfo=None))
    assert plan_salesforce_upsert(spec(), {"Name": "B"}, T0, {"_id": "a"}, state).outcome == PlanOutcome.STALE
    same = SyncState(sf_modstamp=T0.replace(tzinfo=None))
    assert plan_salesforce_upsert(spec(), {"Name": "B"}, T0, {"_id": "a"}, same).outcome == PlanOutcome.WRITE


def test_a_new_record_is_written_whole_with_its_base():
    plan = plan_salesforce_upsert(spec(), {"Name": "A", "Phone": "1"}, T0, None, SyncState())
    assert (plan.outcome, plan.set_fields, plan.base) == (PlanOutcome.WRITE, {"name": "A", "phone": "1"},
                                                          {"Name": "A", "Phone": "1"})
    assert plan.base_hash and plan.conflict is None and not plan.republish


def test_the_syncs_own_values_coming_back_are_an_echo():
    document = {"_id": "a", "name": "A", "phone": "1"}
    plan = plan_salesforce_upsert(spec(), {"Name": "A", "Phone": "1"}, T0, document, synced(Name="A", Phone="1"))
    assert (plan.outcome, plan.set_fields, plan.base) == (PlanOutcome.ECHO, {}, {})


def test_an_echo_carries_the_read_only_fields_salesforce_set_with_it():
    document = {"_id": "a", "name": "A", "phone": "1"}
    plan = plan_salesforce_upsert(spec(), {"Name": "A", "Phone": "1", "Rating__c": "Hot"}, T0, document,
                                  synced(Name="A", Phone="1"))
    assert (plan.outcome, plan.set_fields) == (PlanOutcome.ECHO, {"rating": "Hot"})
    assert plan.base == {"Name": "A", "Phone": "1", "Rating__c": "Hot"}


def test_edits_to_different_fields_merge():
    document = {"_id": "a", "name": "A", "phone": "2"}  # Phone changed in MongoDB
    plan = plan_salesforce_upsert(spec(), {"Name": "B", "Phone": "1"}, T0, document, synced(Name="A", Phone="1"))
    assert (plan.outcome, plan.set_fields, plan.conflict) == (PlanOutcome.WRITE, {"name": "B"}, None)
    assert plan.base == {"Name": "B", "Phone": "1"}  # Phone still to be sent to Salesforce


def test_the_same_field_changed_on_both_sides_is_a_conflict_under_manual():
    document = {"_id": "a", "name": "C", "phone": "1"}
    plan = plan_salesforce_upsert(spec(), {"Name": "B", "Phone": "1"}, T0, document, synced(Name="A", Phone="1"))
    assert plan.outcome == PlanOutcome.NOTHING and plan.conflict is not None
    draft = plan.conflict
    assert (draft.fields, draft.base, draft.salesforce, draft.mongodb) == (["Name"], {"Name": "A"}, {"Name": "B"},
                                                                           {"Name": "C"})
    assert (draft.salesforce_changed_at, draft.mongodb_changed_at) == (T0, None)


def test_a_change_made_while_our_own_write_was_in_flight_is_merged_against_the_value_before_it():
    # The sync sent Name "C" (MongoDB's edit of "A") at T0 + 0.5 s; a Salesforce change stamped T0
    # brings "B": made concurrently with our write, so both sides changed Name since "A".
    mongo_edit_at = T0 - timedelta(seconds=3)
    state = SyncState(sf_modstamp=T0 - timedelta(minutes=1), base={"Name": "C", "Phone": "1"},
                      pushed={"Name": Push(before="A", sent="C", at=(T0 + timedelta(milliseconds=500)).replace(
                          tzinfo=None), change_at=mongo_edit_at.replace(tzinfo=None))})
    document = {"_id": "a", "name": "C", "phone": "1"}
    plan = plan_salesforce_upsert(spec(), {"Name": "B", "Phone": "1"}, T0, document, state)
    assert plan.conflict is not None and plan.conflict.fields == ["Name"]
    assert plan.conflict.mongodb_changed_at == mongo_edit_at  # stored naive, read in the change's zone


def test_our_own_value_coming_back_after_the_write_is_no_race():
    state = SyncState(sf_modstamp=T0 - timedelta(minutes=1), base={"Name": "C"},
                      pushed={"Name": Push(before="A", sent="C", at=T0, change_at=T0)})
    document = {"_id": "a", "name": "C", "phone": None}
    plan = plan_salesforce_upsert(spec(), {"Name": "C"}, T0, document, state)
    assert (plan.outcome, plan.conflict) == (PlanOutcome.ECHO, None)


def test_a_push_well_before_the_change_does_not_count_as_concurrent():
    state = SyncState(sf_modstamp=T0 - timedelta(minutes=1), base={"Name": "C", "Phone": "1"},
                      pushed={"Name": Push(before="A", sent="C", at=T0 - timedelta(seconds=2))})
    document = {"_id": "a", "name": "C", "phone": "1"}
    plan = plan_salesforce_upsert(spec(), {"Name": "B", "Phone": "1"}, T0, document, state)
    assert (plan.outcome, plan.set_fields, plan.conflict) == (PlanOutcome.WRITE, {"name": "B"}, None)


def test_outcomes_equal_their_old_names():
    assert [str(o) for o in PlanOutcome] == ["write", "echo", "stale", "nothing"]
    assert PlanOutcome.ECHO == "echo" and {"stale": 1}[PlanOutcome.STALE] == 1


def test_a_document_made_from_part_of_a_record_takes_the_whole_record_without_a_conflict():
    """Fields a synced document neither holds nor has a base for were never set by anyone: the
    whole record fills them in (it raised a conflict on each under manual)."""
    document = {"_id": "a", "rating": "Hot"}  # only what a partial change carried
    plan = plan_salesforce_upsert(spec(), {"Name": "A", "Phone": "1", "Rating__c": "Hot"}, T0, document,
                                  synced(Rating__c="Hot"))
    assert (plan.outcome, plan.set_fields, plan.conflict) == (PlanOutcome.WRITE, {"name": "A", "phone": "1"}, None)
    assert plan.base == {"Name": "A", "Phone": "1", "Rating__c": "Hot"}


def test_a_field_removed_in_mongodb_is_still_a_change_there():
    document = {"_id": "a", "name": "A"}  # phone unset by the application
    plan = plan_salesforce_upsert(spec(), {"Name": "A", "Phone": "2"}, T0, document, synced(Name="A", Phone="1"))
    assert plan.outcome == PlanOutcome.NOTHING and plan.conflict is not None
    assert plan.conflict.fields == ["Phone"] and plan.conflict.mongodb == {"Phone": None}


def test_only_a_synced_document_has_fields_nobody_set():
    assert never_synced_nor_set(spec(), {"_id": "a", "rating": "Hot"}, {"Rating__c": "Hot"}) == {"Name", "Phone"}
    assert never_synced_nor_set(spec(), {"_id": "a", "name": None}, {"Rating__c": "Hot"}) == {"Phone"}
    assert never_synced_nor_set(spec(), {"_id": "a"}, {}) == set()  # born in MongoDB: everything is to send
