"""``w365tui report`` as cron or CI runs it: the installed binary against ``sandbox serve`` —
exit 0 empty, 1 findings, 2 error; CSV (a golden file), JSON and ``--output``."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.test_cli_plans import Served

GOLDEN = FIXTURES / "reports" / "lcl-mismatch.demo.csv"


@pytest.fixture
def served(served_demo: Served) -> Served:
    return served_demo


def test_lcl_mismatch_as_csv_matches_the_golden_file_and_exits_1(served: Served, tmp_path: Path) -> None:
    result = served.run("report", "lcl-mismatch", "--format", "csv")
    assert result.returncode == 1, result.stderr
    assert result.stdout == GOLDEN.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["customer"], r["quantity"], r["lcl_sum"], r["section"]) for r in rows] == [
        ("Woodgrove Bank", "20", "22", "active"), ("Margie's Travel", "14", "0", "inactive")]
    written = tmp_path / "lcl.csv"
    to_file = served.run("report", "lcl-mismatch", "--format", "csv", "--output", str(written))
    assert to_file.returncode == 1 and to_file.stdout == "" and written.read_text(encoding="utf-8") == result.stdout
    assert written.stat().st_mode & 0o044 == 0o044  # readable as any file the operator writes, not 0600


def test_json_is_one_document_with_report_scope_time_and_rows(served: Served) -> None:
    code, data = served.json("report", "unmapped")
    assert code == 1 and data["exit"] == 1
    assert data["report"] == "unmapped" and data["scope"] == {"kind": "everything", "id": None, "label": "everything"}
    assert data["generated"].endswith("Z") and data["count"] == len(data["rows"]) == 14
    assert {"provider", "provider_account", "provider_specific_id", "created", "id"} == set(data["rows"][0])


def test_table_for_one_customer_and_an_empty_report_exits_0(served: Served) -> None:
    ((woodgrove,),) = served.query("SELECT accountid FROM account WHERE name = 'Woodgrove Bank'")
    one = served.run("report", "lcl-mismatch", "--customer", woodgrove)
    assert one.returncode == 1, one.stderr
    lines = one.stdout.splitlines()
    assert lines[0].startswith("LCL mismatch · Woodgrove Bank · 1 row ·")
    assert "Microsoft 365 E5 (annual)" in lines[-1] and "Margie" not in one.stdout
    empty = served.run("report", "uninvoiced", "--days", "36500")
    assert empty.returncode == 0, empty.stderr
    assert "nothing to report" in empty.stdout


def test_errors_exit_2_with_a_clear_message_and_write_no_file(served: Served, tmp_path: Path) -> None:
    bad = served.run("report", "lcl-mismatch", "--customer", "Contoso")
    assert bad.returncode == 2 and "'Contoso' is not a CRM account id" in bad.stderr
    nowhere = served.run("report", "unmapped", "--output", str(tmp_path / "missing" / "out.txt"))
    assert nowhere.returncode == 2 and "no folder" in nowhere.stderr
    forever = served.run("report", "uninvoiced", "--days", "10000000")
    assert forever.returncode == 2 and "must be 0 to 36500 days" in forever.stderr
    served.fault(kind="status", status=500, path="work365_licensechangelogs")
    written = tmp_path / "never.csv"
    failing = served.run("report", "lcl-mismatch", "--format", "csv", "--output", str(written))
    assert failing.returncode == 2 and "500" in failing.stderr and not written.exists()
    code, data = served.json("report", "lcl-mismatch")
    assert code == 2 and "error" in data
    unknown = served.run("report", "nonsense")
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr
