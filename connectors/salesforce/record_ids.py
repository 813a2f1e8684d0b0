"""Finding the Salesforce record of a MongoDB document that is gone (deleted), and the
chunking every query by a list of ids shares."""
from __future__ import annotations

import re
from collections.abc import Iterator

from simple_salesforce.format import format_soql

from connectors.salesforce.client import SalesforceClient

SALESFORCE_ID = re.compile(r"^[a-zA-Z0-9]{18}$")
#: Values per SOQL `IN (...)`: well under the 100,000-character limit of a query.
QUERY_CHUNK = 200


def chunks(values: list[str]) -> Iterator[list[str]]:
    """`values` in consecutive lists of at most QUERY_CHUNK, one per SOQL `IN (...)`."""
    for start in range(0, len(values), QUERY_CHUNK):
        yield values[start:start + QUERY_CHUNK]


def salesforce_ids_of(client: SalesforceClient, sobject: str, external_id_field: str,
                      mongo_ids: list[str]) -> dict[str, str]:
    """The Salesforce Id of each document `_id` (text) that has a record, by `_id`.

    A document born in Salesforce has its record's Id as `_id`; one born in MongoDB was
    created by an upsert on the external-id field holding its `_id`, so one query per 200
    finds those. An `_id` with neither is absent from the answer: it never reached Salesforce.
    """
    found = {i: i for i in mongo_ids if SALESFORCE_ID.match(i)}
    others = [i for i in mongo_ids if i not in found]
    for chunk in chunks(others):
        soql = format_soql("SELECT Id, {:literal} FROM {:literal} WHERE {:literal} IN {}", external_id_field,
                           sobject, external_id_field, chunk)
        for page in client.query_pages(soql):
            found.update({r[external_id_field]: r["Id"] for r in page.records})
    return found
