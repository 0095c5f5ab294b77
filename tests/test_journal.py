"""The change journal: written line by line, read back after a crash."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from w365tui.journal import Journal, TouchedRow


def test_a_finished_plan_is_complete_and_keeps_its_before_values(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j" / "journal.jsonl")
    row = TouchedRow("work365_provideraccounts", "abc", {"_work365_account_value": None}, 'W/"7"')
    plan = journal.begin(profile="sandbox", description="map Contoso", rows=[row],
                         operations=[{"method": "PATCH", "url": "work365_provideraccounts(abc)"}])
    journal.changeset_sent(plan, 0, 1)
    journal.changeset_outcome(plan, 0, "committed")
    journal.finish(plan, "committed")
    (record,) = journal.plans().values()
    assert record.complete and record.outcome == "committed" and record.in_doubt == []
    assert record.rows == [row.to_json()]
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
    assert journal.incomplete_plans() == []


def test_a_plan_cut_off_mid_changeset_is_incomplete_and_in_doubt(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    done = journal.begin(profile="p", description="done", rows=[], operations=[])
    journal.finish(done, "committed")
    cut = journal.begin(profile="p", description="cut", rows=[], operations=[{"method": "POST"}] * 3)
    journal.changeset_sent(cut, 0, 2)
    journal.changeset_outcome(cut, 0, "committed")
    journal.changeset_sent(cut, 1, 1)
    (open_plan,) = journal.incomplete_plans("p")
    assert open_plan.plan_id == cut and open_plan.in_doubt == [1]


def test_a_torn_last_line_is_skipped_but_a_broken_middle_line_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    plan = journal.begin(profile="p", description="x", rows=[], operations=[])
    with path.open("a") as handle:
        handle.write('{"event": "changeset-sent", "plan_id": "')  # the crash came mid-write
    assert [p.plan_id for p in journal.incomplete_plans()] == [plan]
    with path.open("a") as handle:
        handle.write("\n" + json.dumps({"event": "plan-end", "plan_id": plan, "outcome": "failed"}) + "\n")
    with pytest.raises(ValueError, match=r"journal.jsonl:2"):
        journal.plans()
