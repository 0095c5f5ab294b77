"""Parsing the OData system query options the Web API accepts, into SQL for the sandbox.

Covers ``$select``, ``$filter`` (comparison, ``and``/``or``/``not``, ``contains``,
``startswith``, ``endswith``, ``null``, single-valued navigation paths), ``$orderby``, ``$top``,
``$expand`` with nested options, ``$count`` and ``$apply`` (``filter``, ``groupby``,
``aggregate``). Literals become SQL parameters; identifiers are checked against the table's
metadata, so no request text reaches SQL except as a bound value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from w365tui.sandbox.errors import bad_request
from w365tui.sandbox.schema import (
    BIGINT,
    BOOLEAN,
    DATETIME,
    DECIMAL,
    INTEGER,
    LOOKUP,
    MONEY,
    PICKLIST,
    STATE,
    STATUS,
    UNIQUEIDENTIFIER,
    Attribute,
    Entity,
)
from w365tui.sandbox.store import fold

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-]))
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\w:]))
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDfFlL]?(?![\w]))
  | (?P<ident>[A-Za-z_$][A-Za-z0-9_.]*)
  | (?P<punct>[(),/])
    """,
    re.VERBOSE,
)

_COMPARISONS = {"eq": "=", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_FUNCTIONS = {"contains": "dv_contains", "startswith": "dv_startswith", "endswith": "dv_endswith"}
_NUMERIC = {INTEGER, BIGINT, DECIMAL, MONEY, PICKLIST, STATE, STATUS}
_AGGREGATES = {"sum": "SUM", "min": "MIN", "max": "MAX", "average": "AVG", "countdistinct": "COUNT(DISTINCT"}


@dataclass
class Token:
    kind: str
    text: str
    pos: int


def _type_name(entity: Entity) -> str:
    return f"Microsoft.Dynamics.CRM.{entity.logical_name}"


def no_property(entity: Entity, name: str):
    return bad_request(f"Could not find a property named '{name}' on type '{_type_name(entity)}'.")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise bad_request(f"Syntax error at position {pos} in '{text}'.")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    return tokens


@dataclass
class Literal:
    kind: str  # string guid datetime date number bool null
    value: Any
    edm: str


@dataclass
class PropertyRef:
    attribute: Attribute
    sql: str  # column expression


class _FilterParser:
    """Recursive descent over the token list, emitting SQL with ``?`` parameters."""

    def __init__(self, entity: Entity, text: str, alias: str):
        self.entity = entity
        self.text = text
        self.alias = alias
        self.tokens = tokenize(text)
        self.index = 0
        self.params: list[Any] = []

    # -- token helpers ----------------------------------------------------------------------
    def peek(self, offset: int = 0) -> Token | None:
        i = self.index + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise bad_request(f"Syntax error: unexpected end of expression in '{self.text}'.")
        self.index += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise bad_request(
                f"Syntax error at position {token.pos} in '{self.text}': expected '{text}'."
            )

    def at_keyword(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "ident" and token.text == word

    # -- grammar ----------------------------------------------------------------------------
    def parse(self) -> str:
        if not self.tokens:
            raise bad_request("The $filter expression is empty.")
        sql = self.or_expr()
        if self.peek() is not None:
            token = self.peek()
            assert token is not None
            raise bad_request(f"Syntax error at position {token.pos} in '{self.text}'.")
        return sql

    def or_expr(self) -> str:
        parts = [self.and_expr()]
        while self.at_keyword("or"):
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def and_expr(self) -> str:
        parts = [self.not_expr()]
        while self.at_keyword("and"):
            self.take()
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def not_expr(self) -> str:
        if self.at_keyword("not"):
            self.take()
            inner = self.not_expr()
            return f"(NOT COALESCE({inner}, 0))"
        return self.comparison()

    def comparison(self) -> str:
        token = self.peek()
        if token is None:
            raise bad_request(f"Syntax error: unexpected end of expression in '{self.text}'.")
        if token.text == "(":
            self.take()
            inner = self.or_expr()
            self.expect(")")
            return inner
        if token.kind == "ident" and token.text in _FUNCTIONS and (self.peek(1) or token).text == "(":
            return self.function()
        left = self.operand()
        op_token = self.peek()
        if op_token is None or op_token.kind != "ident" or op_token.text not in _COMPARISONS:
            if isinstance(left, PropertyRef) and left.attribute.type == BOOLEAN:
                return f"({left.sql} = 1)"
            where = op_token.pos if op_token else len(self.text)
            raise bad_request(f"Syntax error at position {where} in '{self.text}'.")
        self.take()
        right = self.operand()
        return self.compare(left, op_token.text, right)

    def function(self) -> str:
        name = self.take().text
        self.expect("(")
        target = self.operand()
        self.expect(",")
        needle = self.operand()
        self.expect(")")
        if not isinstance(target, PropertyRef) or not target.attribute.is_string:
            raise bad_request(f"The function '{name}' needs a string property as its first argument.")
        if not isinstance(needle, Literal) or needle.kind not in ("string", "null"):
            raise bad_request(f"The function '{name}' needs a string literal as its second argument.")
        self.params.append(needle.value)
        return f"COALESCE({_FUNCTIONS[name]}({target.sql}, ?), 0)"

    def operand(self) -> PropertyRef | Literal:
        token = self.take()
        if token.kind == "string":
            return Literal("string", token.text[1:-1].replace("''", "'"), "Edm.String")
        if token.kind == "guid":
            return Literal("guid", token.text.lower(), "Edm.Guid")
        if token.kind == "datetime":
            return Literal("datetime", _normalise_datetime(token.text, self.text), "Edm.DateTimeOffset")
        if token.kind == "date":
            _check_date(token.text, self.text)
            return Literal("date", token.text, "Edm.Date")
        if token.kind == "number":
            raw = token.text.rstrip("mMdDfFlL")
            value: int | float = float(raw) if any(c in raw for c in ".eE") else int(raw)
            edm = "Edm.Int32" if isinstance(value, int) else "Edm.Decimal"
            return Literal("number", value, edm)
        if token.kind == "ident":
            if token.text in ("true", "false"):
                return Literal("bool", 1 if token.text == "true" else 0, "Edm.Boolean")
            if token.text == "null":
                return Literal("null", None, "null")
            return self.property_path(token)
        raise bad_request(f"Syntax error at position {token.pos} in '{self.text}'.")

    def property_path(self, token: Token) -> PropertyRef:
        name = token.text
        if (self.peek() or token).text == "/":
            self.take()
            prop = self.take()
            nav = self.entity.by_nav.get(name)
            if nav is None:
                raise no_property(self.entity, name)
            target = self.entity.catalog.by_logical[nav.target or ""]
            attr = target.by_web_name.get(prop.text)
            if attr is None:
                raise no_property(target, prop.text)
            sql = (
                f'(SELECT t."{attr.store}" FROM "{target.logical_name}" t '
                f'WHERE t."{target.primary_id}" = {self.alias}."{nav.store}")'
            )
            return PropertyRef(attr, sql)
        attr = self.entity.by_web_name.get(name)
        if attr is None:
            raise no_property(self.entity, name)
        return PropertyRef(attr, f'{self.alias}."{attr.store}"')

    def compare(self, left: PropertyRef | Literal, op: str, right: PropertyRef | Literal) -> str:
        if isinstance(left, Literal) and isinstance(right, PropertyRef):
            flipped = {"gt": "lt", "lt": "gt", "ge": "le", "le": "ge"}.get(op, op)
            return self.compare(right, flipped, left)
        if not isinstance(left, PropertyRef):
            raise bad_request("A comparison needs a property on one side.")
        if isinstance(right, PropertyRef):
            raise bad_request("Comparing two properties is not supported.")
        attr = left.attribute
        if right.kind == "null":
            if op == "eq":
                return f"({left.sql} IS NULL)"
            if op == "ne":
                return f"({left.sql} IS NOT NULL)"
            raise bad_request(f"The operator '{op}' cannot compare with null.")
        value = self.coerce(attr, right, op)
        sql_op = _COMPARISONS[op]
        if attr.is_string:
            self.params.append(fold(value))
            column = f"dv_fold({left.sql})"
            if op == "ne":
                return f"({left.sql} IS NULL OR {column} != ?)"
            return f"({column} {sql_op} ?)"
        self.params.append(value)
        if op == "ne":
            return f"({left.sql} IS NULL OR {left.sql} != ?)"
        return f"({left.sql} {sql_op} ?)"

    def coerce(self, attr: Attribute, literal: Literal, op: str) -> Any:
        def incompatible() -> Exception:
            kind = {"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual",
                    "lt": "LessThan", "le": "LessThanOrEqual"}[op]
            return bad_request(
                "A binary operator with incompatible types was detected. Found operand types "
                f"'{attr.edm}' and '{literal.edm}' for operator kind '{kind}'."
            )

        if attr.is_string:
            if literal.kind != "string":
                raise incompatible()
            return literal.value
        if attr.type in (UNIQUEIDENTIFIER, LOOKUP):
            if literal.kind != "guid":
                raise incompatible()
            return literal.value
        if attr.type == BOOLEAN:
            if literal.kind != "bool":
                raise incompatible()
            return literal.value
        if attr.type in _NUMERIC:
            if literal.kind != "number":
                raise incompatible()
            if attr.type in (INTEGER, PICKLIST, STATE, STATUS, BIGINT) and isinstance(literal.value, float):
                raise incompatible()
            return literal.value
        if attr.type == DATETIME:
            if literal.kind == "date":
                return literal.value if attr.date_only else f"{literal.value}T00:00:00Z"
            if literal.kind == "datetime":
                return literal.value[:10] if attr.date_only else literal.value
            raise incompatible()
        raise incompatible()


def _check_date(text: str, source: str) -> None:
    try:
        date.fromisoformat(text)
    except ValueError:
        raise bad_request(f"The date literal '{text}' in '{source}' is not valid.") from None


def _normalise_datetime(text: str, source: str) -> str:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"The DateTimeOffset literal '{text}' in '{source}' is not valid.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def compile_filter(entity: Entity, text: str, alias: str = "m") -> tuple[str, list[Any]]:
    """``$filter`` text → (SQL boolean expression, parameters)."""
    parser = _FilterParser(entity, text, alias)
    sql = parser.parse()
    return sql, parser.params


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """Split on ``separator`` outside parentheses and quotes."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for i, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth < 0:
                raise bad_request(f"Unbalanced parentheses in '{text}'.")
        elif not quoted and depth == 0 and char == separator:
            parts.append(text[start:i])
            start = i + 1
    if depth != 0 or quoted:
        raise bad_request(f"Unbalanced parentheses or quotes in '{text}'.")
    parts.append(text[start:])
    return [p.strip() for p in parts]


def parse_select(entity: Entity, text: str) -> list[Attribute]:
    attributes: list[Attribute] = []
    for name in split_top_level(text):
        if not name:
            raise bad_request(f"Syntax error in $select '{text}'.")
        attr = entity.by_web_name.get(name)
        if attr is None:
            raise no_property(entity, name)
        if attr not in attributes:
            attributes.append(attr)
    return attributes


def parse_orderby(entity: Entity, text: str, alias: str = "m") -> str:
    clauses: list[str] = []
    for item in split_top_level(text):
        words = item.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise bad_request(f"Syntax error in $orderby '{text}'.")
        attr = entity.by_web_name.get(words[0])
        if attr is None:
            raise no_property(entity, words[0])
        direction = "DESC" if len(words) == 2 and words[1] == "desc" else "ASC"
        collate = " COLLATE NOCASE" if attr.is_string else ""
        clauses.append(f'{alias}."{attr.store}"{collate} {direction}')
    return ", ".join(clauses)


def parse_top(text: str) -> int:
    if not re.fullmatch(r"\d+", text.strip()):
        raise bad_request(f"Invalid value '{text}' for $top query option found. The $top query option requires a non-negative integer value.")
    return int(text)


@dataclass
class ExpandItem:
    name: str
    single: Attribute | None  # lookup for a single-valued navigation property
    collection_entity: Entity | None
    collection_lookup: str | None
    select: list[Attribute] | None = None
    filter: tuple[str, list[Any]] | None = None
    orderby: str | None = None
    top: int | None = None
    target: Entity = field(default=None)  # type: ignore[assignment]


def parse_expand(entity: Entity, text: str) -> list[ExpandItem]:
    items: list[ExpandItem] = []
    for part in split_top_level(text):
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?", part, re.DOTALL)
        if not match:
            raise bad_request(f"Syntax error in $expand '{text}'.")
        name, options = match.group(1), match.group(2)
        if name in entity.by_nav:
            lookup = entity.by_nav[name]
            target = entity.catalog.by_logical[lookup.target or ""]
            item = ExpandItem(name, lookup, None, None, target=target)
        elif name in entity.collections_by_name:
            collection = entity.collections_by_name[name]
            target = entity.catalog.by_logical[collection.entity]
            item = ExpandItem(name, None, target, collection.lookup, target=target)
        else:
            raise no_property(entity, name)
        if options:
            for option in split_top_level(options, ";"):
                key, _, value = option.partition("=")
                key = key.strip()
                if key == "$select":
                    item.select = parse_select(target, value)
                elif key == "$filter" and item.collection_entity is not None:
                    item.filter = compile_filter(target, value, alias="e")
                elif key == "$orderby" and item.collection_entity is not None:
                    item.orderby = parse_orderby(target, value, alias="e")
                elif key == "$top" and item.collection_entity is not None:
                    item.top = parse_top(value)
                else:
                    raise bad_request(f"The query option '{key}' is not supported inside $expand of '{name}'.")
        items.append(item)
    return items


@dataclass
class Aggregate:
    function: str  # sum min max average countdistinct count
    attribute: Attribute | None
    alias: str


@dataclass
class ApplyPlan:
    filter: tuple[str, list[Any]] | None
    groupby: list[Attribute]
    aggregates: list[Aggregate]


def parse_apply(entity: Entity, text: str) -> ApplyPlan:
    plan = ApplyPlan(None, [], [])
    for step in split_top_level(text, "/"):
        match = re.fullmatch(r"(filter|groupby|aggregate)\((.*)\)", step, re.DOTALL)
        if not match:
            raise bad_request(f"Syntax error in $apply '{text}'.")
        kind, body = match.group(1), match.group(2)
        if kind == "filter":
            plan.filter = compile_filter(entity, body)
        elif kind == "groupby":
            args = split_top_level(body)
            columns = args[0]
            if not (columns.startswith("(") and columns.endswith(")")):
                raise bad_request(f"Syntax error in groupby '{body}'.")
            plan.groupby = parse_select(entity, columns[1:-1])
            for extra in args[1:]:
                inner = re.fullmatch(r"aggregate\((.*)\)", extra, re.DOTALL)
                if not inner:
                    raise bad_request(f"Syntax error in groupby '{body}'.")
                plan.aggregates.extend(_parse_aggregates(entity, inner.group(1)))
        else:
            plan.aggregates.extend(_parse_aggregates(entity, body))
    if not plan.groupby and not plan.aggregates:
        raise bad_request(f"Syntax error in $apply '{text}'.")
    return plan


def _parse_aggregates(entity: Entity, body: str) -> list[Aggregate]:
    result: list[Aggregate] = []
    for expression in split_top_level(body):
        count = re.fullmatch(r"\$count\s+as\s+([A-Za-z_][A-Za-z0-9_]*)", expression)
        if count:
            result.append(Aggregate("count", None, count.group(1)))
            continue
        match = re.fullmatch(
            r"([A-Za-z_][A-Za-z0-9_]*)\s+with\s+([a-z]+)\s+as\s+([A-Za-z_][A-Za-z0-9_]*)", expression
        )
        if not match:
            raise bad_request(f"Syntax error in aggregate '{expression}'.")
        attr = entity.by_web_name.get(match.group(1))
        if attr is None:
            raise no_property(entity, match.group(1))
        function = match.group(2)
        if function not in _AGGREGATES:
            raise bad_request(f"The aggregation method '{function}' is not supported.")
        if function in ("sum", "average") and attr.type not in _NUMERIC:
            raise bad_request(f"The aggregation method '{function}' needs a numeric property, not '{attr.web_name}'.")
        result.append(Aggregate(function, attr, match.group(3)))
    return result


def aggregate_sql(aggregate: Aggregate, alias: str = "m") -> str:
    if aggregate.function == "count":
        return "COUNT(*)"
    assert aggregate.attribute is not None
    column = f'{alias}."{aggregate.attribute.store}"'
    if aggregate.function == "countdistinct":
        return f"COUNT(DISTINCT {column})"
    return f"{_AGGREGATES[aggregate.function]}({column})"
