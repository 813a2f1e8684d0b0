"""SOSL, the simple forms: ``FIND {terms} [IN ALL|NAME|EMAIL|PHONE FIELDS]
[RETURNING Obj[(fields [WHERE …] [ORDER BY …] [LIMIT n])], …] [LIMIT n]``.

Terms match whole words, case-insensitively, in the object's searchable text
fields (``*`` any run of word characters, ``?`` one; ``"a phrase"``); several
terms must all match unless joined by ``OR``.  Each ``RETURNING`` object is
answered by running its field list, ``WHERE``, ``ORDER BY`` and ``LIMIT`` as
SOQL restricted to the matching Ids, so fields, relationships and errors are
exactly SOQL's.  The answer is ``{"searchRecords": [...]}`` (REST API v37+),
objects in ``RETURNING`` order, at most 2,000 records.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from .errors import ApiError
from .schema import OBJECTS, TEXT_TYPES, Field, SObject, get_object
from .store import Store, q

MAX_RESULTS = 2000
_HEAD = re.compile(r"\s*FIND\s*\{((?:[^}\\]|\\.)*)\}(.*)$", re.I | re.S)
_SCOPE = re.compile(r"\s*IN\s+(ALL|NAME|EMAIL|PHONE)\s+FIELDS\b(.*)$", re.I | re.S)
_RETURNING = re.compile(r"\s*RETURNING\b(.*)$", re.I | re.S)
_LIMIT = re.compile(r"\s*LIMIT\s+(\d+)\s*$", re.I)
_CLAUSE = re.compile(r"\b(WHERE|ORDER\s+BY|LIMIT|OFFSET)\b", re.I)

RunSoql = Callable[[str], list[dict]]


def _malformed(message: str) -> ApiError:
    return ApiError(400, "MALFORMED_SEARCH", message)


def _term_patterns(text: str) -> tuple[list[re.Pattern], bool]:
    """(one regex per term, True when any term may match ('OR'))."""
    words = re.findall(r'"[^"]*"|\S+', text.replace("\\", ""))
    any_of = any(w.upper() == "OR" for w in words)
    patterns = []
    for w in words:
        if w.upper() in ("AND", "OR", "NOT"):
            continue
        parts = w.strip('"').split()
        body = r"\W+".join(re.escape(p).replace(r"\*", r"\w*").replace(r"\?", r"\w") for p in parts)
        if body:
            patterns.append(re.compile(rf"(?<!\w){body}(?!\w)", re.I))
    if not patterns or all(len(w.strip('"*?')) < 2 for w in words if w.upper() not in ("AND", "OR", "NOT")):
        raise ApiError(400, "INVALID_SEARCH", "search term must be longer than one character")
    return patterns, any_of


def _searchable(obj: SObject, scope: str) -> list[Field]:
    if scope == "NAME":
        return [f for f in obj.fields if f.name_field or f.name in ("FirstName", "LastName")]
    if scope in ("EMAIL", "PHONE"):
        return [f for f in obj.fields if f.type == scope.lower()]
    return [f for f in obj.fields if f.type in TEXT_TYPES and not f.name.startswith("_")]


def _matching_ids(store: Store, obj: SObject, scope: str, patterns: list[re.Pattern], any_of: bool) -> list[str]:
    fields = _searchable(obj, scope)
    if not fields:
        return []
    cols = ", ".join(q(f.name) for f in fields)
    hits = []
    for row in store.read(f"SELECT Id, {cols} FROM {q(obj.table)} WHERE IsDeleted = 0 ORDER BY Id"):
        values = [v for v in row[1:] if isinstance(v, str)]
        found = [any(p.search(v) for v in values) for p in patterns]
        if any(found) if any_of else all(found):
            hits.append(row[0])
            if len(hits) >= MAX_RESULTS:
                break
    return hits


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _returning(spec: str) -> tuple[str, str, str, str]:
    """``Account(Id, Name WHERE … ORDER BY … LIMIT 5)`` -> (object, fields, where, tail)."""
    m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?", spec, re.S)
    if not m:
        raise _malformed(f"unexpected token in RETURNING: {spec}")
    name, inner = m[1], (m[2] or "Id").strip()
    clause = _CLAUSE.search(inner)
    fields, rest = (inner[:clause.start()], inner[clause.start():]) if clause else (inner, "")
    where, tail = "", rest
    if rest[:5].upper() == "WHERE":
        after = _CLAUSE.search(rest, 5)
        where, tail = (rest[5:after.start()], rest[after.start():]) if after else (rest[5:], "")
    return name, fields.strip() or "Id", where.strip(), tail.strip()


def search(store: Store, text: str | None, run_soql: RunSoql) -> dict:
    """Answer ``/search?q=text``; ``run_soql`` runs one SOQL query and returns its records."""
    m = _HEAD.match(text or "")
    if not m:
        raise _malformed("No search term found. The search term must be enclosed in braces.")
    patterns, any_of = _term_patterns(m[1])
    rest, scope = m[2], "ALL"
    s = _SCOPE.match(rest)
    if s:
        scope, rest = s[1].upper(), s[2]
    limit = MAX_RESULTS
    lim = _LIMIT.search(rest)
    if lim and rest[:lim.start()].count("(") == rest[:lim.start()].count(")"):
        limit, rest = min(MAX_RESULTS, int(lim[1])), rest[:lim.start()]
    r = _RETURNING.match(rest)
    if r:
        specs = [_returning(p) for p in _split_top_level(r[1])]
    elif rest.strip():
        raise _malformed(f"unexpected token: {rest.strip().split()[0]}")
    else:
        specs = [(o.name, "Id", "", "") for o in OBJECTS.values()]
    records: list[dict] = []
    for name, fields, where, tail in specs:
        obj = get_object(name)
        if obj is None:
            raise ApiError(400, "INVALID_TYPE", f"sObject type '{name}' is not supported.")
        matched = _matching_ids(store, obj, scope, patterns, any_of)
        if not matched or len(records) >= limit:
            continue
        id_list = ", ".join(f"'{i}'" for i in matched)
        cond = f"Id IN ({id_list})" + (f" AND ({where})" if where else "")
        records.extend(run_soql(f"SELECT {fields} FROM {obj.name} WHERE {cond} {tail}"))
    return {"searchRecords": records[:limit]}
