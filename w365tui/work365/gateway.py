"""Work 365 operations, in domain terms, over the Dataverse client and a discovered schema."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from w365tui.clients.odata import (
    ChangesetOutcome,
    DataverseClient,
    Expand,
    Filter,
    Operation,
    Query,
    chunk_operations,
    contains,
    eq,
    etag_of,
    lookup_value,
)
from w365tui.domain.enums import LclEvent, LclStatus, ProviderType, ProvisioningStatus, RecordState
from w365tui.domain.models import (
    TECHDATA_INTERNAL_NAME,
    Account,
    BillingContract,
    LicenseChangeLog,
    Provider,
    ProviderAccount,
    Subscription,
)
from w365tui.journal import Journal, TouchedRow
from w365tui.settings import SchemaOverrides
from w365tui.work365.schema import (
    SchemaError,
    Work365Schema,
    cache_path,
    discover,
    load_cached,
    save_cached,
)


class GatewayError(Exception):
    """A Work 365 operation cannot go ahead; the message says why."""


def _uuid(value: Any) -> UUID | None:
    return UUID(value) if isinstance(value, str) and value else None


def _date(value: Any) -> date | None:
    return date.fromisoformat(value[:10]) if isinstance(value, str) and value else None


def _decimal(value: Any) -> Decimal | None:
    return Decimal(str(value)) if isinstance(value, int | float) and not isinstance(value, bool) else None


class Work365:
    def __init__(self, dv: DataverseClient, schema: Work365Schema, organization_id: str | None = None):
        self.dv = dv
        self.schema = schema
        self.organization_id = organization_id

    @classmethod
    async def connect(cls, dv: DataverseClient, overrides: SchemaOverrides | None = None,
                      cache_root: Path | None = None, refresh: bool = False) -> Work365:
        """Identify the org, then load its schema from the cache or discover it (and cache it)."""
        who = await dv.whoami()
        organization = str(who["OrganizationId"])
        schema = None
        path = cache_path(cache_root, organization) if cache_root is not None else None
        if path is not None and not refresh:
            schema = load_cached(path)
        if schema is None:
            schema = await discover(dv, overrides)
            if path is not None:
                save_cached(path, schema)
        return cls(dv, schema, organization)

    # -- row mapping ------------------------------------------------------------------------
    def _col(self, role: str, name: str) -> str:
        return self.schema.table(role).column(name)

    def _lookup(self, row: Mapping[str, Any], role: str, name: str) -> UUID | None:
        return _uuid(row.get(lookup_value(self._col(role, name))))

    def _provider(self, row: Mapping[str, Any]) -> Provider:
        t = self.schema.table("provider")
        kind = self.schema.meaning("provider_type", row.get(t.column("type")))
        return Provider(id=UUID(row[t.primary_id]), etag=etag_of(row), name=row.get(t.column("name")) or "",
                        internal_name=row.get(t.column("internalname")), type=ProviderType(kind) if kind else None)

    def _provider_account(self, row: Mapping[str, Any]) -> ProviderAccount:
        t = self.schema.table("provideraccount")
        return ProviderAccount(id=UUID(row[t.primary_id]), etag=etag_of(row), name=row.get(t.column("name")) or "",
                               provider_specific_id=row.get(t.column("providerspecificid")),
                               provider_id=self._lookup(row, "provideraccount", "provider"),
                               account_id=self._lookup(row, "provideraccount", "account"))

    def _account(self, row: Mapping[str, Any]) -> Account:
        t = self.schema.table("account")
        return Account(id=UUID(row[t.primary_id]), etag=etag_of(row), name=row.get(t.column("name")) or "",
                       website=row.get(t.column("website")), email=row.get(t.column("email")))

    def _contract(self, row: Mapping[str, Any]) -> BillingContract:
        t = self.schema.table("billingcontract")
        return BillingContract(id=UUID(row[t.primary_id]), etag=etag_of(row), name=row.get(t.column("name")) or "",
                               customer_id=self._lookup(row, "billingcontract", "customer"),
                               is_default=bool(row.get(t.column("isdefault"))),
                               state=RecordState.ACTIVE if row.get("statecode", 0) == 0 else RecordState.INACTIVE)

    def _subscription(self, row: Mapping[str, Any]) -> Subscription:
        t = self.schema.table("subscription")
        return Subscription(
            id=UUID(row[t.primary_id]), etag=etag_of(row), name=row.get(t.column("name")) or "",
            customer_id=self._lookup(row, "subscription", "customer"),
            billing_contract_id=self._lookup(row, "subscription", "billingcontract"),
            provider_id=self._lookup(row, "subscription", "provider"),
            provider_account_id=self._lookup(row, "subscription", "provideraccount"),
            product_id=self._lookup(row, "subscription", "product"),
            part_number=row.get(t.column("partnumber")),
            provider_subscription_id=row.get(t.column("providersubscriptionid")),
            quantity=int(row.get(t.column("quantity")) or 0),
            effective_start_date=_date(row.get(t.column("effectivestartdate"))),
            state=RecordState.ACTIVE if row.get("statecode", 0) == 0 else RecordState.INACTIVE,
        )

    def _lcl(self, row: Mapping[str, Any]) -> LicenseChangeLog:
        t = self.schema.table("licensechangelog")
        event = self.schema.meaning("lcl_event", row.get(t.column("event")))
        provisioning = self.schema.meaning("provisioning_status", row.get(t.column("provisioningstatus")))
        status = self.schema.meaning("lcl_status", row.get("statuscode"))
        if event is None:
            raise GatewayError(f"license change log {row.get(t.primary_id)} has an event value "
                               f"{row.get(t.column('event'))!r} the schema does not know")
        return LicenseChangeLog(
            id=UUID(row[t.primary_id]), etag=etag_of(row), name=row.get(t.column("name")),
            subscription_id=self._lookup(row, "licensechangelog", "subscription") or UUID(int=0),
            account_id=self._lookup(row, "licensechangelog", "account"),
            event=LclEvent(event), quantity=int(row.get(t.column("quantity")) or 0),
            effective_date=_date(row.get(t.column("effectivedate"))),
            provisioning_status=ProvisioningStatus(provisioning) if provisioning else None,
            status=LclStatus(status) if status else LclStatus.ACTIVE,
            invoice_id=self._lookup(row, "licensechangelog", "invoice"),
        )

    def _select(self, role: str, *fields: str, lookups: Sequence[str] = (), extra: Sequence[str] = ()) -> list[str]:
        t = self.schema.table(role)
        names = [t.primary_id, *(t.column(f) for f in fields), *(lookup_value(t.column(f)) for f in lookups), *extra]
        return list(dict.fromkeys(names))

    # -- providers and provider accounts -----------------------------------------------------
    async def providers(self) -> list[Provider]:
        t = self.schema.table("provider")
        rows = await self.dv.rows(Query(t.entity_set, select=self._select("provider", "name", "internalname", "type"),
                                        filter=eq("statecode", 0), orderby=[t.column("name")]))
        return [self._provider(r) for r in rows]

    async def techdata_provider(self, internal_name: str = TECHDATA_INTERNAL_NAME) -> Provider:
        """The active automatic provider whose connector is ``internal_name`` — never by display name."""
        matches = [p for p in await self.providers() if p.is_automatic_techdata(internal_name)]
        if len(matches) != 1:
            raise GatewayError(f"expected one active automatic provider with internal name {internal_name!r}, "
                               f"found {len(matches)}")
        return matches[0]

    async def provider_accounts(self, provider_id: UUID | None = None, *, unmapped_only: bool = False,
                                page_size: int = 5000) -> list[ProviderAccount]:
        t = self.schema.table("provideraccount")
        conditions: list[Filter] = [eq("statecode", 0)]
        if provider_id is not None:
            conditions.append(eq(lookup_value(t.column("provider")), provider_id))
        if unmapped_only:
            conditions.append(eq(lookup_value(t.column("account")), None))
        condition = conditions[0]
        for extra in conditions[1:]:
            condition = condition & extra
        query = Query(t.entity_set, select=self._select("provideraccount", "name", "providerspecificid",
                                                        lookups=("provider", "account")),
                      filter=condition, orderby=[t.column("name")])
        return [self._provider_account(r) for r in await self.dv.rows(query, page_size)]

    def _map_operation(self, account: ProviderAccount, account_id: UUID | None) -> Operation:
        t = self.schema.table("provideraccount")
        target = self.schema.table("account")
        bind = f"{t.nav('account')}@odata.bind"
        body = {bind: f"/{target.entity_set}({account_id})" if account_id else None}
        if account.etag is None:
            raise GatewayError("the provider account was read without an ETag; read it again before mapping")
        return Operation("PATCH", f"{t.entity_set}({account.id})", body, headers={"If-Match": account.etag})

    async def map_provider_account(self, account: ProviderAccount, account_id: UUID | None, *,
                                   overwrite: bool = False) -> ProviderAccount:
        """Point a provider account at a CRM account (or at none), if it has not changed since read.

        An existing mapping to another account is only replaced with ``overwrite=True``.
        """
        if account.account_id is not None and account_id is not None and account.account_id != account_id and not overwrite:
            raise GatewayError(f"{account.name!r} is already mapped to another account; confirm to replace the mapping")
        operation = self._map_operation(account, account_id)
        t = self.schema.table("provideraccount")
        await self.dv.update(t.entity_set, account.id, operation.body or {}, if_match=account.etag or "*")
        row = await self.dv.get(t.entity_set, account.id, self._select("provideraccount", "name", "providerspecificid",
                                                                       lookups=("provider", "account")))
        if row is None:
            raise GatewayError(f"{account.name!r} disappeared after it was mapped")
        return self._provider_account(row)

    # -- accounts and contracts ----------------------------------------------------------------
    async def search_accounts(self, text: str, top: int = 50) -> list[Account]:
        t = self.schema.table("account")
        condition = eq("statecode", 0)
        if text.strip():
            condition = condition & contains(t.column("name"), text.strip())
        rows = await self.dv.rows(Query(t.entity_set, select=self._select("account", "name", "website", "email"),
                                        filter=condition, orderby=[t.column("name")], top=top))
        return [self._account(r) for r in rows]

    async def billing_contracts(self, account_id: UUID) -> list[BillingContract]:
        t = self.schema.table("billingcontract")
        rows = await self.dv.rows(Query(t.entity_set, select=self._select("billingcontract", "name", "isdefault",
                                                                          lookups=("customer",), extra=("statecode",)),
                                        filter=eq(lookup_value(t.column("customer")), account_id),
                                        orderby=[t.column("name")]))
        contracts = [self._contract(r) for r in rows]
        return sorted(contracts, key=lambda c: (not c.is_default, c.name.casefold()))

    # -- subscriptions with their LCLs ------------------------------------------------------
    async def subscriptions(self, *, account_id: UUID | None = None, contract_id: UUID | None = None,
                            page_size: int = 500) -> list[tuple[Subscription, list[LicenseChangeLog]]]:
        """Subscriptions and their LCLs in one query (LCLs expanded), paged."""
        if account_id is None and contract_id is None:
            raise GatewayError("give an account or a billing contract")
        t = self.schema.table("subscription")
        lcl = self.schema.table("licensechangelog")
        conditions = []
        if account_id is not None:
            conditions.append(eq(lookup_value(t.column("customer")), account_id))
        if contract_id is not None:
            conditions.append(eq(lookup_value(t.column("billingcontract")), contract_id))
        condition = conditions[0] if len(conditions) == 1 else conditions[0] & conditions[1]
        expand = Expand(t.collections["lcls"], select=self._select(
            "licensechangelog", "name", "event", "quantity", "effectivedate", "provisioningstatus",
            lookups=("subscription", "account", "invoice"), extra=("statecode", "statuscode")),
            orderby=[lcl.column("effectivedate")])
        query = Query(t.entity_set, select=self._select(
            "subscription", "name", "quantity", "effectivestartdate", "partnumber", "providersubscriptionid",
            lookups=("customer", "billingcontract", "provider", "provideraccount", "product"), extra=("statecode",)),
            filter=condition, orderby=[t.column("name")], expand=[expand])
        result = []
        for row in await self.dv.rows(query, page_size):
            result.append((self._subscription(row), [self._lcl(r) for r in row.get(t.collections["lcls"]) or []]))
        return result

    # -- applying a plan ----------------------------------------------------------------------
    async def apply(self, operations: Sequence[Operation], *, journal: Journal, profile: str, description: str,
                    touched: Sequence[TouchedRow], size: int = 1000) -> list[ChangesetOutcome]:
        """Apply operations as changesets, journalled before the first and around each one."""
        plan_id = journal.begin(profile=profile, description=description, rows=touched,
                                operations=[{"method": o.method, "url": o.url, "body": o.body,
                                             "headers": {k: v for k, v in o.headers.items() if k.lower() == "if-match"},
                                             "content_id": o.content_id} for o in operations])
        chunks = chunk_operations(operations, size)
        outcomes: list[ChangesetOutcome] = []
        for index, chunk in enumerate(chunks):
            if outcomes and outcomes[-1].state != "committed":
                outcomes.append(ChangesetOutcome(index, chunk, "not_sent"))
                journal.changeset_outcome(plan_id, index, "not_sent")
                continue
            journal.changeset_sent(plan_id, index, len(chunk))
            (outcome,) = await self.dv.apply_changesets(chunk, size=len(chunk))
            outcome.index = index
            journal.changeset_outcome(plan_id, index, outcome.state, outcome.error)
            outcomes.append(outcome)
        states = {o.state for o in outcomes}
        if "unknown" not in states:  # an answer lost in transit leaves the plan open: in doubt
            journal.finish(plan_id, "committed" if states == {"committed"} else "failed")
        return outcomes


__all__ = ["GatewayError", "SchemaError", "Work365"]
