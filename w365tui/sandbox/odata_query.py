"""Parsing the OData system query options the Web API accepts, into SQL for the sandbox.

Covers ``$select``, ``$filter`` (comparison, ``and``/``or``/``not``, ``contains``,
``startswith``, ``endswith``, ``null``, single-valued navigation paths), ``$orderby``, ``$top``,
``$expand`` with nested options, ``$count`` and ``$apply`` (``filter``, ``groupby``,
``aggregate``). Literals become SQL parameters; identifiers are checked against the table's
metadata, so no request text reaches SQL except as a bound value.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

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
  | (?P<alias>@[A-Za-z_][A-Za-z0-9_]*)
  | (?P<ident>[A-Za-z_$][A-Za-z0-9_.]*)
  | (?P<punct>[(),/\[\]:=])
    """,
    re.VERBOSE,
)

_COMPARISONS = {"eq": "=", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_FUNCTIONS = {"contains": "dv_contains", "startswith": "dv_startswith", "endswith": "dv_endswith"}
_QUERY_FUNCTIONS = ("In", "NotIn", "Between", "NotBetween")
_NUMERIC = {INTEGER, BIGINT, DECIMAL, MONEY, PICKLIST, STATE, STATUS}
_AGGREGATES = {"sum": "SUM", "min": "MIN", "max": "MAX", "average": "AVG", "countdistinct": "COUNT(DISTINCT"}


@dataclass
class Token:
    kind: str
    text: str
    pos: int


_QUERY_SAFE = "$,()'/:@*"
MAX_FILTER_DEPTH = 64
MAX_FILTER_CONDITIONS = 500
MAX_ORDERBY = 32


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

    def __init__(self, entity: Entity, text: str, alias: str, aliases: dict[str, str] | None = None,
                 tokens: list[Token] | None = None, variable: str | None = None):
        self.entity = entity
        self.text = text
        self.alias = alias
        self.aliases = aliases or {}  # parameter aliases (@p1=…) given beside the $filter
        self.tokens = tokenize(text) if tokens is None else tokens
        self.variable = variable  # a lambda's range variable (l in any(l: l/col eq 1))
        self.index = 0
        self.params: list[Any] = []
        self.depth = 0  # nesting of parentheses and not
        self.conditions = 0

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_FILTER_DEPTH:
            raise bad_request(f"The $filter expression is nested more than {MAX_FILTER_DEPTH} levels deep.")

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
            self.nested()
            inner = self.not_expr()
            self.depth -= 1
            return f"(NOT COALESCE({inner}, 0))"
        self.conditions += 1
        if self.conditions > MAX_FILTER_CONDITIONS:
            raise bad_request(f"The $filter expression holds more than {MAX_FILTER_CONDITIONS} conditions.")
        return self.comparison()

    def comparison(self) -> str:
        token = self.peek()
        if token is None:
            raise bad_request(f"Syntax error: unexpected end of expression in '{self.text}'.")
        if token.text == "(":
            self.take()
            self.nested()
            inner = self.or_expr()
            self.expect(")")
            self.depth -= 1
            return inner
        if token.kind == "ident" and token.text in _FUNCTIONS and (self.peek(1) or token).text == "(":
            return self.function()
        if token.kind == "ident" and token.text.startswith("Microsoft.Dynamics.CRM."):
            return self.query_function()
        if (token.kind == "ident" and token.text in self.entity.collections_by_name
                and (self.peek(1) or token).text == "/"):
            return self.lambda_()
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
        sql = f"COALESCE({_FUNCTIONS[name]}({target.sql}, ?), 0)"
        prefix = needle.value
        if (name == "startswith" and isinstance(prefix, str) and prefix and prefix.isascii()
                and not set(prefix) & set("%_[\\") and target.attribute.logical_name == self.entity.primary_name
                and target.sql == f'{self.alias}."{target.attribute.store}"'):
            # the primary name has a case-blind index: a LIKE on a wildcard-free literal narrows by it
            # (SQLite's LIKE optimisation), and the exact Dataverse comparison decides
            literal = prefix.replace("'", "''")
            sql = f"({target.sql} LIKE '{literal}%' AND {sql})"
        return sql

    def query_function(self) -> str:
        """``Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=['a','b'])`` and its relatives."""
        token = self.take()
        name = token.text.removeprefix("Microsoft.Dynamics.CRM.")
        if name not in _QUERY_FUNCTIONS:
            raise bad_request(f"The query function '{token.text}' is not supported.")
        self.expect("(")
        args: dict[str, Any] = {}
        while (self.peek() or token).text != ")":
            key = self.take()
            if key.kind != "ident":
                raise bad_request(f"Syntax error at position {key.pos} in '{self.text}': expected a parameter name.")
            self.expect("=")
            args[key.text] = self.argument()
            if (self.peek() or token).text == ",":
                self.take()
        self.expect(")")
        if set(args) - {"PropertyName", "PropertyValue", "PropertyValues"} or "PropertyName" not in args:
            raise bad_request(f"The query function '{name}' takes PropertyName and PropertyValue(s).")
        column = args["PropertyName"]
        if not isinstance(column, Literal) or column.kind != "string":
            raise bad_request(f"The PropertyName of '{name}' must be a string naming a column.")
        ref = self.property_path(Token("ident", column.value, token.pos))
        values = args.get("PropertyValues")
        if not isinstance(values, list) or not values:
            raise bad_request(f"The query function '{name}' needs PropertyValues, a non-empty list.")
        coerced = [self.coerce(ref.attribute, v, "eq") for v in values]
        if ref.attribute.is_string:
            coerced = [fold(v) for v in coerced]
            column_sql = f"dv_fold({ref.sql})"
        else:
            column_sql = ref.sql
        if name in ("In", "NotIn"):
            self.params.extend(coerced)
            sql = f"({column_sql} IN ({','.join('?' for _ in coerced)}))"
        else:
            if len(coerced) != 2:
                raise bad_request(f"The query function '{name}' needs two PropertyValues.")
            self.params.extend(coerced)
            sql = f"({column_sql} BETWEEN ? AND ?)"
        return f"(NOT COALESCE({sql}, 0))" if name.startswith("Not") else f"COALESCE({sql}, 0)"

    def argument(self) -> Any:
        """A query function's argument: a literal, an alias, or a [list] of them."""
        if (self.peek() or Token("", "", 0)).text == "[":
            self.take()
            items: list[Literal] = []
            while (self.peek() or Token("", "]", 0)).text != "]":
                item = self.operand()
                if not isinstance(item, Literal):
                    raise bad_request("A list of property values holds literals only.")
                items.append(item)
                if (self.peek() or Token("", "", 0)).text == ",":
                    self.take()
            self.expect("]")
            return items
        value = self.operand()
        if isinstance(value, Literal) and value.kind == "list":
            return value.value
        return value

    def lambda_(self) -> str:
        """``nav/any(x: x/col eq 1)``, ``nav/all(x: …)`` and ``nav/any()`` over related rows."""
        collection = self.entity.collections_by_name[self.take().text]
        self.expect("/")
        operator = self.take()
        if operator.text not in ("any", "all"):
            raise bad_request(f"Syntax error at position {operator.pos} in '{self.text}': expected any or all.")
        self.expect("(")
        target = self.entity.catalog.by_logical[collection.entity]
        alias = f"l{self.depth}_{self.index}"
        link = f'{alias}."{collection.lookup}" = {self.alias}."{self.entity.primary_id}"'
        if (self.peek() or operator).text == ")":
            self.take()
            if operator.text == "all":
                raise bad_request("all() needs a condition.")
            return f'EXISTS (SELECT 1 FROM "{target.logical_name}" {alias} WHERE {link})'
        variable = self.take()
        if variable.kind != "ident":
            raise bad_request(f"Syntax error at position {variable.pos} in '{self.text}': expected a variable name.")
        self.expect(":")
        self.nested()
        inner = _FilterParser(target, self.text, alias, self.aliases, self.tokens, variable.text)
        inner.index, inner.depth, inner.conditions = self.index, self.depth, self.conditions
        condition = inner.or_expr()
        self.index, self.conditions = inner.index, inner.conditions
        self.params.extend(inner.params)
        self.depth -= 1
        self.expect(")")
        if operator.text == "any":
            return f'EXISTS (SELECT 1 FROM "{target.logical_name}" {alias} WHERE {link} AND COALESCE({condition}, 0))'
        return f'NOT EXISTS (SELECT 1 FROM "{target.logical_name}" {alias} WHERE {link} AND NOT COALESCE({condition}, 0))'

    def operand(self) -> PropertyRef | Literal:
        token = self.take()
        if token.kind == "alias":
            return self.aliased(token)
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
            if isinstance(value, int) and not -(2**63) <= value < 2**63:
                raise bad_request(f"The number literal '{token.text}' in '{self.text}' is out of range for Edm.Int64.")
            if isinstance(value, float) and not math.isfinite(value):
                raise bad_request(f"The number literal '{token.text}' in '{self.text}' is out of range for Edm.Double.")
            edm = "Edm.Int32" if isinstance(value, int) else "Edm.Decimal"
            return Literal("number", value, edm)
        if token.kind == "ident":
            if token.text in ("true", "false"):
                return Literal("bool", 1 if token.text == "true" else 0, "Edm.Boolean")
            if token.text == "null":
                return Literal("null", None, "null")
            return self.property_path(token)
        raise bad_request(f"Syntax error at position {token.pos} in '{self.text}'.")

    def aliased(self, token: Token) -> Literal:
        """A parameter alias's value: one literal, or a [list] of literals."""
        if token.text not in self.aliases:
            raise bad_request(f"The parameter alias '{token.text}' has no value in the query.")
        value = self.aliases[token.text]
        sub = _FilterParser(self.entity, value, self.alias)
        if sub.peek() is not None and sub.peek().text == "[":  # type: ignore[union-attr]
            items = sub.argument()
            literal = Literal("list", items, "Collection")
        else:
            literal = sub.operand()  # type: ignore[assignment]
        if sub.peek() is not None or not isinstance(literal, Literal):
            raise bad_request(f"The value of the parameter alias '{token.text}' must be a literal.")
        return literal

    def property_path(self, token: Token) -> PropertyRef:
        name = token.text
        if self.variable is not None:  # inside a lambda every property is the range variable's
            if name != self.variable or (self.peek() or token).text != "/":
                raise bad_request(f"Inside the lambda, name properties through '{self.variable}/'.")
            self.take()
            token = self.take()
            name = token.text
            attr = self.entity.by_web_name.get(name)
            if attr is None:
                raise no_property(self.entity, name)
            return PropertyRef(attr, f'{self.alias}."{attr.store}"')
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


def compile_filter(entity: Entity, text: str, alias: str = "m",
                   aliases: dict[str, str] | None = None) -> tuple[str, list[Any]]:
    """``$filter`` text → (SQL boolean expression, parameters); ``aliases`` are the query's
    parameter aliases (``@p1=…``)."""
    parser = _FilterParser(entity, text, alias, aliases)
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
    items = split_top_level(text)
    if len(items) > MAX_ORDERBY:
        raise bad_request(f"The $orderby option names more than {MAX_ORDERBY} columns.")
    for item in items:
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
    if not re.fullmatch(r"[0-9]{1,18}", text.strip()):  # ASCII digits only, as OData's grammar has them
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
    query: str = ""  # the expand's $select/$filter/$orderby as a query string, for its next link


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
            kept = []
            for option in split_top_level(options, ";"):
                key, _, value = option.partition("=")
                key = key.strip()
                if key in ("$select", "$filter", "$orderby"):
                    kept.append(f"{key}={quote(value.strip(), safe=_QUERY_SAFE)}")
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
            item.query = "&".join(kept)
        items.append(item)
    return items


@dataclass
class Aggregate:
    function: str  # sum min max average countdistinct count
    attribute: Attribute | None
    alias: str


@dataclass
class GroupColumn:
    """A groupby column: one of the entity's, or a related table's through a lookup (``nav/col``)."""

    attribute: Attribute
    sql: str
    nav: str | None = None
    join: str | None = None  # the LEFT JOIN a related table's column is read through


@dataclass
class ApplyPlan:
    filter: tuple[str, list[Any]] | None
    groupby: list[GroupColumn]
    aggregates: list[Aggregate]


def _group_columns(entity: Entity, text: str) -> list[GroupColumn]:
    columns = []
    for item in split_top_level(text):
        name = item.strip()
        if "/" in name:
            nav_name, _, prop = name.partition("/")
            nav = entity.by_nav.get(nav_name.strip())
            if nav is None:
                raise no_property(entity, nav_name.strip())
            target = entity.catalog.by_logical[nav.target or ""]
            attr = target.by_web_name.get(prop.strip())
            if attr is None:
                raise no_property(target, prop.strip())
            alias = f'j_{nav.store}'
            join = f'LEFT JOIN "{target.logical_name}" "{alias}" ON "{alias}"."{target.primary_id}" = m."{nav.store}"'
            columns.append(GroupColumn(attr, f'"{alias}"."{attr.store}"', nav_name.strip(), join))
            continue
        attr = entity.by_web_name.get(name)
        if attr is None:
            raise no_property(entity, name)
        columns.append(GroupColumn(attr, f'm."{attr.store}"'))
    return columns


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
            plan.groupby = _group_columns(entity, columns[1:-1])
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
