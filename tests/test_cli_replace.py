"""``w365tui plan replace`` as an operator's script runs it: the installed binary against a
``w365tui sandbox serve`` process — dry run, apply, refusal, a dropped connection, undo."""

from __future__ import annotations

import pytest

from tests.test_cli_plans import Served

NOT_APPLICABLE = 757320003


@pytest.fixture
def served(served_demo: Served) -> Served:
    return served_demo


def pair(running: Served, customer: str = "Fabrikam Inc") -> tuple[str, str]:
    rows = running.query("SELECT s.work365_subscriptionid, s.work365_subscriptionname FROM work365_subscription s "
                         "JOIN account a ON a.accountid = s.work365_subscription_customer WHERE a.name = ?", customer)
    manual = next(r[0] for r in rows if r[1].endswith("(manual)"))
    techdata = next(r[0] for r in rows if not r[1].endswith("(manual)"))
    return manual, techdata


def lcls(running: Served, sub_id: str) -> list[tuple]:
    return sorted(running.query("SELECT work365_event, work365_quantity, statecode FROM work365_licensechangelog "
                                "WHERE work365_subscription = ?", sub_id))


def test_a_dry_run_prints_preflight_and_plan_then_apply_retires_the_manual_subscription(served: Served) -> None:
    manual, techdata = pair(served)
    before = (lcls(served, manual), lcls(served, techdata))
    dry = served.run("plan", "replace", "--manual", manual, "--techdata", techdata)
    assert dry.returncode == 0, dry.stderr
    assert "2 LCLs move from the manual subscription to the TechData one" in dry.stdout
    assert "Σ LCL 12 → -2 ≠ quantity 12" in dry.stdout and "Σ LCL 12 → 12 = quantity 12" in dry.stdout
    assert "then      LCL Deactivate LCL of" in dry.stdout and "dry run: nothing was written" in dry.stdout
    assert (lcls(served, manual), lcls(served, techdata)) == before
    code, applied = served.json("plan", "replace", "--manual", manual, "--techdata", techdata, "--apply")
    assert code == 0 and applied["applied"]["status"] == "applied"
    assert applied["applied"]["followup"]["status"] == "applied"
    assert applied["replacement"]["techdata"] == {
        "name": "Microsoft 365 Business Standard (monthly)", "quantity": 12, "sigma_before": 12, "sigma_after": 12,
        "matches": True, "state": "active", "lcls_after": ["Create +10", "Update +3", "Update -1"]}
    assert sum(q for _, q, _ in lcls(served, techdata)) == 12
    assert served.query("SELECT statecode FROM work365_subscription WHERE work365_subscriptionid = ?",
                        manual) == [(1,)]
    deactivate = [r for r in lcls(served, manual) if r[1] == -12]
    assert [r[2] for r in deactivate] == [1]  # archived: not invoiced
    # the journal covers it: undo restores the manual subscription, its Activate LCL archived too
    undo = served.run("plan", "undo", applied["applied"]["plan_id"][:8], "--apply")
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert "then archive the Activate LCL" in undo.stdout
    assert served.query("SELECT statecode FROM work365_subscription WHERE work365_subscriptionid = ?",
                        manual) == [(0,)]
    assert lcls(served, techdata) == before[1]


def test_preflight_refuses_with_exit_1_and_writes_nothing(served: Served) -> None:
    manual, techdata = pair(served)
    served.query("UPDATE work365_subscription SET work365_billingcontract = NULL WHERE work365_subscriptionid = ?",
                 techdata)
    before = (lcls(served, manual), lcls(served, techdata))
    result = served.run("plan", "replace", "--manual", manual, "--techdata", techdata, "--apply")
    assert result.returncode == 1
    assert "refused: TechData subscription “Microsoft 365 Business Standard (monthly)” has no billing contract" in (
        result.stdout)
    assert (lcls(served, manual), lcls(served, techdata)) == before
    swapped = served.run("plan", "replace", "--manual", techdata, "--techdata", manual)
    assert swapped.returncode == 1 and "not on a manual provider" in swapped.stdout


def test_bad_ids_exit_2(served: Served) -> None:
    manual, _ = pair(served)
    result = served.run("plan", "replace", "--manual", manual, "--techdata", "not-a-guid")
    assert result.returncode == 2 and "not a TechData subscription id" in result.stderr
    missing = served.run("plan", "replace", "--manual", manual, "--techdata", "00000000-0000-0000-0000-000000000009")
    assert missing.returncode == 2 and "no TechData subscription 00000000-0000-0000-0000-000000000009" in missing.stderr


def test_a_connection_dropped_after_commit_is_finished_by_resume(served: Served) -> None:
    manual, techdata = pair(served)
    served.fault(kind="drop_after", path=r"\$batch$", times=1)
    lost = served.run("plan", "replace", "--manual", manual, "--techdata", techdata, "--apply")
    assert lost.returncode == 2 and "plan resume" in lost.stdout
    (open_plan,) = served.unresolved()
    resumed = served.run("plan", "resume", open_plan["plan_id"][:8], "--apply")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert served.unresolved() == []
    assert sum(q for _, q, _ in lcls(served, techdata)) == 12
    assert [r[2] for r in lcls(served, manual) if r[1] == -12] == [1]
