"""The emulated Dataverse Web API v9.2 over the sandbox store.

Strict where the real service is strict: unknown columns, wrong-case navigation properties, a
statuscode outside its statecode, a stale ETag and malformed queries are refused with the
service's own status codes and ``{"error": {"code", "message"}}`` bodies. Work 365's
server-side behaviour (a subscription's Create LCL, the Deactivate LCL on deactivation and the
Activate LCL on reactivation, no
edits to an inactive subscription) runs inside the same transaction as the write that causes it.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote

from w365tui.sandbox import metadata
from w365tui.sandbox.errors import (
    CODE_AGGREGATE_LIMIT,
    CODE_BAD_STATE,
    CODE_CONCURRENCY,
    CODE_DUPLICATE,
    CODE_METHOD,
    CODE_PLUGIN,
    CODE_RESOURCE_NOT_FOUND,
    CODE_VALIDATION,
    DataverseError,
    bad_request,
    not_found,
    payload_error,
)
from w365tui.sandbox.odata_query import (
    aggregate_sql,
    compile_filter,
    parse_apply,
    parse_expand,
    parse_orderby,
    parse_select,
    parse_top,
)
from w365tui.sandbox.schema import (
    BIGINT,
    BOOLEAN,
    BY_LOGICAL,
    DATETIME,
    DECIMAL,
    INTEGER,
    LCL_EVENTS,
    MONEY,
    PICKLIST,
    PROVIDER_TYPES,
    PROVISIONING_STATUSES,
    STATE,
    STATUS,
    UNIQUEIDENTIFIER,
    Attribute,
    Entity,
    catalog,
)
from w365tui.sandbox.store import Store, utcnow
from w365tui.sandbox.wire import Request, Response, json_response

API_PREFIX = "/api/data/v9.2/"
MAX_PAGE_SIZE = 5000
COUNT_LIMIT = 5000
AGGREGATE_LIMIT = 50000
EXPAND_INLINE_LIMIT = 5000  # related rows a single-level $expand returns inline, per row
JSON_TYPE = "application/json; odata.metadata=minimal"
ODATA_VERSION = ("OData-Version", "4.0")

_GUID = re.compile(r"^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$")
_ROUTE = re.compile(
    r"^(?P<set>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:\((?P<key>[^)]*)\))?"
    r"(?:/(?P<nav>[A-Za-z_][A-Za-z0-9_]*|\$count))?"
    r"(?:/(?P<ref>\$ref|\$count))?$"
)
_SUPPORTED_OPTIONS = {"$select", "$filter", "$orderby", "$top", "$expand", "$count", "$apply", "$skiptoken"}

_PLUGIN_ORG_ID = uuid.UUID("5a4d1b0e-0000-4000-8000-00000000d365")
ORGANIZATION_ID = str(uuid.uuid5(_PLUGIN_ORG_ID, "organization"))
BUSINESS_UNIT_ID = str(uuid.uuid5(_PLUGIN_ORG_ID, "businessunit"))
USER_ID = str(uuid.uuid5(_PLUGIN_ORG_ID, "sandbox-operator"))


def _label(options: list[tuple[int, str]], label: str) -> int:
    return next(value for value, text in options if text == label)


LCL_CREATE = _label(LCL_EVENTS, "Create")
LCL_DEACTIVATE = _label(LCL_EVENTS, "Deactivate")
LCL_ACTIVATE = _label(LCL_EVENTS, "Activate")
PROV_AWAITING = _label(PROVISIONING_STATUSES, "Awaiting Provisioning")
PROV_NOT_APPLICABLE = _label(PROVISIONING_STATUSES, "Not Applicable")
PROVIDER_AUTOMATIC = _label(PROVIDER_TYPES, "Automatic")


def etag_of(row: dict[str, Any]) -> str:
    return f'W/"{row["versionnumber"]}"'


@dataclass
class Prefer:
    maxpagesize: int | None = None
    annotations: str | None = None
    representation: bool = False
    continue_on_error: bool = False

    @classmethod
    def parse(cls, header: str | None) -> Prefer:
        prefer = cls()
        if not header:
            return prefer
        for raw in header.split(","):
            item = raw.strip()
            name, _, value = item.partition("=")
            name = name.strip().lower()
            value = value.strip().strip('"')
            if name == "odata.maxpagesize":
                if not re.fullmatch(r"[0-9]{1,9}", value) or int(value) < 1:
                    raise bad_request(f"The value '{value}' of the odata.maxpagesize preference is not valid.")
                prefer.maxpagesize = min(int(value), MAX_PAGE_SIZE)
            elif name == "odata.include-annotations":
                prefer.annotations = value
            elif name == "return" and value == "representation":
                prefer.representation = True
            elif name == "odata.continue-on-error":
                prefer.continue_on_error = value in ("", "true")
        return prefer

    def wants(self, annotation: str) -> bool:
        if not self.annotations:
            return False
        for pattern in self.annotations.split(","):
            pattern = pattern.strip()
            if pattern == "*" or pattern == annotation:
                return True
            if pattern.endswith(".*") and annotation.startswith(pattern[:-1]):
                return True
        return False


def _json_headers(*extra: tuple[str, str]) -> list[tuple[str, str]]:
    return [ODATA_VERSION, *extra]


def _encode_skiptoken(offset: int, query_hash: str, last_key: str | None) -> str:
    raw = json.dumps({"o": offset, "k": last_key, "q": query_hash}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_skiptoken(token: str, query_hash: str) -> tuple[int, str | None]:
    """(rows delivered so far, the last primary key when paging in key order)."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset = int(data["o"])
        last_key = data.get("k")
        if data.get("q") != query_hash or not 0 <= offset < 2**62 or not (last_key is None or isinstance(last_key, str)):
            raise ValueError
        return offset, last_key
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError):
        raise bad_request("The $skiptoken value is not valid for this query.") from None


class DataverseService:
    """Answers Web API requests; one instance per sandbox, sharing the store."""

    def __init__(self, store: Store, naming: str = "published"):
        self.store = store
        self.catalog = catalog(naming)

    # -- entry points -----------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        """Answer one top-level request; every refusal comes back in the service's shape."""
        if request.path.rstrip("/") + "/" == API_PREFIX:
            return self._service_document(request)
        relative = request.path[len(API_PREFIX):]
        try:
            if relative == "$batch":
                from w365tui.sandbox.batch import handle_batch

                return handle_batch(self, request)
            with self.store.transaction():
                return self.execute(request, relative, {})
        except DataverseError as error:
            return self.error_response(error)

    def error_response(self, error: DataverseError) -> Response:
        headers = _json_headers(*error.headers.items())
        return json_response(error.status, error.body(), headers, content_type=JSON_TYPE)

    def execute(self, request: Request, relative: str, content_ids: dict[str, str]) -> Response:
        """Run one operation inside the caller's transaction; raise DataverseError to refuse."""
        prefer = Prefer.parse(request.header("prefer"))
        if relative in ("WhoAmI", "WhoAmI()"):
            self._require(request, "GET")
            return self._ok(
                {
                    "@odata.context": f"{self.base(request)}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                    "BusinessUnitId": BUSINESS_UNIT_ID,
                    "UserId": USER_ID,
                    # Each sandbox database is an org of its own: a reset one is a new org.
                    "OrganizationId": self.store.meta("organization_id") or ORGANIZATION_ID,
                }
            )
        if relative.startswith("RetrieveTotalRecordCount("):
            self._require(request, "GET")
            return self._ok(self._record_counts(request, relative))
        if relative.startswith("EntityDefinitions"):
            self._require(request, "GET")
            payload = metadata.answer(self.catalog, relative, request.query_pairs(), self.base(request))
            return self._ok(payload)
        match = _ROUTE.match(relative)
        if not match or match.group("set") not in self.catalog.by_set:
            segment = relative.split("(")[0].split("/")[0] or relative
            raise DataverseError(404, CODE_RESOURCE_NOT_FOUND, f"Resource not found for the segment '{segment}'.")
        entity = self.catalog.by_set[match.group("set")]
        key, nav, ref = match.group("key"), match.group("nav"), match.group("ref")
        if key is None:
            if nav == "$count":
                self._require(request, "GET")
                return Response(200, [ODATA_VERSION, ("Content-Type", "text/plain")],
                                str(min(self.store.count(entity.logical_name), COUNT_LIMIT)).encode())
            if nav or ref:
                raise DataverseError(404, CODE_RESOURCE_NOT_FOUND, f"Resource not found for the segment '{relative}'.")
            if request.method == "GET":
                return self.query(request, entity, prefer)
            if request.method == "POST":
                return self.create(request, entity, prefer, content_ids)
            raise self._method_not_allowed(request)
        row_id = self._key(entity, key)
        if nav is None:
            if request.method == "GET":
                return self.retrieve(request, entity, row_id, prefer)
            if request.method == "PATCH":
                return self.upsert(request, entity, row_id, prefer, content_ids)
            if request.method == "DELETE":
                return self.delete(request, entity, row_id)
            raise self._method_not_allowed(request)
        return self.navigate(request, entity, row_id, nav, ref, prefer, content_ids)

    # -- helpers ----------------------------------------------------------------------------
    @staticmethod
    def base(request: Request) -> str:
        return f"{request.base_url}{API_PREFIX}"

    @staticmethod
    def _require(request: Request, method: str) -> None:
        if request.method != method:
            raise DataverseError(405, CODE_METHOD, f"The HTTP method '{request.method}' is not allowed here.")

    @staticmethod
    def _method_not_allowed(request: Request) -> DataverseError:
        return DataverseError(405, CODE_METHOD, f"The HTTP method '{request.method}' is not allowed for this resource.")

    @staticmethod
    def _key(entity: Entity, key: str) -> str:
        match = _GUID.match(key.strip())
        if not match:
            if "=" in key:
                raise bad_request(
                    f"The alternate key '{key}' is not defined for the entity '{entity.logical_name}'."
                )
            raise bad_request(f"Unrecognized 'Edm.Guid' literal '{key}' in the key of '{entity.entity_set}'.")
        return match.group(1).lower()

    def _record_counts(self, request: Request, relative: str) -> dict[str, Any]:
        """``RetrieveTotalRecordCount(EntityNames=@p1)?@p1=["a","b"]``: each table's row count
        (the service's is a snapshot of the last day: an estimate, never exact)."""
        match = re.fullmatch(r"RetrieveTotalRecordCount\(EntityNames=(@[A-Za-z_][A-Za-z0-9_]*|\[.*\])\)", relative)
        if not match:
            raise bad_request("Syntax error in the parameters of RetrieveTotalRecordCount.")
        text = match.group(1)
        if text.startswith("@"):
            text = self._aliases(request).get(text, "")
        try:
            names = json.loads(text.replace("'", '"'))
        except ValueError:
            names = None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise bad_request("EntityNames must be a list of table logical names.")
        values = []
        for name in names:
            entity = self.catalog.by_logical.get(name)
            if entity is None:
                raise DataverseError(404, CODE_RESOURCE_NOT_FOUND, f"Could not find entity with name '{name}'.")
            values.append(self.store.count(entity.logical_name))
        return {"@odata.context": f"{self.base(request)}$metadata#Microsoft.Dynamics.CRM.RetrieveTotalRecordCountResponse",
                "EntityRecordCountCollection": {"Count": len(names), "IsReadOnly": False, "Keys": names,
                                                "Values": values}}

    def _ok(self, payload: Any, extra: list[tuple[str, str]] | None = None, status: int = 200) -> Response:
        headers = _json_headers(*(extra or []))
        return json_response(status, payload, headers, content_type=JSON_TYPE)

    def _options(self, request: Request) -> dict[str, str]:
        options: dict[str, str] = {}
        for name, value in request.query_pairs():
            if name.startswith("$"):
                if name == "$skip":
                    raise bad_request("The query parameter $skip is not supported.")
                if name not in _SUPPORTED_OPTIONS:
                    raise bad_request(f"The query parameter {name} is not supported.")
                if name in options:
                    raise bad_request(f"Query option '{name}' was specified more than once, but it must be specified at most once.")
                options[name] = value
            elif name.startswith("@") and not re.fullmatch(r"@[A-Za-z_][A-Za-z0-9_]*", name):
                raise bad_request(f"The parameter alias '{name}' is not a valid name.")
        return options

    @staticmethod
    def _aliases(request: Request) -> dict[str, str]:
        """The query's parameter aliases: ``@p1='x'`` for ``$filter=name eq @p1``."""
        return {name: value for name, value in request.query_pairs() if name.startswith("@")}

    # -- reads ------------------------------------------------------------------------------
    def query(self, request: Request, entity: Entity, prefer: Prefer, *,
              parent: tuple[str, str] | None = None, context_set: str | None = None) -> Response:
        options = self._options(request)
        base = self.base(request)
        if "$apply" in options:
            return self._aggregate(request, entity, options, prefer)
        select = parse_select(entity, options["$select"]) if "$select" in options else None
        where, params = ["1 = 1"], []
        if parent is not None:
            where.append(f'm."{parent[0]}" = ?')
            params.append(parent[1])
        if "$filter" in options:
            sql, filter_params = compile_filter(entity, options["$filter"], aliases=self._aliases(request))
            where.append(sql)
            params.extend(filter_params)
        order = parse_orderby(entity, options["$orderby"]) if "$orderby" in options else ""
        order = f"{order}, " if order else ""
        order += f'm."{entity.primary_id}" ASC'
        top = parse_top(options["$top"]) if "$top" in options else None
        expand = parse_expand(entity, options["$expand"]) if "$expand" in options else []
        count_wanted = options.get("$count", "false").lower()
        if count_wanted not in ("true", "false"):
            raise bad_request(f"Invalid value '{options['$count']}' for $count query option found.")
        page_size = prefer.maxpagesize or MAX_PAGE_SIZE
        query_hash = self._query_hash(entity, request, parent)
        offset, last_key = (_decode_skiptoken(options["$skiptoken"], query_hash) if "$skiptoken" in options
                            else (0, None))
        limit = page_size
        if top is not None:
            limit = max(0, min(page_size, top - offset))
        # In primary-key order a page starts after the last key (keyset paging); otherwise by offset.
        keyset = "$orderby" not in options
        page_where, page_params, skip = list(where), list(params), offset
        if keyset:
            skip = 0
            if last_key is not None:
                page_where.append(f'm."{entity.primary_id}" > ?')
                page_params.append(last_key)
        sql = (f'SELECT m.* FROM "{entity.logical_name}" m WHERE {" AND ".join(page_where)} '
               f'ORDER BY {order} LIMIT ? OFFSET ?')
        rows = [dict(r) for r in self.store.conn.execute(sql, (*page_params, limit + 1, skip))]
        more = len(rows) > limit
        rows = rows[:limit]
        if top is not None and offset + len(rows) >= top:
            more = False
        payload: dict[str, Any] = {
            "@odata.context": f"{base}$metadata#{context_set or entity.entity_set}{self._context_columns(select, expand)}",
        }
        if count_wanted == "true":
            total = self.store.conn.execute(
                f'SELECT COUNT(*) FROM "{entity.logical_name}" m WHERE {" AND ".join(where)}', params
            ).fetchone()[0]
            payload["@odata.count"] = min(total, COUNT_LIMIT)
            if total > COUNT_LIMIT:
                payload["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] = True
        payload["value"] = self.serialize_many(entity, rows, select, expand, prefer, base)
        if more:
            last = rows[-1][entity.primary_id] if keyset and rows else None
            payload["@odata.nextLink"] = self._next_link(request, _encode_skiptoken(offset + len(rows), query_hash, last))
        extra = []
        applied = []
        if prefer.maxpagesize:
            applied.append(f"odata.maxpagesize={prefer.maxpagesize}")
        if prefer.annotations:
            applied.append(f'odata.include-annotations="{prefer.annotations}"')
        if applied:
            extra.append(("Preference-Applied", ",".join(applied)))
        return self._ok(payload, extra=extra)

    def _query_hash(self, entity: Entity, request: Request, parent: tuple[str, str] | None) -> str:
        pairs = sorted((k, v) for k, v in request.query_pairs() if k != "$skiptoken")
        digest = uuid.uuid5(_PLUGIN_ORG_ID, json.dumps([entity.logical_name, parent, pairs]))
        return digest.hex[:12]

    def _next_link(self, request: Request, token: str) -> str:
        kept = [p for p in request.query.split("&") if p and not unquote(p).startswith("$skiptoken=")]
        kept.append(f"$skiptoken={token}")
        return f"{request.base_url}{request.path}?{'&'.join(kept)}"

    @staticmethod
    def _context_columns(select: list[Attribute] | None, expand: list) -> str:
        names = [a.web_name for a in select] if select else []
        names += [f"{item.name}({','.join(a.web_name for a in item.select)})" if item.select else f"{item.name}()" for item in expand]
        return f"({','.join(names)})" if names else ""

    def _aggregate(self, request: Request, entity: Entity, options: dict[str, str], prefer: Prefer) -> Response:
        for forbidden in ("$select", "$expand", "$skiptoken"):
            if forbidden in options:
                raise bad_request(f"The query option {forbidden} cannot be combined with $apply.")
        if "$orderby" in options:
            raise bad_request("The query option $orderby cannot be combined with $apply in the sandbox.")
        plan = parse_apply(entity, options["$apply"])
        where, params = ["1 = 1"], []
        for source in (options.get("$filter"),):
            if source:
                sql, p = compile_filter(entity, source, aliases=self._aliases(request))
                where.append(sql)
                params.extend(p)
        if plan.filter:
            where.append(plan.filter[0])
            params.extend(plan.filter[1])
        condition = " AND ".join(where)
        total = self.store.conn.execute(
            f'SELECT COUNT(*) FROM "{entity.logical_name}" m WHERE {condition}', params
        ).fetchone()[0]
        if total > AGGREGATE_LIMIT:
            raise DataverseError(400, CODE_AGGREGATE_LIMIT, "AggregateQueryRecordLimit exceeded. Cannot perform this operation.")
        group_cols = [g.sql for g in plan.groupby]
        select_sql = group_cols + [aggregate_sql(a) for a in plan.aggregates]
        joins = " ".join(dict.fromkeys(g.join for g in plan.groupby if g.join))
        sql = f'SELECT {", ".join(select_sql)} FROM "{entity.logical_name}" m {joins} WHERE {condition}'
        if group_cols:  # "+col": grouped by value, never by walking a whole index to skip the sort
            keys = ", ".join(f"+{c}" for c in group_cols)
            sql += f" GROUP BY {keys} ORDER BY {keys}"
        rows = self.store.conn.execute(sql, params).fetchall()
        formatted = prefer.wants("OData.Community.Display.V1.FormattedValue")
        cache: dict[tuple[str, str], str | None] = {}
        # What each column of a row becomes, worked out once: (position, nested under, name, converter).
        cells = [(i, g.nav, g.attribute.web_name, g.attribute if g.attribute.type in (BOOLEAN, DECIMAL, MONEY) else None)
                 for i, g in enumerate(plan.groupby)]
        whole = {j: agg.attribute is not None and agg.function in ("sum", "min", "max")
                 and agg.attribute.type in (INTEGER, BIGINT) for j, agg in enumerate(plan.aggregates)}
        offset = len(plan.groupby)
        value = []
        for row in rows:
            item: dict[str, Any] = {}
            for i, nav, name, convert in cells:
                raw = row[i]
                holder = item.setdefault(nav, {}) if nav else item  # nav/col comes back nested
                holder[name] = raw if convert is None or raw is None else to_json(convert, raw)
                if formatted and raw is not None:
                    label = self._formatted(plan.groupby[i].attribute, raw, cache)
                    if label is not None:
                        holder[f"{name}@OData.Community.Display.V1.FormattedValue"] = label
            for j, agg in enumerate(plan.aggregates):
                raw = row[offset + j]
                if whole[j] and raw is not None:
                    raw = int(raw)
                item[agg.alias] = raw
                if formatted and isinstance(raw, int | float):
                    item[f"{agg.alias}@OData.Community.Display.V1.FormattedValue"] = (
                        f"{raw:,}" if isinstance(raw, int) else f"{raw:,.2f}")
            value.append(item)
        top = parse_top(options["$top"]) if "$top" in options else None
        if top is not None:
            value = value[:top]
        return self._ok({"@odata.context": f"{self.base(request)}$metadata#{entity.entity_set}", "value": value})

    def retrieve(self, request: Request, entity: Entity, row_id: str, prefer: Prefer) -> Response:
        options = self._options(request)
        for name in ("$filter", "$orderby", "$top", "$apply", "$skiptoken", "$count"):
            if name in options:
                raise bad_request(f"The query option {name} cannot be used when retrieving a single row.")
        row = self.store.get(entity, row_id)
        if row is None:
            raise not_found(entity.logical_name, row_id)
        select = parse_select(entity, options["$select"]) if "$select" in options else None
        expand = parse_expand(entity, options["$expand"]) if "$expand" in options else []
        # An expanded or annotated answer holds more than the row's version: never "not modified".
        if request.header("if-none-match") == etag_of(row) and not expand and not prefer.annotations:
            return Response(304, [ODATA_VERSION])
        payload = {
            "@odata.context": f"{self.base(request)}$metadata#{entity.entity_set}{self._context_columns(select, expand)}/$entity",
            **self.serialize_many(entity, [row], select, expand, prefer, self.base(request))[0],
        }
        extra = [("ETag", etag_of(row))]
        if prefer.annotations:
            extra.append(("Preference-Applied", f'odata.include-annotations="{prefer.annotations}"'))
        return self._ok(payload, extra=extra)

    def navigate(self, request: Request, entity: Entity, row_id: str, nav: str, ref: str | None,
                 prefer: Prefer, content_ids: dict[str, str]) -> Response:
        row = self.store.get(entity, row_id)
        if nav in entity.collections_by_name and ref != "$ref":
            self._require(request, "GET")
            if row is None:
                raise not_found(entity.logical_name, row_id)
            collection = entity.collections_by_name[nav]
            target = self.catalog.by_logical[collection.entity]
            if ref == "$count":  # how many related rows: plain text, as for an entity set
                total = self.store.conn.execute(
                    f'SELECT COUNT(*) FROM "{target.logical_name}" WHERE "{collection.lookup}" = ?', (row_id,)).fetchone()[0]
                return Response(200, [ODATA_VERSION, ("Content-Type", "text/plain")], str(min(total, COUNT_LIMIT)).encode())
            return self.query(request, target, prefer, parent=(collection.lookup, row_id), context_set=target.entity_set)
        if ref == "$count":
            raise DataverseError(404, CODE_RESOURCE_NOT_FOUND, f"Resource not found for the segment '{nav}/$count'.")
        lookup = entity.by_nav.get(nav)
        if lookup is None:
            attr = entity.by_web_name.get(nav)
            if attr is not None and not ref:
                if request.method == "PUT":
                    return self.upsert(request, entity, row_id, prefer, content_ids, single_property=attr)
                if request.method in ("GET", "DELETE"):
                    return self._one_column(request, entity, row_id, row, attr)
            raise DataverseError(404, CODE_RESOURCE_NOT_FOUND, f"Resource not found for the segment '{nav}'.")
        if row is None:
            raise not_found(entity.logical_name, row_id)
        target = self.catalog.by_logical[lookup.target or ""]
        if ref:
            if request.method == "GET":
                if row[lookup.store] is None:
                    raise DataverseError(404, CODE_RESOURCE_NOT_FOUND, "No entity is associated through this property.")
                return self._ok({"@odata.context": f"{self.base(request)}$metadata#$ref",
                                 "@odata.id": f"{self.base(request)}{target.entity_set}({row[lookup.store]})"})
            if request.method == "DELETE":
                self._check_etag(entity, row, request, row_id)
                self.store.update(entity, row_id, {lookup.store: None})
                return Response(204, [ODATA_VERSION])
            if request.method == "PUT":
                body = self._body(request, entity)
                reference = body.get("@odata.id") if isinstance(body, dict) else None
                if not isinstance(reference, str):
                    raise payload_error(entity.entity_set, "A $ref request needs an '@odata.id' value.")
                self._check_etag(entity, row, request, row_id)
                target_id = self._resolve_reference(entity, lookup, reference, content_ids)
                self.store.update(entity, row_id, {lookup.store: target_id})
                return Response(204, [ODATA_VERSION])
            raise self._method_not_allowed(request)
        self._require(request, "GET")
        target_id = row[lookup.store]
        if target_id is None:
            return Response(204, [ODATA_VERSION])
        return self.retrieve(request, target, target_id, prefer)

    # -- serialisation ----------------------------------------------------------------------
    def serialize_many(self, entity: Entity, rows: list[dict[str, Any]], select: list[Attribute] | None,
                       expand: list, prefer: Prefer, base: str = "") -> list[dict[str, Any]]:
        attrs = list(select) if select else [a for a in entity.attributes]
        primary = entity.by_name[entity.primary_id]
        if primary not in attrs:
            attrs.append(primary)
        currency = entity.by_name.get("transactioncurrencyid")
        if currency is not None and currency not in attrs and any(a.type == MONEY for a in attrs):
            attrs.append(currency)  # a money value comes with its currency
        formatted = prefer.wants("OData.Community.Display.V1.FormattedValue")
        lookup_names = prefer.wants("Microsoft.Dynamics.CRM.lookuplogicalname")
        names_cache: dict[tuple[str, str], str | None] = {}
        result = []
        for row in rows:
            item: dict[str, Any] = {"@odata.etag": etag_of(row)}
            for attr in attrs:
                raw = row.get(attr.store)
                item[attr.web_name] = to_json(attr, raw)
                if raw is None:
                    continue
                if formatted:
                    label = self._formatted(attr, raw, names_cache, row)
                    if label is not None:
                        item[f"{attr.web_name}@OData.Community.Display.V1.FormattedValue"] = label
                if attr.is_lookup and lookup_names:
                    item[f"{attr.web_name}@Microsoft.Dynamics.CRM.associatednavigationproperty"] = attr.nav
                    item[f"{attr.web_name}@Microsoft.Dynamics.CRM.lookuplogicalname"] = attr.target
            result.append(item)
        for spec in expand:
            self._expand(entity, rows, result, spec, prefer, base)
        return result

    def _expand(self, entity: Entity, rows: list[dict[str, Any]], out: list[dict[str, Any]], spec, prefer: Prefer,
                base: str) -> None:
        target: Entity = spec.target
        if spec.single is not None:
            ids = sorted({r[spec.single.store] for r in rows if r.get(spec.single.store)})
            found: dict[str, dict[str, Any]] = {}
            for chunk in _chunks(ids, 500):
                marks = ",".join("?" for _ in chunk)
                for r in self.store.conn.execute(
                    f'SELECT * FROM "{target.logical_name}" WHERE "{target.primary_id}" IN ({marks})', chunk
                ):
                    found[r[target.primary_id]] = dict(r)
            serialized = {
                key: value
                for key, value in zip(found, self.serialize_many(target, list(found.values()), spec.select, [], prefer,
                                                                 base), strict=True)
            }
            for row, item in zip(rows, out, strict=True):
                ref = row.get(spec.single.store)
                item[spec.name] = serialized.get(ref) if ref else None
            return
        parent_ids = [r[entity.primary_id] for r in rows]
        children: dict[str, list[dict[str, Any]]] = {pid: [] for pid in parent_ids}
        order = spec.orderby + ", " if spec.orderby else ""
        order += f'e."{target.primary_id}" ASC'
        for chunk in _chunks(parent_ids, 500):
            marks = ",".join("?" for _ in chunk)
            where = f'e."{spec.collection_lookup}" IN ({marks})'
            params: list[Any] = list(chunk)
            if spec.filter:
                where += f" AND {spec.filter[0]}"
                params.extend(spec.filter[1])
            for r in self.store.conn.execute(
                f'SELECT e.* FROM "{target.logical_name}" e WHERE {where} ORDER BY {order}', params
            ):
                children[r[spec.collection_lookup]].append(dict(r))
        for pid, item in zip(parent_ids, out, strict=True):
            kids = children[pid]
            if spec.top is not None:
                kids = kids[: spec.top]
            # No paging inside a single-level $expand: up to the inline limit, and a link to the
            # filtered collection (the expand's options, no paging) for the rest.
            item[spec.name] = self.serialize_many(target, kids[:EXPAND_INLINE_LIMIT], spec.select, [], prefer, base)
            query = f"?{spec.query}" if spec.query else ""
            item[f"{spec.name}@odata.nextLink"] = f"{base}{entity.entity_set}({pid})/{spec.name}{query}"

    def _formatted(self, attr: Attribute, raw: Any, cache: dict[tuple[str, str], str | None],
                   row: dict[str, Any] | None = None) -> str | None:
        if attr.is_option:
            option = attr.option(int(raw))
            return option.label if option else None
        if attr.type == BOOLEAN:
            return "Yes" if raw else "No"
        if attr.type == MONEY:
            return f"{self._currency_symbol((row or {}).get('transactioncurrencyid'), cache)}{float(raw):,.2f}"
        if attr.type == DATETIME:
            return str(raw)[:10] if attr.date_only else str(raw).replace("T", " ").rstrip("Z")
        if attr.is_lookup:
            key = (attr.target or "", str(raw))
            if key not in cache:
                target = self.catalog.by_logical[attr.target or ""]
                found = self.store.conn.execute(
                    f'SELECT "{target.primary_name_store}" FROM "{target.logical_name}" WHERE "{target.primary_id}" = ?',
                    (raw,)
                ).fetchone()
                cache[key] = found[0] if found else None
            return cache[key]
        return None

    def _currency_symbol(self, currency_id: Any, cache: dict[tuple[str, str], str | None]) -> str:
        if not currency_id:
            return ""
        key = ("currencysymbol", str(currency_id))
        if key not in cache:
            found = self.store.conn.execute(
                'SELECT "currencysymbol" FROM "transactioncurrency" WHERE "transactioncurrencyid" = ?', (currency_id,)
            ).fetchone()
            cache[key] = found[0] if found else None
        return cache[key] or ""

    def _one_column(self, request: Request, entity: Entity, row_id: str, row: dict[str, Any] | None,
                    attr: Attribute) -> Response:
        """``GET set(id)/column`` reads one value; ``DELETE`` clears it."""
        if row is None:
            raise not_found(entity.logical_name, row_id)
        if request.method == "GET":
            raw = row.get(attr.store)
            if raw is None:
                return Response(204, [ODATA_VERSION])
            return self._ok({"@odata.context": f"{self.base(request)}$metadata#{entity.entity_set}({row_id})/"
                                               f"{attr.web_name}", "value": to_json(attr, raw)})
        if attr.is_lookup or attr.logical_name == entity.primary_id or attr.type in (STATE, STATUS) or attr.read_only:
            raise bad_request(f"The property '{attr.logical_name}' cannot be cleared this way.")
        self._check_etag(entity, row, request, row_id)
        self._before_update(entity, row, {attr.store: None})
        self.store.update(entity, row_id, {attr.store: None})
        return Response(204, [ODATA_VERSION])

    # -- writes -----------------------------------------------------------------------------
    def _body(self, request: Request, entity: Entity) -> Any:
        if not request.body.strip():
            raise payload_error(entity.entity_set, "The request body is empty; a JSON object was expected.")
        content_type = (request.header("content-type") or "").lower()
        if content_type and "json" not in content_type:
            raise DataverseError(415, "0x80048d18", f"The content type '{content_type}' is not supported; send application/json.")
        try:
            return json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise payload_error(entity.entity_set, f"The request body is not valid JSON: {exc}.") from None
        except RecursionError:
            raise payload_error(entity.entity_set, "The request body is JSON nested too deeply.") from None

    def _values(self, request: Request, entity: Entity, body: Any, content_ids: dict[str, str],
                row_id: str | None) -> dict[str, Any]:
        """Validate a payload and turn it into column values (logical name → stored value)."""
        if not isinstance(body, dict):
            raise payload_error(entity.entity_set, "A JSON object was expected as the request body.")
        values: dict[str, Any] = {}
        type_name = f"Microsoft.Dynamics.CRM.{entity.logical_name}"
        for key, value in body.items():
            if key.endswith("@odata.bind"):
                nav = key[: -len("@odata.bind")]
                lookup = entity.by_nav.get(nav)
                if lookup is None:
                    raise payload_error(
                        entity.entity_set,
                        f"An undeclared property '{nav}' which only has property annotations in the payload "
                        "but no property value was found in the payload. In OData, only declared navigation "
                        "properties and declared named streams can be represented as properties without values.",
                    )
                if value is None:
                    values[lookup.store] = None
                elif isinstance(value, str):
                    values[lookup.store] = self._resolve_reference(entity, lookup, value, content_ids)
                else:
                    raise payload_error(entity.entity_set, f"The value of '{key}' must be a URL string.")
                continue
            if key.startswith("@") or "@" in key:
                continue  # instance annotations such as @odata.type are ignored
            if key in entity.by_nav:
                raise payload_error(entity.entity_set, f"Deep insert through '{key}' is not supported by the sandbox; bind with '{key}@odata.bind'.")
            attr = entity.by_web_name.get(key)
            if attr is not None and attr.is_lookup:
                raise payload_error(
                    entity.entity_set,
                    "CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.",
                )
            if attr is None:
                raise payload_error(
                    entity.entity_set,
                    f"The property '{key}' does not exist on type '{type_name}'. Make sure to only use property "
                    "names that are defined by the type or mark the type as open type.",
                )
            if attr.read_only:
                continue
            if attr.logical_name == entity.primary_id:
                if value is None or not isinstance(value, str) or not _GUID.match(value):
                    raise payload_error(entity.entity_set, f"Cannot convert the literal '{value}' to the expected type 'Edm.Guid'.")
                if row_id is not None and value.lower() != row_id:
                    raise bad_request(f"The {entity.primary_id} in the body does not match the key in the URL.")
                values[attr.store] = value.lower()
                continue
            values[attr.store] = self._convert(entity, attr, value)
        return values

    def _convert(self, entity: Entity, attr: Attribute, value: Any) -> Any:
        def cannot() -> DataverseError:
            return payload_error(entity.entity_set, f"Cannot convert the literal '{value}' to the expected type '{attr.edm}'.")

        if value is None:
            return None
        if attr.is_string:
            if not isinstance(value, str):
                raise cannot()
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate (\ud800) is not text
                raise cannot() from None
            if attr.max_length is not None and len(value) > attr.max_length:
                raise DataverseError(
                    400, CODE_VALIDATION,
                    f"A validation error occurred.  The length of the '{attr.logical_name}' attribute of the "
                    f"'{entity.logical_name}' entity exceeded the maximum allowed length of '{attr.max_length}'.",
                )
            return value
        if attr.type == BOOLEAN:
            if not isinstance(value, bool):
                raise cannot()
            return int(value)
        if attr.type in (INTEGER, BIGINT, PICKLIST, STATE, STATUS):
            if isinstance(value, bool) or not isinstance(value, int):
                raise cannot()
            if attr.type == PICKLIST and attr.option(value) is None:
                accepted = ",".join(str(o.value) for o in attr.options)
                raise DataverseError(
                    400, CODE_VALIDATION,
                    f"A validation error occurred. The value {value} of '{attr.logical_name}' on record of type "
                    f"'{entity.logical_name}' is outside the valid range. Accepted Values: {accepted}",
                )
            low = attr.min_value if attr.min_value is not None else -(2**31)
            high = attr.max_value if attr.max_value is not None else 2**31 - 1
            if attr.type == BIGINT:
                low, high = -(2**63), 2**63 - 1
            if not low <= value <= high:
                raise DataverseError(
                    400, CODE_VALIDATION,
                    f"A validation error occurred. The value {value} of '{attr.logical_name}' on record of type "
                    f"'{entity.logical_name}' is outside the valid range.",
                )
            return value
        if attr.type in (DECIMAL, MONEY):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise cannot()
            try:
                number = float(value)
            except OverflowError:
                raise cannot() from None
            if not math.isfinite(number) or abs(number) > 1e15:
                raise DataverseError(
                    400, CODE_VALIDATION,
                    f"A validation error occurred. The value of '{attr.logical_name}' on record of type "
                    f"'{entity.logical_name}' is outside the valid range.")
            return number
        if attr.type == DATETIME:
            if not isinstance(value, str):
                raise cannot()
            try:
                if attr.date_only:
                    if len(value) == 10:
                        return date.fromisoformat(value).isoformat()
                    return datetime.fromisoformat(value.replace("Z", "+00:00")).date().isoformat()
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise cannot() from None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if attr.type == UNIQUEIDENTIFIER:
            if not isinstance(value, str) or not _GUID.match(value):
                raise cannot()
            return value.lower()
        raise cannot()

    def _resolve_reference(self, entity: Entity, lookup: Attribute, reference: str, content_ids: dict[str, str]) -> str:
        target = self.catalog.by_logical[lookup.target or ""]
        text = reference.strip()
        if text.startswith("$"):
            resolved = content_ids.get(text[1:])
            if resolved is None:
                raise bad_request(f"Content-ID Reference: '{text}' does not exist in the batch context.")
            text = resolved
        if API_PREFIX in text:
            text = text.split(API_PREFIX, 1)[1]
        text = text.lstrip("/")
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\(([^)]*)\)", text)
        if not match:
            raise payload_error(entity.entity_set, f"The reference '{reference}' is not a valid entity URL.")
        if match.group(1) != target.entity_set:
            raise payload_error(
                entity.entity_set,
                f"The reference '{reference}' points into '{match.group(1)}', but '{lookup.nav}' expects "
                f"a '{target.logical_name}' from '{target.entity_set}'.",
            )
        target_id = self._key(target, match.group(2))
        if self.store.get(target, target_id) is None:
            raise not_found(target.logical_name, target_id)
        return target_id

    def _check_etag(self, entity: Entity, row: dict[str, Any], request: Request, row_id: str) -> None:
        if_match = request.header("if-match")
        if if_match and if_match.strip() not in ("*", etag_of(row)):
            raise DataverseError(
                412, CODE_CONCURRENCY,
                "The version of the existing record doesn't match the RowVersion property provided.",
            )

    def _states(self, entity: Entity, values: dict[str, Any], current: dict[str, Any] | None, row_id: str) -> None:
        """Validate and complete statecode/statuscode in ``values`` (a create when no current row)."""
        if not entity.has_state:
            return
        states = entity.state_options()
        statuses = entity.status_options()
        if current is None:
            state = 0  # a new row is always created in its initial state
            values["statecode"] = state
        else:
            state = values.get("statecode", current["statecode"])
        if "statecode" in values and not any(o.value == state for o in states):
            accepted = ",".join(str(o.value) for o in states)
            raise DataverseError(400, CODE_VALIDATION, f"A validation error occurred. The value {state} of 'statecode' on record of type '{entity.logical_name}' is outside the valid range. Accepted Values: {accepted}")
        if "statuscode" in values and values["statuscode"] is not None:
            status = values["statuscode"]
        elif current is None or values.get("statecode", current["statecode"]) != current["statecode"]:
            status = next(o.default_status for o in states if o.value == state)
        else:
            status = current["statuscode"]
        option = next((o for o in statuses if o.value == status), None)
        if option is None or option.state != state:
            state_label = next(o.label for o in states if o.value == state)
            raise DataverseError(
                400, CODE_BAD_STATE,
                f"{status} is not a valid status code for state code {_state_type(entity)}.{state_label} "
                f"on {entity.logical_name} with Id {row_id}.",
            )
        values["statuscode"] = status

    def create(self, request: Request, entity: Entity, prefer: Prefer, content_ids: dict[str, str],
               row_id: str | None = None) -> Response:
        body = self._body(request, entity)
        values = self._values(request, entity, body, content_ids, row_id)
        new_id = row_id or values.get(entity.primary_id) or str(uuid.uuid4())
        if self.store.get(entity, new_id) is not None:
            raise DataverseError(412, CODE_DUPLICATE, "A record with matching key values already exists.")
        values[entity.primary_id] = new_id
        self._states(entity, values, None, new_id)
        row = self.store.insert(entity, values)
        self._after_create(entity, row)
        return self._written(request, entity, new_id, prefer, created=True)

    def upsert(self, request: Request, entity: Entity, row_id: str, prefer: Prefer, content_ids: dict[str, str],
               single_property: Attribute | None = None) -> Response:
        row = self.store.get(entity, row_id)
        if_match = request.header("if-match")
        if_none_match = request.header("if-none-match")
        if if_none_match == "null":
            if_none_match = None
        if row is None:
            if if_match:
                raise not_found(entity.logical_name, row_id)
            if single_property is not None:
                raise not_found(entity.logical_name, row_id)
            return self.create(request, entity, prefer, content_ids, row_id=row_id)
        if if_none_match and if_none_match.strip() == "*":
            raise DataverseError(412, CODE_DUPLICATE, "A record with matching key values already exists.")
        self._check_etag(entity, row, request, row_id)
        body = self._body(request, entity)
        if single_property is not None:
            if not isinstance(body, dict) or "value" not in body:
                raise payload_error(entity.entity_set, "A property update needs a 'value'.")
            body = {single_property.web_name: body["value"]}
        values = self._values(request, entity, body, content_ids, row_id)
        self._before_update(entity, row, values)
        self._states(entity, values, row, row_id)
        changed = {k: v for k, v in values.items() if k != entity.primary_id}
        if changed:
            self.store.update(entity, row_id, changed)
            self._after_update(entity, row, changed)
        return self._written(request, entity, row_id, prefer, created=False)

    def delete(self, request: Request, entity: Entity, row_id: str) -> Response:
        row = self.store.get(entity, row_id)
        if row is None:
            raise not_found(entity.logical_name, row_id)
        self._check_etag(entity, row, request, row_id)
        self.store.delete(entity, row_id)
        return Response(204, [ODATA_VERSION])

    def _written(self, request: Request, entity: Entity, row_id: str, prefer: Prefer, *, created: bool) -> Response:
        url = f"{self.base(request)}{entity.entity_set}({row_id})"
        row = self.store.get(entity, row_id)
        assert row is not None
        headers = [ODATA_VERSION, ("OData-EntityId", url), ("ETag", etag_of(row))]
        if created:
            headers.insert(1, ("Location", url))
        if prefer.representation:
            options = self._options(request)
            select = parse_select(entity, options["$select"]) if "$select" in options else None
            payload = {
                "@odata.context": f"{self.base(request)}$metadata#{entity.entity_set}{self._context_columns(select, [])}/$entity",
                **self.serialize_many(entity, [row], select, [], prefer, self.base(request))[0],
            }
            headers = [h for h in headers if h[0] != "OData-EntityId"]  # the body says which row it is
            headers.append(("Preference-Applied", "return=representation"))
            return json_response(201 if created else 200, payload, headers, content_type=JSON_TYPE)
        return Response(204, headers)

    # -- Work 365 server-side behaviour ------------------------------------------------------
    def _before_update(self, entity: Entity, row: dict[str, Any], values: dict[str, Any]) -> None:
        if entity.logical_name != "work365_subscription" or row["statecode"] == 0:
            return
        edits = set(values) - {"statecode", "statuscode", entity.primary_id}
        reactivating = values.get("statecode") == 0
        if edits and not reactivating:
            raise DataverseError(
                400, CODE_PLUGIN,
                "This subscription is inactive and cannot be edited. Activate it before changing "
                f"{', '.join(sorted(edits))}.",
            )

    def _after_create(self, entity: Entity, row: dict[str, Any]) -> None:
        if entity.logical_name == "work365_subscription":
            self._write_lcl(row, LCL_CREATE, row.get("work365_quantity") or 0)

    def _after_update(self, entity: Entity, before: dict[str, Any], changed: dict[str, Any]) -> None:
        if entity.logical_name != "work365_subscription":
            return
        if before["statecode"] == 0 and changed.get("statecode") == 1:
            self._write_lcl(before, LCL_DEACTIVATE, -(before.get("work365_quantity") or 0))
        elif before["statecode"] == 1 and changed.get("statecode") == 0:  # reactivated: the licences are back
            self._write_lcl({**before, **changed}, LCL_ACTIVATE, before.get("work365_quantity") or 0)

    def _write_lcl(self, subscription: dict[str, Any], event: int, quantity: int) -> None:
        """The LCL Work 365 writes itself: Not Applicable unless it must reach the provider.

        On an automatic provider a subscription that the provider does not know yet (no
        provider subscription id) is Awaiting Provisioning, which would place an order;
        everything else is Not Applicable.
        """
        lcl = BY_LOGICAL["work365_licensechangelog"]
        provider_type = None
        if subscription.get("work365_provider"):
            provider = self.store.get(BY_LOGICAL["work365_provider"], subscription["work365_provider"])
            provider_type = provider["work365_providertype"] if provider else None
        awaiting = provider_type == PROVIDER_AUTOMATIC and not subscription.get("work365_providersubscriptionid")
        today = datetime.now(UTC).date().isoformat()
        name = subscription.get("work365_subscriptionname") or "Subscription"
        label = {LCL_CREATE: "Create", LCL_ACTIVATE: "Activate"}.get(event, "Deactivate")
        values = {
            "work365_licensechangelogid": str(uuid.uuid4()),
            "work365_name": f"{label}: {name}"[:200],
            "work365_subscription": subscription["work365_subscriptionid"],
            "work365_account": subscription.get("work365_subscription_customer"),
            "work365_event": event,
            "work365_quantity": quantity,
            "work365_effectivedate": subscription.get("work365_effectivestartdate") if event == LCL_CREATE else today,
            "work365_provisioningstatus": PROV_AWAITING if awaiting else PROV_NOT_APPLICABLE,
            "work365_sellingprice": subscription.get("work365_sellingprice"),
            "work365_costprice": subscription.get("work365_costprice"),
            "transactioncurrencyid": subscription.get("transactioncurrencyid"),
            "statecode": 0,
            "statuscode": 1,
        }
        self.store.insert(lcl, values, now=utcnow())

    # -- service document -------------------------------------------------------------------
    def _service_document(self, request: Request) -> Response:
        base = self.base(request)
        payload = {
            "@odata.context": f"{base}$metadata",
            "value": [{"name": e.entity_set, "kind": "EntitySet", "url": e.entity_set} for e in self.catalog.entities],
        }
        return json_response(200, payload, [ODATA_VERSION], content_type=JSON_TYPE)


def _state_type(entity: Entity) -> str:
    name = entity.logical_name
    return (name[0].upper() + name[1:] if not name.startswith("work365_") else name) + "State"


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def to_json(attr: Attribute, raw: Any) -> Any:
    if raw is None:
        return None
    if attr.type == BOOLEAN:
        return bool(raw)
    if attr.type in (DECIMAL, MONEY):
        number = float(raw)
        return int(number) if number.is_integer() and attr.type == DECIMAL else number
    return raw
