"""The onboarding checklist on the demo book: one customer at each stage of the procedure shows
exactly that stage, and doing the next step through the workflows moves it on; the summary for
the ticket comes from the journal."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from w365tui.domain.models import lcl_total
from w365tui.sandbox.host import Sandbox
from w365tui.session import Session
from w365tui.workflows import base, lcl, mapping, onboard, replacement, sync
from w365tui.workflows.base import WorkflowError

pytestmark = pytest.mark.anyio


def account_id(sandbox: Sandbox, name: str) -> UUID:
    return UUID(sandbox.store.conn.execute("SELECT accountid FROM account WHERE name = ?", (name,)).fetchone()[0])


def provider_account_id(sandbox: Sandbox, name: str) -> UUID:
    return UUID(sandbox.store.conn.execute("SELECT work365_provideraccountid FROM work365_provideraccount WHERE "
                                           "work365_provideraccount_name = ?", (name,)).fetchone()[0])


def states(shown: onboard.Checklist) -> str:
    return "".join(step.mark for step in shown.steps)


@pytest.mark.parametrize(("customer", "marks", "stage"), [
    # not mapped: the tenant's side is unknown until it is
    ("Northwind Traders", "··→····", "at step 3, mapped to the CRM account"),
    ("Litware, Inc.", "··→····", "at step 3, mapped to the CRM account"),  # not even a provider account yet
    # mapped, a StreamOne subscription not in Work 365 yet (Coho's EU tenant)
    ("Coho Winery", "✓✓✓→··→", "at step 4, subscriptions synced onto a billing contract"),
    # synced, a subscription without contract and price
    ("Fourth Coffee", "✓✓✓✓→✓→", "at step 5, contract, customer and pricing checked"),
    # a manual subscription with its TechData twin still active
    ("Fabrikam Inc", "✓✓✓✓✓→✓", "at step 6, manual subscriptions retired"),
    # everything done but an LCL mismatch
    ("Woodgrove Bank", "✓✓✓✓✓✓→", "at step 7, mismatch reports clean"),
    ("Lamna Healthcare GmbH", "✓✓✓✓✓✓✓", "done"),
])
async def test_each_customer_shows_the_stage_it_is_at(session: Session, sandbox: Sandbox, customer: str, marks: str,
                                                      stage: str) -> None:
    shown = await onboard.checklist(session, account=account_id(sandbox, customer))
    assert (states(shown), shown.stage) == (marks, stage)
    assert shown.done == (stage == "done")
    step = shown.next_step
    if step is not None:  # what to do next, where
        assert step.action is not None and step.action.record in {shown.account.id, *(p.id for p in
                                                                                     shown.provider_accounts)}


async def test_the_checklist_moves_on_as_each_step_is_done(session: Session, sandbox: Sandbox) -> None:
    pa = provider_account_id(sandbox, "School of Fine Art")
    school = account_id(sandbox, "School of Fine Art")
    shown = await onboard.checklist(session, provider_account=pa)  # from the tenant's side
    assert states(shown) == "✓✓→····" and shown.account is None
    assert shown.steps[2].action.pane == "provider-accounts" and shown.steps[2].action.record == pa
    by_account = await onboard.checklist(session, account=school)  # from the account's side: the likely tenant
    assert by_account.steps[2].items[0] == "School of Fine Art" and by_account.steps[2].action.pane == "customers"

    assert (await base.apply(session, await mapping.prepare_map(session, pa, school))).ok
    shown = await onboard.checklist(session, provider_account=pa)
    assert states(shown) == "✓✓✓→··→" and shown.account.id == school  # only in StreamOne until synced
    assert shown.steps[3].action.pane == "customers" and shown.steps[3].action.key == "b"

    assert (await sync.apply_subscription_sync(session, await sync.prepare_subscription_sync(session, school))).ok
    shown = await onboard.checklist(session, account=school)
    assert states(shown) == "✓✓✓✓✓✓✓" and shown.done and shown.customer_ids

    mine = onboard.plans_for(list(session.journal.plans().values()), shown, profile=session.profile_name,
                             organization=session.organization_id)
    assert [r.kind for r in mine] == ["map", "sync-subscriptions"]
    summary = onboard.summary_markdown(shown, mine)
    assert summary.startswith("# Onboarding: School of Fine Art\n")
    assert "- [x] 7. Mismatch reports clean" in summary and "- [ ]" not in summary
    assert "Map School of Fine Art to School of Fine Art" in summary
    assert "customer — → School of Fine Art; billing contract — → School of Fine Art — Monthly" in summary


async def test_retiring_the_manual_subscription_and_fixing_the_lcls_finishes_a_customer(session: Session,
                                                                                        sandbox: Sandbox) -> None:
    fabrikam = account_id(sandbox, "Fabrikam Inc")
    shown = await onboard.checklist(session, account=fabrikam)
    retired = shown.steps[5]
    assert retired.state == onboard.TODO and len(retired.items) == 1 and "(manual)" in retired.items[0]
    view = await replacement.subscriptions_view(session, fabrikam)
    (manual, techdata), = view.pairing.pairs
    prepared = await replacement.prepare_replacement(session, manual.id, techdata.id)
    assert (await replacement.apply_replacement(session, prepared)).ok
    shown = await onboard.checklist(session, account=fabrikam)
    assert states(shown) == "✓✓✓✓✓✓✓", [(s.number, s.detail) for s in shown.steps]
    # the retired manual subscription keeps its history: listed apart by the LCL mismatch, not a finding
    assert shown.steps[6].detail.endswith("(and 1 inactive subscription listed apart)")


async def test_lcl_mismatch_fixed_in_the_editor_makes_the_reports_clean(session: Session, sandbox: Sandbox) -> None:
    woodgrove = account_id(sandbox, "Woodgrove Bank")
    shown = await onboard.checklist(session, account=woodgrove)
    assert shown.steps[6].detail == "LCL mismatch: 1"
    (sub, lcls), = [(s, x) for s, x in await session.reads.subscriptions(account_id=woodgrove)
                    if s.quantity != lcl_total(x)]
    plan = await lcl.prepare_add(session, sub.id, event="update", quantity=sub.quantity - lcl_total(lcls),
                                 effective_date=date(2026, 11, 28))  # the correcting LCL
    assert (await base.apply(session, plan)).ok
    assert (await onboard.checklist(session, account=woodgrove)).done


async def test_a_customer_must_be_named_once_and_exist(session: Session, sandbox: Sandbox) -> None:
    with pytest.raises(WorkflowError, match="one of them"):
        await onboard.checklist(session)
    with pytest.raises(WorkflowError, match="one of them"):
        await onboard.checklist(session, account=account_id(sandbox, "Fabrikam Inc"),
                                provider_account=provider_account_id(sandbox, "Fabrikam, Inc."))
    with pytest.raises(WorkflowError, match="no CRM account has the id"):
        await onboard.checklist(session, account="00000000-0000-0000-0000-000000000001")
    with pytest.raises(WorkflowError, match="not a provider account id"):
        await onboard.checklist(session, provider_account="northwind")


def test_service_text_in_the_summary_is_literal_markdown() -> None:
    assert onboard._md("[bold]Evil[/] *Corp*\n# x\x1b[2J") == "\\[bold\\]Evil\\[/\\] \\*Corp\\* \\# x \\[2J"


async def test_a_customer_of_several_tenants_is_the_same_checklist_from_either_side(session: Session,
                                                                                   sandbox: Sandbox) -> None:
    coho = account_id(sandbox, "Coho Winery")
    eu = provider_account_id(sandbox, "Coho Winery (EU tenant)")
    by_account = await onboard.checklist(session, account=coho)
    by_tenant = await onboard.checklist(session, provider_account=eu)  # mapped: the customer is its account
    assert {p.name for p in by_tenant.provider_accounts} == {"Coho Winery", "Coho Winery (EU tenant)"}
    assert states(by_tenant) == states(by_account) and by_tenant.customer_ids == by_account.customer_ids
    # one tenant with nothing active in StreamOne does not hold the customer back: it is listed
    sandbox.store.conn.execute("UPDATE ion_subscription SET status = 'suspended' WHERE customer_id = ?",
                               (int(by_account.customer_ids[1]),))
    step = (await onboard.checklist(session, account=coho)).steps[0]
    assert step.state == onboard.DONE and step.items == (
        f"customer {by_account.customer_ids[1]} has no active subscription yet (the order is placed in StreamOne)",)


async def test_step_4_is_not_done_while_streamone_holds_a_subscription_the_sync_must_leave(
        session: Session, sandbox: Sandbox) -> None:
    lamna = account_id(sandbox, "Lamna Healthcare GmbH")
    customer = sandbox.store.conn.execute("SELECT id FROM ion_customer WHERE organization = 'Lamna Healthcare GmbH'"
                                          ).fetchone()[0]
    sandbox.store.conn.execute(
        "INSERT INTO ion_subscription (id, customer_id, subscription_id, name, total_licenses, status, "
        "sku_display_name, billing_cycle, billing_term, start_date) VALUES (9999004, ?, NULL, 'Teams', '2', "
        "'active', 'Teams Essentials', 'monthly', 'P1M', '2025-02-01T00:00:00Z')", (customer,))
    shown = await onboard.checklist(session, account=lamna)
    step = shown.steps[3]
    assert step.state == onboard.BLOCKED and "Teams Essentials" in step.detail and not shown.done


async def test_the_reports_step_opens_pane_5_on_the_report_with_findings(session: Session, sandbox: Sandbox) -> None:
    step = (await onboard.checklist(session, account=account_id(sandbox, "Fourth Coffee"))).steps[6]
    assert (step.action.pane, step.action.report) == ("reports", "missing-data")
