"""The rules that decide what a write must also write."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from w365tui.domain.enums import LclEvent, ProviderType, ProvisioningStatus
from w365tui.domain.models import LicenseChangeLog, Provider, Subscription
from w365tui.domain.plan import Create, Option, Ref, Update
from w365tui.domain.rules import clip, quantity_change, settle_create_lcl, streamone_problem

CONNECTORS = ("Providers.TechDataCspProvider",)


def provider(kind: ProviderType | None, internal: str | None, name: str = "p") -> Provider:
    return Provider(id=uuid.uuid4(), name=name, internal_name=internal, type=kind)


def test_streamone_data_goes_only_under_an_automatic_streamone_provider() -> None:
    assert streamone_problem(provider(ProviderType.AUTOMATIC, CONNECTORS[0]), CONNECTORS) is None
    manual = streamone_problem(provider(ProviderType.MANUAL, CONNECTORS[0], "TechData"), CONNECTORS)
    assert manual is not None and "'TechData' is a manual provider" in manual  # judged by type, not by name
    direct = streamone_problem(provider(ProviderType.DO_NOTHING, "Providers.DoNothingProvider"), CONNECTORS)
    assert direct is not None and "do nothing provider" in direct
    other = streamone_problem(provider(ProviderType.AUTOMATIC, "Providers.Pax8Provider", "Pax8"), CONNECTORS)
    assert other is not None and "'Providers.Pax8Provider' is not a StreamOne connector" in other
    assert "streamone.connectors" in other  # says which setting would allow it
    unknown = streamone_problem(provider(None, None), CONNECTORS)
    assert unknown is not None and "unknown provider" in unknown


def test_a_quantity_change_writes_an_update_lcl_of_the_difference() -> None:
    sub = Subscription(id=uuid.uuid4(), etag='W/"3"', name="Office 365 E3", quantity=10, customer_id=uuid.uuid4())
    update, lcl = quantity_change(sub, 15, today=date(2025, 3, 1), unit=4, new_id=lambda: uuid.UUID(int=7))
    assert isinstance(update, Update) and isinstance(lcl, Create)
    assert (update.before, update.after, update.etag) == ({"quantity": 10}, {"quantity": 15}, 'W/"3"')
    assert lcl.id == uuid.UUID(int=7) and lcl.unit == update.unit == 4
    assert lcl.values["quantity"] == 5
    assert lcl.values["event"] == Option("lcl_event", "update")
    assert lcl.values["provisioningstatus"] == Option("provisioning_status", "not_applicable")
    assert lcl.values["effectivedate"] == date(2025, 3, 1)
    assert lcl.values["subscription"] == Ref("subscription", sub.id)
    assert lcl.values["account"] == Ref("account", sub.customer_id)
    _, down = quantity_change(sub, 4, today=date(2025, 3, 1))
    assert down.values["quantity"] == -6
    with pytest.raises(ValueError, match="ETag"):
        quantity_change(sub.model_copy(update={"etag": None}), 11, today=date(2025, 3, 1))


def test_only_an_awaiting_create_lcl_is_settled() -> None:
    def lcl(event: LclEvent, status: ProvisioningStatus) -> LicenseChangeLog:
        return LicenseChangeLog(id=uuid.uuid4(), etag='W/"1"', subscription_id=uuid.uuid4(), event=event, quantity=3,
                                provisioning_status=status)

    settle = settle_create_lcl(lcl(LclEvent.CREATE, ProvisioningStatus.AWAITING_PROVISIONING), "Teams")
    assert settle is not None and settle.after == {"provisioningstatus": Option("provisioning_status", "not_applicable")}
    assert settle_create_lcl(lcl(LclEvent.CREATE, ProvisioningStatus.NOT_APPLICABLE), "Teams") is None
    assert settle_create_lcl(lcl(LclEvent.UPDATE, ProvisioningStatus.AWAITING_PROVISIONING), "Teams") is None


def test_clip_keeps_text_within_the_column() -> None:
    assert clip("abc", 5) == "abc" and clip("abcdef", 4) == "abc…" and clip("abc", None) == "abc"
