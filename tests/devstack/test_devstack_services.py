"""The stack against the real binaries: services answer, ports, stop, PDEATHSIG."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from confluent_kafka import Consumer, Producer
from pymongo import MongoClient

from devstack import ServiceStartError, Stack, StackConfig
from devstack.health import salesforce_ready
from devstack.services import PROJECT_ROOT, sfemulator_available


def test_kafka_produce_and_consume_one_message(running_stack: Stack) -> None:
    topic = f"devstack-test-{uuid.uuid4().hex[:8]}"
    producer = Producer(
        {
            "bootstrap.servers": running_stack.kafka_bootstrap,
            "enable.idempotence": True,
            "acks": "all",
        }
    )
    producer.produce(topic, key=b"k", value=b"hello devstack")
    assert producer.flush(15) == 0, "message not delivered within 15 s"

    consumer = Consumer(
        {
            "bootstrap.servers": running_stack.kafka_bootstrap,
            "group.id": f"g-{topic}",
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
        }
    )
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 30
        received = None
        while received is None and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                received = msg
    finally:
        consumer.close()
    assert received is not None, "no message consumed within 30 s"
    assert received.value() == b"hello devstack"


def test_mongo_insert_and_find_one_document(running_stack: Stack) -> None:
    client: MongoClient = MongoClient(running_stack.mongodb_uri, serverSelectionTimeoutMS=5000)
    try:
        coll = client["devstack_test"]["things"]
        marker = uuid.uuid4().hex
        coll.insert_one({"marker": marker, "n": 1})
        assert coll.find_one({"marker": marker}, {"_id": 0}) == {"marker": marker, "n": 1}
    finally:
        client.close()


def test_layout_under_root(running_stack: Stack) -> None:
    root = running_stack.config.root
    assert (root / "logs" / "kafka.log").is_file()
    assert (root / "logs" / "mongo.log").is_file()
    assert (root / "mongo").is_dir() and (root / "kafka").is_dir()
    assert running_stack.kafka_bootstrap == f"127.0.0.1:{running_stack.config.kafka_port}"
    assert running_stack.mongodb_uri == f"mongodb://127.0.0.1:{running_stack.config.mongo_port}"


def test_cli_check_reports_running_services(running_stack: Stack) -> None:
    cfg = running_stack.config
    env = {
        **os.environ,
        "DEVSTACK_ROOT": str(cfg.root),
        "DEVSTACK_KAFKA_PORT": str(cfg.kafka_port),
        "DEVSTACK_MONGO_PORT": str(cfg.mongo_port),
        "DEVSTACK_SERVICES": "kafka,mongo",
    }
    result = subprocess.run(
        [sys.executable, "-m", "devstack", "check"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" ok") == 2


_NEEDS_EMULATOR = pytest.mark.skipif(
    not sfemulator_available(),
    reason="sfemulator/__main__.py not found: the emulator package is not in the project yet",
)


@pytest.mark.parametrize(
    "service", ["kafka", "mongo", pytest.param("salesforce", marks=_NEEDS_EMULATOR)]
)
def test_port_already_taken_names_service_and_port(
    tmp_path: Path, stack_config: Callable[..., StackConfig], service: str
) -> None:
    # All services configured, so "nothing spawned" also covers the free ones.
    extra = ("salesforce",) if service == "salesforce" else ()
    cfg = stack_config(services=("kafka", "mongo", *extra))
    port = cfg.port(service)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        with pytest.raises(ServiceStartError) as info:
            Stack(cfg, echo=None).start()
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{service}: port {port} on 127.0.0.1 is already in use")
    assert f"DEVSTACK_{service.upper()}_PORT" in message
    assert not (tmp_path / "logs").exists(), "nothing may be spawned when a port is taken"


def test_stop_leaves_no_child_process(stack_config: Callable[..., StackConfig]) -> None:
    stack = Stack(stack_config(), echo=None)
    stack.start()
    pids = [p.pid for p in stack.processes.values()]
    tree = [psutil.Process(pid) for pid in pids]
    tree += [c for p in list(tree) for c in p.children(recursive=True)]
    assert len(pids) == 2
    stack.stop()
    stack.stop()  # idempotent
    still_alive = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert still_alive == []
    mine = {c.pid for c in psutil.Process().children(recursive=True)}
    assert not mine & {p.pid for p in tree}


_ORPHAN_SCRIPT = """
import json, sys
from collections.abc import Callable
from pathlib import Path
from devstack import Stack, StackConfig, free_port
stack = Stack(StackConfig(root=Path(sys.argv[1]), kafka_port=free_port(), mongo_port=free_port(),
                          services=("kafka", "mongo")), echo=None)
stack.start()
print(json.dumps([p.pid for p in stack.processes.values()]), flush=True)
sys.stdin.read()  # block until the test kills us
"""


def test_sigkilled_parent_leaves_no_orphans(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN_SCRIPT, str(tmp_path)],
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = parent.stdout.readline() if parent.stdout else ""  # blocks until started
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
    assert line, "helper process did not start its stack"
    children = [psutil.Process(pid) for pid in json.loads(line)]
    assert len(children) == 2
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], f"orphans left behind: {alive}"


@_NEEDS_EMULATOR
def test_salesforce_emulator_starts_and_answers(
    tmp_path: Path, stack_config: Callable[..., StackConfig]
) -> None:
    cfg = stack_config(services=("salesforce",), seed_accounts=20)
    with Stack(cfg, echo=None) as stack:
        assert stack.salesforce_url == f"https://127.0.0.1:{cfg.salesforce_port}"
        assert stack.salesforce_ca == tmp_path / "salesforce" / "tls" / "ca.pem"
        assert stack.salesforce_ca.is_file()
        assert salesforce_ready(stack.salesforce_url, stack.salesforce_ca)
    # Only this stack's emulator (its data dir is unique to the test) must be gone;
    # other stacks of the session may run emulators of their own.
    assert not any(
        p.is_running()
        for p in psutil.Process().children(recursive=True)
        if "sfemulator" in " ".join(p.cmdline()) and str(tmp_path) in " ".join(p.cmdline())
    )


def test_cli_up_runs_until_ctrl_c(stack_config: Callable[..., StackConfig]) -> None:
    cfg = stack_config()
    env = {
        **os.environ,
        "DEVSTACK_ROOT": str(cfg.root),
        "DEVSTACK_KAFKA_PORT": str(cfg.kafka_port),
        "DEVSTACK_SERVICES": "kafka",
    }
    up = subprocess.Popen(
        [sys.executable, "-m", "devstack", "up"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert up.stdout is not None
        banner = [up.stdout.readline() for _ in range(2)]  # blocks until started
        assert banner[0].split() == ["kafka", "bootstrap", f"127.0.0.1:{cfg.kafka_port}"]
        assert "press Ctrl-C to stop" in banner[1]
        up.send_signal(signal.SIGINT)
        _, stderr = up.communicate(timeout=20)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
    assert up.returncode == 0, stderr
    assert "stopped kafka" in stderr
