"""Persistence across restarts, deterministic seeding, churn and the CLI contract."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from sfemu_support import CREDS, connect, https_session, oauth_login

from sfemulator import churn
from sfemulator.control import EmulatorControl
from sfemulator.schema import OBJECTS
from sfemulator.seed import seed_org
from sfemulator.server import EmulatorServer
from sfemulator.store import Store, columns

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_state_and_sessions_survive_a_restart(tmp_path):
    with EmulatorServer(tmp_path, port=0, creds=CREDS) as first:
        sf = connect(first)
        rid = sf.Account.create({"Name": "Durable"})["id"]
        token = sf.session_id
    with EmulatorServer(tmp_path, port=0, creds=CREDS) as second:
        http = https_session(second.ca_path)
        r = http.get(f"{second.url}/services/data/v62.0/sobjects/Account/{rid}",
                     headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["Name"] == "Durable"
        newer = connect(second).Account.create({"Name": "After Restart"})["id"]
        assert newer > rid  # the Id counter continues, never reuses


def _dump(path: Path, n: int) -> dict[str, list[tuple]]:
    store = Store(path)
    try:
        seed_org(store, n)
        return {o.name: store.read(f'SELECT {", ".join(columns(o))} FROM "{o.table}" ORDER BY Id')
                for o in OBJECTS.values()}
    finally:
        store.close()


def test_seeding_is_deterministic(tmp_path):
    a = _dump(tmp_path / "a.sqlite3", 300)
    b = _dump(tmp_path / "b.sqlite3", 300)
    assert a == b
    assert len(a["Account"]) == 300 and len(a["Contact"]) > 200 and a["Order"]


def test_churn_runs_for_two_seconds_and_changes_records(tmp_path):
    with EmulatorServer(tmp_path, port=0, seed=100, creds=CREDS) as server:
        sf = connect(server)
        before = sf.query("SELECT COUNT() FROM Account WHERE SystemModstamp > 2026-01-01T00:00:00Z")["totalSize"]
        stats = churn.run(server.url, str(server.ca_path), rate=20, duration=2, creds=CREDS, out=None, seed=1)
        assert stats.ops >= 30 and stats.errors == 0
        assert stats.updates > stats.creates
        changed = sf.query_all("SELECT Id FROM Contact WHERE SystemModstamp > 2026-01-01T00:00:00Z "
                               "OR CreatedDate > 2026-01-01T00:00:00Z", include_deleted=True)["totalSize"]
        changed += sf.query_all("SELECT Id FROM Account WHERE SystemModstamp > 2026-01-01T00:00:00Z",
                                include_deleted=True)["totalSize"]
        assert changed - before >= len(stats.touched["Account"]) + len(stats.touched["Contact"]) > 0


def test_churn_as_ui_users_edits_all_four_objects_and_counts_no_api_call_for_its_edits(tmp_path):
    """The demo's churn runs all day: its edits are a user's (change events, no DailyApiRequests);
    only its start (the four queries that find records to edit) is API usage."""
    with EmulatorServer(tmp_path, port=0, seed=100, creds=CREDS) as server:
        control = EmulatorControl(server.url, server.ca_path, oauth_login(server, https_session(server.ca_path))
                                  ["access_token"])
        before = control.usage()["used"]
        stats = churn.run(server.url, str(server.ca_path), rate=40, duration=2, creds=CREDS, out=None, seed=3)
        assert stats.ops >= 60 and stats.errors == 0
        assert all(stats.touched[name] for name in churn.OBJECTS), stats.touched
        assert control.usage()["used"] - before == len(churn.OBJECTS)
        edited = {change["object"] for change in control.changes()}
        assert set(churn.OBJECTS) <= edited


def _cli(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen([sys.executable, "-m", "sfemulator", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kw)


def test_cli_serve_prints_ready_line_and_stops_cleanly_on_sigterm(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = _cli("serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(tmp_path), "--seed", "10")
    try:
        line = proc.stdout.readline().strip()
        prefix = f"sfemulator ready on https://127.0.0.1:{port} (CA: {tmp_path}/tls/ca.pem; Pub/Sub API on 127.0.0.1:"
        assert line.startswith(prefix) and line.endswith(")") and line[len(prefix):-1].isdigit(), line
        server = EmulatorServer(tmp_path, port=port)  # only for url/ca_path helpers
        body = oauth_login(server, https_session(tmp_path / "tls" / "ca.pem"))
        assert body["instance_url"] == f"https://127.0.0.1:{port}"
        for name in ("ca.pem", "server.pem", "server.key"):
            assert (tmp_path / "tls" / name).exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_serve_on_a_taken_port_exits_2_naming_the_port(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        proc = _cli("serve", "--port", str(port), "--data-dir", str(tmp_path))
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert str(port) in err and "in use" in err and len(err.strip().splitlines()) == 1


def test_cli_seed_refuses_a_non_empty_org_unless_reset(tmp_path):
    first = _cli("seed", "--data-dir", str(tmp_path), "--accounts", "20")
    assert first.wait(timeout=30) == 0
    assert "20 Accounts" in first.stdout.read()
    again = _cli("seed", "--data-dir", str(tmp_path), "--accounts", "20")
    assert again.wait(timeout=30) == 1
    reset = _cli("seed", "--data-dir", str(tmp_path), "--accounts", "20", "--reset")
    assert reset.wait(timeout=30) == 0
