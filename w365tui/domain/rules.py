"""Work 365 rules that decide what a write must also write (SPEC §2), in one place.

- A subscription's quantity never changes alone: an Update LCL carries the difference, so Σ LCL
  quantity keeps equal to the quantity. It is Not Applicable: the change already happened at
  the provider (a sync) or must not be ordered there.
- The Create LCL of a subscription synced from the provider must be Not Applicable; one left
  Awaiting Provisioning would order the licences again.
- StreamOne data is written only under an automatic provider whose connector is StreamOne.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from datetime import date
from uuid import UUID

from w365tui.domain.enums import LclEvent, ProviderType, ProvisioningStatus
from w365tui.domain.models import LicenseChangeLog, Provider, Subscription
from w365tui.domain.plan import Create, Option, Ref, Update


def clip(text: str, limit: int | None) -> str:
    """``text`` cut to ``limit`` characters, the cut shown with an ellipsis."""
    if limit is None or len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + "…"


def streamone_problem(provider: Provider, connectors: Collection[str]) -> str | None:
    """Why StreamOne data must not be written under ``provider``, or None when it may.

    Judged by type and connector (internal name), never by display name: a manual provider
    called "TechData" is still manual.
    """
    if provider.type is not ProviderType.AUTOMATIC:
        kind = provider.type.value.replace("_", " ") if provider.type else "unknown"
        return (f"{provider.name!r} is a {kind} provider; StreamOne data is only written under an automatic "
                "provider whose connector is StreamOne")
    if provider.internal_name not in connectors:
        return (f"{provider.name!r} is automatic, but its connector {provider.internal_name!r} is not a StreamOne "
                f"connector ({', '.join(sorted(connectors))}); set streamone.connectors in the profile if it is one")
    return None


def quantity_change(subscription: Subscription, quantity: int, *, today: date, unit: int = 0,
                    name_limit: int | None = None, new_id: Callable[[], UUID] = uuid.uuid4,
                    reason: str = "Update") -> tuple[Update, Create]:
    """A subscription's new quantity and the Update LCL that carries the difference."""
    if subscription.etag is None:
        raise ValueError(f"{subscription.name!r} was read without an ETag")
    delta = quantity - subscription.quantity
    sub_ref = Ref("subscription", subscription.id, subscription.name)
    values = {
        "name": clip(f"{reason}: {subscription.name}", name_limit),
        "event": Option("lcl_event", LclEvent.UPDATE.value),
        "quantity": delta,
        "effectivedate": today,
        "provisioningstatus": Option("provisioning_status", ProvisioningStatus.NOT_APPLICABLE.value),
        "subscription": sub_ref,
        "account": Ref("account", subscription.customer_id) if subscription.customer_id else None,
    }
    return (Update("subscription", subscription.id, subscription.etag, {"quantity": subscription.quantity},
                   {"quantity": quantity}, subscription.name, unit=unit),
            Create("licensechangelog", new_id(), values, f"Update {delta:+d} on {subscription.name}", unit=unit))


def settle_create_lcl(lcl: LicenseChangeLog, subscription_name: str, *, unit: int = 0) -> Update | None:
    """The Create LCL of a synced subscription set Not Applicable, when it is Awaiting Provisioning."""
    if lcl.event is not LclEvent.CREATE or lcl.provisioning_status is not ProvisioningStatus.AWAITING_PROVISIONING:
        return None
    if lcl.etag is None:
        raise ValueError(f"the Create LCL of {subscription_name!r} was read without an ETag")
    return Update("licensechangelog", lcl.id, lcl.etag,
                  {"provisioningstatus": Option("provisioning_status", ProvisioningStatus.AWAITING_PROVISIONING.value)},
                  {"provisioningstatus": Option("provisioning_status", ProvisioningStatus.NOT_APPLICABLE.value)},
                  f"Create LCL of {subscription_name}", unit=unit)
