"""Reading a whole book for the reports, in as few requests as the service allows.

Σ LCL per subscription is asked of Dataverse with ``$apply`` (``filter(…)/groupby(…,aggregate(…))``),
which answers for at most 50,000 rows (SPEC §4: beyond that it refuses with
``AggregateQueryRecordLimit``). A larger book is split by ranges of ``createdon``: the whole is
asked first; when refused, the span between the first and the last row is cut into slices
whose width adapts to the rows each slice held (aiming at 40,000), halving a slice the service
refuses. Sums add up across slices, so a subscription whose LCLs fall in several slices is still
right. Only a slice that cannot be cut (one second holding more than the limit), or a service
that refuses ``$apply`` altogether, is paged.

The subscriptions themselves are listed the same way, grouped by id (one group per row), so a
book of 50,000 is one request; paged when the service will not group.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx

from w365tui.clients.http import ServiceError
from w365tui.clients.odata import (
    BatchResult,
    Expand,
    Filter,
    Operation,
    Query,
    all_of,
    eq,
    ge,
    identifier,
    literal,
    lt,
    record_counts_of,
)
from w365tui.domain.reports import EVERYTHING, LclFact, ProviderAccountFact, Scope, SubFact
from w365tui.work365.reads import FORMATTED, Reads
from w365tui.work365.rows import model, select

LIMIT_CODE = "0x8004e023"  # AggregateQueryRecordLimit exceeded
SLICE_TARGET = 40_000  # rows a slice aims at, under the limit with room for uneven data
WHOLE_BELOW = 45_000  # a table estimated smaller is asked whole first
FIRST_SLICES = 16  # a book of unknown size too large for one aggregate is first cut this fine
SECOND = timedelta(seconds=1)
PAGE = 5000


class AggregateLimit(Exception):
    """The service would read more rows than one aggregate may."""


@dataclass
class Meter:
    """What reading a report has cost so far; ``changed`` is told after every request."""

    requests: int = 0
    rows: int = 0
    methods: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    changed: Callable[[Meter], None] | None = None

    def count(self, rows: int) -> None:
        self.requests += 1
        self.rows += rows
        if self.changed is not None:
            self.changed(self)

    def used(self, method: str) -> None:
        if method not in self.methods:
            self.methods.append(method)

    @property
    def method(self) -> str:
        return " + ".join(self.methods)


def _moment(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _through(nav: str, column: str, value: Any) -> Filter:
    """``nav/column eq value``: a condition on the row a lookup points at."""
    return Filter(f"{identifier(nav)}/{identifier(column)} eq {literal(value)}")


def _first_created(answer: Any) -> datetime | None:
    rows = answer.get("value") if isinstance(answer, dict) else None
    return _moment(rows[0].get("createdon")) if isinstance(rows, list) and rows and isinstance(rows[0], dict) else None


def key(value: Any) -> str:
    """A row id as sums are keyed by: the GUID's text, lower case, without braces."""
    return str(value).strip("{}").lower()


def _uuid(value: Any) -> UUID | None:
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


class ReportReads:
    def __init__(self, reads: Reads, meter: Meter | None = None, *, method: str = "auto"):
        self.reads = reads
        self.dv = reads.dv
        self.schema = reads.schema
        self.meter = meter or Meter()
        self.method = method  # auto | paging (the bench's comparison)
        self._estimates: dict[str, int] | None = None
        self._spans: dict[str, tuple[datetime, datetime]] | None = None
        self._asking = asyncio.Lock()  # what two reads running together both need is asked once

    def _w(self, role: str, name: str) -> str:
        return self.reads._w(role, name)

    # -- requests, counted ---------------------------------------------------------------------
    async def _pages(self, query: Query, *, annotations: bool = False) -> AsyncIterator[list[dict[str, Any]]]:
        async for page in self.dv.pages(query, PAGE, annotations=annotations):
            self.meter.count(len(page.rows))
            yield page.rows

    async def _rows(self, query: Query, *, annotations: bool = False) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        async for rows in self._pages(query, annotations=annotations):
            out += rows
        return out

    async def _aggregate(self, entity_set: str, apply: str, key_of: Callable[[dict[str, Any]], Any] | None = None,
                         *, annotations: bool = False) -> list[dict[str, Any]]:
        """One aggregate's groups; :class:`AggregateLimit` when it reads too many rows — or when a
        group comes twice (were the service to page an aggregate and repeat a group, a sum would
        count it twice: the slice is cut smaller instead)."""
        try:
            rows = await self._rows(Query(entity_set, apply=apply), annotations=annotations)
        except ServiceError as error:
            if (error.code or "").lower() == LIMIT_CODE or "aggregatequeryrecordlimit" in str(error).lower():
                self.meter.count(0)
                raise AggregateLimit(str(error)) from None
            raise
        if key_of is not None:
            keys = [key_of(row) for row in rows]
            if len(set(keys)) != len(keys):
                raise AggregateLimit("the service answered a group twice")
        return rows

    async def _probe(self) -> None:
        """What slicing a large book is sized by, asked once, in one ``$batch``: each table's
        row count as of the service's daily snapshot (``RetrieveTotalRecordCount``: an
        estimate), and the first and last ``createdon`` of each. Each asked on its own when the
        service refuses the batch."""
        async with self._asking:
            if self._estimates is not None:
                return
            roles = ("subscription", "licensechangelog")
            names = [self.schema.table(role).logical_name for role in roles]
            counts = f"RetrieveTotalRecordCount(EntityNames=@p1)?{httpx.QueryParams({'@p1': json.dumps(names)})}"
            edges = {(role, direction): self._edge_query(role, direction) for role in roles
                     for direction in ("asc", "desc")}
            answers: list[Any] = []
            try:
                results = await self.dv.batch([Operation("GET", counts)] + [
                    Operation("GET", f"{q.entity_set}?{httpx.QueryParams(q.params())}") for q in edges.values()])
                self.meter.count(0)  # one request, however many it carries
                answers = [r.json() if isinstance(r, BatchResult) and r.ok else None for r in results]
            except ServiceError:
                answers = []
            if len(answers) == 1 + len(edges):
                self._estimates = record_counts_of(answers[0]) or {}
            else:  # the batch was refused: one request each
                try:
                    self._estimates = await self.dv.record_counts(names)
                except ServiceError:
                    self._estimates = {}
                self.meter.count(0)
                answers = [None] + [{"value": await self._rows(query)} for query in edges.values()]
            found = {key: _first_created(answer) for key, answer in zip(edges, answers[1:], strict=True)}
            self._spans = {role: (found[(role, "asc")], found[(role, "desc")]) for role in roles
                           if found[(role, "asc")] is not None and found[(role, "desc")] is not None}

    def _edge_query(self, role: str, direction: str) -> Query:
        t = self.schema.table(role)
        return Query(t.entity_set, select=[t.primary_id, "createdon"], orderby=[f"createdon {direction}"], top=1)

    async def estimates(self) -> dict[str, int]:
        """Rows per table as of the service's daily snapshot; empty when it will not say."""
        await self._probe()
        return self._estimates or {}

    async def _span(self, role: str) -> tuple[datetime, datetime] | None:
        """The first and the last ``createdon`` of the table: the span it is sliced over. Slices
        at either end are open, so a row created since is still read."""
        await self._probe()
        return self._spans.get(role) if self._spans else None

    async def _sliced(self, role: str, where: Filter | None, body: str,
                      paged: Callable[[Filter | None], Awaitable[list[dict[str, Any]]]],
                      estimate: int | None, key_of: Callable[[dict[str, Any]], Any]) -> list[dict[str, Any]]:
        """``body`` (a ``groupby`` counting its rows ``as n``) over the rows of ``role`` matching
        ``where``: one aggregate when it fits, else slice after slice of ``createdon``, each
        sized by the rows the last one held; ``paged`` answers in the same shape for a slice that
        cannot be cut. ``estimate``: about how many rows there are (None: unknown); ``key_of``:
        a group's key, which one answer must not hold twice."""
        t = self.schema.table(role)

        def text(condition: Filter | None) -> str:
            return f"filter({condition.text})/{body}" if condition is not None else body

        if estimate is None or estimate <= WHOLE_BELOW:
            try:
                rows = await self._aggregate(t.entity_set, text(where), key_of)
                self.meter.used("aggregate")
                return rows
            except AggregateLimit:
                estimate = None
        span = await self._span(role)
        if span is None:  # no row has a creation time: nothing to slice by
            self.meter.used("paging")
            return await paged(where)
        lo, hi = (m.replace(microsecond=0) for m in span)
        hi += timedelta(seconds=1)
        pieces = math.ceil(estimate / SLICE_TARGET) if estimate else FIRST_SLICES
        width = max(SECOND, (hi - lo) / max(1, pieces))
        edge: datetime | None = None  # where the next slice starts; None: from the beginning of time
        out: list[dict[str, Any]] = []
        while True:
            begin = edge or lo
            end = begin + max(SECOND, timedelta(seconds=round(width.total_seconds())))
            last = end >= hi
            bounds = ([ge("createdon", edge)] if edge is not None else []) + ([] if last else [lt("createdon", end)])
            parts = ([where] if where is not None else []) + bounds
            condition = all_of(parts) if parts else None
            try:
                rows = await self._aggregate(t.entity_set, text(condition), key_of)
            except AggregateLimit:
                if end - begin <= SECOND:  # one second holds more than the limit: read its rows
                    self.meter.used("paging")
                    rows = await paged(condition)
                else:
                    width = (end - begin) / 2
                    continue
            out += rows
            self.meter.used("aggregate in slices")
            if last:
                return out
            held = sum(int(r.get("n") or 0) for r in rows)
            edge = end
            width = (end - begin) * max(0.25, min(4.0, SLICE_TARGET / max(held, 1)))

    # -- subscriptions -------------------------------------------------------------------------------
    def _sub_conditions(self, scope: Scope) -> list[Filter]:
        if scope.kind == "customer" and scope.id is not None:
            return [eq(self._w("subscription", "customer"), scope.id)]
        if scope.kind == "provider" and scope.id is not None:
            return [eq(self._w("subscription", "provider"), scope.id)]
        return []

    def _lcl_conditions(self, scope: Scope) -> list[Filter]:
        t = self.schema.table("licensechangelog")
        nav = t.nav("subscription")
        if scope.kind == "customer" and scope.id is not None:
            return [_through(nav, self._w("subscription", "customer"), scope.id)]
        if scope.kind == "provider" and scope.id is not None:
            return [_through(nav, self._w("subscription", "provider"), scope.id)]
        return []

    def _names(self) -> dict[str, tuple[str, str]]:
        """Lookup field → (navigation property, the target's name column): the names a
        subscription listing groups by, so a customer's and a provider's names come with it."""
        t = self.schema.table("subscription")
        return {field: (t.nav(field), self.schema.table(target).column("name"))
                for field, target in (("customer", "account"), ("provider", "provider"))}

    def facts(self, rows: Iterable[dict[str, Any]], keep: Callable[[str, int], bool] | None = None) -> list[SubFact]:
        """Rows as facts; ``keep(id, quantity)`` says which are worth it (the id as
        :func:`key` spells it) — turning 50,000 rows into facts costs more than reading them."""
        t = self.schema.table("subscription")
        pk, name, quantity = t.primary_id, t.column("name"), t.column("quantity")
        psid = t.column("providersubscriptionid")
        fields = {f: (self._w("subscription", f), *self._names()[f]) for f in ("customer", "provider")}

        def shown(row: dict[str, Any], field: str) -> str:
            wire, nav, column = fields[field]
            related = row.get(nav)
            value = related.get(column) if isinstance(related, dict) else None
            return str(value or row.get(f"{wire}@{FORMATTED}") or "")

        out = []
        for row in rows:
            held = int(row.get(quantity) or 0)
            if keep is not None and not keep(key(row.get(pk)), held):
                continue
            out.append(SubFact(
                id=UUID(str(row[pk])), name=str(row.get(name) or ""), quantity=held,
                active=row.get("statecode") in (0, None),
                customer_id=_uuid(row.get(fields["customer"][0])), customer=shown(row, "customer"),
                provider_id=_uuid(row.get(fields["provider"][0])), provider=shown(row, "provider"),
                provider_subscription_id=row.get(psid) or None))
        return out

    async def _estimate(self, role: str, scope: Scope) -> int | None:
        if scope.kind == "customer":  # one customer's rows: asked whole first
            return None
        return (await self.estimates()).get(self.schema.table(role).logical_name)

    async def subscriptions(self, scope: Scope = EVERYTHING, *, keep: Callable[[str, int], bool] | None = None,
                            provider_ids: bool = False) -> list[SubFact]:
        """The subscriptions in scope, active or not: id, name, quantity, state, customer and
        provider with their names (and the provider subscription id, with ``provider_ids``);
        ``keep(id, quantity)`` chooses which become facts."""
        return self.facts(await self.subscription_rows(scope, provider_ids=provider_ids), keep)

    async def subscription_rows(self, scope: Scope = EVERYTHING, *,
                                provider_ids: bool = False) -> list[dict[str, Any]]:
        """:meth:`subscriptions` as the service answered, to be made :meth:`facts` later."""
        t = self.schema.table("subscription")
        columns = [t.primary_id, t.column("name"), t.column("quantity"), "statecode",
                   self._w("subscription", "customer"), self._w("subscription", "provider")]
        if provider_ids:
            columns.append(t.column("providersubscriptionid"))
        conditions = self._sub_conditions(scope)
        where = all_of(conditions) if conditions else None

        async def paged(condition: Filter | None) -> list[dict[str, Any]]:
            return await self._rows(Query(t.entity_set, select=columns, filter=condition), annotations=True)

        group = columns + [f"{nav}/{column}" for nav, column in self._names().values()]
        return await self._grouped_or_paged("subscription", where, f"groupby(({','.join(group)}),aggregate($count as n))",
                                            paged, await self._estimate("subscription", scope),
                                            lambda row: key(row.get(t.primary_id)))

    async def _grouped_or_paged(self, role: str, where: Filter | None, body: str,
                                paged: Callable[[Filter | None], Awaitable[list[dict[str, Any]]]],
                                estimate: int | None, key_of: Callable[[dict[str, Any]], Any]) -> list[dict[str, Any]]:
        if self.method == "paging":
            self.meter.used("paging")
            return await paged(where)
        try:
            return await self._sliced(role, where, body, paged, estimate, key_of)
        except ServiceError as error:
            if error.status != 400:
                raise
            # The service will not aggregate this (an org's limits differ): read the rows instead.
            self.meter.notes.append(f"Dataverse would not aggregate the {role}s ({error}); they were paged instead.")
            self.meter.used("paging")
            return await paged(where)

    async def lcl_sums(self, scope: Scope = EVERYTHING) -> dict[str, int]:
        """Σ quantity of every LCL (Active and Archived) per subscription in scope, by the
        subscription's id as :func:`key` spells it."""
        t = self.schema.table("licensechangelog")
        owner, quantity = self._w("licensechangelog", "subscription"), t.column("quantity")
        conditions = self._lcl_conditions(scope)
        where = all_of(conditions) if conditions else None

        async def paged(condition: Filter | None) -> list[dict[str, Any]]:
            sums: dict[str, list[int]] = {}
            async for rows in self._pages(Query(t.entity_set, select=[t.primary_id, owner, quantity], filter=condition)):
                for row in rows:
                    if row.get(owner):
                        held = sums.setdefault(str(row[owner]), [0, 0])
                        held[0] += int(row.get(quantity) or 0)
                        held[1] += 1
            return [{owner: k, "total": v[0], "n": v[1]} for k, v in sums.items()]

        body = f"groupby(({owner}),aggregate({quantity} with sum as total,$count as n))"
        totals: dict[str, int] = {}
        for row in await self._grouped_or_paged("licensechangelog", where, body, paged,
                                                await self._estimate("licensechangelog", scope),
                                                lambda row: key(row.get(owner))):
            held = row.get(owner)
            if held:
                k = key(held)
                totals[k] = totals.get(k, 0) + int(row.get("total") or 0)
        return totals

    async def subscriptions_in_detail(self, scope: Scope = EVERYTHING, *, missing_only: bool = False) -> list[SubFact]:
        """Active subscriptions in scope with contract, price, currency and start; ``missing_only``:
        only those missing one of them (asked of the service, so few come back)."""
        t = self.schema.table("subscription")
        fields = [f for f in ("name", "quantity", "customer", "provider", "billingcontract", "providersubscriptionid",
                              "sellingprice", "currency", "effectivestartdate") if t.has(f)]
        columns = [t.primary_id, "statecode"] + [self._w("subscription", f) for f in fields]
        conditions = [eq("statecode", 0), *self._sub_conditions(scope)]
        if missing_only:
            conditions.append(Filter(" or ".join(f"({eq(self._w('subscription', f), None).text})" for f in
                                                 ("customer", "billingcontract", "sellingprice", "currency",
                                                  "effectivestartdate") if t.has(f))))
        out = []
        async for rows in self._pages(Query(t.entity_set, select=columns, filter=all_of(conditions)), annotations=True):
            for row in rows:
                (fact,) = self.facts([row])
                sub = model(self.schema, "subscription", {k: v for k, v in row.items() if "@" not in k or
                                                          k.endswith("@odata.etag")})
                currency = None
                if t.has("currency") and row.get(self._w("subscription", "currency")):
                    currency = str(row.get(f"{self._w('subscription', 'currency')}@{FORMATTED}") or "set")
                out.append(SubFact(fact.id, sub.name, sub.quantity, True, sub.customer_id, fact.customer,
                                   sub.provider_id, fact.provider, sub.billing_contract_id,
                                   sub.provider_subscription_id, sub.selling_price, currency,
                                   sub.effective_start_date))
        return out

    def missing_checked(self) -> tuple[str, ...]:
        """Of the fields the missing-data report checks, those this org's subscriptions have."""
        t = self.schema.table("subscription")
        fields = {"customer_id": "customer", "billing_contract_id": "billingcontract", "selling_price": "sellingprice",
                  "currency": "currency", "effective_start_date": "effectivestartdate"}
        return tuple(attr for attr, name in fields.items() if t.has(name))

    # -- LCLs -------------------------------------------------------------------------------------------
    async def lcls(self, scope: Scope = EVERYTHING, *, without_account: bool = False,
                   uninvoiced_before: Any = None) -> list[LclFact]:
        """Active (not archived) LCLs in scope: those without an account, or those with no
        invoice effective before a date; the subscription's and account's names come as the
        service shows the lookups."""
        t = self.schema.table("licensechangelog")
        w = lambda name: self._w("licensechangelog", name)  # noqa: E731
        conditions = [eq("statecode", 0), *self._lcl_conditions(scope)]
        if without_account:
            conditions.append(eq(w("account"), None))
        if uninvoiced_before is not None:
            conditions += [eq(w("invoice"), None), lt(t.column("effectivedate"), uninvoiced_before)]
        out = []
        # The subscription's customer comes along: an LCL without account is shown under it.
        nav, owner = t.nav("subscription"), self._w("subscription", "customer")
        query = Query(t.entity_set, select=select(self.schema, "licensechangelog"), filter=all_of(conditions),
                      expand=[Expand(nav, select=[owner])])
        async for rows in self._pages(query, annotations=True):
            for row in rows:
                lcl = model(self.schema, "licensechangelog", {k: v for k, v in row.items() if "@" not in k or
                                                              k.endswith("@odata.etag")})
                parent = row.get(nav) if isinstance(row.get(nav), dict) else {}
                customer = row.get(f"{w('account')}@{FORMATTED}") or parent.get(f"{owner}@{FORMATTED}") or ""
                out.append(LclFact(
                    lcl.id, lcl.subscription_id, str(row.get(f"{w('subscription')}@{FORMATTED}") or ""),
                    lcl.account_id, str(customer),
                    str(row.get(f"{t.column('event')}@{FORMATTED}") or lcl.event.value), lcl.quantity,
                    lcl.effective_date,
                    lcl.provisioning_status.value.replace("_", " ") if lcl.provisioning_status else "",
                    lcl.is_archived, lcl.invoice_id is not None))
        return out

    # -- provider accounts -----------------------------------------------------------------------------
    async def unmapped(self, scope: Scope = EVERYTHING) -> list[ProviderAccountFact]:
        t = self.schema.table("provideraccount")
        provider = self._w("provideraccount", "provider")
        conditions = [eq("statecode", 0), eq(self._w("provideraccount", "account"), None)]
        if scope.kind == "provider" and scope.id is not None:
            conditions.append(eq(provider, scope.id))
        if scope.kind == "customer":  # a customer's accounts are mapped by definition
            return []
        out = []
        query = Query(t.entity_set, select=select(self.schema, "provideraccount") + ["createdon"],
                      filter=all_of(conditions))
        async for rows in self._pages(query, annotations=True):
            for row in rows:
                pa = model(self.schema, "provideraccount", {k: v for k, v in row.items() if "@" not in k or
                                                            k.endswith("@odata.etag")})
                created = _moment(row.get("createdon"))
                out.append(ProviderAccountFact(pa.id, pa.name, str(row.get(f"{provider}@{FORMATTED}") or ""),
                                               pa.provider_specific_id, created.date() if created else None))
        return out
