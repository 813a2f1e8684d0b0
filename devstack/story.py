"""The demo's story, beside the Salesforce users' churn (``sfemulator.churn``): people edit the
MongoDB side too, about once a minute a record is edited on both sides at once (a conflict under
the mappings' `manual` policy, for a person to settle in the console), and every few minutes a
MongoDB edit breaks the org's validation rule `Amount_Not_Negative` (Salesforce refuses it: the
error queue). The first conflict and the first refusal come as soon as the initial load is in
MongoDB, so a visitor sees both queues at work within a minute.

Salesforce edits go in as a UI user's (no API call counted); MongoDB edits become the sync's
Salesforce calls, a read and a write per edit under `manual`: about 5 a minute at the default
pace. The whole demo measured 4.8 calls a minute (README), under the org's daily
15,000 / 1,440 = 10.4.

``python -m devstack.story --mongodb-uri URI --database DB --url SF_URL --ca CA`` runs it until
stopped (scripts/demo.py starts it).
"""
from __future__ import annotations

import argparse
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pymongo
from bson.decimal128 import Decimal128

from connectors.engine.naming import suggest_mongo_name
from sfemulator import churn
from sfemulator.config import Credentials

#: The collections `setupsync` gives the demo org's objects.
COLLECTIONS = {"Account": "accounts", "Contact": "contacts", "Opportunity": "opportunities", "Order": "orders"}
#: Text and picklist fields people edit in MongoDB (churn's values; no currency: MongoDB holds Decimal128).
EDITED_FIELDS = {"Account": ("Phone", "Rating", "BillingCity"), "Contact": ("Title", "Phone"),
                 "Opportunity": ("StageName",), "Order": ("Delivery_Status__c",)}
KEY_FIELD = "sf_id"


@dataclass(frozen=True)
class Pace:
    """Seconds between the story's moments."""

    mongo_edit: float = 30.0
    conflict: float = 60.0
    refused: float = 300.0


class Story:
    def __init__(self, database: pymongo.database.Database, salesforce: churn.Client, rng: random.Random,
                 out: Callable[[str], None] = print) -> None:
        self.db, self.salesforce, self.rng, self.out = database, salesforce, rng, out

    def synced_document(self, sf_object: str) -> dict | None:
        """A random document that came from (or reached) Salesforce."""
        collection = self.db[COLLECTIONS[sf_object]]
        found = collection.count_documents({KEY_FIELD: {"$type": "string"}}, limit=500)
        if not found:
            return None
        return next(collection.find({KEY_FIELD: {"$type": "string"}}).skip(self.rng.randrange(found)).limit(1), None)

    def salesforce_counts(self) -> dict[str, int]:
        """How many records each object has now (one API call each, once)."""
        counts = {}
        for sf_object in COLLECTIONS:
            answer = self.salesforce.request("GET", "/query", params={"q": f"SELECT COUNT() FROM {sf_object}"})
            answer.raise_for_status()
            counts[sf_object] = answer.json()["totalSize"]
        return counts

    def loaded(self, counts: dict[str, int]) -> bool:
        """The initial load is in MongoDB: an edit made before it ends could be overwritten by it
        (98 %: the users' churn deletes records meanwhile)."""
        return all(self.db[COLLECTIONS[name]].count_documents({KEY_FIELD: {"$type": "string"}}) >= 0.98 * count
                   for name, count in counts.items())

    def mongo_edit(self) -> None:
        """A person edits a document: the sync writes the change to Salesforce."""
        sf_object = self.rng.choice(list(COLLECTIONS))
        document = self.synced_document(sf_object)
        if document is None:
            return
        values = {suggest_mongo_name(name): value for name, value in churn._UPDATES[sf_object](self.rng).items()
                  if name in EDITED_FIELDS[sf_object]}
        self.db[COLLECTIONS[sf_object]].update_one({"_id": document["_id"]}, {"$set": values})
        self.out(f"story: MongoDB edit of {sf_object} {document[KEY_FIELD]}: {', '.join(values)}")

    def conflict(self) -> None:
        """The same field of one Account changed on both sides before either change is synced."""
        document = self.synced_document("Account")
        if document is None:
            return
        stamp = time.strftime("%H%M%S")
        self.db.accounts.update_one({"_id": document["_id"]}, {"$set": {"phone": f"(555) 010-{stamp[-4:]} (MongoDB)"}})
        answer = self.salesforce.edit("PATCH", "Account", document[KEY_FIELD],
                                      json={"Phone": f"(555) 020-{stamp[-4:]} (Salesforce)"})
        self.out(f"story: Account {document[KEY_FIELD]} Phone edited on both sides at once "
                 f"(Salesforce answered {answer.status_code}): a conflict for the console")

    def refused(self) -> None:
        """A MongoDB edit that the org's validation rule refuses: it lands in the error queue."""
        document = self.synced_document("Opportunity")
        if document is None:
            return
        amount = Decimal128(str(-1000 * self.rng.randint(1, 50)))
        self.db.opportunities.update_one({"_id": document["_id"]}, {"$set": {"amount": amount}})
        self.out(f"story: Opportunity {document[KEY_FIELD]} amount set to {amount} in MongoDB "
                 "(Salesforce's rule Amount_Not_Negative refuses it: the error queue)")

    def run(self, pace: Pace, stop: threading.Event, load_timeout: float = 600.0) -> None:
        deadline = time.monotonic() + load_timeout
        counts = self.salesforce_counts()
        while not self.loaded(counts):
            if stop.wait(2) or time.monotonic() > deadline:
                return
        self.out("story: the initial load is in MongoDB; the story begins")
        moments = [(pace.conflict, self.conflict), (pace.refused, self.refused), (pace.mongo_edit, self.mongo_edit)]
        due = [time.monotonic()] * len(moments)  # each moment once at once, then at its pace
        while not stop.is_set():
            now = time.monotonic()
            for i, (every, moment) in enumerate(moments):
                if now >= due[i]:
                    due[i] = now + every
                    try:
                        moment()
                    except (pymongo.errors.PyMongoError, OSError) as exc:
                        self.out(f"story: {moment.__name__} failed ({exc}); trying again at its next turn")
            stop.wait(max(0.0, min(due) - time.monotonic()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.story", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mongodb-uri", required=True)
    parser.add_argument("--database", default="salesforce")
    parser.add_argument("--url", required=True, help="the Salesforce emulator's URL")
    parser.add_argument("--ca", required=True, help="the emulator's CA certificate")
    parser.add_argument("--mongo-edit-every", type=float, default=Pace.mongo_edit, metavar="SECONDS")
    parser.add_argument("--conflict-every", type=float, default=Pace.conflict, metavar="SECONDS")
    parser.add_argument("--refused-every", type=float, default=Pace.refused, metavar="SECONDS")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(args.mongodb_uri, serverSelectionTimeoutMS=5000)
    story = Story(client[args.database], churn.Client(args.url, args.ca, Credentials.from_env()),
                  random.Random(), out=lambda line: print(line, flush=True))
    try:
        story.run(Pace(args.mongo_edit_every, args.conflict_every, args.refused_every), stop)
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
