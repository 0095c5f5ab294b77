"""License change log rules: archive marks, edits, a correcting LCL, the Σ they produce."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from w365tui.domain.enums import LclEvent, LclStatus, ProvisioningStatus, RecordState
from w365tui.domain.lcl import (
    Edit,
    blocked_by,
    parse_date,
    parse_quantity,
    plan_add,
    plan_archive,
    plan_edits,
)
from w365tui.domain.models import LicenseChangeLog, Subscription
from w365tui.domain.plan import ACTIVE, Option, SetState, State, Update, changesets

NA = ProvisioningStatus.NOT_APPLICABLE
AWAITING = ProvisioningStatus.AWAITING_PROVISIONING


def subscription(quantity: int = 12, **kwargs) -> Subscription:
    return Subscription(id=uuid.uuid4(), etag='W/"1"', name="Office 365 E3", quantity=quantity,
                        customer_id=uuid.uuid4(), **kwargs)


def lcl(sub: Subscription, event: LclEvent, quantity: int, day: int, status: ProvisioningStatus = NA,
        **kwargs) -> LicenseChangeLog:
    return LicenseChangeLog(id=uuid.uuid4(), etag='W/"1"', subscription_id=sub.id, event=event, quantity=quantity,
                            effective_date=date(2024, 1, day), provisioning_status=status, **kwargs)


def history(sub: Subscription) -> list[LicenseChangeLog]:
    return [lcl(sub, LclEvent.CREATE, 10, 1), lcl(sub, LclEvent.UPDATE, 3, 5), lcl(sub, LclEvent.UPDATE, -1, 9)]


def test_archiving_marks_rows_and_changes_no_quantity() -> None:
    sub = subscription()
    rows = history(sub)
    plan = plan_archive(sub, rows, [rows[1].id, rows[2].id])
    assert not plan.blocking and [c.id for c in plan.changes] == [rows[1].id, rows[2].id]
    assert all(isinstance(c, SetState) and c.after_state == State("inactive", "archived") for c in plan.changes)
    assert "Σ LCL 12 = quantity 12, before and after" in plan.summary


def test_an_awaiting_provisioning_lcl_is_never_archived() -> None:
    sub = subscription()
    rows = history(sub)
    rows[2] = rows[2].model_copy(update={"provisioning_status": AWAITING})
    plan = plan_archive(sub, rows, [rows[1].id, rows[2].id])
    (reason,) = plan.blocking
    assert "Update -1 of 2024-01-09" in reason and "is Awaiting Provisioning" in reason


def test_an_invoiced_lcl_is_never_unarchived_and_rows_already_so_are_left_out() -> None:
    sub = subscription()
    rows = history(sub)
    rows[0] = rows[0].model_copy(update={"status": LclStatus.ARCHIVED, "invoice_id": uuid.uuid4()})
    rows[1] = rows[1].model_copy(update={"status": LclStatus.ARCHIVED})
    plan = plan_archive(sub, rows, [r.id for r in rows], unarchive=True)
    (reason,) = plan.blocking
    assert "Create +10" in reason and "is invoiced: an invoiced LCL stays archived" in reason
    assert [c.id for c in plan.changes] == [rows[1].id] and plan.changes[0].after_state == ACTIVE
    assert plan.stats["already"] == 1  # the third was active already
    archive = plan_archive(sub, rows, [rows[0].id])
    assert archive.is_empty and archive.stats["already"] == 1


def test_an_inactive_subscription_takes_archive_marks_but_no_edits() -> None:
    sub = subscription(state=RecordState.INACTIVE)
    rows = history(sub)
    assert not plan_archive(sub, rows, [rows[1].id]).blocking
    (reason,) = plan_edits(sub, rows, [Edit(rows[1].id, quantity=4)]).blocking
    assert "is inactive: its LCLs can only be archived or unarchived" in reason
    reasons = plan_add(sub, rows, event=LclEvent.UPDATE, quantity=1, effective_date=date(2024, 2, 1)).blocking
    assert any("is inactive" in r for r in reasons)


def test_1500_lcls_archive_in_two_changesets() -> None:
    sub = subscription(quantity=1500)
    rows = [lcl(sub, LclEvent.UPDATE, 1, 1 + n % 28) for n in range(1500)]
    plan = plan_archive(sub, rows, [r.id for r in rows])
    assert not plan.atomic and not plan.blocking
    assert [len(c) for c in changesets(plan)] == [1000, 500]


def test_edits_are_validated_and_show_the_sigma_they_produce() -> None:
    sub = subscription()
    rows = history(sub)
    plan = plan_edits(sub, rows, [Edit(rows[1].id, quantity=5), Edit(rows[2].id, effective_date=date(2024, 1, 20))])
    assert not plan.blocking and len(plan.changes) == 2
    first = plan.changes[0]
    assert isinstance(first, Update) and (first.before, first.after) == ({"quantity": 3}, {"quantity": 5})
    assert plan.summary == "Σ LCL 12 = quantity 12 now; after: Σ LCL 14 ≠ quantity 12 (+2)"
    assert plan.warnings == ("after these edits Σ LCL 14 ≠ quantity 12 (+2)",)
    # a Create is never moved after an Update
    (reason,) = plan_edits(sub, rows, [Edit(rows[0].id, effective_date=date(2024, 1, 6))]).blocking
    assert "would fall after an Update (2024-01-06 after 2024-01-05)" in reason
    assert not plan_edits(sub, rows, [Edit(rows[0].id, effective_date=date(2024, 1, 4))]).blocking
    # nor an Update moved before the Create, nor two edits that only together break the order
    assert plan_edits(sub, rows, [Edit(rows[1].id, effective_date=date(2023, 12, 1))]).blocking
    together = [Edit(rows[0].id, effective_date=date(2024, 1, 3)), Edit(rows[1].id, effective_date=date(2024, 1, 2))]
    assert len(plan_edits(sub, rows, together).blocking) == 2
    # an order the LCLs had already does not stop a quantity edit
    late = [rows[0].model_copy(update={"effective_date": date(2024, 1, 7)}), *rows[1:]]
    assert not plan_edits(sub, late, [Edit(rows[0].id, quantity=11)]).blocking


@pytest.mark.parametrize("change", [
    {"invoice_id": uuid.uuid4()}, {"provisioning_status": AWAITING}, {"status": LclStatus.ARCHIVED}])
def test_no_edit_on_an_invoiced_awaiting_or_archived_lcl(change: dict) -> None:
    sub = subscription()
    rows = history(sub)
    rows[1] = rows[1].model_copy(update=change)
    (reason,) = plan_edits(sub, rows, [Edit(rows[1].id, quantity=4)]).blocking
    assert "Update +3 of 2024-01-05" in reason


def test_whole_numbers_and_real_dates() -> None:
    assert parse_quantity("+3") == 3 and parse_quantity("-12") == -12 and parse_quantity(" 7 ") == 7
    for bad in ("1.5", "3e2", "", "--1", "١٢"):
        with pytest.raises(ValueError, match="not a whole number"):
            parse_quantity(bad)
    assert parse_date("2024-02-29") == date(2024, 2, 29)
    with pytest.raises(ValueError, match="not a date"):
        parse_date("2023-02-29")


def test_a_correcting_lcl_is_not_applicable_and_shows_the_sigma_after() -> None:
    sub = subscription(quantity=14)
    rows = history(sub)
    plan = plan_add(sub, rows, event=LclEvent.UPDATE, quantity=2, effective_date=date(2024, 3, 1),
                    customer_name="Contoso")
    (change,) = plan.changes
    assert change.values["provisioningstatus"] == Option("provisioning_status", "not_applicable")
    assert change.values["quantity"] == 2 and change.values["account"].label == "Contoso"
    assert plan.summary == "Σ LCL 12 ≠ quantity 14 (-2) now; after: Σ LCL 14 = quantity 14" and not plan.warnings
    assert plan_add(sub, rows, event=LclEvent.CREATE, quantity=1, effective_date=date(2024, 3, 1)).blocking
    assert plan_add(sub, rows, event=LclEvent.UPDATE, quantity=0, effective_date=date(2024, 3, 1)).blocking
    matching = subscription(quantity=12)
    (reason,) = plan_add(matching, history(matching), event=LclEvent.UPDATE, quantity=1,
                         effective_date=date(2024, 3, 1)).blocking
    assert "already equals its quantity (12)" in reason


def test_an_earlier_awaiting_or_failed_lcl_blocks_the_later_ones() -> None:
    sub = subscription()
    rows = history(sub)
    rows[1] = rows[1].model_copy(update={"provisioning_status": ProvisioningStatus.FAILED_PROVISIONING})
    blocked = blocked_by(rows)
    assert set(blocked) == {rows[2].id} and blocked[rows[2].id].id == rows[1].id
