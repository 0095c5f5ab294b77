"""Mapping a provider account to a CRM account, and removing a mapping."""

from __future__ import annotations

from uuid import UUID

from w365tui.domain.mapping import plan_mapping
from w365tui.domain.models import Account, ProviderAccount
from w365tui.domain.plan import Plan
from w365tui.session import Session
from w365tui.workflows.base import WorkflowError, context, guarded, parse_id


async def _provider_account(session: Session, provider_account_id: str | UUID) -> ProviderAccount:
    wanted = parse_id(provider_account_id, "provider account")
    found = await session.reads.provider_account(wanted)
    if found is None:
        raise WorkflowError(f"no provider account has the id {wanted}")
    return found


async def _current_name(session: Session, pa: ProviderAccount) -> str | None:
    if pa.account_id is None:
        return None
    current = await session.reads.account(pa.account_id)
    return current.name if current else None


async def prepare_map(session: Session, provider_account_id: str | UUID, account_id: str | UUID | Account, *,
                      replace: bool = False) -> Plan:
    """Point a provider account at a CRM account; replacing another mapping only with ``replace``."""
    pa = await _provider_account(session, provider_account_id)
    if isinstance(account_id, Account):
        account = account_id
    else:
        wanted = parse_id(account_id, "CRM account")
        found = await session.reads.account(wanted)
        if found is None:
            raise WorkflowError(f"no CRM account has the id {wanted}")
        account = found
    others = 0
    if pa.provider_id is not None:
        others = await session.reads.mapped_count(account.id, pa.provider_id, besides=pa.id)
    plan = plan_mapping(pa, account, current_name=await _current_name(session, pa), replace=replace,
                        already_on_provider=others,
                        context=context(session, provider_id=pa.provider_id, account_id=account.id,
                                        provider_account_id=pa.id))
    return guarded(session, plan)


async def prepare_unmap(session: Session, provider_account_id: str | UUID) -> Plan:
    pa = await _provider_account(session, provider_account_id)
    plan = plan_mapping(pa, None, current_name=await _current_name(session, pa),
                        context=context(session, provider_id=pa.provider_id, account_id=pa.account_id,
                                        provider_account_id=pa.id))
    return guarded(session, plan)
