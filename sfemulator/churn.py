"""Background "users at work": steady updates/creates/deletes on the org's records.

``run(url, ca, rate, duration=None, objects=OBJECTS)`` logs in with the OAuth
password flow and performs ``rate`` operations per second (20% creates,
``delete_share`` deletes, 10% by default, and the rest updates) until ``duration`` elapses or ``stop`` is set,
printing a short status line about once a second. Returns a :class:`ChurnStats`.

The edits are made as people make them in Salesforce's UI (``/_emulator/ui``,
``ui=True``, the default): validated, stamped and published as change events
like API writes, but counting no API call, so a demo left running does not use
up the org's DailyApiRequests. ``ui=False`` writes through the REST API instead.
"""
from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import requests

from .config import Credentials
from .seed import _CITIES, _CORES, _FIRST, _LAST, _PREFIXES, _TITLES

API_VERSION = "62.0"
OBJECTS = ("Account", "Contact", "Opportunity", "Order")
CREATE_SHARE = 0.2
DELETE_SHARE = 0.1


@dataclass
class ChurnStats:
    updates: int = 0
    creates: int = 0
    deletes: int = 0
    errors: int = 0
    touched: dict[str, set[str]] = field(default_factory=dict)

    @property
    def ops(self) -> int:
        return self.updates + self.creates + self.deletes


def _account_fields(rng: random.Random) -> dict:
    city = rng.choice(_CITIES)
    return {"Phone": f"({rng.randint(201, 989)}) 555-{rng.randint(0, 9999):04d}",
            "Rating": rng.choice(("Hot", "Warm", "Cold")), "BillingCity": city[0],
            "AnnualRevenue": float(rng.randint(1, 900) * 100_000),
            "Last_Synced_Note__c": f"churn {time.strftime('%H:%M:%S')} #{rng.randint(0, 99999)}"}


def _contact_fields(rng: random.Random) -> dict:
    return {"Title": rng.choice([t for t in _TITLES if t]), "Loyalty_Points__c": float(rng.randint(0, 9000)),
            "Phone": f"({rng.randint(201, 989)}) 555-{rng.randint(0, 9999):04d}"}


def _opportunity_fields(rng: random.Random) -> dict:
    return {"Amount": float(rng.randint(5, 500) * 1000),
            "StageName": rng.choice(("Qualification", "Negotiation/Review"))}


def _order_fields(rng: random.Random) -> dict:
    return {"Delivery_Status__c": rng.choice(("Pending", "Shipped", "Delivered"))}


def _new_account(rng: random.Random, pools: dict) -> dict:
    return {"Name": f"{rng.choice(_PREFIXES)} {rng.choice(_CORES)} (churn)", **_account_fields(rng)}


def _new_contact(rng: random.Random, pools: dict) -> dict:
    body = {"FirstName": rng.choice(_FIRST), "LastName": rng.choice(_LAST), **_contact_fields(rng)}
    if pools.get("Account"):
        body["AccountId"] = rng.choice(pools["Account"])
    return body


def _new_opportunity(rng: random.Random, pools: dict) -> dict:
    return {"Name": f"Churn deal {rng.randint(0, 99999)}", "StageName": "Prospecting",
            "CloseDate": time.strftime("%Y-%m-%d"), **_opportunity_fields(rng)}


def _new_order(rng: random.Random, pools: dict) -> dict | None:
    if not pools.get("Account"):
        return None
    return {"AccountId": rng.choice(pools["Account"]), "EffectiveDate": time.strftime("%Y-%m-%d"),
            "Status": "Draft", **_order_fields(rng)}


_UPDATES: dict[str, Callable[[random.Random], dict]] = {
    "Account": _account_fields, "Contact": _contact_fields, "Opportunity": _opportunity_fields, "Order": _order_fields}
_CREATES: dict[str, Callable[[random.Random, dict], dict | None]] = {
    "Account": _new_account, "Contact": _new_contact, "Opportunity": _new_opportunity, "Order": _new_order}


class Client:
    """Just enough REST client: OAuth login, retry once on 401; `ui` edits count no API call."""

    def __init__(self, url: str, ca: str, creds: Credentials, ui: bool = True) -> None:
        self.url, self.creds, self.ui = url.rstrip("/"), creds, ui
        self.http = requests.Session()
        self.http.verify = ca
        # requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override Session.verify; ignore the env.
        self.http.trust_env = False
        self.instance = self.base = ""
        self.login()

    def login(self) -> None:
        c = self.creds
        r = self.http.post(f"{self.url}/services/oauth2/token", data={
            "grant_type": "password", "client_id": c.client_id, "client_secret": c.client_secret,
            "username": c.username, "password": c.password + c.security_token}, timeout=30)
        r.raise_for_status()
        body = r.json()
        self.http.headers["Authorization"] = f"Bearer {body['access_token']}"
        self.instance = body["instance_url"]
        self.base = f"{self.instance}/services/data/v{API_VERSION}"

    def request(self, method: str, path: str, **kw) -> requests.Response:
        """A REST API call: `path` after /services/data/vXX.X."""
        return self._send(method, lambda: self.base + path, **kw)

    def edit(self, method: str, obj: str, record_id: str = "", **kw) -> requests.Response:
        """Create (POST), update (PATCH) or delete (DELETE) one record, as a user or through the API."""
        suffix = f"/{record_id}" if record_id else "/"
        if self.ui:
            return self._send(method, lambda: f"{self.instance}/_emulator/ui/records/{obj}{suffix}".rstrip("/"), **kw)
        return self.request(method, f"/sobjects/{obj}{suffix}", **kw)

    def _send(self, method: str, url: Callable[[], str], **kw) -> requests.Response:
        r = self.http.request(method, url(), timeout=30, **kw)
        if r.status_code == 401:
            self.login()
            r = self.http.request(method, url(), timeout=30, **kw)
        return r


def run(url: str, ca: str, rate: float, duration: float | None = None,
        objects: Sequence[str] = OBJECTS, creds: Credentials | None = None,
        stop: threading.Event | None = None, out: Callable[[str], None] | None = print,
        seed: int | None = None, ui: bool = True, delete_share: float = DELETE_SHARE) -> ChurnStats:
    """Churn until ``duration`` seconds pass or ``stop`` is set (Ctrl-C in the CLI)."""
    if not 0 <= delete_share <= 1 - CREATE_SHARE:
        raise ValueError(f"the share of deletes must be between 0 and {1 - CREATE_SHARE}, not {delete_share}")
    unknown = [o for o in objects if o not in _UPDATES]
    if unknown:
        raise ValueError(f"unsupported churn objects: {', '.join(unknown)}")
    rng = random.Random(seed)
    client = Client(url, ca, creds or Credentials.from_env(), ui)
    pools: dict[str, list[str]] = {}
    for name in {*objects, "Account"}:
        soql = f"SELECT Id FROM {name} ORDER BY SystemModstamp DESC LIMIT 2000"
        r = client.request("GET", "/query", params={"q": soql})
        r.raise_for_status()
        pools[name] = [rec["Id"] for rec in r.json()["records"]]
    stats = ChurnStats(touched={o: set() for o in objects})
    interval = 1.0 / rate
    started = time.monotonic()
    next_op = started
    last_report = started
    while not (stop and stop.is_set()):
        now = time.monotonic()
        if duration is not None and now - started >= duration:
            break
        if now < next_op:
            time.sleep(min(next_op - now, 0.05))
            continue
        next_op += interval
        _one_op(client, rng, rng.choice(list(objects)), pools, stats, delete_share)
        if out and now - last_report >= 1.0:
            last_report = now
            out(f"churn {now - started:5.1f}s  ops={stats.ops} (upd {stats.updates}, new {stats.creates}, "
                f"del {stats.deletes})  errors={stats.errors}")
    if out:
        out(f"churn done: {stats.ops} ops in {time.monotonic() - started:.1f}s "
            f"(upd {stats.updates}, new {stats.creates}, del {stats.deletes}, errors {stats.errors})")
    return stats


def _pick_op(rng: random.Random, delete_share: float) -> str:
    x = rng.random()
    return "create" if x < CREATE_SHARE else "delete" if x < CREATE_SHARE + delete_share else "update"


def _one_op(client: Client, rng: random.Random, obj: str, pools: dict[str, list[str]], stats: ChurnStats,
            delete_share: float) -> None:
    op = _pick_op(rng, delete_share)
    pool = pools[obj]
    if op != "create" and not pool:
        op = "create"
    try:
        if op == "create":
            body = _CREATES[obj](rng, pools)
            if body is None:
                return
            r = client.edit("POST", obj, json=body)
            ok = r.status_code == 201
            if ok:
                new_id = r.json()["id"]
                pool.append(new_id)
                stats.creates += 1
                stats.touched[obj].add(new_id)
        else:
            idx = rng.randrange(len(pool))
            rid = pool[idx]
            if op == "update":
                r = client.edit("PATCH", obj, rid, json=_UPDATES[obj](rng))
            else:
                r = client.edit("DELETE", obj, rid)
                pool[idx] = pool[-1]
                pool.pop()
            ok = r.status_code == 204
            if ok:
                stats.touched[obj].add(rid)
                if op == "update":
                    stats.updates += 1
                else:
                    stats.deletes += 1
            elif r.status_code == 404:
                pool[:] = [i for i in pool if i != rid]  # deleted by someone else
        if not ok:
            stats.errors += 1
    except requests.RequestException:
        stats.errors += 1
