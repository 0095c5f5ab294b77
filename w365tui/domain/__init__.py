"""The Work 365 and StreamOne domain: entities, enums and rules. Pure Python, no I/O."""

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
from w365tui.domain.models import (
    Account,
    BillingContract,
    InvoiceRef,
    LicenseChangeLog,
    Provider,
    ProviderAccount,
    Subscription,
)

__all__ = [
    "Account",
    "BillableStatus",
    "BillingContract",
    "BillingFrequency",
    "BillingPolicy",
    "InvoiceRef",
    "LclEvent",
    "LclStatus",
    "LicenseChangeLog",
    "Provider",
    "ProviderAccount",
    "ProviderType",
    "ProvisioningStatus",
    "RecordState",
    "Subscription",
    "SyncStatus",
]
