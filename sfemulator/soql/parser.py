"""Recursive-descent SOQL parser.

Grammar (subset)::

    query     := SELECT select FROM ident [WHERE cond] [ORDER BY order (, order)*]
                 [LIMIT int] [OFFSET int]
    select    := COUNT '(' ')' | path (, path)*
    cond      := unary ((AND unary)* | (OR unary)*)      -- mixing AND/OR needs parens, as in SOQL
    unary     := NOT unary | '(' cond ')' | predicate
    predicate := path (op value | [NOT] IN '(' value (, value)* ')' | LIKE string)
    value     := string | number | date | datetime | TRUE | FALSE | NULL | DATE_LITERAL[:n]
"""
from __future__ import annotations

from . import ast
from .lexer import Token, error_at, tokenize

_CLAUSE_WORDS = {"FROM", "WHERE", "ORDER", "LIMIT", "OFFSET", "GROUP", "HAVING", "WITH", "FOR", "USING"}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    # -- token helpers -------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        t = self.tokens[self.i]
        if t.kind != "EOF":
            self.i += 1
        return t

    def at_word(self, *words: str) -> bool:
        return self.tok.kind == "IDENT" and self.tok.value.upper() in words

    def fail(self, tok: Token | None = None, message: str | None = None):
        t = tok or self.tok
        raise error_at(self.text, t.pos, "MALFORMED_QUERY", message or f"unexpected token: {t.value}")

    def expect_word(self, word: str) -> Token:
        if not self.at_word(word):
            self.fail()
        return self.advance()

    def expect(self, kind: str) -> Token:
        if self.tok.kind != kind:
            self.fail()
        return self.advance()

    # -- grammar -------------------------------------------------------------
    def query(self) -> ast.Query:
        self.expect_word("SELECT")
        fields: list[ast.FieldPath] = []
        count_only = False
        if self.at_word("COUNT") and self.tokens[self.i + 1].kind == "LPAREN":
            self.advance()
            self.advance()
            if self.tok.kind != "RPAREN":
                self.fail(message="Only COUNT() is supported by the emulator (no aggregate functions)")
            self.advance()
            count_only = True
        else:
            fields.append(self.path())
            while self.tok.kind == "COMMA":
                self.advance()
                fields.append(self.path())
        self.expect_word("FROM")
        if self.tok.kind != "IDENT":
            self.fail()
        sobj = self.advance()
        q = ast.Query(sobject=sobj.value, sobject_pos=sobj.pos, fields=fields,
                      count_only=count_only, text=self.text)
        if self.at_word("WHERE"):
            self.advance()
            q.where = self.condition()
        if self.at_word("ORDER"):
            self.advance()
            self.expect_word("BY")
            q.order_by.append(self.order_item())
            while self.tok.kind == "COMMA":
                self.advance()
                q.order_by.append(self.order_item())
        if self.at_word("LIMIT"):
            self.advance()
            q.limit = self.integer()
        if self.at_word("OFFSET"):
            self.advance()
            q.offset = self.integer()
        if self.tok.kind != "EOF":
            self.fail()
        return q

    def integer(self) -> int:
        t = self.tok
        if t.kind != "NUMBER" or not t.value.isdigit():
            self.fail()
        self.advance()
        return int(t.value)

    def path(self) -> ast.FieldPath:
        t = self.tok
        if t.kind != "IDENT" or t.value.upper() in _CLAUSE_WORDS:
            self.fail()
        parts = [self.advance().value]
        while self.tok.kind == "DOT":
            self.advance()
            if self.tok.kind != "IDENT":
                self.fail()
            parts.append(self.advance().value)
        return ast.FieldPath(tuple(parts), t.pos)

    def order_item(self) -> ast.OrderItem:
        p = self.path()
        desc = False
        nulls_last = None
        if self.at_word("ASC", "DESC"):
            desc = self.advance().value.upper() == "DESC"
        if self.at_word("NULLS"):
            self.advance()
            if not self.at_word("FIRST", "LAST"):
                self.fail()
            nulls_last = self.advance().value.upper() == "LAST"
        return ast.OrderItem(p, desc, nulls_last)

    def condition(self) -> ast.Expr:
        first = self.unary()
        if not self.at_word("AND", "OR"):
            return first
        op = self.tok.value.upper()
        items = [first]
        while self.at_word("AND", "OR"):
            if self.tok.value.upper() != op:
                self.fail()  # SOQL rejects "a AND b OR c" without parentheses
            self.advance()
            items.append(self.unary())
        return ast.BoolOp(op, tuple(items))

    def unary(self) -> ast.Expr:
        if self.at_word("NOT"):
            self.advance()
            return ast.Not(self.unary())
        if self.tok.kind == "LPAREN":
            self.advance()
            inner = self.condition()
            self.expect("RPAREN")
            return inner
        return self.predicate()

    def predicate(self) -> ast.Comparison:
        p = self.path()
        t = self.tok
        if t.kind == "OP":
            self.advance()
            op = "!=" if t.value == "<>" else t.value
            return ast.Comparison(p, op, self.value(), t.pos)
        if self.at_word("LIKE"):
            self.advance()
            return ast.Comparison(p, "LIKE", self.value(), t.pos)
        negate = False
        if self.at_word("NOT"):
            self.advance()
            negate = True
        if self.at_word("IN"):
            self.advance()
            self.expect("LPAREN")
            values = [self.value()]
            while self.tok.kind == "COMMA":
                self.advance()
                values.append(self.value())
            self.expect("RPAREN")
            return ast.Comparison(p, "NOTIN" if negate else "IN", tuple(values), t.pos)
        self.fail()

    def value(self) -> ast.Literal:
        t = self.tok
        if t.kind == "STRING":
            self.advance()
            return ast.Literal("string", t.value, t.pos, t.raw)
        if t.kind == "NUMBER":
            self.advance()
            num = float(t.value) if "." in t.value else int(t.value)
            return ast.Literal("number", num, t.pos, t.value)
        if t.kind in ("DATE", "DATETIME"):
            self.advance()
            return ast.Literal(t.kind.lower(), t.value, t.pos, t.value)
        if t.kind == "IDENT":
            word = t.value.upper()
            if word in ("TRUE", "FALSE"):
                self.advance()
                return ast.Literal("boolean", word == "TRUE", t.pos, t.value)
            if word == "NULL":
                self.advance()
                return ast.Literal("null", None, t.pos, t.value)
            self.advance()
            n = None
            if self.tok.kind == "COLON":
                self.advance()
                n = self.integer()
            return ast.Literal("dateliteral", (word, n), t.pos, t.value)
        self.fail()


def parse(text: str) -> ast.Query:
    """Parse SOQL text; raises ApiError(MALFORMED_QUERY) with position info."""
    return _Parser(text).query()
