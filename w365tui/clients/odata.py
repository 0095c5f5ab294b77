"""The Dataverse Web API client: safe query building, paging, writes with ETags, ``$batch``
and the metadata reader.

Query text is only ever built here, from validated identifiers and escaped literals, so no
text an operator types can change what a filter means.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx

from w365tui.clients.http import (
    ProtocolError,
    RetryPolicy,
    ServiceClient,
    ServiceError,
    require,
)

MAX_PAGE_SIZE = 5000
MAX_BATCH = 1000
#: Related rows a single-level ``$expand`` returns inline, per row (Dataverse's documented limit).
EXPANDED_INLINE_LIMIT = 5000
ODATA_HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENTITY_ID = re.compile(r"\(([0-9a-fA-F-]{36})\)\s*$")


# -- query building ---------------------------------------------------------------------------
def identifier(name: str) -> str:
    """A column, table or navigation name, validated; anything else raises ValueError."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a valid Dataverse name")
    return name


def literal(value: Any) -> str:
    """An OData literal for ``value``: strings quoted with ``'`` doubled, GUIDs bare, etc."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        number = Decimal(str(value))
        if not number.is_finite():
            raise ValueError("NaN and infinity have no OData literal")
        return format(number, "f")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no OData literal for {type(value).__name__}")


@dataclass(frozen=True)
class Filter:
    """A ``$filter`` expression built from safe parts; combine with ``&``, ``|`` and ``~``."""

    text: str

    def __and__(self, other: Filter) -> Filter:
        return Filter(f"({self.text}) and ({other.text})")

    def __or__(self, other: Filter) -> Filter:
        return Filter(f"({self.text}) or ({other.text})")

    def __invert__(self) -> Filter:
        return Filter(f"not ({self.text})")

    def __str__(self) -> str:
        return self.text


def _compare(op: str, column: str, value: Any) -> Filter:
    return Filter(f"{identifier(column)} {op} {literal(value)}")


def eq(column: str, value: Any) -> Filter:
    return _compare("eq", column, value)


def ne(column: str, value: Any) -> Filter:
    return _compare("ne", column, value)


def gt(column: str, value: Any) -> Filter:
    return _compare("gt", column, value)


def ge(column: str, value: Any) -> Filter:
    return _compare("ge", column, value)


def lt(column: str, value: Any) -> Filter:
    return _compare("lt", column, value)


def le(column: str, value: Any) -> Filter:
    return _compare("le", column, value)


def _text_function(name: str, column: str, text: str) -> Filter:
    if not isinstance(text, str):
        raise TypeError(f"{name} needs text, not {type(text).__name__}")
    return Filter(f"{name}({identifier(column)},{literal(text)})")


def like_literal(text: str) -> str:
    """``text`` matched as written: Dataverse reads ``%``, ``_`` and ``[`` in a string function's
    value as wildcards, so each is put in brackets (``[%]``)."""
    return "".join(f"[{c}]" if c in "%_[" else c for c in text)


def contains(column: str, text: str) -> Filter:
    """Rows whose ``column`` holds ``text`` as written (wildcard characters escaped)."""
    return _text_function("contains", column, like_literal(text) if isinstance(text, str) else text)


def startswith(column: str, text: str) -> Filter:
    return _text_function("startswith", column, like_literal(text) if isinstance(text, str) else text)


def endswith(column: str, text: str) -> Filter:
    return _text_function("endswith", column, like_literal(text) if isinstance(text, str) else text)


def lookup_value(column: str) -> str:
    """The Web API name of a lookup column's value: ``_x_value``."""
    return f"_{identifier(column)}_value"


def all_of(filters: Iterable[Filter]) -> Filter:
    items = list(filters)
    if not items:
        raise ValueError("all_of needs at least one filter")
    return Filter(" and ".join(f"({f.text})" for f in items)) if len(items) > 1 else items[0]


def any_of(filters: Iterable[Filter]) -> Filter:
    items = list(filters)
    if not items:
        raise ValueError("any_of needs at least one filter")
    return Filter(" or ".join(f"({f.text})" for f in items)) if len(items) > 1 else items[0]


@dataclass(frozen=True)
class Expand:
    navigation: str
    select: Sequence[str] = ()
    filter: Filter | None = None
    orderby: Sequence[str] = ()
    top: int | None = None

    def text(self) -> str:
        options = []
        if self.select:
            options.append("$select=" + ",".join(identifier(c) for c in self.select))
        if self.filter is not None:
            options.append(f"$filter={self.filter.text}")
        if self.orderby:
            options.append("$orderby=" + ",".join(_order(o) for o in self.orderby))
        if self.top is not None:
            options.append(f"$top={int(self.top)}")
        suffix = f"({';'.join(options)})" if options else ""
        return identifier(self.navigation) + suffix


def _order(item: str) -> str:
    column, _, direction = item.partition(" ")
    if direction not in ("", "asc", "desc"):
        raise ValueError(f"{item!r}: the direction must be asc or desc")
    return identifier(column) + (f" {direction}" if direction else "")


@dataclass(frozen=True)
class Query:
    entity_set: str
    select: Sequence[str] = ()
    filter: Filter | None = None
    orderby: Sequence[str] = ()
    top: int | None = None
    expand: Sequence[Expand] = ()
    count: bool = False
    apply: str | None = None

    def params(self) -> dict[str, str]:
        identifier(self.entity_set)
        params: dict[str, str] = {}
        if self.select:
            params["$select"] = ",".join(identifier(c) for c in self.select)
        if self.filter is not None:
            params["$filter"] = self.filter.text
        if self.orderby:
            params["$orderby"] = ",".join(_order(o) for o in self.orderby)
        if self.top is not None:
            if self.top < 0:
                raise ValueError("$top cannot be negative")
            params["$top"] = str(int(self.top))
        if self.expand:
            params["$expand"] = ",".join(e.text() for e in self.expand)
        if self.count:
            params["$count"] = "true"
        if self.apply:
            params["$apply"] = self.apply
        return params


def groupby_sum(group: Sequence[str], column: str, alias: str, where: Filter | None = None) -> str:
    """``$apply`` text: Σ ``column`` per ``group`` (optionally over the rows matching ``where``)."""
    text = f"groupby(({','.join(identifier(g) for g in group)}),aggregate({identifier(column)} with sum as {identifier(alias)}))"
    return f"filter({where.text})/{text}" if where is not None else text


# -- $batch framing ---------------------------------------------------------------------------
@dataclass
class Operation:
    """One write in a batch. ``url`` is relative to the API root (``accounts(…)``) or ``$n``."""

    method: str
    url: str
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content_id: str | None = None


@dataclass
class BatchResult:
    status: int
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status < 400

    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip() else None

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def error(self) -> tuple[str | None, str]:
        try:
            payload = self.json()
            return payload["error"].get("code"), payload["error"].get("message") or ""
        except (ValueError, TypeError, KeyError, AttributeError):
            return None, self.body.decode("utf-8", "replace")[:300]


def _operation_text(op: Operation, base_url: str) -> str:
    target = op.url if op.url.startswith("$") else base_url + op.url
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if op.content_id is not None:
        lines.append(f"Content-ID: {op.content_id}")
    lines += ["", f"{op.method.upper()} {target} HTTP/1.1"]
    body = ""
    headers = dict(op.headers)
    if op.body is not None:
        headers.setdefault("Content-Type", "application/json; type=entry")
        body = json.dumps(op.body, ensure_ascii=False, separators=(",", ":"))
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines += ["", body]
    return "\r\n".join(lines)


def encode_batch(parts: Sequence[Operation | Sequence[Operation]], base_url: str,
                 boundary: str | None = None) -> tuple[str, bytes]:
    """(Content-Type, body) of a ``$batch`` request; a nested sequence is one changeset."""
    boundary = boundary or f"batch_{uuid.uuid4()}"
    chunks: list[str] = []
    for part in parts:
        if isinstance(part, Operation):
            if part.method.upper() != "GET" and part.content_id is not None:
                raise ValueError("Content-ID belongs to operations inside a changeset")
            chunks.append(f"--{boundary}\r\n{_operation_text(part, base_url)}\r\n")
            continue
        changeset = f"changeset_{uuid.uuid4()}"
        inner = []
        for op in part:
            if op.method.upper() == "GET":
                raise ValueError("a GET cannot go inside a changeset")
            inner.append(f"--{changeset}\r\n{_operation_text(op, base_url)}\r\n")
        chunks.append(f"--{boundary}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n"
                      + "".join(inner) + f"--{changeset}--\r\n")
    body = "".join(chunks) + f"--{boundary}--\r\n"
    return f"multipart/mixed; boundary={boundary}", body.encode("utf-8")


def _boundary(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = re.search(r'boundary\s*=\s*"?([^";\s]+)"?', content_type, re.IGNORECASE)
    return match.group(1) if match else None


def _split_parts(text: str, boundary: str) -> list[str]:
    delimiter = f"--{boundary}"
    if f"{delimiter}--" not in text:
        raise ValueError(f"the closing delimiter {delimiter}-- is missing")
    body = text.split(f"{delimiter}--", 1)[0]
    pieces = body.split(delimiter)[1:]
    return [re.sub(r"^\r?\n", "", piece) for piece in pieces]


def _head_and_rest(text: str) -> tuple[dict[str, str], str]:
    match = re.search(r"\r?\n\r?\n", text)
    head, rest = (text[: match.start()], text[match.end():]) if match else (text, "")
    headers: dict[str, str] = {}
    for line in re.split(r"\r?\n", head):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"the header line {line!r} is malformed")
        headers[name.strip()] = value.strip()
    return headers, rest


def decode_batch_response(content_type: str | None, body: bytes) -> list[BatchResult | list[BatchResult]]:
    """Parse a ``$batch`` response; raises ValueError if it is not well formed."""
    boundary = _boundary(content_type)
    if boundary is None:
        raise ValueError(f"the Content-Type {content_type!r} has no multipart boundary")
    text = body.decode("utf-8")
    results: list[BatchResult | list[BatchResult]] = []
    for piece in _split_parts(text, boundary):
        headers, rest = _head_and_rest(piece)
        content = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        inner = _boundary(content) if content.lower().startswith("multipart/") else None
        if inner:
            results.append([_http_part(sub) for sub in _split_parts(rest, inner)])
        else:
            results.append(_http_part(piece))
    return results


def _http_part(piece: str) -> BatchResult:
    part_headers, rest = _head_and_rest(piece)
    content_id = next((v for k, v in part_headers.items() if k.lower() == "content-id"), None)
    status_line, _, remainder = rest.lstrip("\r\n").partition("\n")
    words = status_line.strip().split()
    if len(words) < 2 or not words[0].startswith("HTTP/") or not words[1].isdigit():
        raise ValueError(f"the status line {status_line.strip()!r} is malformed")
    headers, body = _head_and_rest(remainder) if remainder.strip() else ({}, "")
    return BatchResult(int(words[1]), headers, body.rstrip("\r\n").encode("utf-8"), content_id)


# -- the client -------------------------------------------------------------------------------
def dataverse_error(payload: Any) -> tuple[str | None, str | None]:
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        return error.get("code"), error.get("message")
    return None, None


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    count: int | None
    next_link: str | None


def etag_of(row: Mapping[str, Any]) -> str | None:
    value = row.get("@odata.etag")
    return value if isinstance(value, str) else None


def record_counts_of(payload: Any) -> dict[str, int] | None:
    """Table → row count from a ``RetrieveTotalRecordCount`` answer; None when it is not one."""
    found = payload.get("EntityRecordCountCollection") if isinstance(payload, dict) else None
    keys, values = (found.get("Keys"), found.get("Values")) if isinstance(found, dict) else (None, None)
    if not isinstance(keys, list) or not isinstance(values, list) or len(keys) != len(values) \
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return None
    return {str(k): int(v) for k, v in zip(keys, values, strict=True)}


class DataverseClient:
    """One client per org for the app's lifetime; ``base_url`` ends in ``/api/data/v9.2/``."""

    def __init__(self, base_url: str, *, token: Any = None, transport: httpx.AsyncBaseTransport | None = None,
                 max_concurrency: int = 4, retry: RetryPolicy | None = None, sleep: Any = None,
                 rng: Any = None, timeout: httpx.Timeout | None = None):
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.token = token
        extra: dict[str, Any] = {}
        if sleep is not None:
            extra["sleep"] = sleep
        if rng is not None:
            extra["rng"] = rng
        self.http = ServiceClient(
            "Dataverse", self.base_url, headers=ODATA_HEADERS, timeout=timeout, max_concurrency=max_concurrency,
            retry=retry, error_parser=dataverse_error, auth_headers=self._auth if token is not None else None,
            on_unauthorised=self._reauthorise if token is not None else None, transport=transport, **extra)

    async def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token.access_token()}"}

    async def _reauthorise(self) -> bool:
        return bool(await self.token.invalidate())

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> DataverseClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- reads ------------------------------------------------------------------------------
    async def whoami(self) -> dict[str, Any]:
        payload = await self.http.request_json("GET", "WhoAmI")
        info = self.http.info("GET", "WhoAmI")
        for name in ("UserId", "OrganizationId"):
            require(info, payload, name, str)
        return payload

    async def record_counts(self, logical_names: Sequence[str]) -> dict[str, int]:
        """``RetrieveTotalRecordCount``: each table's row count as of the service's last daily
        snapshot — an estimate to size queries by, never a count to report."""
        names = json.dumps([identifier(n) for n in logical_names])
        url = "RetrieveTotalRecordCount(EntityNames=@p1)"
        payload = await self.http.request_json("GET", url, params={"@p1": names})
        counts = record_counts_of(payload)
        if counts is None:
            raise ProtocolError(self.http.info("GET", url),
                                "the field 'EntityRecordCountCollection' should hold Keys and Values alike")
        return counts

    async def user_name(self, user_id: str) -> str | None:
        """The signed-in user's full name, or None when it cannot be read."""
        try:
            row = await self.get("systemusers", user_id, ["fullname"])
        except (ServiceError, ProtocolError, ValueError):
            return None  # someone who may not read users can still work
        name = row.get("fullname") if row else None
        return name if isinstance(name, str) and name else None

    async def pages(self, query: Query, page_size: int = MAX_PAGE_SIZE,
                    annotations: bool = False) -> AsyncIterator[Page]:
        """Each page of a query, following ``@odata.nextLink`` unchanged with the same header."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"the page size must be 1 to {MAX_PAGE_SIZE}")
        prefer = f"odata.maxpagesize={page_size}"
        if annotations:
            prefer += ',odata.include-annotations="*"'
        headers = {"Prefer": prefer}
        url: str | None = query.entity_set
        params: dict[str, str] | None = query.params()
        while url:
            response = await self.http.request("GET", url, params=params, headers=headers)
            payload = self.http.parse_json(response)
            info = self.http.info("GET", response.request.url)
            rows = require(info, payload, "value", list)
            if not all(isinstance(row, dict) for row in rows):
                raise ProtocolError(info, "the field 'value' should hold JSON objects")
            next_link = payload.get("@odata.nextLink")
            if next_link is not None and not isinstance(next_link, str):
                raise ProtocolError(info, "the field '@odata.nextLink' should be a URL")
            count = payload.get("@odata.count")
            yield Page(rows, count if isinstance(count, int) else None, next_link)
            url, params = next_link, None

    async def related(self, row: Mapping[str, Any], navigation: str,
                      page_size: int = MAX_PAGE_SIZE) -> list[dict[str, Any]]:
        """Every row of an expanded collection-valued navigation property of ``row``.

        A single-level ``$expand`` returns related rows inline without paging, up to
        :data:`EXPANDED_INLINE_LIMIT`, with ``<property>@odata.nextLink`` to the whole filtered
        collection; when the inline rows reach the limit there may be more, and the link is
        followed (paged) instead.
        """
        inline = row.get(navigation) or []
        link = row.get(f"{navigation}@odata.nextLink")
        if not isinstance(inline, list) or not all(isinstance(r, dict) for r in inline):
            raise ProtocolError(self.http.info("GET", navigation), f"the field '{navigation}' should hold JSON objects")
        if len(inline) < EXPANDED_INLINE_LIMIT or not isinstance(link, str):
            return list(inline)
        return [r async for page in self._follow(link, page_size) for r in page.rows]

    async def _follow(self, url: str, page_size: int) -> AsyncIterator[Page]:
        headers = {"Prefer": f"odata.maxpagesize={page_size}"}
        next_url: str | None = url
        while next_url:
            response = await self.http.request("GET", next_url, headers=headers)
            payload = self.http.parse_json(response)
            info = self.http.info("GET", response.request.url)
            rows = require(info, payload, "value", list)
            next_url = payload.get("@odata.nextLink") if isinstance(payload.get("@odata.nextLink"), str) else None
            yield Page(rows, None, next_url)

    async def rows(self, query: Query, page_size: int = MAX_PAGE_SIZE) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = []
        async for page in self.pages(query, page_size):
            result.extend(page.rows)
        return result

    async def get(self, entity_set: str, row_id: UUID | str, select: Sequence[str] = ()) -> dict[str, Any] | None:
        """One row, or None when it does not exist."""
        params = {"$select": ",".join(identifier(c) for c in select)} if select else None
        url = f"{identifier(entity_set)}({UUID(str(row_id))})"
        response = await self.http.request("GET", url, params=params, expect=(404,))
        if response.status_code == 404:
            return None
        payload = self.http.parse_json(response)
        if not isinstance(payload, dict):
            raise ProtocolError(self.http.info("GET", url), "expected a JSON object")
        return payload

    # -- writes -----------------------------------------------------------------------------
    async def create(self, entity_set: str, body: Mapping[str, Any]) -> UUID:
        """Create a row; returns its id from the ``OData-EntityId`` header."""
        url = identifier(entity_set)
        response = await self.http.request("POST", url, json_body=dict(body))
        entity_id = response.headers.get("OData-EntityId", "")
        match = _ENTITY_ID.search(entity_id)
        if not match:
            raise ProtocolError(self.http.info("POST", url), "the OData-EntityId header is missing or has no id")
        return UUID(match.group(1))

    async def update(self, entity_set: str, row_id: UUID | str, body: Mapping[str, Any], *,
                     if_match: str = "*") -> str | None:
        """PATCH only the given columns. ``if_match`` is an ETag, or ``*`` to forbid an upsert.

        Returns the new ETag when the service sends one. Never re-sent once sent: if the answer
        was lost the update may have landed, and a second try would only meet its own new ETag
        (a 412 that says nothing of whether it was applied).
        """
        url = f"{identifier(entity_set)}({UUID(str(row_id))})"
        response = await self.http.request("PATCH", url, json_body=dict(body), headers={"If-Match": if_match},
                                           idempotent=False)
        return response.headers.get("ETag")

    async def deactivate(self, entity_set: str, row_id: UUID | str, *, statecode: int, statuscode: int,
                         if_match: str = "*") -> str | None:
        return await self.update(entity_set, row_id, {"statecode": statecode, "statuscode": statuscode},
                                 if_match=if_match)

    async def batch(self, parts: Sequence[Operation | Sequence[Operation]], *,
                    continue_on_error: bool = False) -> list[BatchResult | list[BatchResult]]:
        """Send one ``$batch``; refusals come back as results, not exceptions."""
        total = sum(1 if isinstance(p, Operation) else len(p) for p in parts)
        if total > MAX_BATCH:
            raise ValueError(f"a batch holds at most {MAX_BATCH} requests, not {total}")
        content_type, body = encode_batch(parts, self.base_url)
        headers = {"Content-Type": content_type}
        if continue_on_error:
            headers["Prefer"] = "odata.continue-on-error"
        # 429 is retried by the base client (nothing ran); anything after sending is not resent.
        response = await self.http.request("POST", "$batch", content=body, headers=headers, idempotent=False,
                                           expect=tuple(range(400, 429)) + tuple(range(430, 500)))
        info = self.http.info("POST", "$batch")
        if response.status_code >= 400 and not response.headers.get("Content-Type", "").startswith("multipart/"):
            raise self.http.error(info, response)
        try:
            return decode_batch_response(response.headers.get("Content-Type"), response.content)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProtocolError(info, f"the $batch response is not valid multipart: {exc}") from None

    # -- metadata ---------------------------------------------------------------------------
    async def entity_metadata(self, logical_name: str) -> EntityMetadata:
        """Entity set, primary attributes, attributes, option sets and navigation names."""
        name = identifier(logical_name)
        base = f"EntityDefinitions(LogicalName='{name}')"
        info = self.http.info("GET", base)
        entity = await self.http.request_json("GET", base, params={
            "$select": "LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute"})
        attributes = await self.http.request_json("GET", f"{base}/Attributes", params={
            "$select": "LogicalName,AttributeType"})
        lookups = await self.http.request_json("GET", f"{base}/Attributes/Microsoft.Dynamics.CRM.LookupAttributeMetadata",
                                               params={"$select": "LogicalName,Targets"})
        strings = await self.http.request_json("GET", f"{base}/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata",
                                               params={"$select": "LogicalName,MaxLength"})
        relationships = await self.http.request_json("GET", f"{base}/ManyToOneRelationships", params={
            "$select": "ReferencingAttribute,ReferencedEntity,ReferencingEntityNavigationPropertyName"})
        collections = await self.http.request_json("GET", f"{base}/OneToManyRelationships", params={
            "$select": "ReferencingEntity,ReferencingAttribute,ReferencedEntityNavigationPropertyName"})
        options: dict[str, dict[int, str]] = {}
        status_state: dict[int, int] = {}
        for cast in ("PicklistAttributeMetadata", "StatusAttributeMetadata", "StateAttributeMetadata"):
            payload = await self.http.request_json(
                "GET", f"{base}/Attributes/Microsoft.Dynamics.CRM.{cast}",
                params={"$select": "LogicalName", "$expand": "OptionSet($select=Options)"})
            for attr in require(info, payload, "value", list):
                option_set = require(info, attr, "OptionSet", dict)
                values: dict[int, str] = {}
                for option in require(info, option_set, "Options", list):
                    value = require(info, option, "Value", int)
                    label = ((option.get("Label") or {}).get("UserLocalizedLabel") or {}).get("Label") or str(value)
                    values[value] = label
                    if cast == "StatusAttributeMetadata" and isinstance(option.get("State"), int):
                        status_state[value] = option["State"]
                options[require(info, attr, "LogicalName", str)] = values
        return EntityMetadata(
            logical_name=require(info, entity, "LogicalName", str),
            entity_set=require(info, entity, "EntitySetName", str),
            primary_id=require(info, entity, "PrimaryIdAttribute", str),
            primary_name=entity.get("PrimaryNameAttribute") or "",
            attributes={require(info, a, "LogicalName", str): str(a.get("AttributeType") or "")
                        for a in require(info, attributes, "value", list)},
            targets={require(info, a, "LogicalName", str): list(a.get("Targets") or [])
                     for a in require(info, lookups, "value", list)},
            navigation={require(info, r, "ReferencingAttribute", str):
                        require(info, r, "ReferencingEntityNavigationPropertyName", str)
                        for r in require(info, relationships, "value", list)},
            collections={(require(info, r, "ReferencingEntity", str), require(info, r, "ReferencingAttribute", str)):
                         require(info, r, "ReferencedEntityNavigationPropertyName", str)
                         for r in require(info, collections, "value", list)},
            options=options,
            status_state=status_state,
            max_lengths={require(info, a, "LogicalName", str): int(a["MaxLength"])
                         for a in require(info, strings, "value", list) if isinstance(a.get("MaxLength"), int)},
        )


@dataclass(frozen=True)
class EntityMetadata:
    logical_name: str
    entity_set: str
    primary_id: str
    primary_name: str
    attributes: dict[str, str]  # logical name → AttributeType
    targets: dict[str, list[str]]  # lookup → referenced tables
    navigation: dict[str, str]  # lookup → navigation property name (case-sensitive)
    collections: dict[tuple[str, str], str]  # (referencing table, lookup) → collection navigation name
    options: dict[str, dict[int, str]]  # option-set column → value → label
    status_state: dict[int, int]  # statuscode value → statecode it belongs to
    max_lengths: dict[str, int] = field(default_factory=dict)  # text column → most characters

    def to_json(self) -> dict[str, Any]:
        return {
            "logical_name": self.logical_name, "entity_set": self.entity_set, "primary_id": self.primary_id,
            "primary_name": self.primary_name, "attributes": self.attributes, "targets": self.targets,
            "navigation": self.navigation,
            "collections": [[k[0], k[1], v] for k, v in self.collections.items()],
            "options": {k: {str(v): label for v, label in values.items()} for k, values in self.options.items()},
            "status_state": {str(k): v for k, v in self.status_state.items()},
            "max_lengths": self.max_lengths,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EntityMetadata:
        return cls(
            logical_name=data["logical_name"], entity_set=data["entity_set"], primary_id=data["primary_id"],
            primary_name=data["primary_name"], attributes=dict(data["attributes"]), targets=dict(data["targets"]),
            navigation=dict(data["navigation"]),
            collections={(a, b): c for a, b, c in data["collections"]},
            options={k: {int(v): label for v, label in values.items()} for k, values in data["options"].items()},
            status_state={int(k): v for k, v in data["status_state"].items()},
            max_lengths=dict(data.get("max_lengths", {})),
        )

