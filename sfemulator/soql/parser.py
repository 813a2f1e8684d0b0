"""Recursive-descent SOQL parser.

Grammar (subset)::

    query     := SELECT item (, item)* FROM ident [WHERE cond] [GROUP BY (path (, path)* | ROLLUP '(' … ')')]
                 [HAVING cond] [ORDER BY order (, order)*] [LIMIT int] [OFFSET int]
    item      := path [alias] | agg [alias] | FIELDS '(' ALL|STANDARD|CUSTOM ')' | '(' query ')'
    agg       := COUNT '(' [path] ')' | (COUNT_DISTINCT|SUM|AVG|MIN|MAX|GROUPING) '(' path ')'
    cond      := unary ((AND unary)* | (OR unary)*)      -- mixing AND/OR needs parens, as in SOQL
    unary     := NOT unary | '(' cond ')' | predicate
    predicate := (path|agg) (op value | [NOT] IN '(' (value (, value)* | query) ')' | LIKE string)
    order     := (path|agg) [ASC|DESC] [NULLS FIRST|LAST]
    value     := string | number | date | datetime | TRUE | FALSE | NULL | DATE_LITERAL[:n]
"""
from __future__ import annotations

from typing import NoReturn

from . import ast
from .lexer import Token, error_at, tokenize

_CLAUSE_WORDS = {"FROM", "WHERE", "ORDER", "LIMIT", "OFFSET", "GROUP", "HAVING", "WITH", "FOR", "USING", "SELECT"}
AGGREGATES = ("COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX", "GROUPING")


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

    def fail(self, tok: Token | None = None, message: str | None = None) -> NoReturn:
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
    def query(self, nested: bool = False) -> ast.Query:
        start = self.expect_word("SELECT")
        items = [self.select_item()]
        while self.tok.kind == "COMMA":
            self.advance()
            items.append(self.select_item())
        self.expect_word("FROM")
        if self.tok.kind != "IDENT":
            self.fail()
        sobj = self.advance()
        q = ast.Query(sobject=sobj.value, sobject_pos=sobj.pos, items=items, text=self.text, pos=start.pos)
        if self.at_word("WHERE"):
            self.advance()
            q.where = self.condition()
        if self.at_word("GROUP"):
            self.advance()
            self.expect_word("BY")
            if self.at_word("ROLLUP") and self.tokens[self.i + 1].kind == "LPAREN":
                self.advance()
                self.advance()
                q.rollup = True
            q.group_by.append(self.path())
            while self.tok.kind == "COMMA":
                self.advance()
                q.group_by.append(self.path())
            if q.rollup:
                self.expect("RPAREN")
        if self.at_word("HAVING"):
            self.advance()
            q.having = self.condition()
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
        if self.tok.kind != ("RPAREN" if nested else "EOF"):
            self.fail()
        return q

    def subquery(self) -> ast.Query:
        """``( SELECT … )`` — the caller is at the opening parenthesis."""
        self.expect("LPAREN")
        inner = self.query(nested=True)
        self.expect("RPAREN")
        return inner

    def select_item(self) -> ast.SelectItem:
        if self.tok.kind == "LPAREN":
            return ast.SelectItem(self.subquery())
        if self.tok.kind == "IDENT" and self.tokens[self.i + 1].kind == "LPAREN":
            if self.at_word("FIELDS"):
                self.advance()
                self.advance()
                if not self.at_word("ALL", "STANDARD", "CUSTOM"):
                    self.fail()
                kind = self.advance()
                self.expect("RPAREN")
                return ast.SelectItem(ast.FieldsMacro(kind.value.upper(), kind.pos))
            expr: ast.FieldPath | ast.Aggregate = self.aggregate()
        else:
            expr = self.path()
        alias = None
        after = self.tokens[self.i + 1]
        # An alias is followed by "," or FROM; otherwise the word is a misspelt keyword.
        if self.tok.kind == "IDENT" and self.tok.value.upper() not in _CLAUSE_WORDS and \
                (after.kind == "COMMA" or after.upper() == "FROM"):
            alias = self.advance().value
        return ast.SelectItem(expr, alias)

    def aggregate(self) -> ast.Aggregate:
        name = self.tok
        if not self.at_word(*AGGREGATES):
            self.fail()
        self.advance()
        self.expect("LPAREN")
        arg = None
        if not (name.value.upper() == "COUNT" and self.tok.kind == "RPAREN"):
            arg = self.path()
        end = self.expect("RPAREN")
        return ast.Aggregate(name.value.upper(), arg, name.pos, self.text[name.pos:end.pos + 1])

    def operand(self) -> ast.FieldPath | ast.Aggregate:
        if self.tok.kind == "IDENT" and self.tokens[self.i + 1].kind == "LPAREN":
            return self.aggregate()
        return self.path()

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
        p = self.operand()
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
        p = self.operand()
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
            if self.tok.kind == "LPAREN" and self.tokens[self.i + 1].upper() == "SELECT":
                return ast.Comparison(p, "NOTIN" if negate else "IN", self.subquery(), t.pos)
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
