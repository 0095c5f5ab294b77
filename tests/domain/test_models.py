from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from w365tui.domain.enums import LclEvent, ProvisioningStatus
from w365tui.domain.models import LicenseChangeLog, ProviderAccount, lcl_total

SUB = uuid.uuid4()


def lcl(event: LclEvent, quantity: int) -> LicenseChangeLog:
    return LicenseChangeLog(id=uuid.uuid4(), subscription_id=SUB, event=event, quantity=quantity)


def test_lcl_total_is_the_signed_sum_of_the_worked_example() -> None:
    manual = [lcl(LclEvent.CREATE, 10), lcl(LclEvent.UPDATE, 3), lcl(LclEvent.UPDATE, -1)]
    assert lcl_total(manual) == 12
    assert lcl_total(manual[:1]) == 10


def test_models_are_immutable_and_reject_unknown_fields() -> None:
    account = ProviderAccount(id=uuid.uuid4(), name="Contoso")
    assert not account.is_mapped
    with pytest.raises(ValidationError):
        account.account_id = uuid.uuid4()  # type: ignore[misc]
    with pytest.raises(ValidationError):
        ProviderAccount(id=uuid.uuid4(), name="x", colour="red")  # type: ignore[call-arg]


def test_awaiting_and_failed_provisioning_block_later_changes() -> None:
    blocking = {s for s in ProvisioningStatus if s.blocks_later_changes}
    assert blocking == {ProvisioningStatus.AWAITING_PROVISIONING, ProvisioningStatus.FAILED_PROVISIONING}
