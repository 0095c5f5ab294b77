"""Mapping a provider account to a CRM account (or removing the mapping), as a plan."""

from __future__ import annotations

from w365tui.domain.models import Account, ProviderAccount
from w365tui.domain.plan import NO_CONTEXT, Plan, PlanContext, Ref, Update


def plan_mapping(provider_account: ProviderAccount, account: Account | None, *, current_name: str | None = None,
                 replace: bool = False, already_on_provider: int = 0,
                 context: PlanContext = NO_CONTEXT) -> Plan:
    """Point ``provider_account`` at ``account`` (None: at no account).

    An existing mapping to another account is only replaced with ``replace``; mapping a second
    provider account of the same provider to one CRM account is allowed with a warning (Work 365
    versions differ on whether it is unique).
    """
    pa = provider_account
    current = Ref("account", pa.account_id, current_name or "") if pa.account_id else None
    if account is None:
        title = f"Unmap {pa.name}"
        if current is None:
            return Plan("unmap", title, (), context, summary=f"{pa.name} is not mapped; nothing to change")
        change = Update("provideraccount", pa.id, pa.etag or "", {"account": current}, {"account": None}, pa.name)
        return Plan("unmap", title, (change,), context,
                    summary=f"{pa.name} will no longer be mapped to {current_name or pa.account_id}",
                    warnings=("its subscriptions will not reach this customer's billing until it is mapped again",),
                    ).checked()
    title = f"Map {pa.name} to {account.name}"
    if pa.account_id == account.id:
        return Plan("map", title, (), context, summary=f"{pa.name} is already mapped to {account.name}")
    warnings: list[str] = []
    blocking: list[str] = []
    if current is not None:
        if replace:
            warnings.append(f"this replaces the mapping to {current_name or pa.account_id}")
        else:
            blocking.append(f"{pa.name} is already mapped to {current_name or pa.account_id}; "
                            "replacing a mapping must be asked for explicitly (--replace)")
    if already_on_provider:
        warnings.append(f"{account.name} already has {already_on_provider} provider account"
                        f"{'s' if already_on_provider > 1 else ''} of this provider mapped to it")
    change = Update("provideraccount", pa.id, pa.etag or "", {"account": current},
                    {"account": Ref("account", account.id, account.name)}, pa.name)
    return Plan("map", title, (change,), context, summary=f"{pa.name} → {account.name}",
                warnings=tuple(warnings), blocking=tuple(blocking)).checked()
