"""``w365tui accounts search|show`` as an operator's script runs them: the installed binary
against a ``w365tui sandbox serve`` process."""

from __future__ import annotations

import pytest

from tests.test_cli_plans import BINARY, Served, serve


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    assert BINARY.exists(), f"the installed w365tui is not at {BINARY}"
    running = serve(tmp_path_factory.mktemp("accounts"), rename=False)
    try:
        yield running
    finally:
        running.process.terminate()
        running.process.wait(timeout=10)


def test_search_by_name_domain_and_customer_id(served: Served) -> None:
    text = served.run("accounts", "search", "coho")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == "1 CRM account matches 'coho'"
    assert "Coho Winery · cohowinery.com · Napa · 2 provider accounts · default contract  [name starts so]" in lines[1]
    code, found = served.json("accounts", "search", "contoso.com")
    assert code == 0 and [a["name"] for a in found["accounts"]] == ["Contoso Ltd"]
    assert found["accounts"][0]["matched"] == "website" and found["accounts"][0]["provider_accounts"] == 0
    code, by_id = served.json("accounts", "search", "306871")
    assert code == 0 and [(a["name"], a["matched"]) for a in by_id["accounts"]] == [
        ("Fabrikam Inc", "customer id of Fabrikam, Inc.")]
    none = served.run("accounts", "search", "no such customer anywhere")
    assert none.returncode == 0 and none.stdout.strip() == "no CRM account matches 'no such customer anywhere'"
    for little in ("", "x", "'"):
        refused = served.run("accounts", "search", little)
        assert refused.returncode == 2 and "is too little to search by" in refused.stderr, little


def account_id(served: Served, name: str) -> str:
    return served.query("SELECT accountid FROM account WHERE name = ?", name)[0][0]


def test_show_prints_the_customer_and_exits_1_when_something_is_flagged(served: Served) -> None:
    clean = served.run("accounts", "show", account_id(served, "Tailspin Toys, Inc"))
    assert clean.returncode == 0, clean.stderr
    assert "billing contracts: 2" in clean.stdout and "Tailspin Toys, Inc — Annual · Annual · Advance" in clean.stdout
    assert "TD SYNNEX StreamOne: Tailspin Toys Inc. · id 306874 · tenant " in clean.stdout
    assert clean.stdout.rstrip().endswith("and its LCLs add up")
    code, flagged = served.json("accounts", "show", account_id(served, "Fourth Coffee"))
    assert code == 1 and flagged["exit"] == 1
    assert {f["problem"] for f in flagged["flags"]} == {"no billing contract", "no selling price"}
    assert flagged["subscriptions"]["automatic"] == {"active": 1, "inactive": 0}
    code, mismatch = served.json("accounts", "show", account_id(served, "Woodgrove Bank"))
    assert code == 1 and mismatch["subscriptions"]["lcl_mismatch"] == ["Microsoft 365 E5 (annual)"]


def test_show_exits_2_when_streamone_cannot_be_read_and_says_what_is_missing(served: Served) -> None:
    served.fault(kind="status", path="cloudProfiles", status=404)
    try:
        code, shown = served.json("accounts", "show", account_id(served, "Tailspin Toys, Inc"))
    finally:
        served.recover()
    assert code == 2 and shown["unread"] and "StreamOne" in shown["unread"][0]
    assert shown["billing_contracts"]  # what Work 365 holds is still shown


def test_show_refuses_what_is_not_an_account(served: Served) -> None:
    wrong = served.run("accounts", "show", "contoso")
    assert wrong.returncode == 2 and "is not a CRM account id" in wrong.stderr
    missing = served.run("accounts", "show", "00000000-0000-0000-0000-000000000001")
    assert missing.returncode == 2 and "no CRM account has the id" in missing.stderr
