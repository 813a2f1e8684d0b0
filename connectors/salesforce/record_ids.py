"""Finding the Salesforce record of a MongoDB document that is gone (deleted)."""
from __future__ import annotations

import re

from simple_salesforce.format import format_soql

from connectors.salesforce.client import SalesforceClient

SALESFORCE_ID = re.compile(r"^[a-zA-Z0-9]{18}$")
#: Values per SOQL `IN (...)`: well under the 100,000-character limit of a query.
QUERY_CHUNK = 200


def salesforce_ids_of(client: SalesforceClient, sobject: str, external_id_field: str,
                      mongo_ids: list[str]) -> dict[str, str]:
    """The Salesforce Id of each document `_id` (text) that has a record, by `_id`.

    A document born in Salesforce has its record's Id as `_id`; one born in MongoDB was
    created by an upsert on the external-id field holding its `_id`, so one query per 200
    finds those. An `_id` with neither is absent from the answer: it never reached Salesforce.
    """
    found = {i: i for i in mongo_ids if SALESFORCE_ID.match(i)}
    others = [i for i in mongo_ids if i not in found]
    for start in range(0, len(others), QUERY_CHUNK):
        soql = format_soql("SELECT Id, {:literal} FROM {:literal} WHERE {:literal} IN {}", external_id_field,
                           sobject, external_id_field, others[start:start + QUERY_CHUNK])
        for page in client.query_pages(soql):
            found.update({r[external_id_field]: r["Id"] for r in page.records})
    return found
