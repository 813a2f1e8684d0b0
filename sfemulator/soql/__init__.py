"""SOQL: tokenizer, recursive-descent parser and SQL compiler.

``parse(text) -> ast.Query``; ``compile_query(query, ...) -> CompiledQuery``.
Errors raise :class:`sfemulator.errors.ApiError` (MALFORMED_QUERY,
INVALID_FIELD, INVALID_TYPE, ...) with Salesforce's caret-style messages.
"""
from __future__ import annotations

from .columns import column_metadata
from .compiler import CompiledQuery, compile_query
from .parser import parse

__all__ = ["CompiledQuery", "column_metadata", "compile_query", "parse"]
