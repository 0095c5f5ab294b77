"""The reports' rules on facts built here: what is a finding, in which order, and how a report
is written out (CSV a spreadsheet opens as written, a table that never passes on a terminal
escape, one JSON document)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from w365tui.domain import reports as r
from w365tui.domain.streamone import IonSubscription

CONTOSO, FABRIKAM = uuid.uuid4(), uuid.uuid4()
STREAMONE = uuid.uuid4()


def sub(name: str, quantity: int, *, active: bool = True, customer: str = "Contoso", psid: str | None = None,
        **more: object) -> r.SubFact:
    return r.SubFact(uuid.uuid4(), name, quantity, active, CONTOSO if customer == "Contoso" else FABRIKAM, customer,
                     STREAMONE, "TD SYNNEX StreamOne", provider_subscription_id=psid, **more)  # type: ignore[arg-type]


def ion(ion_id: int, quantity: int, *, microsoft: str | None = None, status: str = "active", term: str = "P1M",
        customer: int = 306870) -> IonSubscription:
    return IonSubscription.model_validate({
        "id": ion_id, "customerId": customer, "subscriptionId": microsoft, "subscriptionTotalLicenses": str(quantity),
        "subscriptionStatus": status, "subscriptionBillingTerm": term, "subscriptionBillingCycle": "monthly",
        "ccpProductInfo": {"skuDisplayName": "Microsoft 365 Business Basic"}})


def test_lcl_mismatch_counts_no_lcl_as_zero_and_puts_inactive_ones_last() -> None:
    even, over, bare, retired = sub("Even", 5), sub("Over", 5), sub("Bare", 2), sub("Retired", 9, active=False)
    rows = r.lcl_mismatch([retired, bare, even, over], {even.id: 5, over.id: 7, retired.id: 0})
    assert [(row.get("subscription"), row.get("difference"), row.section) for row in rows] == [
        ("Bare", -2, "active"), ("Over", 2, "active"), ("Retired", -9, "inactive")]
    assert rows[0].fix == r.Fix("lcls", bare.id, "open the LCL editor on it")


def test_license_mismatch_matches_by_id_so_monthly_and_annual_of_one_sku_stay_apart() -> None:
    monthly = sub("Business Basic (monthly)", 10, psid="A1B2C3D4-0000-4000-8000-000000000001")
    annual = sub("Business Basic (annual)", 20, psid="{a1b2c3d4-0000-4000-8000-000000000002}")
    by_ion_id = sub("Power BI", 3, psid="4711")
    stream = [ion(1, 10, microsoft="a1b2c3d4-0000-4000-8000-000000000001"),
              ion(2, 25, microsoft="a1b2c3d4-0000-4000-8000-000000000002", term="P1Y"),
              ion(4711, 3)]
    rows = r.license_mismatch([monthly, annual, by_ion_id], stream, {}).rows
    assert [(row.get("subscription"), row.get("finding"), row.get("work365_quantity"), row.get("streamone_quantity"),
             row.get("term")) for row in rows] == [
        ("Business Basic (annual)", "quantity differs", 20, 25, "1 year, monthly")]


def test_license_mismatch_one_side_status_and_duplicates() -> None:
    held = sub("Held twice", 4, psid="11111111-0000-4000-8000-000000000001")
    twin = sub("Held twice (copy)", 4, psid="11111111-0000-4000-8000-000000000001")
    cancelled_there = sub("Cancelled at StreamOne", 6, psid="22222222-0000-4000-8000-000000000002")
    retired_here = sub("Retired here", 6, active=False, psid="33333333-0000-4000-8000-000000000003")
    both_gone = sub("Both gone", 6, active=False, psid="44444444-0000-4000-8000-000000000004")
    orphan = sub("Never ordered", 2, psid="55555555-0000-4000-8000-000000000005")
    unkeyed = sub("Typed by hand", 1)
    stream = [ion(1, 4, microsoft="11111111-0000-4000-8000-000000000001"),
              ion(2, 6, microsoft="22222222-0000-4000-8000-000000000002", status="CANCELLED"),
              ion(3, 6, microsoft="33333333-0000-4000-8000-000000000003"),
              ion(4, 6, microsoft="44444444-0000-4000-8000-000000000004", status="suspended"),
              ion(5, 8, microsoft="66666666-0000-4000-8000-000000000006", customer=306999),
              ion(6, 8, microsoft="77777777-0000-4000-8000-000000000007", status="cancelled", customer=306999),
              ion(7, 2, microsoft="88888888-0000-4000-8000-000000000008", customer=306870),
              ion(8, 2, microsoft="99999999-0000-4000-8000-000000000009", customer=307000)]
    pa = uuid.uuid4()
    customers = {"306999": r.IonCustomer(None, "Adatum Corporation", pa),
                 "306870": r.IonCustomer(CONTOSO, "Contoso Ltd", uuid.uuid4())}
    found = r.license_mismatch([held, twin, cancelled_there, retired_here, both_gone, orphan, unkeyed], stream,
                               customers)
    rows = found.rows
    assert (found.unmapped, found.unknown) == (1, 1)  # Adatum's active one (not mapped yet), 307000's
    assert [(row.get("customer"), row.get("subscription"), row.get("finding")) for row in rows] == [
        ("Contoso", "Cancelled at StreamOne", "status differs"),
        ("Contoso", "Held twice", "held twice in Work 365"),
        ("Contoso", "Held twice (copy)", "held twice in Work 365"),
        ("Contoso", "Never ordered", "only in Work 365"),
        ("Contoso", "Retired here", "status differs"),
        ("Contoso", "Typed by hand", "no provider subscription id"),
        ("Contoso Ltd", "Microsoft 365 Business Basic", "only in StreamOne"),
    ]
    assert rows[0].fix == rows[-1].fix == r.Fix("subscriptions", CONTOSO, "open the customer's subscriptions")


def test_missing_data_names_every_missing_field_of_active_subscriptions_and_lcls_without_account() -> None:
    complete = sub("Complete", 1, billing_contract_id=uuid.uuid4(), selling_price=Decimal("1.00"), currency="USD",
                   effective_start_date=date(2024, 1, 1))
    bare = r.SubFact(uuid.uuid4(), "Bare", 1, True)
    retired = r.SubFact(uuid.uuid4(), "Retired", 1, False)
    lcl = r.LclFact(uuid.uuid4(), bare.id, "Bare", None, "", "Create", 1, date(2024, 1, 1), "not applicable")
    rows = r.missing_data([complete, bare, retired], [lcl])
    assert [(row.get("record"), row.get("missing")) for row in rows] == [
        ("LCL", "account"),
        ("subscription", "customer, billing contract, selling price, currency, effective date")]
    assert rows[1].fix is None  # no pane sets a subscription's customer
    # An org whose subscriptions have no selling price or currency column is not told they are missing.
    narrow = r.missing_data([bare], [], checked=("customer_id", "billing_contract_id", "effective_start_date"))
    assert [row.get("missing") for row in narrow] == ["customer, billing contract, effective date"]


def test_uninvoiced_keeps_active_uninvoiced_lcls_older_than_the_days_oldest_first() -> None:
    today = date(2026, 11, 28)

    def lcl(day: date, **more: object) -> r.LclFact:
        return r.LclFact(uuid.uuid4(), uuid.uuid4(), "Sub", CONTOSO, "Contoso", "Update", 1, day, "", **more)  # type: ignore[arg-type]

    old, older = lcl(date(2026, 10, 1)), lcl(date(2025, 1, 1))
    on_the_day = lcl(date(2026, 10, 14))  # exactly 45 days: not yet
    rows = r.uninvoiced([old, on_the_day, older, lcl(date(2020, 1, 1), archived=True),
                         lcl(date(2020, 1, 1), invoiced=True), lcl(None)], today)  # type: ignore[arg-type]
    assert [(row.key, row.get("age")) for row in rows] == [(older.id, 696), (old.id, 58)]


def report(rows: list[r.Row]) -> r.Report:
    return r.Report(r.LCL_MISMATCH, r.EVERYTHING, rows, generated=datetime(2026, 11, 28, 6, 0, tzinfo=UTC))


def test_csv_is_plain_cells_with_a_header_iso_dates_and_formulas_kept_as_text() -> None:
    hostile = sub("=HYPERLINK(\"http://x\")", 3, customer="-Contoso")
    rows = r.lcl_mismatch([hostile], {})
    text = r.to_csv(report(rows))
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == [c.key for c in r.COLUMNS[r.LCL_MISMATCH]] + ["section"]
    assert parsed[1][:6] == ["'-Contoso", "'=HYPERLINK(\"http://x\")", "TD SYNNEX StreamOne", "3", "0", "-3"]
    dates = r.to_csv(r.Report(r.UNINVOICED, r.EVERYTHING, r.uninvoiced([r.LclFact(
        uuid.uuid4(), None, "Sub", None, "C", "Update", 1, date(2024, 2, 29), "n/a")], date(2026, 1, 1))))
    assert ",2024-02-29," in dates


def test_table_shows_control_characters_visibly_and_json_is_one_document() -> None:
    rows = r.lcl_mismatch([sub("\x1b[31mRed\x1b[0m", 3, customer="Evil\x07")], {})
    table = r.to_table(report(rows))
    assert "\x1b" not in table and "\x07" not in table and "\\x1b[31mRed" in table
    document = json.loads(json.dumps(r.to_json(report(rows))))
    assert document["report"] == "lcl-mismatch" and document["scope"]["kind"] == "everything"
    assert document["generated"] == "2026-11-28T06:00:00Z" and document["count"] == 1
    assert document["rows"][0]["subscription"] == "\x1b[31mRed\x1b[0m" and document["rows"][0]["section"] == "active"
    assert "nothing to report" in r.to_table(report([]))
