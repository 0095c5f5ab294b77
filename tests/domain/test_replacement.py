"""Retiring a manual subscription for its TechData twin: preflight, plan, predicted after-state, pairing."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from w365tui.domain.enums import LclEvent, ProviderType, ProvisioningStatus, RecordState
from w365tui.domain.models import LicenseChangeLog, Provider, Subscription
from w365tui.domain.plan import (
    ACTIVE,
    Option,
    Ref,
    SetState,
    State,
    Update,
    changesets,
    lines,
    plan_from_json,
    plan_to_json,
)
from w365tui.domain.replacement import diff, pair, plan_replacement, preflight, sku_of

CONNECTORS = ("Providers.TechDataCspProvider",)
MANUAL = Provider(id=uuid.uuid4(), name="Manual", internal_name="Providers.ManualProvider", type=ProviderType.MANUAL)
TECHDATA = Provider(id=uuid.uuid4(), name="TD SYNNEX StreamOne", internal_name=CONNECTORS[0],
                    type=ProviderType.AUTOMATIC)
PROVIDERS = {MANUAL.id: MANUAL, TECHDATA.id: TECHDATA}
CUSTOMER = uuid.uuid4()
CONTRACT = uuid.uuid4()
NA = ProvisioningStatus.NOT_APPLICABLE


def sub(name: str, provider: Provider, quantity: int, *, part: str = "CFQ7TTC0LH18:0001:P1M:M",
        start: date | None = date(2022, 6, 1), **kwargs) -> Subscription:
    values = {"id": uuid.uuid4(), "etag": 'W/"1"', "name": name, "customer_id": CUSTOMER,
              "billing_contract_id": CONTRACT, "provider_id": provider.id, "part_number": part,
              "quantity": quantity, "effective_start_date": start, **kwargs}
    return Subscription(**values)


def lcl(subscription: Subscription, event: LclEvent, quantity: int, day: int = 1,
        status: ProvisioningStatus = NA, **kwargs) -> LicenseChangeLog:
    return LicenseChangeLog(id=uuid.uuid4(), etag='W/"1"', name=f"{event.value} {quantity:+d}",
                            subscription_id=subscription.id, account_id=CUSTOMER, event=event, quantity=quantity,
                            effective_date=date(2023, 1, day), provisioning_status=status, **kwargs)


def worked_example():
    """SPEC §1's worked example: M (qty 12) Create +10, Update +3, Update −1; T (qty 12) Create +12."""
    m = sub("Microsoft 365 Business Basic (manual)", MANUAL, 12)
    t = sub("Microsoft 365 Business Basic", TECHDATA, 12, start=date(2024, 3, 29), provider_subscription_id="x")
    m_lcls = [lcl(m, LclEvent.CREATE, 10, 1), lcl(m, LclEvent.UPDATE, 3, 2), lcl(m, LclEvent.UPDATE, -1, 3)]
    t_lcls = [lcl(t, LclEvent.CREATE, 12, 4)]
    return m, m_lcls, t, t_lcls


def test_the_worked_example_of_the_spec() -> None:
    m, m_lcls, t, t_lcls = worked_example()
    done = plan_replacement(m, m_lcls, t, t_lcls, PROVIDERS, connectors=CONNECTORS)
    plan = done.plan
    assert plan.blocking == () and plan.warnings == () and plan.atomic
    moves = [c for c in plan.changes if c.role == "licensechangelog" and isinstance(c, Update)]
    # 6.1: every LCL but the Create moves to T, values unchanged (only its subscription)
    assert {c.id for c in moves} == {m_lcls[1].id, m_lcls[2].id}
    assert all(c.before == {"subscription": Ref("subscription", m.id)} and
               c.after == {"subscription": Ref("subscription", t.id)} for c in moves)
    # 6.2: T's effective start := M's
    (start,) = [c for c in plan.changes if c.role == "subscription" and isinstance(c, Update)]
    assert (start.id, start.before, start.after) == (t.id, {"effectivestartdate": date(2024, 3, 29)},
                                                      {"effectivestartdate": date(2022, 6, 1)})
    # 6.3 and 6.4: T's Create LCL gets M's Create quantity and is archived, in one write
    (create,) = [c for c in plan.changes if c.id == t_lcls[0].id]
    assert isinstance(create, SetState) and create.after_state == State("inactive", "archived")
    assert (create.values_before, create.values_after) == ({"quantity": 12}, {"quantity": 10})
    # 6.5: M deactivated last; its Deactivate LCL archived by the step that follows
    assert isinstance(plan.changes[-1], SetState) and plan.changes[-1].id == m.id
    assert plan.changes[-1].after_state.state == "inactive"
    (then,) = plan.then
    assert (then.action, then.subscription.id, then.event) == ("archive-written-lcl", m.id, "deactivate")
    assert set(then.known) == {x.id for x in m_lcls}
    # the predicted after-state of the table
    assert (done.techdata.sigma_before, done.techdata.sigma_after, done.techdata.matches_after) == (12, 12, True)
    assert done.techdata.events_after == ("Create +10", "Update +3", "Update -1")
    assert done.manual.events_after == ("Create +10", "Deactivate -12")
    assert (done.manual.sigma_after, done.manual.matches_after) == (-2, False)  # shown: it will not match
    assert "manual   Σ LCL 12 → -2 ≠ quantity 12, inactive (Create +10, Deactivate -12)" in plan.summary
    assert "TechData Σ LCL 12 → 12 = quantity 12, active (Create +10, Update +3, Update -1)" in plan.summary


def test_invoicing_the_deactivation_leaves_its_lcl_active() -> None:
    m, m_lcls, t, t_lcls = worked_example()
    plan = plan_replacement(m, m_lcls, t, t_lcls, PROVIDERS, connectors=CONNECTORS, invoice_deactivation=True).plan
    assert plan.then == () and any("to be invoiced" in n for n in plan.notes)


def test_the_review_shows_the_step_that_follows_and_the_plan_survives_the_journal() -> None:
    m, m_lcls, t, t_lcls = worked_example()
    plan = plan_replacement(m, m_lcls, t, t_lcls, PROVIDERS, connectors=CONNECTORS).plan
    shown = lines(plan)
    assert shown[-1].verb == "then" and "Deactivate LCL of" in shown[-1].record
    assert (shown[-1].before, shown[-1].after) == ("active", "inactive (archived)")
    again = plan_from_json(plan_to_json(plan))
    assert again.then == plan.then and again.changes == plan.changes


def blocking_of(**changes) -> list[str]:
    m, m_lcls, t, t_lcls = worked_example()
    m = changes.pop("m", m)
    t = changes.pop("t", t)
    m_lcls = changes.pop("m_lcls", m_lcls)
    t_lcls = changes.pop("t_lcls", t_lcls)
    blocking, _ = preflight(m, m_lcls, t, t_lcls, PROVIDERS, connectors=CONNECTORS, **changes)
    return blocking


def warnings_of(**changes) -> list[str]:
    m, m_lcls, t, t_lcls = worked_example()
    m, t = changes.pop("m", m), changes.pop("t", t)
    m_lcls, t_lcls = changes.pop("m_lcls", m_lcls), changes.pop("t_lcls", t_lcls)
    _, warnings = preflight(m, m_lcls, t, t_lcls, PROVIDERS, connectors=CONNECTORS, **changes)
    return warnings


def test_preflight_techdata_must_be_on_the_automatic_techdata_provider() -> None:
    m, _, t, _ = worked_example()
    (reason,) = blocking_of(t=t.model_copy(update={"provider_id": MANUAL.id}))
    assert "TechData subscription “Microsoft 365 Business Basic” is not on the automatic TechData provider" in reason
    (reason,) = blocking_of(t=t.model_copy(update={"provider_id": None}))
    assert "has no provider" in reason


def test_preflight_manual_must_be_on_a_manual_provider() -> None:
    m, _, _, _ = worked_example()
    (reason,) = blocking_of(m=m.model_copy(update={"provider_id": TECHDATA.id}))
    assert reason == ("manual subscription “Microsoft 365 Business Basic (manual)” is on 'TD SYNNEX StreamOne' "
                      "(automatic provider), not on a manual provider")


def test_preflight_same_customer() -> None:
    _, _, t, _ = worked_example()
    (reason,) = blocking_of(t=t.model_copy(update={"customer_id": uuid.uuid4()}))
    assert "belong to different customers" in reason
    (reason,) = blocking_of(t=t.model_copy(update={"customer_id": None}))
    assert reason == "TechData subscription “Microsoft 365 Business Basic” has no customer"


def test_preflight_techdata_needs_a_billing_contract() -> None:
    _, _, t, _ = worked_example()
    (reason,) = blocking_of(t=t.model_copy(update={"billing_contract_id": None}))
    assert "has no billing contract" in reason


def test_preflight_another_product_is_a_warning() -> None:
    _, _, t, _ = worked_example()
    assert blocking_of(t=t.model_copy(update={"part_number": "CFQ7TTC0LDPB:0001:P1M:M"})) == []
    (warning,) = warnings_of(t=t.model_copy(update={"part_number": "CFQ7TTC0LDPB:0001:P1M:M"}))
    assert "are not the same product" in warning and "CFQ7TTC0LDPB:0001:P1M:M" in warning
    # the same SKU in another term is the same product
    assert warnings_of(t=t.model_copy(update={"part_number": "cfq7ttc0lh18:0001:P1Y:A"})) == []


@pytest.mark.parametrize("status", [ProvisioningStatus.AWAITING_PROVISIONING, ProvisioningStatus.FAILED_PROVISIONING])
def test_preflight_no_lcl_to_move_is_awaiting_or_failed(status: ProvisioningStatus) -> None:
    m, m_lcls, _, _ = worked_example()
    stuck = m_lcls[:2] + [m_lcls[2].model_copy(update={"provisioning_status": status})]
    (reason,) = blocking_of(m_lcls=stuck)
    assert reason.startswith("LCL Update -1 of 2023-01-03 “update -1” of manual subscription") and (
        status.value.replace("_", " ").capitalize() in reason)
    # the Create stays on M, so its status does not matter to the move
    assert blocking_of(m_lcls=[m_lcls[0].model_copy(update={"provisioning_status": status})] + m_lcls[1:]) == []


def test_preflight_exactly_one_create_each_side() -> None:
    m, m_lcls, t, t_lcls = worked_example()
    (reason,) = blocking_of(m_lcls=m_lcls + [lcl(m, LclEvent.CREATE, 2, 9)])
    assert "manual subscription" in reason and "has 2 Create LCLs, not exactly one" in reason
    (reason,) = blocking_of(t_lcls=[])
    assert "TechData subscription “Microsoft 365 Business Basic” has 0 Create LCLs" in reason


def test_preflight_no_moved_lcl_on_an_invoice_of_another_account() -> None:
    m, m_lcls, _, _ = worked_example()
    invoice = uuid.uuid4()
    on_invoice = m_lcls[:1] + [m_lcls[1].model_copy(update={"invoice_id": invoice})] + m_lcls[2:]
    (reason,) = blocking_of(m_lcls=on_invoice, invoice_accounts={invoice: uuid.uuid4()})
    assert "is on an invoice of another account" in reason and "Update +3" in reason
    assert blocking_of(m_lcls=on_invoice, invoice_accounts={invoice: CUSTOMER}) == []
    (reason,) = blocking_of(m_lcls=on_invoice)  # an invoice whose account is not known is not guessed at
    assert "whose account could not be read" in reason


def test_preflight_predicted_sigma_mismatch_is_shown() -> None:
    _, _, t, _ = worked_example()
    (warning,) = warnings_of(t=t.model_copy(update={"quantity": 15}))
    assert "Σ LCL of TechData subscription “Microsoft 365 Business Basic” would be 12, not its quantity 15" in warning
    assert "-3" in warning


def test_preflight_inactive_subscriptions_are_refused() -> None:
    m, _, _, _ = worked_example()
    (reason,) = blocking_of(m=m.model_copy(update={"state": RecordState.INACTIVE}))
    assert "is inactive" in reason


def test_a_blocked_replacement_is_still_shown_with_its_reasons() -> None:
    m, m_lcls, t, t_lcls = worked_example()
    done = plan_replacement(m, m_lcls, t.model_copy(update={"billing_contract_id": None}), t_lcls, PROVIDERS,
                            connectors=CONNECTORS)
    assert done.plan.refused and done.plan.changes  # the plan is shown, and refused


def test_an_awaiting_create_on_techdata_is_set_not_applicable() -> None:
    m, m_lcls, t, t_lcls = worked_example()
    awaiting = [t_lcls[0].model_copy(update={"provisioning_status": ProvisioningStatus.AWAITING_PROVISIONING})]
    done = plan_replacement(m, m_lcls, t, awaiting, PROVIDERS, connectors=CONNECTORS)
    (create,) = [c for c in done.plan.changes if c.id == awaiting[0].id]
    assert create.values_after["provisioningstatus"] == Option("provisioning_status", "not_applicable")
    assert any("set Not Applicable" in w for w in done.plan.warnings)


def test_a_long_history_is_split_in_changesets_with_the_last_writes_together() -> None:
    m, m_lcls, t, t_lcls = worked_example()
    history = m_lcls + [lcl(m, LclEvent.UPDATE, 1, 5) for _ in range(2000)] + [lcl(m, LclEvent.UPDATE, -2000, 6)]
    m = m.model_copy(update={"quantity": 12})
    plan = plan_replacement(m, history, t, t_lcls, PROVIDERS, connectors=CONNECTORS).plan
    assert not plan.atomic and not plan.blocking
    groups = changesets(plan)
    assert len(groups) == 3 and sum(len(g) for g in groups) == len(plan.changes) == 2003 + 3
    last = [plan.changes[i] for i in groups[-1]]
    assert [len(g) for g in groups] == [1000, 1000, 6]  # ⌈(N + 3) / 1000⌉ changesets for N moved LCLs
    assert {c.id for c in last} >= {m.id, t_lcls[0].id, t.id}  # deactivation and T's writes go last, together
    assert plan.changes[-1].id == m.id


def test_pairing_by_sku_then_quantity_and_the_monthly_annual_trap() -> None:
    basic_m = sub("Basic (manual)", MANUAL, 10, part="CFQ7TTC0LH18:0001")
    e3_m = sub("E3 (manual)", MANUAL, 5, part="CFQ7TTC0LFLX:0001")
    visio_m = sub("Visio (manual)", MANUAL, 2, part="CFQ7TTC0KXN8:0001")
    basic_t = sub("Basic", TECHDATA, 10, part="CFQ7TTC0LH18:0001:P1M:M")
    basic_t2 = sub("Basic (other)", TECHDATA, 3, part="CFQ7TTC0LH18:0001:P1M:M")
    e3_monthly = sub("E3 monthly", TECHDATA, 5, part="CFQ7TTC0LFLX:0001:P1Y:M")
    e3_annual = sub("E3 annual", TECHDATA, 5, part="CFQ7TTC0LFLX:0001:P1Y:A")
    pairing = pair([basic_m, e3_m, visio_m], [basic_t2, basic_t, e3_monthly, e3_annual])
    assert [(m.name, t.name) for m, t in pairing.pairs] == [("Basic (manual)", "Basic")]  # same quantity first
    ((manual, candidates, why),) = pairing.ambiguous
    assert manual is e3_m and set(candidates) == {e3_monthly, e3_annual} and "pair it by hand" in why
    assert pairing.unpaired_manual == (visio_m,)
    assert set(pairing.unpaired_techdata) == {basic_t2, e3_monthly, e3_annual}
    assert sku_of("cfq7ttc0lh18:0001:P1M:M") == "CFQ7TTC0LH18:0001"


def test_the_pair_side_by_side_marks_what_differs() -> None:
    m, _, t, _ = worked_example()
    m = m.model_copy(update={"selling_price": Decimal("6"), "currency": "USD"})
    t = t.model_copy(update={"selling_price": Decimal("6.00"), "currency": "USD"})
    rows = {d.field: d for d in diff(m, t, names={CONTRACT: "Contoso — Monthly"})}
    assert rows["billing contract"].manual == "Contoso — Monthly" and not rows["billing contract"].differs
    assert rows["effective start"].differs and not rows["quantity"].differs
    assert not rows["selling price"].differs and rows["cost"].manual == "—"


def test_the_undo_rules_restore_what_the_replacement_wrote() -> None:
    from w365tui.domain.plan import Current, invert

    m, m_lcls, t, t_lcls = worked_example()
    plan = plan_replacement(m, m_lcls, t, t_lcls, PROVIDERS, connectors=CONNECTORS).plan
    (create,) = [c for c in plan.changes if c.id == t_lcls[0].id]
    now = Current('W/"2"', State("inactive", "archived"), {"quantity": 10})
    (back,), reason = invert(create, now, today=date(2026, 1, 1))
    assert reason is None and isinstance(back, SetState)
    assert (back.after_state, back.values_after) == (ACTIVE, {"quantity": 12})


def test_pairing_leaves_a_term_mismatch_and_rival_manual_subscriptions_to_the_operator() -> None:
    annual_m = sub("Basic A (manual)", MANUAL, 10, part="CFQ7TTC0LH18:0001:P1Y:A")
    monthly_t = sub("Basic", TECHDATA, 10, part="CFQ7TTC0LH18:0001:P1M:M")
    ((manual, _, why),) = pair([annual_m], [monthly_t]).ambiguous
    assert manual is annual_m and "P1Y/A here but P1M/M on TechData" in why
    bare_a = sub("Basic A (manual)", MANUAL, 10, part="CFQ7TTC0LH18:0001")
    bare_b = sub("Basic B (manual)", MANUAL, 10, part="CFQ7TTC0LH18:0001:P1Y:A")
    pairing = pair([bare_a, bare_b], [monthly_t])
    assert pairing.pairs == () and {m.name for m, _, _ in pairing.ambiguous} == {"Basic A (manual)",
                                                                                  "Basic B (manual)"}
    # one manual subscription without a term beside one TechData one: paired
    assert [(m.name, t.name) for m, t in pair([bare_a], [monthly_t]).pairs] == [("Basic A (manual)", "Basic")]


def test_undo_of_an_archived_create_never_restores_awaiting_provisioning() -> None:
    from w365tui.domain.plan import Current, invert

    m, m_lcls, t, t_lcls = worked_example()
    awaiting = [t_lcls[0].model_copy(update={"provisioning_status": ProvisioningStatus.AWAITING_PROVISIONING})]
    plan = plan_replacement(m, m_lcls, t, awaiting, PROVIDERS, connectors=CONNECTORS).plan
    (create,) = [c for c in plan.changes if c.id == awaiting[0].id]
    now = Current('W/"2"', State("inactive", "archived"), {"quantity": 10, "provisioningstatus": Option(
        "provisioning_status", "not_applicable")})
    (back,), reason = invert(create, now, today=date(2026, 1, 1))
    assert reason is None and back.values_after == {"quantity": 12} and back.after_state == ACTIVE
