"""Meanings of the Work 365 option sets.

These enums name what a value *means*. The integers behind them differ between Work 365
environments and are discovered from the target's metadata (or set in the schema map), so no
integer appears here.
"""

from __future__ import annotations

from enum import StrEnum


class ProviderType(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"
    DO_NOTHING = "do_nothing"
    LINKED_SUBSCRIPTION = "linked_subscription"
    REST = "rest"


class LclEvent(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    ACTIVATE = "activate"
    DEACTIVATE = "deactivate"
    PAUSE = "pause"
    RESUME = "resume"
    AUDIT = "audit"


class ProvisioningStatus(StrEnum):
    AWAITING_PROVISIONING = "awaiting_provisioning"
    PROVISIONED = "provisioned"
    FAILED_PROVISIONING = "failed_provisioning"
    NOT_APPLICABLE = "not_applicable"

    @property
    def blocks_later_changes(self) -> bool:
        """An Awaiting or Failed LCL blocks later LCLs of the same subscription."""
        return self in (ProvisioningStatus.AWAITING_PROVISIONING, ProvisioningStatus.FAILED_PROVISIONING)


class LclStatus(StrEnum):
    """Status reason of a license change log: Active (not yet invoiced) or Archived."""

    ACTIVE = "active"
    ARCHIVED = "archived"


class RecordState(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class SyncStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class BillingFrequency(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"
    TRIENNIAL = "triennial"


class BillingPolicy(StrEnum):
    ADVANCE = "advance"
    ARREARS = "arrears"


class BillableStatus(StrEnum):
    BILLABLE = "billable"
    NON_BILLABLE = "non_billable"
