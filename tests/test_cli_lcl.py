"""``w365tui lcl`` as an operator's script runs it: the installed binary against ``sandbox serve``."""

from __future__ import annotations

import csv
import io

import pytest

from tests.test_cli_plans import Served


@pytest.fixture
def served(served_demo: Served) -> Served:
    return served_demo


def manual(running: Served, customer: str) -> str:
    ((sub_id,),) = running.query(
        "SELECT s.work365_subscriptionid FROM work365_subscription s JOIN account a ON a.accountid = "
        "s.work365_subscription_customer WHERE a.name = ? AND s.work365_subscriptionname LIKE '%(manual)'", customer)
    return sub_id


def lcl_rows(running: Served, sub_id: str) -> list[tuple]:
    return running.query("SELECT work365_licensechangelogid, work365_quantity, statecode, work365_provisioningstatus "
                         "FROM work365_licensechangelog WHERE work365_subscription = ? ORDER BY "
                         "work365_effectivedate", sub_id)


def test_list_as_text_json_and_csv(served: Served) -> None:
    sub_id = manual(served, "Wide World Importers")
    text = served.run("lcl", "list", "--subscription", sub_id)
    assert text.returncode == 0, text.stderr
    assert "Microsoft 365 Business Premium (manual) · Wide World Importers" in text.stdout
    assert "awaiting provisioning" in text.stdout and text.stdout.rstrip().endswith("Σ LCL 8 = quantity 8")
    code, data = served.json("lcl", "list", "--subscription", sub_id)
    assert code == 0 and data["sigma"] == 8 and data["matches"] and len(data["lcls"]) == 2
    table = served.run("lcl", "list", "--subscription", sub_id, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    assert table.stdout.splitlines()[0] == ("id,event,quantity,effective_date,provisioning_status,status,invoice,"
                                            "selling_price,cost_price,name,blocked_by")
    assert [(r["event"], r["quantity"], r["effective_date"], r["provisioning_status"], r["status"]) for r in rows] == [
        ("create", "6", "2023-05-15", "not_applicable", "archived"),
        ("update", "2", "2023-06-19", "awaiting_provisioning", "active")]
    assert "[" not in table.stdout and "\x1b" not in table.stdout  # no markup, no colour


def test_archive_refuses_awaiting_provisioning_and_applies_otherwise(served: Served) -> None:
    sub_id = manual(served, "Wide World Importers")
    (create, _, _, _), (awaiting, _, _, _) = lcl_rows(served, sub_id)
    before = lcl_rows(served, sub_id)
    refused = served.run("lcl", "archive", awaiting, "--apply")
    assert refused.returncode == 1 and "is Awaiting Provisioning" in refused.stdout
    assert lcl_rows(served, sub_id) == before
    unarchive = served.run("lcl", "archive", create, "--unarchive", "--apply")
    assert unarchive.returncode == 0, unarchive.stdout + unarchive.stderr
    assert lcl_rows(served, sub_id)[0][2] == 0
    again = served.run("lcl", "archive", create, "--apply")
    assert again.returncode == 0 and lcl_rows(served, sub_id)[0][2] == 1


def test_an_invoiced_lcl_is_not_unarchived(served: Served) -> None:
    ((lcl_id,),) = served.query("SELECT work365_licensechangelogid FROM work365_licensechangelog WHERE "
                                "work365_invoice IS NOT NULL AND statecode = 1 LIMIT 1")
    result = served.run("lcl", "archive", lcl_id, "--unarchive", "--apply")
    assert result.returncode == 1 and "is invoiced: an invoiced LCL stays archived" in result.stdout


def test_add_a_correcting_lcl_and_bad_input_exits_2(served: Served) -> None:
    sub_id = manual(served, "Fabrikam Inc")
    bad = served.run("lcl", "add", "--subscription", sub_id, "--event", "update", "--quantity", "1.5", "--date",
                     "2025-01-01")
    assert bad.returncode == 2 and "'1.5' is not a whole number of licences" in bad.stderr
    bad_date = served.run("lcl", "add", "--subscription", sub_id, "--event", "update", "--quantity", "1", "--date",
                          "2025-02-30")
    assert bad_date.returncode == 2 and "is not a date" in bad_date.stderr
    matching = served.run("lcl", "add", "--subscription", sub_id, "--event", "update", "--quantity", "-2",
                          "--date", "2025-01-01", "--apply")
    assert matching.returncode == 1 and "already equals its quantity (12)" in matching.stdout
    served.query("UPDATE work365_subscription SET work365_quantity = 10 WHERE work365_subscriptionid = ?", sub_id)
    assert served.run("lcl", "list", "--subscription", sub_id).returncode == 1  # Σ 12 ≠ 10: a finding
    added = served.run("lcl", "add", "--subscription", sub_id, "--event", "update", "--quantity", "-2", "--date",
                       "2025-01-01", "--apply")
    assert added.returncode == 0, added.stdout + added.stderr
    assert "after: Σ LCL 10 = quantity 10" in added.stdout
    assert (-2, 0, 757320003) in [(q, s, p) for _, q, s, p in lcl_rows(served, sub_id)]
    assert served.run("lcl", "list", "--subscription", sub_id).returncode == 0


def test_csv_cells_that_look_like_formulas_are_kept_as_text(served: Served) -> None:
    sub_id = manual(served, "Wide World Importers")
    served.query("UPDATE work365_licensechangelog SET work365_name = '=HYPERLINK(\"http://x\")' "
                 "WHERE work365_subscription = ?", sub_id)
    table = served.run("lcl", "list", "--subscription", sub_id, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    assert {r["name"] for r in rows} == {"'=HYPERLINK(\"http://x\")"}
