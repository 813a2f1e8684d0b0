"""SOQL tokenizer: turns query text into positioned tokens."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ApiError

# Only used to recognise the shape of single literal tokens; structure is parsed by hand.
_DATETIME_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}(?![\dT])")
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_STRING_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_OPERATORS = ("!=", "<>", "<=", ">=", "=", "<", ">")
_PUNCT = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA", ".": "DOT", ":": "COLON"}


@dataclass(frozen=True)
class Token:
    """``kind`` is IDENT, STRING, NUMBER, DATE, DATETIME, OP, LPAREN, RPAREN, COMMA, DOT, COLON or EOF.

    For STRING, ``value`` is unescaped text and ``raw`` keeps LIKE escapes (\\% \\_).
    """

    kind: str
    value: str
    pos: int
    raw: str = ""

    def upper(self) -> str:
        return self.value.upper() if self.kind == "IDENT" else ""


def error_at(text: str, pos: int, code: str, message: str) -> ApiError:
    """Salesforce's query error layout: the query line, a caret, row/column, message."""
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line = text[line_start: line_end if line_end >= 0 else len(text)]
    row = text.count("\n", 0, pos) + 1
    col = pos - line_start + 1
    return ApiError(400, code, f"\n{line}\n{' ' * (col - 1)}^\nERROR at Row:{row}:Column:{col}\n{message}")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "'":
            tok, i = _read_string(text, i)
            tokens.append(tok)
            continue
        if ch.isdigit() or (ch in "+-." and i + 1 < n and text[i + 1].isdigit()
                            and (not tokens or tokens[-1].kind in ("OP", "LPAREN", "COMMA"))):
            tok = _read_number_or_date(text, i)
            tokens.append(tok)
            i += len(tok.raw)
            continue
        if ch.isalpha() or ch == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            tokens.append(Token("IDENT", text[i:j], i, text[i:j]))
            i = j
            continue
        op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
        if op:
            tokens.append(Token("OP", op, i, op))
            i += len(op)
            continue
        if ch in _PUNCT:
            tokens.append(Token(_PUNCT[ch], ch, i, ch))
            i += 1
            continue
        raise error_at(text, i, "MALFORMED_QUERY", f"unexpected token: {ch}")
    tokens.append(Token("EOF", "<EOF>", n))
    return tokens


def _read_string(text: str, start: int) -> tuple[Token, int]:
    out, raw = [], []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text):
                break
            nxt = text[i + 1]
            if nxt in _STRING_ESCAPES:
                out.append(_STRING_ESCAPES[nxt])
                raw.append("\\\\" if nxt == "\\" else _STRING_ESCAPES[nxt])
            elif nxt in "%_":
                out.append("\\" + nxt)  # only meaningful to LIKE; kept verbatim elsewhere
                raw.append("\\" + nxt)
            else:
                raise error_at(text, i, "MALFORMED_QUERY",
                               f"Invalid string literal '{text[start:i + 2]}'. Illegal character sequence "
                               f"'\\{nxt}' in string literal.")
            i += 2
            continue
        if ch == "'":
            return Token("STRING", "".join(out), start, "".join(raw)), i + 1
        out.append(ch)
        raw.append(ch)
        i += 1
    raise error_at(text, start, "MALFORMED_QUERY", f"unexpected token: {text[start:start + 20]}")


def _read_number_or_date(text: str, i: int) -> Token:
    m = _DATETIME_RE.match(text, i)
    if m:
        return Token("DATETIME", m.group(), i, m.group())
    m = _DATE_RE.match(text, i)
    if m:
        return Token("DATE", m.group(), i, m.group())
    sign = text[i] if text[i] in "+-" else ""
    m = _NUMBER_RE.match(text, i + len(sign))
    if not m:
        raise error_at(text, i, "MALFORMED_QUERY", f"unexpected token: {text[i]}")
    raw = sign + m.group()
    return Token("NUMBER", raw, i, raw)
