"""Deterministic demo-org generator.

``seed_org(store, n)`` inserts ``n`` Accounts plus ~1 Contact, ~0.5
Opportunity and ~0.3 Order per Account, in one transaction.  A fixed random
seed and a fixed time anchor make the result (values *and* Ids) identical for
the same ``n`` on an empty org.  Records are created in small "import
batches" that share a SystemModstamp, as bulk loads do on a real org, so a
sync's tie-breaking on Id gets exercised.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from . import ids
from .schema import OBJECTS, STAGES, SObject
from .store import Store, columns
from .timefmt import format_ms

RANDOM_SEED = 20261125
#: Seeded history ends here (fixed so output is reproducible) and spans ~2 years.
ANCHOR_MS = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1000)
SPAN_MS = 730 * 24 * 3600 * 1000

_PREFIXES = ("Blue", "North", "Summit", "Pacific", "Granite", "Silver", "Evergreen", "Atlas", "Harbor",
             "Prairie", "Redwood", "Cobalt", "Sterling", "Union", "Pioneer", "Liberty", "Crescent",
             "Falcon", "Golden", "Maple", "Orion", "Apex", "Vista", "Keystone", "Beacon", "Cedar",
             "Meridian", "Horizon", "Ironwood", "Lakeside", "Riverside", "Westbrook", "Highland",
             "Bright", "Clearwater", "Oakmont", "Silverline", "Northstar", "Bayview", "Stonebridge")
_CORES = ("Logistics", "Analytics", "Foods", "Energy", "Health", "Systems", "Motors", "Textiles",
          "Capital", "Labs", "Media", "Robotics", "Pharma", "Construction", "Telecom", "Software",
          "Farms", "Airlines", "Insurance", "Hotels", "Retail", "Chemicals", "Biotech", "Networks",
          "Outfitters", "Dynamics", "Solutions", "Partners", "Holdings", "Industries")
_SUFFIXES = ("Inc", "LLC", "Corp", "Group", "Co", "Ltd", "GmbH", "SA", "PLC", "")
_CITIES = (("San Francisco", "CA", "941", "USA"), ("New York", "NY", "100", "USA"),
           ("Austin", "TX", "787", "USA"), ("Chicago", "IL", "606", "USA"), ("Seattle", "WA", "981", "USA"),
           ("Boston", "MA", "021", "USA"), ("Denver", "CO", "802", "USA"), ("Atlanta", "GA", "303", "USA"),
           ("Toronto", "ON", "M5V", "Canada"), ("Vancouver", "BC", "V6B", "Canada"),
           ("London", "", "EC1", "United Kingdom"), ("Berlin", "", "101", "Germany"),
           ("Paris", "", "750", "France"), ("Madrid", "", "280", "Spain"), ("Sydney", "NSW", "200", "Australia"),
           ("Singapore", "", "018", "Singapore"), ("Tokyo", "", "100", "Japan"), ("Dublin", "", "D02", "Ireland"))
_STREETS = ("Market St", "Main St", "Oak Ave", "Pine St", "Broadway", "Elm St", "Cedar Rd", "Park Ave",
            "Lake Shore Dr", "Mission St", "King St", "High St")
_FIRST = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
          "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Aisha",
          "Wei", "Yuki", "Priya", "Omar", "Sofia", "Lukas", "Chloe", "Mateo", "Amara", "Noah")
_LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
         "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
         "Martin", "Lee", "Nguyen", "Chen", "Patel", "Kim", "Müller", "Rossi", "Dubois", "Silva", "Tanaka", "O'Brien")
_TITLES = ("CEO", "CFO", "VP Sales", "VP Engineering", "Procurement Manager", "IT Director", "Buyer",
           "Operations Manager", "Marketing Lead", "Account Manager", None)
_PRODUCTS = ("Platform Renewal", "Expansion", "New Business", "Services", "Pilot", "Upsell", "Support Plan")


def _picklist(obj: SObject, name: str) -> tuple[str, ...]:
    field = obj.field(name)
    if field is None:
        raise LookupError(f"{obj.name} has no field {name}")
    return field.picklist_values


_INDUSTRIES = _picklist(OBJECTS["Account"], "Industry")
_TYPES = _picklist(OBJECTS["Account"], "Type")


class _Timeline:
    """Creation stamps advancing in batches that share one millisecond."""

    def __init__(self, rng: random.Random, n_records: int) -> None:
        self.rng = rng
        expected_batches = max(1, n_records // 12)
        self.step = max(1, SPAN_MS // expected_batches)
        self.t = ANCHOR_MS - SPAN_MS
        self.left = 0

    def next(self) -> int:
        if self.left == 0:
            # Never past the anchor: a small org's random batch sizes could otherwise walk
            # the history into the future, and no real record is modified tomorrow.
            self.t = min(self.t + self.rng.randint(1, 2 * self.step), ANCHOR_MS)
            self.left = self.rng.randint(1, 24)
        self.left -= 1
        return self.t


def _hex24(rng: random.Random) -> str:
    return f"{rng.getrandbits(96):024x}"


def _audit(rng: random.Random, created_ms: int) -> dict:
    """Audit fields; ~30% of records were modified after creation."""
    modified = created_ms
    if rng.random() < 0.3:
        modified = rng.randint(created_ms, max(created_ms, ANCHOR_MS))
    user = ids.ADMIN_USER_ID
    return {"IsDeleted": 0, "OwnerId": user, "CreatedDate": format_ms(created_ms), "CreatedById": user,
            "LastModifiedDate": format_ms(modified), "LastModifiedById": user,
            "SystemModstamp": format_ms(modified)}


def _account(rng: random.Random, created: int) -> dict:
    name = " ".join(p for p in (rng.choice(_PREFIXES), rng.choice(_CORES), rng.choice(_SUFFIXES)) if p)
    city, state, postal, country = rng.choice(_CITIES)
    domain = "".join(ch for ch in name.lower() if ch.isalnum())[:30]
    revenue = rng.choice((0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500)) * 1_000_000
    return {
        "Name": name, "Type": rng.choice(_TYPES), "Industry": rng.choice(_INDUSTRIES),
        "BillingStreet": f"{rng.randint(1, 9999)} {rng.choice(_STREETS)}", "BillingCity": city,
        "BillingState": state or None, "BillingPostalCode": f"{postal}{rng.randint(10, 99)}",
        "BillingCountry": country, "Phone": f"({rng.randint(201, 989)}) 555-{rng.randint(0, 9999):04d}",
        "Website": f"www.{domain}.com", "AnnualRevenue": float(revenue),
        "NumberOfEmployees": rng.choice((5, 12, 40, 85, 150, 400, 1200, 5000, 20000)),
        "AccountNumber": f"CD{rng.randint(100000, 999999)}", "Rating": rng.choice(("Hot", "Warm", "Cold", None)),
        "Description": rng.choice((None, None, f"{name} is a key account in {city}.")),
        "Customer_Tier__c": rng.choice(("Gold", "Silver", "Silver", "Bronze", "Bronze", None)),
        "Mongo_Id__c": _hex24(rng), "Last_Synced_Note__c": None, **_audit(rng, created),
    }


def _contact(rng: random.Random, account_id: str, website: str, created: int) -> dict:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    born = datetime(1960, 1, 1) + timedelta(days=rng.randint(0, 15000))
    local = "".join(ch for ch in f"{first}.{last}".lower() if ch.isalnum() or ch == ".")
    return {
        "AccountId": account_id, "FirstName": first, "LastName": last, "Name": f"{first} {last}",
        "Email": f"{local}@{website.removeprefix('www.')}",
        "Phone": f"({rng.randint(201, 989)}) 555-{rng.randint(0, 9999):04d}",
        "Title": rng.choice(_TITLES), "Birthdate": born.date().isoformat(),
        "Mongo_Id__c": _hex24(rng), "Loyalty_Points__c": float(rng.randint(0, 5000)), **_audit(rng, created),
    }


def _opportunity(rng: random.Random, account: dict, account_id: str, created: int) -> dict:
    stage = rng.choice(tuple(STAGES))
    close = datetime.fromtimestamp(created / 1000, tz=UTC) + timedelta(days=rng.randint(14, 240))
    return {
        "AccountId": account_id, "Name": f"{account['Name']} - {rng.choice(_PRODUCTS)}"[:120],
        "StageName": stage, "Probability": float(STAGES[stage]), "CloseDate": close.date().isoformat(),
        "Amount": float(rng.randint(5, 500) * 1000), "Mongo_Id__c": _hex24(rng), **_audit(rng, created),
    }


def _order(rng: random.Random, account_id: str, created: int, number: str) -> dict:
    start = datetime.fromtimestamp(created / 1000, tz=UTC) + timedelta(days=rng.randint(0, 30))
    return {
        "AccountId": account_id, "EffectiveDate": start.date().isoformat(),
        "Status": rng.choice(("Draft", "Activated", "Activated")), "OrderNumber": number,
        "TotalAmount": float(rng.randint(1, 400) * 250), "Mongo_Id__c": _hex24(rng),
        "Delivery_Status__c": rng.choice(("Pending", "Shipped", "Delivered", "Returned", None)),
        **_audit(rng, created),
    }


def generate(store: Store, n_accounts: int) -> Iterator[tuple[SObject, list[dict]]]:
    """Yield (object, rows) chunks; Ids are allocated from ``store`` in creation order."""
    rng = random.Random(RANDOM_SEED)
    timeline = _Timeline(rng, n_accounts)
    acc_obj, con_obj, opp_obj, ord_obj = (OBJECTS[n] for n in ("Account", "Contact", "Opportunity", "Order"))
    chunk = 5000
    for start in range(0, n_accounts, chunk):
        size = min(chunk, n_accounts - start)
        accounts, contacts, opps, orders = [], [], [], []
        for acc_id in store.allocate_ids(acc_obj, size):
            created = timeline.next()
            acc = {"Id": acc_id, **_account(rng, created)}
            accounts.append(acc)
            for _ in range(rng.choice((0, 1, 1, 1, 2))):
                contacts.append(_contact(rng, acc_id, acc["Website"], created + rng.randint(0, 3_600_000)))
            if rng.random() < 0.5:
                opps.append(_opportunity(rng, acc, acc_id, created + rng.randint(0, 86_400_000)))
            if rng.random() < 0.3:
                orders.append((acc_id, created + rng.randint(0, 86_400_000)))
        for obj, rows in ((con_obj, contacts), (opp_obj, opps)):
            for row, rid in zip(rows, store.allocate_ids(obj, len(rows)), strict=True):
                row["Id"] = rid
        order_rows = [
            {"Id": rid, **_order(rng, acc_id, created, number)}
            for (acc_id, created), rid, number in zip(orders, store.allocate_ids(ord_obj, len(orders)),
                                                     store.next_order_numbers(len(orders)), strict=True)
        ]
        yield acc_obj, accounts
        yield con_obj, contacts
        yield opp_obj, opps
        yield ord_obj, order_rows


def seed_org(store: Store, n_accounts: int) -> dict[str, int]:
    """Insert the demo data in one transaction; returns rows inserted per object."""
    counts: dict[str, int] = {}
    with store.write() as c:
        for obj, rows in generate(store, n_accounts):
            cols = columns(obj)
            for row in rows:
                for name in cols:
                    row.setdefault(name, None)
            store.insert_rows(c, obj, rows)
            counts[obj.name] = counts.get(obj.name, 0) + len(rows)
    return counts
