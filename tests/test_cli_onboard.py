"""``w365tui onboard`` as a team's script runs it: the installed binary against ``sandbox serve``
— exit 0 every step done, 1 steps remain, 2 error; text, JSON and the Markdown ``--summary``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli_plans import Served


@pytest.fixture
def served(served_demo: Served) -> Served:
    return served_demo


def one(served: Served, sql: str, *params: object) -> str:
    ((value,),) = served.query(sql, *params)
    return str(value)


def test_a_customer_goes_from_unmapped_to_done_and_the_exit_status_follows(served: Served, tmp_path: Path) -> None:
    pa = one(served, "SELECT work365_provideraccountid FROM work365_provideraccount WHERE "
                     "work365_provideraccount_name = 'School of Fine Art'")
    account = one(served, "SELECT accountid FROM account WHERE name = 'School of Fine Art'")
    first = served.run("onboard", "--provider-account", pa)
    assert first.returncode == 1, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == "Onboarding School of Fine Art: at step 3, mapped to the CRM account"
    assert "  → 3. Mapped to the CRM account: School of Fine Art is not mapped to a CRM account" in lines
    assert "      next: map it (pane 1), key m" in lines

    assert served.run("map", "--provider-account", pa, "--account", account, "--apply").returncode == 0
    code, data = served.json("onboard", "--account", account)
    assert code == 1 and data["exit"] == 1 and not data["done"]
    assert [s["state"] for s in data["steps"]] == ["done", "done", "done", "todo", "waiting", "waiting", "todo"]
    assert data["steps"][3]["next"] == {"pane": "customers", "record": account, "key": "b",
                                        "label": "sync onto School of Fine Art — Monthly (pane 2)"}

    assert served.run("sync", "subscriptions", "--account", account, "--apply").returncode == 0
    summary = tmp_path / "ticket.md"
    done = served.run("onboard", "--account", account, "--summary", str(summary))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "Onboarding School of Fine Art: done"
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("# Onboarding: School of Fine Art\n") and "- Stage: done" in text
    assert text.count("applied by Sandbox Operator") == 2  # the mapping and the sync, oldest first
    assert text.index("· Map School of Fine Art") < text.index("· Sync subscriptions onto")


def test_errors_exit_2_and_a_customer_is_named_once(served: Served, tmp_path: Path) -> None:
    bad = served.run("onboard", "--account", "Contoso")
    assert bad.returncode == 2 and "'Contoso' is not a CRM account id" in bad.stderr
    missing = served.run("onboard", "--account", "00000000-0000-0000-0000-000000000001")
    assert missing.returncode == 2 and "no CRM account has the id" in missing.stderr
    both = served.run("onboard", "--account", "x", "--provider-account", "y")
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
    account = one(served, "SELECT accountid FROM account WHERE name = 'Lamna Healthcare GmbH'")
    nowhere = served.run("onboard", "--account", account, "--summary", str(tmp_path / "no" / "ticket.md"))
    assert nowhere.returncode == 2 and "no folder" in nowhere.stderr
    assert served.run("onboard", "--account", account).returncode == 0  # done: Lamna is fully onboarded
