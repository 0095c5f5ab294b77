"""The change journal: written line by line, read back after a crash, and what it says of each plan."""

from __future__ import annotations

import json
import stat
import uuid
from pathlib import Path

import pytest

from w365tui.domain.plan import Create, Plan, Update, plan_to_json
from w365tui.journal import Journal, JournalError

ROW = uuid.uuid4()


def sample(key: str = "provideraccount:p:1") -> Plan:
    return Plan("map", "Map Contoso", (Update("provideraccount", ROW, 'W/"7"', {"name": "a"}, {"name": "b"}, "Contoso"),
                                       Create("provideraccount", uuid.uuid4(), {"name": "n"}, "n", key=key, unit=1)),
                atomic=False)


def begin(journal: Journal, plan: Plan | None = None, profile: str = "p", groups=((0,), (1,))) -> str:
    plan = plan or sample()
    return journal.begin(plan=plan_to_json(plan), changesets=[list(g) for g in groups],
                         operations=[{"method": "PATCH", "url": "x"}] * len(plan.changes), profile=profile,
                         organization="org-1", user="Operator")


def test_an_applied_plan_keeps_its_plan_outcomes_and_new_etags(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j" / "journal.jsonl")
    plan_id = begin(journal)
    for index in (0, 1):
        journal.changeset_sent(plan_id, index, 1)
        journal.changeset_outcome(plan_id, index, "committed",
                                  results=[{"change": index, "status": 204, "etag": f'W/"{9 + index}"', "id": None}])
    journal.finish(plan_id, "committed")
    (record,) = journal.plans().values()
    assert record.status == "applied" and not record.unresolved and record.undoable
    assert record.plan().changes[0] == sample().changes[0] and record.plan().title == "Map Contoso"
    assert record.result(1) == {"change": 1, "status": 204, "etag": 'W/"10"', "id": None}
    assert record.user == "Operator" and record.organization == "org-1"
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600


def test_a_plan_cut_off_mid_changeset_is_in_doubt_and_one_half_done_is_partial(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    cut = begin(journal)
    journal.changeset_sent(cut, 0, 1)
    journal.changeset_outcome(cut, 0, "committed")
    journal.changeset_sent(cut, 1, 1)
    half = begin(journal)
    journal.changeset_sent(half, 0, 1)
    journal.changeset_outcome(half, 0, "committed")
    journal.changeset_sent(half, 1, 1)
    journal.changeset_outcome(half, 1, "failed", "412")
    journal.finish(half, "partial")
    clean = begin(journal)
    journal.changeset_sent(clean, 0, 1)
    journal.changeset_outcome(clean, 0, "failed", "412")
    journal.changeset_outcome(clean, 1, "not_sent")
    journal.finish(clean, "failed")
    plans = journal.plans()
    assert (plans[cut].status, plans[cut].in_doubt) == ("in doubt", [1])
    assert plans[half].status == "partial" and plans[clean].status == "failed"
    assert [p.plan_id for p in journal.unresolved("p")] == [cut, half]
    assert journal.unresolved("other") == [] and journal.unresolved("p", "another-org") == []


def test_resolutions_settle_a_plan(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    plan_id = begin(journal)
    journal.changeset_sent(plan_id, 0, 1)
    journal.resolve(plan_id, "rolled-back", by="undo-1")
    assert journal.plans()[plan_id].status == "rolled back" and journal.unresolved() == []
    with pytest.raises(ValueError, match="unknown resolution"):
        journal.resolve(plan_id, "forgotten")


def test_a_new_plan_overlapping_an_unresolved_one_is_found_by_row_or_key(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    plan_id = begin(journal)
    journal.changeset_sent(plan_id, 0, 1)
    found = journal.overlapping({str(ROW).upper()}, set(), profile="p", organization="org-1")
    assert found is not None and found.plan_id == plan_id
    assert journal.overlapping(set(), {"provideraccount:p:1"}, profile="p", organization="org-1") is not None
    assert journal.overlapping({str(uuid.uuid4())}, {"other"}, profile="p", organization="org-1") is None
    assert journal.overlapping({str(ROW)}, set(), profile="p", organization="org-1", exempt={plan_id}) is None


def test_plans_are_found_by_the_start_of_their_id(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    plan_id = begin(journal)
    assert journal.find(plan_id[:8].upper()).plan_id == plan_id
    with pytest.raises(JournalError, match="at least the first 4"):
        journal.find("ab")
    with pytest.raises(JournalError, match="no plan"):
        journal.find("ffffffff-0000")


def test_lines_of_an_older_version_are_read_and_still_block_their_rows(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_text(json.dumps({"event": "plan", "plan_id": "legacy-1", "profile": "p", "time": "2026-01-01T00:00:00Z",
                                "description": "sync provider accounts", "rows": [{"id": str(ROW)}],
                                "operations": [{"method": "POST"}]}) + "\n"
                    + json.dumps({"event": "changeset-sent", "plan_id": "legacy-1", "index": 0}) + "\n")
    (record,) = Journal(path).plans().values()
    assert record.is_legacy and record.status == "in doubt" and record.title == "sync provider accounts"
    assert Journal(path).overlapping({str(ROW)}, set(), profile="p", organization="org") is not None
    with pytest.raises(JournalError, match="older version"):
        record.plan()


def test_a_line_torn_by_a_crash_is_skipped_and_the_journal_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    plan_id = begin(journal)
    with path.open("a") as handle:
        handle.write('{"event": "changeset-sent", "plan_id": "')  # the crash came mid-write
    assert [p.plan_id for p in journal.plans().values()] == [plan_id]
    journal.changeset_sent(plan_id, 0, 1)  # the next write starts a line of its own
    journal.changeset_outcome(plan_id, 0, "committed")
    record = journal.plans()[plan_id]
    assert record.changeset_state(0) == "committed" and record.changeset_state(1) == "not_sent"


def test_a_line_that_is_not_a_record_is_reported_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    begin(journal)
    with path.open("a") as handle:
        handle.write("edited by hand\n")
    begin(journal)
    with pytest.raises(JournalError, match=r"journal.jsonl:2: the journal line is not JSON"):
        journal.plans()
