"""Work 365 entities as the app reasons about them.

These are independent of the wire: ``work365.rows`` maps Dataverse rows (whose column names and
option-set integers come from schema discovery) onto them. Instances are immutable; a change
is expressed as a plan, never by mutating a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from w365tui.domain.enums import (
    BillableStatus,
    BillingFrequency,
    BillingPolicy,
    LclEvent,
    LclStatus,
    ProviderType,
    ProvisioningStatus,
    RecordState,
    SyncStatus,
)


class _Entity(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: UUID
    etag: str | None = Field(default=None, description="Dataverse row version, W/\"n\"")


class Provider(_Entity):
    name: str
    internal_name: str | None = None
    type: ProviderType | None = None


class ProviderAccount(_Entity):
    name: str
    provider_specific_id: str | None = None
    provider_id: UUID | None = None
    account_id: UUID | None = None
    sync_status: SyncStatus | None = None
    state: RecordState = RecordState.ACTIVE

    @property
    def is_mapped(self) -> bool:
        return self.account_id is not None

    @property
    def is_active(self) -> bool:
        return self.state is RecordState.ACTIVE


_PROVIDERS: dict[UUID, UUID] = {}


@dataclass(frozen=True, slots=True)
class ProviderAccountBrief:
    """A provider account as a list of 100,000 keeps it: what :class:`ProviderAccount` holds, in
    a sixth of its memory (no model machinery per row), but its ETag: a change reads the record
    afresh (``workflows.mapping``), so 100,000 version strings are not kept for none."""

    id: UUID
    name: str
    provider_specific_id: str | None = None
    provider_id: UUID | None = None
    account_id: UUID | None = None
    sync_status: SyncStatus | None = None
    state: RecordState = RecordState.ACTIVE

    @classmethod
    def of(cls, account: ProviderAccount) -> ProviderAccountBrief:
        return cls.made(account.id, account.name, account.provider_specific_id, account.provider_id,
                        account.account_id, account.sync_status, account.state)

    @classmethod
    def made(cls, id: UUID, name: str, provider_specific_id: str | None, provider_id: UUID | None,
             account_id: UUID | None, sync_status: SyncStatus | None, state: RecordState) -> ProviderAccountBrief:
        if provider_id is not None:  # a few providers for 100,000 rows: one object each, not one per row
            provider_id = _PROVIDERS.setdefault(provider_id, provider_id)
        return cls(id, name, provider_specific_id, provider_id, account_id, sync_status, state)

    @property
    def is_mapped(self) -> bool:
        return self.account_id is not None

    @property
    def is_active(self) -> bool:
        return self.state is RecordState.ACTIVE


class Account(_Entity):
    name: str
    website: str | None = None
    email: str | None = None
    city: str | None = None
    number: str | None = None
    primary_contact_email: str | None = None
    state: RecordState = RecordState.ACTIVE


class BillingContract(_Entity):
    name: str
    customer_id: UUID | None = None
    start_date: date | None = None
    end_date: date | None = None
    billing_frequency: BillingFrequency | None = None
    billing_policy: BillingPolicy | None = None
    currency: str | None = None
    price_list: str | None = None
    is_default: bool = False
    state: RecordState = RecordState.ACTIVE

    @property
    def is_active(self) -> bool:
        return self.state is RecordState.ACTIVE


class Subscription(_Entity):
    name: str
    friendly_name: str | None = None
    customer_id: UUID | None = None
    billing_contract_id: UUID | None = None
    provider_id: UUID | None = None
    provider_account_id: UUID | None = None
    product_id: UUID | None = None
    part_number: str | None = Field(default=None, description="provider part number; TechData SKU")
    provider_subscription_id: str | None = None
    quantity: int = 0
    effective_start_date: date | None = None
    sales_unit: str | None = None
    selling_price: Decimal | None = None
    cost_price: Decimal | None = None
    currency: str | None = None
    billable_status: BillableStatus | None = None
    parent_subscription_id: UUID | None = None
    state: RecordState = RecordState.ACTIVE

    @property
    def is_active(self) -> bool:
        return self.state is RecordState.ACTIVE


class LicenseChangeLog(_Entity):
    name: str | None = None
    subscription_id: UUID
    account_id: UUID | None = None
    event: LclEvent
    quantity: int = Field(description="signed change in licences")
    effective_date: date | None = None
    provisioning_status: ProvisioningStatus | None = None
    status: LclStatus = LclStatus.ACTIVE
    invoice_id: UUID | None = None
    selling_price: Decimal | None = None
    cost_price: Decimal | None = None
    currency: str | None = None

    @property
    def is_archived(self) -> bool:
        return self.status is LclStatus.ARCHIVED


class InvoiceRef(_Entity):
    name: str | None = None
    number: str | None = None
    account_id: UUID | None = None
    billing_contract_id: UUID | None = None


def lcl_total(lcls: list[LicenseChangeLog] | tuple[LicenseChangeLog, ...]) -> int:
    """Σ quantity of a subscription's LCLs, Active and Archived alike.

    Work 365's invariant: this equals the subscription's quantity.
    """
    return sum(lcl.quantity for lcl in lcls)
