"""Validation rules: the org's current rule set and its evaluation.

Rules are data (:class:`sfemulator.schema.ValidationRule`); the org starts
with :data:`sfemulator.schema.VALIDATION_RULES` and rules can be added or
removed at runtime (``/_emulator/validation-rules``).  The current set is
persisted in the store's ``meta`` table so it survives restarts.

Evaluation happens on the record as it would be saved (stored values after
the write is merged), after system validation and before uniqueness — the
order of execution of a real org (system validation, custom validation
rules, then the database's unique indexes).
"""
from __future__ import annotations

import json
import operator
import threading
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from .errors import ApiError
from .schema import RULE_OPERATORS, VALIDATION_RULES, SObject, ValidationRule, get_object
from .store import Store
from .validation import coerce

_META_KEY = "validation_rules"
_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
            "=": operator.eq, "!=": operator.ne}


def _bad_rule(message: str) -> ApiError:
    return ApiError(400, "INVALID_INPUT", message)


def make_rule(spec: Any) -> ValidationRule:
    """Validate an admin-API rule definition; values are normalised to stored form."""
    if not isinstance(spec, Mapping):
        raise _bad_rule("rule must be a JSON object")
    missing = [k for k in ("name", "object", "field", "operator") if not spec.get(k)]
    if missing:
        raise _bad_rule(f"rule is missing: {', '.join(missing)}")
    obj = get_object(str(spec["object"]))
    if obj is None:
        raise _bad_rule(f"unknown object: {spec['object']}")
    f = obj.field(str(spec["field"]))
    if f is None:
        raise _bad_rule(f"unknown field {spec['field']} on {obj.name}")
    op = spec["operator"]
    if op not in RULE_OPERATORS:
        raise _bad_rule(f"operator must be one of {', '.join(RULE_OPERATORS)}")
    value = spec.get("value")
    if op not in ("is_null", "not_null"):
        if value is None:
            raise _bad_rule(f"operator {op} needs a value")
        value = coerce(f, value)
    message = str(spec.get("message") or f"{f.label} is invalid ({spec['name']}).")
    return ValidationRule(str(spec["name"]), obj.name, f.name, op, value, message)


def holds(rule: ValidationRule, row: Mapping[str, Any]) -> bool:
    """True when the rule's error condition holds for ``row`` (null never compares)."""
    current = row.get(rule.field)
    if rule.operator == "is_null":
        return current is None or current == ""
    if rule.operator == "not_null":
        return not (current is None or current == "")
    if current is None:
        return False
    try:
        return bool(_COMPARE[rule.operator](current, rule.value))
    except TypeError:
        return False


class RuleBook:
    """The org's validation rules (thread-safe; runtime changes are persisted)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        saved = store.get_meta(_META_KEY)
        rules = [ValidationRule(**r) for r in json.loads(saved)] if saved else list(VALIDATION_RULES)
        self._rules: dict[str, ValidationRule] = {r.name: r for r in rules}

    def all(self) -> list[ValidationRule]:
        with self._lock:
            return list(self._rules.values())

    def add(self, rule: ValidationRule) -> None:
        """Add or replace (same name) a rule."""
        with self._lock:
            self._rules[rule.name] = rule
            self._persist()

    def remove(self, name: str) -> bool:
        with self._lock:
            found = self._rules.pop(name, None) is not None
            if found:
                self._persist()
            return found

    def check(self, obj: SObject, row: Mapping[str, Any]) -> None:
        """Raise FIELD_CUSTOM_VALIDATION_EXCEPTION for the first rule whose condition holds."""
        for rule in self.all():
            if rule.object == obj.name and holds(rule, row):
                raise ApiError(400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", rule.message, [rule.field])

    def _persist(self) -> None:
        self.store.set_meta(_META_KEY, json.dumps([asdict(r) for r in self._rules.values()]))


def rule_json(rule: ValidationRule) -> dict:
    return asdict(rule)
