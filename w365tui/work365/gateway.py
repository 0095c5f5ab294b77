"""Work 365 operations, in domain terms, over the Dataverse client and a discovered schema."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from w365tui.clients.http import error_for_status
from w365tui.clients.odata import (
    ChangesetOutcome,
    DataverseClient,
    Expand,
    Filter,
    Operation,
    Query,
    all_of,
    any_of,
    chunk_operations,
    contains,
    endswith,
    eq,
    etag_of,
    lookup_value,
    ne,
)
from w365tui.domain.enums import LclEvent, LclStatus, ProviderType, ProvisioningStatus, RecordState
from w365tui.domain.matching import Candidate, Tenant, domain_of, search_terms
from w365tui.domain.models import (
    TECHDATA_INTERNAL_NAME,
    Account,
    BillingContract,
    LicenseChangeLog,
    Provider,
    ProviderAccount,
    Subscription,
)
from w365tui.domain.streamone import Customer, IonSubscription
from w365tui.domain.sync import (
    ProviderAccountSyncPlan,
    SubscriptionSyncPlan,
    clip,
    plan_provider_account_sync,
    plan_subscription_sync,
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
    def __init__(self, dv: DataverseClient, schema: Work365Schema, organization_id: str | None = None, *,
                 journal: Journal | None = None, profile: str = "sandbox"):
        self.dv = dv
        self.schema = schema
        self.organization_id = organization_id
        self.journal = journal or Journal()
        self.profile = profile
        self._running: set[asyncio.Future[list[ChangesetOutcome]]] = set()  # plans that must finish

    @classmethod
    async def connect(cls, dv: DataverseClient, overrides: SchemaOverrides | None = None,
                      cache_root: Path | None = None, refresh: bool = False, *,
                      journal: Journal | None = None, profile: str = "sandbox") -> Work365:
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
        return cls(dv, schema, organization, journal=journal, profile=profile)

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

    def _provider_account_columns(self) -> list[str]:
        """What ``_provider_account`` reads."""
        return self._select("provideraccount", "name", "providerspecificid", lookups=("provider", "account"))

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
                                include_inactive: bool = False, page_size: int = 5000) -> list[ProviderAccount]:
        t = self.schema.table("provideraccount")
        conditions: list[Filter] = [] if include_inactive else [eq("statecode", 0)]
        if provider_id is not None:
            conditions.append(eq(lookup_value(t.column("provider")), provider_id))
        if unmapped_only:
            conditions.append(eq(lookup_value(t.column("account")), None))
        query = Query(t.entity_set, select=self._provider_account_columns(),
                      filter=all_of(conditions) if conditions else None, orderby=[t.column("name")])
        return [self._provider_account(r) for r in await self.dv.rows(query, page_size)]

    async def provider_account_rows(self, provider_id: UUID, page_size: int = 5000) -> list[tuple[ProviderAccount, str | None]]:
        """Active provider accounts of a provider with the name of the CRM account each is mapped to."""
        return [pair async for page in self.provider_account_pages(provider_id, page_size) for pair in page]

    async def provider_account_pages(self, provider_id: UUID,
                                     page_size: int = 5000) -> AsyncIterator[list[tuple[ProviderAccount, str | None]]]:
        """``provider_account_rows`` a page at a time, so a long list can be shown as it arrives.

        In the service's key order: asking it to sort a large table costs every page; the list
        sorts locally.
        """
        t = self.schema.table("provideraccount")
        account = self.schema.table("account")
        query = Query(t.entity_set, select=self._provider_account_columns(),
                      filter=eq("statecode", 0) & eq(lookup_value(t.column("provider")), provider_id),
                      expand=[Expand(t.nav("account"), select=[account.column("name")])])
        async for page in self.dv.pages(query, page_size):
            rows = []
            for row in page.rows:
                mapped = row.get(t.nav("account")) or {}
                rows.append((self._provider_account(row), mapped.get(account.column("name")) if mapped else None))
            yield rows

    def _bind(self, role: str, field_name: str, target_role: str, target_id: UUID | None) -> dict[str, Any]:
        nav = self.schema.table(role).nav(field_name)
        target = self.schema.table(target_role)
        return {f"{nav}@odata.bind": f"/{target.entity_set}({target_id})" if target_id else None}

    def map_operation(self, account: ProviderAccount, account_id: UUID | None) -> tuple[Operation, TouchedRow]:
        """The PATCH that maps (or, with None, unmaps) a provider account, guarded by its ETag."""
        if account.etag is None:
            raise GatewayError("the provider account was read without an ETag; read it again before mapping")
        t = self.schema.table("provideraccount")
        body = self._bind("provideraccount", "account", "account", account_id)
        before = {lookup_value(t.column("account")): str(account.account_id) if account.account_id else None}
        return (Operation("PATCH", f"{t.entity_set}({account.id})", body, headers={"If-Match": account.etag}),
                TouchedRow(t.entity_set, str(account.id), before, account.etag))

    async def map_provider_account(self, account: ProviderAccount, account_id: UUID | None, *,
                                   overwrite: bool = False) -> ProviderAccount:
        """Point a provider account at a CRM account (or at none), if it has not changed since read.

        An existing mapping to another account is only replaced with ``overwrite=True``. The
        write is a one-operation plan: journalled, atomic, refused if the row changed.
        """
        if account.account_id is not None and account_id is not None and account.account_id != account_id and not overwrite:
            raise GatewayError(f"{account.name!r} is already mapped to another account; confirm to replace the mapping")
        operation, touched = self.map_operation(account, account_id)
        verb = f"map {account.name!r} to account {account_id}" if account_id else f"unmap {account.name!r}"
        await self.apply_or_raise([operation], description=verb, touched=[touched])
        t = self.schema.table("provideraccount")
        row = await self.dv.get(t.entity_set, account.id, self._provider_account_columns())
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

    async def suggestion_candidates(self, tenant: Tenant, provider_id: UUID, limit: int = 50) -> list[Candidate]:
        """CRM accounts worth ranking for a tenant: found by name words, website or email domain,
        or a primary contact's email domain; with what is already mapped to them."""
        account = self.schema.table("account")
        contact = self.schema.table("contact")
        found: dict[UUID, Account] = {}
        contact_email: dict[UUID, str] = {}
        select = self._select("account", "name", "website", "email", lookups=("primarycontact",))
        queries: list[Filter] = [contains(account.column("name"), term) for term in search_terms(tenant.name)]
        domain = domain_of(tenant.domain)
        if domain:
            queries.append(contains(account.column("website"), domain) | contains(account.column("email"), "@" + domain))
        for condition in queries:
            rows = await self.dv.rows(Query(account.entity_set, select=select, filter=eq("statecode", 0) & condition,
                                            top=limit))
            for row in rows:
                found[UUID(row[account.primary_id])] = self._account(row)
        if domain:
            email_column = contact.column("email")
            rows = await self.dv.rows(Query(contact.entity_set, select=[contact.primary_id, email_column],
                                            filter=endswith(email_column, "@" + domain), top=limit))
            contact_ids = {r[contact.primary_id] for r in rows}
            emails = {r[contact.primary_id]: r.get(email_column) for r in rows}
            if contact_ids:
                by_contact = any_of(eq(lookup_value(account.column("primarycontact")), UUID(c)) for c in sorted(contact_ids))
                for row in await self.dv.rows(Query(account.entity_set, select=select, filter=by_contact, top=limit)):
                    account_id = UUID(row[account.primary_id])
                    found[account_id] = self._account(row)
                    contact_email[account_id] = emails.get(row.get(lookup_value(account.column("primarycontact")))) or ""
        mapped: dict[UUID, int] = {}
        tenant_ids: dict[UUID, set[str]] = {}
        if found:
            pa = self.schema.table("provideraccount")
            ids = sorted(found)
            for chunk in (ids[i:i + 40] for i in range(0, len(ids), 40)):
                condition = any_of(eq(lookup_value(pa.column("account")), i) for i in chunk)
                for other in await self.dv.rows(Query(pa.entity_set, select=self._select(
                        "provideraccount", "providerspecificid", lookups=("provider", "account")), filter=condition)):
                    owner = self._lookup(other, "provideraccount", "account")
                    if owner is None:
                        continue
                    if self._lookup(other, "provideraccount", "provider") == provider_id:
                        mapped[owner] = mapped.get(owner, 0) + 1
                    if other.get(pa.column("providerspecificid")):
                        tenant_ids.setdefault(owner, set()).add(str(other[pa.column("providerspecificid")]))
        return [Candidate(acc, contact_email.get(i) or None, frozenset(tenant_ids.get(i, ())), mapped.get(i, 0))
                for i, acc in found.items()]

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

    # -- syncs from StreamOne ------------------------------------------------------------------
    async def provider_account_sync_plan(self, provider: Provider, customers: Sequence[Customer]) -> ProviderAccountSyncPlan:
        existing = await self.provider_accounts(provider.id, include_inactive=True)
        limit = self.schema.table("provideraccount").max_lengths.get("name")
        return plan_provider_account_sync(provider.id, existing, customers, name_limit=limit)

    def provider_account_sync_operations(self, plan: ProviderAccountSyncPlan) -> tuple[list[Operation], list[TouchedRow]]:
        t = self.schema.table("provideraccount")
        operations: list[Operation] = []
        touched: list[TouchedRow] = []
        for new in plan.creates:
            body = {t.column("name"): new.name, t.column("providerspecificid"): new.customer_id,
                    **self._bind("provideraccount", "provider", "provider", plan.provider_id)}
            operations.append(Operation("POST", t.entity_set, body))
        for rename in plan.renames:
            if rename.account.etag is None:
                raise GatewayError(f"{rename.account.name!r} was read without an ETag")
            operations.append(Operation("PATCH", f"{t.entity_set}({rename.account.id})", {t.column("name"): rename.name},
                                        headers={"If-Match": rename.account.etag}))
            touched.append(TouchedRow(t.entity_set, str(rename.account.id), {t.column("name"): rename.account.name},
                                      rename.account.etag))
        return operations, touched

    async def subscription_sync_plan(self, account_id: UUID, contract_id: UUID, provider: Provider,
                                     ion_subscriptions: Sequence[IonSubscription]) -> SubscriptionSyncPlan:
        pairs = await self.subscriptions(account_id=account_id)
        on_provider = [s for s, _ in pairs if s.provider_id == provider.id]
        return plan_subscription_sync(contract_id, ion_subscriptions, on_provider)

    def subscription_sync_operations(self, plan: SubscriptionSyncPlan, *, account_id: UUID, provider_id: UUID,
                                     provider_account_id: UUID | None, today: date) -> tuple[list[Operation], list[TouchedRow]]:
        """New subscriptions (Work 365 writes their Create LCL, Not Applicable, as they are already
        provisioned at the provider), and for each quantity change the new quantity with an Update LCL."""
        sub = self.schema.table("subscription")
        lcl = self.schema.table("licensechangelog")
        name_limit = sub.max_lengths.get("name")
        operations: list[Operation] = []
        touched: list[TouchedRow] = []
        for new in plan.creates:
            ion = new.ion
            body: dict[str, Any] = {
                sub.column("name"): clip(ion.sku_display_name or ion.subscription_name or ion.id, name_limit),
                sub.column("quantity"): ion.quantity,
                sub.column("providersubscriptionid"): ion.subscription_id or ion.id,
                **self._bind("subscription", "customer", "account", account_id),
                **self._bind("subscription", "billingcontract", "billingcontract", plan.contract_id),
                **self._bind("subscription", "provider", "provider", provider_id),
            }
            if ion.mfg_part_number:
                body[sub.column("partnumber")] = ion.mfg_part_number
            if ion.subscription_start_date:
                body[sub.column("effectivestartdate")] = ion.subscription_start_date.date().isoformat()
            if provider_account_id:
                body.update(self._bind("subscription", "provideraccount", "provideraccount", provider_account_id))
            operations.append(Operation("POST", sub.entity_set, body))
        for change in plan.changes:
            current = change.subscription
            if current.etag is None:
                raise GatewayError(f"{current.name!r} was read without an ETag")
            operations.append(Operation("PATCH", f"{sub.entity_set}({current.id})",
                                        {sub.column("quantity"): change.ion.quantity}, headers={"If-Match": current.etag}))
            operations.append(Operation("POST", lcl.entity_set, {
                lcl.column("name"): clip(f"Update: {current.name}", lcl.max_lengths.get("name")),
                lcl.column("event"): self.schema.value("lcl_event", LclEvent.UPDATE.value),
                lcl.column("quantity"): change.delta,
                lcl.column("effectivedate"): today.isoformat(),
                lcl.column("provisioningstatus"): self.schema.value("provisioning_status",
                                                                    ProvisioningStatus.NOT_APPLICABLE.value),
                **self._bind("licensechangelog", "subscription", "subscription", current.id),
                **self._bind("licensechangelog", "account", "account", account_id),
            }))
            touched.append(TouchedRow(sub.entity_set, str(current.id), {sub.column("quantity"): current.quantity},
                                      current.etag))
        return operations, touched

    async def settle_create_lcls(self, subscription_ids: Sequence[UUID]) -> int:
        """Make sure the Create LCLs of subscriptions just synced from the provider are Not
        Applicable: one left Awaiting Provisioning would order the licences again at the provider.

        Returns how many had to be set.
        """
        if not subscription_ids:
            return 0
        lcl = self.schema.table("licensechangelog")
        create = self.schema.value("lcl_event", LclEvent.CREATE.value)
        not_applicable = self.schema.value("provisioning_status", ProvisioningStatus.NOT_APPLICABLE.value)
        operations: list[Operation] = []
        touched: list[TouchedRow] = []
        ids = list(subscription_ids)
        for chunk in (ids[i:i + 40] for i in range(0, len(ids), 40)):
            condition = (eq(lcl.column("event"), create) & ne(lcl.column("provisioningstatus"), not_applicable)
                         & any_of(eq(lookup_value(lcl.column("subscription")), i) for i in chunk))
            for row in await self.dv.rows(Query(lcl.entity_set, select=[lcl.primary_id, lcl.column("provisioningstatus")],
                                                filter=condition)):
                etag = etag_of(row)
                operations.append(Operation("PATCH", f"{lcl.entity_set}({row[lcl.primary_id]})",
                                            {lcl.column("provisioningstatus"): not_applicable},
                                            headers={"If-Match": etag or "*"}))
                touched.append(TouchedRow(lcl.entity_set, row[lcl.primary_id],
                                          {lcl.column("provisioningstatus"): row.get(lcl.column("provisioningstatus"))},
                                          etag))
        if operations:
            await self.apply_or_raise(operations, description="set synced subscriptions' Create LCLs Not Applicable",
                                      touched=touched)
        return len(operations)

    async def apply_subscription_sync(self, plan: SubscriptionSyncPlan, *, account_id: UUID, provider_id: UUID,
                                      provider_account_id: UUID | None, today: date, description: str) -> int:
        """Apply a subscription sync, then settle the new subscriptions' Create LCLs.

        Returns how many Create LCLs had to be set Not Applicable after the service wrote them.
        """
        operations, touched = self.subscription_sync_operations(
            plan, account_id=account_id, provider_id=provider_id, provider_account_id=provider_account_id, today=today)
        outcomes = await self.apply_or_raise(operations, description=description, touched=touched)
        sub = self.schema.table("subscription")
        created: list[UUID] = []
        for outcome in outcomes:
            for operation, result in zip(outcome.operations, outcome.results, strict=False):
                entity_id = result.header("OData-EntityId") or ""
                if operation.method == "POST" and operation.url == sub.entity_set and "(" in entity_id:
                    created.append(UUID(entity_id.rsplit("(", 1)[1].rstrip(")")))
        return await self.settle_create_lcls(created)

    # -- applying a plan ----------------------------------------------------------------------
    async def apply(self, operations: Sequence[Operation], *, description: str, touched: Sequence[TouchedRow],
                    size: int = 1000, journal: Journal | None = None) -> list[ChangesetOutcome]:
        """Apply operations as changesets, journalled before the first and around each one.

        Once started, a plan runs to its end even if the caller is cancelled (an operator pressing
        esc): stopping between sending a changeset and recording its outcome would leave the
        journal in doubt for no gain.
        """
        task = asyncio.ensure_future(self._apply(operations, description=description, touched=touched, size=size,
                                                 journal=journal or self.journal))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return await asyncio.shield(task)

    async def finish_plans(self) -> None:
        """Wait for every plan still being applied (before closing the clients)."""
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _apply(self, operations: Sequence[Operation], *, description: str, touched: Sequence[TouchedRow],
                     size: int, journal: Journal) -> list[ChangesetOutcome]:
        profile = self.profile
        chunks = chunk_operations(operations, size)  # refuse a malformed plan before journalling it
        # The journal fsyncs each line: keep that off the event loop.
        plan_id = await asyncio.to_thread(journal.begin, profile=profile, description=description, rows=touched,
                                operations=[{"method": o.method, "url": o.url, "body": o.body,
                                             "headers": {k: v for k, v in o.headers.items() if k.lower() == "if-match"},
                                             "content_id": o.content_id} for o in operations])
        outcomes: list[ChangesetOutcome] = []
        for index, chunk in enumerate(chunks):
            if outcomes and outcomes[-1].state != "committed":
                outcomes.append(ChangesetOutcome(index, chunk, "not_sent"))
                await asyncio.to_thread(journal.changeset_outcome, plan_id, index, "not_sent")
                continue
            await asyncio.to_thread(journal.changeset_sent, plan_id, index, len(chunk))
            (outcome,) = await self.dv.apply_changesets(chunk, size=len(chunk))
            outcome.index = index
            await asyncio.to_thread(journal.changeset_outcome, plan_id, index, outcome.state, outcome.error)
            outcomes.append(outcome)
        states = {o.state for o in outcomes}
        if "unknown" not in states:  # an answer lost in transit leaves the plan open: in doubt
            await asyncio.to_thread(journal.finish, plan_id, "committed" if states == {"committed"} else "failed")
        return outcomes


    async def apply_or_raise(self, operations: Sequence[Operation], *, description: str,
                             touched: Sequence[TouchedRow], size: int = 1000) -> list[ChangesetOutcome]:
        """``apply``, raising the service's typed error when a changeset fails or is in doubt."""
        outcomes = await self.apply(operations, description=description, touched=touched, size=size)
        for outcome in outcomes:
            if outcome.state == "failed" and outcome.results:
                failing = next((r for r in outcome.results if not r.ok), outcome.results[-1])
                code, message = failing.error()
                raise error_for_status(self.dv.http.info("POST", "$batch"), failing.status, code, message)
            if outcome.state != "committed":
                raise GatewayError(f"{description}: changeset {outcome.index + 1} {outcome.state}: "
                                   f"{outcome.error or 'check the journal before trying again'}")
        return outcomes


__all__ = ["GatewayError", "SchemaError", "Work365"]
