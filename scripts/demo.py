"""Run the whole product on its embedded defaults: broker, MongoDB, Salesforce emulator,
the console and the sync workers, with a story to watch: Salesforce users editing Accounts,
Contacts, Opportunities and Orders (as UI edits: no API call counted), people editing the
MongoDB side, a conflict about every minute and now and then an edit Salesforce refuses
(devstack/story.py).

Run through scripts/demo.sh, which prepares the virtualenv first. Ctrl-C stops everything.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pymongo
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devstack import ServiceStartError, Stack, StackConfig  # noqa: E402

WEB_PORT = int(os.environ.get("DEMO_WEB_PORT", "8000"))
CHURN_RATE = os.environ.get("DEMO_CHURN_RATE", "2")
# Few deletes, as in a real org (the README has the demo's measured API usage).
DELETE_SHARE = os.environ.get("DEMO_DELETE_SHARE", "0.01")
# Change Data Capture where the object publishes change events, polling elsewhere.
CAPTURE = os.environ.get("DEMO_CAPTURE", "cdc")


def manage(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"demo: manage.py {' '.join(args)} failed:\n{result.stderr.strip()}")
    return result.stdout


def web_ready() -> bool:
    return requests.get(f"http://127.0.0.1:{WEB_PORT}/accounts/login/", timeout=2).status_code == 200


def report_counts(stack: Stack, stop: threading.Event) -> None:
    """Every 10 s, one line with the document count of each synced collection."""
    client = pymongo.MongoClient(stack.mongodb_uri, serverSelectionTimeoutMS=2000)
    database = client[os.environ.get("MONGODB_DATABASE", "salesforce")]
    while not stop.wait(10):
        try:
            counts = {name: database[name].estimated_document_count()
                      for name in sorted(database.list_collection_names())}
            print("demo: MongoDB now holds " + ", ".join(f"{n} {c}" for n, c in counts.items()), flush=True)
        except pymongo.errors.PyMongoError:
            pass


def main() -> int:
    config = StackConfig.from_env(root=Path(os.environ.get("DEVSTACK_ROOT", ROOT / ".devstack")))
    stack = Stack(config)
    try:
        stack.start()
    except ServiceStartError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    try:
        env = {**os.environ, **stack.connection_env()}
        manage("migrate", "--noinput", env=env)
        print(manage("setupsync", "--capture", CAPTURE, "--relays", "/event/Order_Update__e", env=env).strip(),
              flush=True)
        login = manage("ensureadmin", "--password-file", str(config.root / "admin-password"), env=env).strip()
        stack.add_process(
            "web",
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(WEB_PORT), "syncsite.asgi:application"],
            env=env, ready=web_ready, cwd=ROOT,
        )
        stack.add_process("runconsumers", [sys.executable, "manage.py", "runconsumers"], env=env, cwd=ROOT)
        stack.add_process(
            "churn",
            [sys.executable, "-m", "sfemulator", "churn", "--url", stack.salesforce_url,
             "--ca", str(stack.salesforce_ca), "--rate", CHURN_RATE, "--delete-share", DELETE_SHARE],
            env=env, cwd=ROOT,
        )
        stack.add_process(
            "story",
            [sys.executable, "-m", "devstack.story", "--mongodb-uri", stack.mongodb_uri,
             "--database", env.get("MONGODB_DATABASE", "salesforce"),
             "--url", stack.salesforce_url, "--ca", str(stack.salesforce_ca)],
            env=env, cwd=ROOT,
        )
        print(
            f"\n  Console:  http://127.0.0.1:{WEB_PORT}/   ({login})\n"
            f"  Admin:    http://127.0.0.1:{WEB_PORT}/admin/\n"
            f"  Logs:     {config.log_dir}/ (runconsumers.log, web.log, churn.log, story.log, ...)\n"
            f"  Salesforce emulator {stack.salesforce_url}: its users make {CHURN_RATE} changes a second;\n"
            "  MongoDB is edited every 30 s, with a conflict every minute and a refused edit every 5 minutes.\n"
            "  Ctrl-C stops everything.\n",
            flush=True,
        )
        stop = threading.Event()
        threading.Thread(target=report_counts, args=(stack, stop), daemon=True).start()
        code = stack.wait()
        stop.set()
        return code
    except ServiceStartError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
