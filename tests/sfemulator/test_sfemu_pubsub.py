"""The Pub/Sub API (gRPC over TLS) driven through the generated stubs: auth, topics, CDC, replay, publish."""
from __future__ import annotations

import io
import json
import queue
from collections.abc import Iterator

import grpc
import pytest
from fastavro import parse_schema, schemaless_writer
from pubsub_support import collect, for_records
from sfemu_support import pubsub_channel

from pubsub_api import pubsub_api_pb2 as pb2
from sfemulator.pubsub.bitmap import decode as decode_bitmap
from tests.connectors.helpers import wait_for

CLIENT = {"Sforce-Call-Options": "client=mongo-sync"}
ACCOUNT_TOPIC = "/data/AccountChangeEvent"
EVENT_TOPIC = "/event/Order_Update__e"


@pytest.fixture
def fast_keepalive(ctl) -> Iterator[None]:
    ctl.set_pubsub_keepalive(0.3)
    yield
    ctl.set_pubsub_keepalive(270)


# -- authentication and topics -------------------------------------------------------------------
def test_calls_without_valid_session_metadata_are_refused(emulator, pubsub_stub, pubsub_auth, sf):
    request = pb2.TopicRequest(topic_name=ACCOUNT_TOPIC)
    bad = [(), (("accesstoken", "nope"), *pubsub_auth[1:]),
           (*pubsub_auth[:2], ("tenantid", "00D000000000000AAA")), pubsub_auth[:2]]
    for metadata in bad:
        with pytest.raises(grpc.RpcError) as err:
            pubsub_stub.GetTopic(request, metadata=metadata)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert err.value.details().startswith("An authentication exception occurred. Provide valid "
                                              "authentication via metadata headers. rpcId: ")
        assert ("error-code", "sfdc.platform.eventbus.grpc.service.auth.error") in \
            [(m.key, m.value) for m in err.value.trailing_metadata()]
    # The tenant id a simple-salesforce client can read: the org Id in the identity URL (15 chars work too).
    org_id = sf.restful("")["identity"].split("/")[-2]
    ok = (pubsub_auth[0], pubsub_auth[1], ("tenantid", org_id[:15]))
    assert pubsub_stub.GetTopic(request, metadata=ok).topic_name == ACCOUNT_TOPIC


def test_get_topic_and_get_schema_describe_change_and_platform_events(pubsub_stub, pubsub_auth):
    topic = pubsub_stub.GetTopic(pb2.TopicRequest(topic_name=ACCOUNT_TOPIC), metadata=pubsub_auth)
    assert (topic.can_subscribe, topic.can_publish, topic.tenant_guid[:3]) == (True, False, "00D")
    info = pubsub_stub.GetSchema(pb2.SchemaRequest(schema_id=topic.schema_id), metadata=pubsub_auth)
    schema = json.loads(info.schema_json)
    assert info.schema_id == topic.schema_id and len(info.schema_id) == 22
    assert schema["name"] == "AccountChangeEvent" and schema["fields"][0]["name"] == "ChangeEventHeader"
    fields = {f["name"]: f for f in schema["fields"]}
    assert fields["Phone"]["type"] == ["null", "string"] and "Id" not in fields and "BillingCity" not in fields
    assert [f["name"] for f in fields["BillingAddress"]["type"][1]["fields"]][:2] == ["Street", "City"]
    event = pubsub_stub.GetTopic(pb2.TopicRequest(topic_name=EVENT_TOPIC), metadata=pubsub_auth)
    assert event.can_publish and event.schema_id != topic.schema_id
    for missing in ("/data/UserChangeEvent", "/event/Nope__e", "/data/Nope"):
        with pytest.raises(grpc.RpcError) as err:
            pubsub_stub.GetTopic(pb2.TopicRequest(topic_name=missing), metadata=pubsub_auth)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND and missing in err.value.details()


# -- change events ---------------------------------------------------------------------------------
def test_rest_create_then_update_arrive_with_only_the_changed_fields(sf, subscribe, decoder):
    acc = sf.Account.create({"Name": "CDC One", "Phone": "555-0100", "Website": "https://a.example",
                             "BillingCity": "Lyon"}, headers=CLIENT)["id"]
    sf.Account.update(acc, {"Phone": "555-0199", "Website": None}, headers=CLIENT)
    (_, created, schema), (_, updated, _) = collect(subscribe(ACCOUNT_TOPIC), decoder, for_records(acc), 2)
    head = created["ChangeEventHeader"]
    assert (head["changeType"], head["entityName"], head["recordIds"]) == ("CREATE", "Account", [acc])
    assert head["changeOrigin"] == "com/salesforce/api/rest/62.0;client=mongo-sync"
    assert head["commitUser"].startswith("005") and head["changedFields"] == []
    assert created["Name"] == "CDC One" and created["BillingAddress"]["City"] == "Lyon"
    assert isinstance(created["CreatedDate"], int)
    head = updated["ChangeEventHeader"]
    assert head["changeType"] == "UPDATE" and head["commitTimestamp"] >= created["ChangeEventHeader"]["commitTimestamp"]
    assert updated["Phone"] == "555-0199" and updated["Name"] is None and updated["BillingAddress"] is None
    assert {"Phone", "Website", "LastModifiedDate"} <= set(decode_bitmap(schema, head["changedFields"]))
    assert "Name" not in decode_bitmap(schema, head["changedFields"])
    assert decode_bitmap(schema, head["nulledFields"]) == ["Website"]


def test_nested_compound_changes_use_the_parent_position_bitmap(sf, subscribe, decoder):
    con = sf.Contact.create({"LastName": "Nested", "FirstName": "Ann"})["id"]
    sf.Contact.update(con, {"FirstName": "Anna"})
    sub = subscribe("/data/ContactChangeEvent")
    (_, created, _), (_, updated, schema) = collect(sub, decoder, for_records(con), 2)
    assert created["Name"]["LastName"] == "Nested" and created["Name"]["FirstName"] == "Ann"
    changed = updated["ChangeEventHeader"]["changedFields"]
    name_pos = [f["name"] for f in schema["fields"]].index("Name")
    assert any(entry.startswith(f"{name_pos}-0x") for entry in changed)
    assert "Name.FirstName" in decode_bitmap(schema, changed) and updated["Name"]["FirstName"] == "Anna"
    head = created["ChangeEventHeader"]
    assert head["changeOrigin"] == "com/salesforce/api/rest/62.0"  # no Sforce-Call-Options: no client


def test_delete_of_several_records_in_one_call_is_one_event_and_undelete_restores_fields(sf, ctl, subscribe, decoder):
    a = sf.Account.create({"Name": "Gone A"})["id"]
    b = sf.Account.create({"Name": "Gone B"})["id"]
    sf.restful("composite/sobjects", method="DELETE", params={"ids": f"{a},{b}"})
    ctl.undelete("Account", a)
    events = collect(subscribe(ACCOUNT_TOPIC), decoder, for_records(a, b), 4)
    deleted, undeleted = events[2][1], events[3][1]
    assert deleted["ChangeEventHeader"]["changeType"] == "DELETE"
    assert deleted["ChangeEventHeader"]["recordIds"] == [a, b] and deleted["Name"] is None
    assert undeleted["ChangeEventHeader"]["changeType"] == "UNDELETE"
    assert undeleted["ChangeEventHeader"]["recordIds"] == [a] and undeleted["Name"] == "Gone A"


def test_one_transaction_shares_a_transaction_key_with_increasing_sequence_numbers(sf, subscribe, decoder):
    result = sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Account"}, "Name": "Txn 1"}, {"attributes": {"type": "Account"}, "Name": "Txn 2"}]})
    ids = [r["id"] for r in result]
    heads = [p["ChangeEventHeader"] for _, p, _ in collect(subscribe("/data/ChangeEvents"), decoder,
                                                            for_records(*ids), 2)]
    assert heads[0]["transactionKey"] == heads[1]["transactionKey"]
    assert heads[0]["commitNumber"] == heads[1]["commitNumber"]
    assert [h["sequenceNumber"] for h in heads] == [1, 2]


def test_flow_control_delivers_at_most_what_was_requested(sf, subscribe, decoder, fast_keepalive):
    sub = subscribe(ACCOUNT_TOPIC, preset=pb2.LATEST, num_requested=2)
    first = sub.next()  # a keepalive: the subscription is positioned at the tip
    assert not first.events and first.pending_num_requested == 2
    ids = [sf.Account.create({"Name": f"Flow {i}"})["id"] for i in range(5)]
    got = []
    while len(got) < 2:
        got += sub.next().events
    assert len(got) == 2
    idle = sub.next()
    assert not idle.events and idle.pending_num_requested == 0
    sub.request(2)
    more = []
    while len(more) < 2:
        more += sub.next().events
    assert len(more) == 2
    assert [decoder(e)[0]["ChangeEventHeader"]["recordIds"][0] for e in got + more] == ids[:4]


def test_custom_replay_resumes_after_the_stored_replay_id(sf, subscribe, decoder):
    ids = [sf.Account.create({"Name": f"Replay {i}"})["id"] for i in range(3)]
    events = collect(subscribe(ACCOUNT_TOPIC), decoder, for_records(*ids), 3)
    stored = events[0][0].replay_id
    assert len(stored) == 8
    again = collect(subscribe(ACCOUNT_TOPIC, preset=pb2.CUSTOM, replay_id=stored), decoder, for_records(*ids), 2)
    assert [p["ChangeEventHeader"]["recordIds"][0] for _, p, _ in again] == ids[1:]


def test_disabled_objects_publish_nothing_until_enabled_again(sf, ctl, subscribe, decoder, pubsub_stub, pubsub_auth):
    ctl.set_cdc("Opportunity", False)
    try:
        with pytest.raises(grpc.RpcError):
            pubsub_stub.GetTopic(pb2.TopicRequest(topic_name="/data/OpportunityChangeEvent"), metadata=pubsub_auth)
        silent = sf.Opportunity.create({"Name": "Quiet", "StageName": "Prospecting", "CloseDate": "2026-01-01"})["id"]
    finally:
        ctl.set_cdc("Opportunity", True)
    loud = sf.Opportunity.create({"Name": "Loud", "StageName": "Prospecting", "CloseDate": "2026-01-01"})["id"]
    events = collect(subscribe("/data/OpportunityChangeEvent"), decoder, for_records(silent, loud), 1)
    assert events[0][1]["ChangeEventHeader"]["recordIds"] == [loud]


def test_gap_and_overflow_events_can_be_injected(sf, ctl, subscribe, decoder):
    acc = sf.Account.create({"Name": "Gap"})["id"]
    ctl.emit_gap("Account", [acc])
    ctl.emit_overflow("Account")
    events = collect(subscribe(ACCOUNT_TOPIC), decoder,
                     lambda p: p["ChangeEventHeader"]["changeType"].startswith("GAP_") and
                     p["ChangeEventHeader"]["recordIds"] in ([acc], ["000000000000000AAA"]), 2)
    gap, overflow = (p["ChangeEventHeader"] for _, p, _ in events)
    assert gap["changeType"] == "GAP_UPDATE" and overflow["changeType"] == "GAP_OVERFLOW"
    assert events[0][1]["Name"] is None


# -- platform events ----------------------------------------------------------------------------------
def test_platform_events_published_over_rest_and_grpc_reach_subscribers(api, subscribe, decoder, pubsub_stub,
                                                                         pubsub_auth):
    r = api("POST", "/sobjects/Order_Update__e/", json={"Order_Id__c": "801REST", "Status__c": "Shipped"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"].startswith("e00") and body["success"] is True and body["errors"] == []
    topic = pubsub_stub.GetTopic(pb2.TopicRequest(topic_name=EVENT_TOPIC), metadata=pubsub_auth)
    schema = parse_schema(json.loads(pubsub_stub.GetSchema(pb2.SchemaRequest(schema_id=topic.schema_id),
                                                           metadata=pubsub_auth).schema_json))
    buf = io.BytesIO()
    schemaless_writer(buf, schema, {"CreatedDate": 0, "CreatedById": "005000000000000AAA",
                                    "Order_Id__c": "801GRPC", "Status__c": "Delivered"})
    published = pubsub_stub.Publish(pb2.PublishRequest(topic_name=EVENT_TOPIC, events=[
        pb2.ProducerEvent(id="k1", schema_id=topic.schema_id, payload=buf.getvalue()),
        pb2.ProducerEvent(id="k2", schema_id="wrong", payload=buf.getvalue())]), metadata=pubsub_auth)
    ok, bad = published.results
    assert ok.correlation_key == "k1" and len(ok.replay_id) == 8 and not ok.HasField("error")
    assert bad.error.code == pb2.PUBLISH and not bad.replay_id
    events = collect(subscribe(EVENT_TOPIC), decoder, lambda p: p["Order_Id__c"] in ("801REST", "801GRPC"), 2)
    assert [(p["Order_Id__c"], p["Status__c"]) for _, p, _ in events] == [("801REST", "Shipped"),
                                                                          ("801GRPC", "Delivered")]
    assert events[1][1]["CreatedById"].startswith("005") and events[1][1]["CreatedDate"] > 0
    too_long = api("POST", "/sobjects/Order_Update__e/", json={"Status__c": "x" * 41})
    assert too_long.status_code == 400


def test_change_event_topics_refuse_publishing(pubsub_stub, pubsub_auth):
    with pytest.raises(grpc.RpcError) as err:
        pubsub_stub.Publish(pb2.PublishRequest(topic_name=ACCOUNT_TOPIC), metadata=pubsub_auth)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


# -- retention (last: it purges the bus) -----------------------------------------------------------------
def test_a_replay_id_older_than_the_retention_window_is_refused(sf, ctl, subscribe, decoder):
    acc = sf.Account.create({"Name": "Expiring"})["id"]
    stored = collect(subscribe(ACCOUNT_TOPIC), decoder, for_records(acc), 1)[0][0].replay_id
    ctl.set_event_retention(1)
    try:
        def refused() -> bool:
            ctl.set_event_retention(1)  # purges what is now older than a second
            try:
                subscribe(ACCOUNT_TOPIC, preset=pb2.CUSTOM, replay_id=stored).next(timeout=0.5)
            except grpc.RpcError as exc:
                return exc.code() == grpc.StatusCode.INVALID_ARGUMENT and "Replay ID validation failed" in exc.details()
            except queue.Empty:
                return False
            return False

        wait_for(refused, timeout=15, interval=0.2)
    finally:
        ctl.set_event_retention(72 * 3600)
    with pytest.raises(grpc.RpcError) as err:
        subscribe(ACCOUNT_TOPIC, preset=pb2.CUSTOM, replay_id=b"\x00\x01").next()
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_pubsub_channel_helper_reaches_the_emulator(emulator):
    channel = pubsub_channel(emulator)
    try:
        grpc.channel_ready_future(channel).result(timeout=10)
    finally:
        channel.close()
