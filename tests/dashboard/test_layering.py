"""The web layer (dashboard/ and the project package syncsite/) asks the service layer,
connectors.operations, for everything that reaches MongoDB, Kafka or Salesforce: it imports
no adapter, no driver, and nothing of the sync's insides (engine, workers, wiring)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WEB_PACKAGES = ("dashboard", "syncsite")
#: What the web layer may import of the connectors app: the service layer, the models it
#: shows, the console's roles and the product's version.
ALLOWED = ("connectors.operations", "connectors.models", "connectors.roles", "connectors.version")
#: Client libraries of the systems behind the sync: only the adapters use them.
DRIVERS = ("pymongo", "bson", "confluent_kafka", "simple_salesforce", "grpc", "requests")


def _under(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in packages)


def imported_modules(source: str) -> list[tuple[int, str]]:
    """(line, module) for every absolute import in `source`, at any depth (also inside functions)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from connectors import wiring` imports connectors.wiring.
            names = [f"{node.module}.{a.name}" for a in node.names] if node.module == "connectors" else [node.module]
            found += [(node.lineno, name) for name in names]
    return sorted(found)


def forbidden_imports(source: str, allowed: tuple[str, ...] = ALLOWED) -> list[str]:
    """The imports in `source` that break the rule, as "line: module"."""
    return [f"{line}: {module}" for line, module in imported_modules(source)
            if (_under(module, ("connectors",)) and not _under(module, allowed)) or _under(module, DRIVERS)]


def test_the_web_layer_imports_only_the_service_layer_of_the_connectors():
    broken = {}
    files = [f for package in WEB_PACKAGES for f in sorted((ROOT / package).rglob("*.py"))]
    assert len(files) > 30, "the web layer's files were not found"
    for path in files:
        found = forbidden_imports(path.read_text())
        if found:
            broken[str(path.relative_to(ROOT))] = found
    assert broken == {}


def test_the_admin_imports_no_adapter_or_driver_either():
    """The admin is web code too: besides what the console may import, it edits mappings, so it
    asks connectors.mappings (built from describe, checked, the MongoDB schema) as well."""
    files = sorted((ROOT / "connectors").glob("admin*.py"))
    assert len(files) >= 4, "the admin's files were not found"
    allowed = (*ALLOWED, "connectors.mappings", *(f"connectors.{path.stem}" for path in files))
    broken = {path.name: found for path in files if (found := forbidden_imports(path.read_text(), allowed))}
    assert broken == {}


def test_the_rule_sees_adapters_drivers_and_the_sync_s_insides_at_any_depth():
    source = """
import pymongo.errors
from bson import ObjectId
from connectors import wiring
from connectors.operations import records
from connectors.models import Conflict
def view():
    from connectors.kafka.producer import EventProducer
    from confluent_kafka import KafkaException
from connectors.engine.plan import mongo_values
from connectors.operationsx import y
from . import sibling
"""
    assert forbidden_imports(source) == ["2: pymongo.errors", "3: bson", "4: connectors.wiring",
                                         "8: connectors.kafka.producer", "9: confluent_kafka",
                                         "10: connectors.engine.plan", "11: connectors.operationsx"]
