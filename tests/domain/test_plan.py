"""The plan model: grouping into changesets, what refuses a plan, its journal form, undoing."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from w365tui.domain.plan import (
    ACTIVE,
    INACTIVE,
    MAX_CHANGESET,
    Create,
    Current,
    Option,
    Plan,
    PlanError,
    Ref,
    SetState,
    State,
    Update,
    changesets,
    invert,
    lines,
    plan_from_json,
    plan_to_json,
)

TODAY = date(2025, 6, 1)


def create(n: int, unit: int | None = None, role: str = "provideraccount") -> Create:
    return Create(role, uuid.UUID(int=n + 1), {"name": f"row {n}"}, f"row {n}", key=f"k{n}",
                  unit=n if unit is None else unit)


def test_an_atomic_plan_is_one_changeset_and_refused_past_the_limit() -> None:
    plan = Plan("t", "t", tuple(create(i) for i in range(5)))
    assert changesets(plan) == [[0, 1, 2, 3, 4]]
    big = Plan("t", "t", tuple(create(i) for i in range(MAX_CHANGESET + 1)))
    assert any("refused rather than split" in p for p in big.checked().blocking)
    with pytest.raises(PlanError, match="atomic"):
        changesets(big)


@given(st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=60), st.integers(min_value=7, max_value=20))
def test_a_split_plan_never_splits_a_unit_and_keeps_the_order(sizes: list[int], size: int) -> None:
    changes = []
    for unit, count in enumerate(sizes):
        changes += [create(len(changes), unit) for _ in range(count)]
    plan = Plan("t", "t", tuple(changes), atomic=False)
    groups = changesets(plan, size)
    assert [i for g in groups for i in g] == list(range(len(changes)))
    assert all(len(g) <= size for g in groups)
    for unit in range(len(sizes)):
        holding = {n for n, g in enumerate(groups) if any(changes[i].unit == unit for i in g)}
        assert len(holding) == 1


def test_what_refuses_a_plan_whatever_its_content() -> None:
    row = uuid.uuid4()
    plan = Plan("t", "t", (Update("subscription", row, "", {"quantity": 1}, {"quantity": 2}, "s"),
                           Update("subscription", row, 'W/"1"', {}, {"quantity": 2}, "t"),
                           Create("x", row, {}, "a"), Create("x", row, {}, "b")))
    problems = plan.checked().blocking
    assert any("without an ETag" in p for p in problems)
    assert any("needs its before value" in p for p in problems)
    assert any("writes one row twice" in p for p in problems)


def test_a_plan_survives_the_journal_unchanged() -> None:
    sub = uuid.uuid4()
    plan = Plan("sync-subscriptions", "Sync", (
        Create("licensechangelog", uuid.uuid4(), {
            "quantity": -3, "event": Option("lcl_event", "update"), "effectivedate": date(2025, 1, 31),
            "subscription": Ref("subscription", sub, "Office"), "price": Decimal("12.50"), "note": None,
            "billable": True}, "lcl", key="k"),
        Update("subscription", sub, 'W/"9"', {"quantity": 5}, {"quantity": 2}, "Office", unit=1),
        SetState("provideraccount", uuid.uuid4(), 'W/"2"', ACTIVE, State("inactive", "inactive"), "pa", unit=2),
    ), warnings=("w",), blocking=(), notes=("n",), atomic=False, parent="p-1", stats={"create": 1})
    again = plan_from_json(plan_to_json(plan))
    assert again == plan
    assert again.changes[0].values["subscription"].label == "Office"  # labels are kept (not compared)


def test_review_lines_show_before_and_after_per_field() -> None:
    pa = uuid.uuid4()
    plan = Plan("map", "Map", (Update("provideraccount", pa, 'W/"1"', {"account": None},
                                      {"account": Ref("account", uuid.uuid4(), "Contoso Ltd")}, "Contoso"),
                               create(1)))
    shown = lines(plan)
    assert (shown[0].verb, shown[0].what, shown[0].field, shown[0].before, shown[0].after) == (
        "update", "provider account Contoso", "CRM account", "—", "Contoso Ltd")
    assert (shown[0].role, shown[0].record) == ("provider account", "Contoso")
    assert (shown[1].verb, shown[1].field, shown[1].after) == ("create", "name", "row 1")


def test_a_created_row_is_undone_by_deactivating_it_never_by_deleting() -> None:
    change = create(1)
    undo, problem = invert(change, Current('W/"4"', State("active", "active"), {}), today=TODAY)
    assert problem is None
    (set_state,) = undo
    assert isinstance(set_state, SetState)
    assert (set_state.id, set_state.etag, set_state.after_state) == (change.id, 'W/"4"', INACTIVE)
    assert invert(change, Current('W/"5"', State("inactive"), {}), today=TODAY) == ((), None)  # already inactive
    assert invert(change, None, today=TODAY)[1] == "row 1: the row is not there any more"


def test_a_created_lcl_is_undone_by_a_reversing_lcl() -> None:
    lcl = Create("licensechangelog", uuid.uuid4(), {"quantity": 5, "event": Option("lcl_event", "update"),
                                                    "name": "Update: Office", "effectivedate": date(2025, 1, 1)},
                 "+5 on Office")
    (reversal,), problem = invert(lcl, Current('W/"1"', ACTIVE, {}), today=TODAY, new_id=lambda: uuid.UUID(int=9))
    assert problem is None and isinstance(reversal, Create)
    assert reversal.id == uuid.UUID(int=9) != lcl.id
    assert reversal.values["quantity"] == -5 and reversal.values["effectivedate"] == TODAY
    assert reversal.values["provisioningstatus"] == Option("provisioning_status", "not_applicable")
    assert invert(lcl, None, today=TODAY) == ((), "+5 on Office: the LCL is not there any more")


def test_an_update_is_undone_only_if_the_row_still_holds_what_was_written() -> None:
    row = uuid.uuid4()
    change = Update("subscription", row, 'W/"1"', {"quantity": 10}, {"quantity": 15}, "Office")
    (undo,), problem = invert(change, Current('W/"2"', ACTIVE, {"quantity": 15}), today=TODAY)
    assert problem is None and (undo.before, undo.after, undo.etag) == ({"quantity": 15}, {"quantity": 10}, 'W/"2"')
    none, problem = invert(change, Current('W/"3"', ACTIVE, {"quantity": 16}), today=TODAY)
    assert none == () and "changed since" in problem


def test_an_lcl_is_never_set_back_to_awaiting_provisioning() -> None:
    awaiting, na = Option("provisioning_status", "awaiting_provisioning"), Option("provisioning_status", "not_applicable")
    change = Update("licensechangelog", uuid.uuid4(), 'W/"1"', {"provisioningstatus": awaiting},
                    {"provisioningstatus": na}, "Create LCL of Teams")
    undo, problem = invert(change, Current('W/"2"', ACTIVE, {"provisioningstatus": na}), today=TODAY)
    assert undo == () and "order the change at the provider again" in problem
