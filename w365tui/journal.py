"""The change journal: an append-only JSON-lines record of every plan the app applies.

For each plan, before anything is sent: its id, profile, org, user, time, the plan itself (every
change with its before → after and the rows' ETags), how it is grouped into changesets and the
operations sent. Around each changeset: a line before it is sent and a line with its outcome,
with each operation's status, the id it created and the row's new ETag. A plan checked against
the service later (after an answer was lost) gets a line per changeset with what was found, and
a plan rolled back or undone gets a line naming the plan that did it.

Each line is flushed and fsynced before the app goes on, so after a crash the journal says which
changesets were sent and which came back. Lines from several processes interleave safely
(one ``write`` per line, ``O_APPEND``).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

JOURNAL_NAME = "journal.jsonl"

#: Changeset states. Sent and told: committed, failed, unknown (the answer was lost); not sent;
#: checked against the service afterwards: applied, not_applied, diverged.
DONE_STATES = frozenset({"committed", "applied"})
UNDONE_STATES = frozenset({"failed", "not_sent", "not_applied"})

RESOLUTIONS = {"rolled-back": "rolled back", "undone": "undone", "dismissed": "dismissed"}


def default_path() -> Path:
    from w365tui.settings import data_dir

    return data_dir() / JOURNAL_NAME


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JournalError(ValueError):
    """The journal cannot be read, or a plan id does not name one plan."""


@dataclass
class PlanRecord:
    """What the journal knows of one plan, read back."""

    plan_id: str
    profile: str
    time: str
    title: str
    kind: str = "legacy"
    organization: str | None = None
    user: str | None = None
    data: dict[str, Any] | None = None  # the plan (None: written by an older version)
    changesets: list[list[int]] = field(default_factory=list)  # change indexes per changeset
    operations: list[dict[str, Any]] = field(default_factory=list)
    legacy_rows: list[dict[str, Any]] = field(default_factory=list)
    lines: dict[int, dict[str, Any]] = field(default_factory=dict)  # changeset index → its latest line
    results: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # changeset index → per-operation results
    outcome: str | None = None  # plan-end: committed, failed or partial
    resolution: dict[str, Any] | None = None
    parent: str | None = None

    @property
    def short_id(self) -> str:
        return self.plan_id[:8]

    @property
    def is_legacy(self) -> bool:
        return self.data is None

    def plan(self) -> Any:
        """The journalled plan as a :class:`w365tui.domain.plan.Plan`."""
        from w365tui.domain.plan import plan_from_json

        if self.data is None:
            raise JournalError(f"plan {self.short_id} was written by an older version of w365tui; it holds no plan to "
                               "resume or undo")
        return plan_from_json(self.data)

    def changeset_state(self, index: int) -> str:
        line = self.lines.get(index)
        if line is None:
            return "not_sent"
        if line["event"] == "changeset-sent":
            return "unknown"
        return str(line.get("state") or "unknown")

    def states(self) -> list[str]:
        count = len(self.changesets) or len(self.lines)
        return [self.changeset_state(i) for i in range(count)]

    @property
    def in_doubt(self) -> list[int]:
        """Changesets sent without a known outcome: check the service before acting again."""
        return [i for i, s in enumerate(self.states()) if s in ("unknown", "diverged")]

    @property
    def status(self) -> str:
        """applied, failed, in doubt, partial, interrupted, rolled back, undone or dismissed."""
        if self.resolution is not None:
            return RESOLUTIONS.get(self.resolution.get("resolution", ""), "resolved")
        states = self.states()
        if self.outcome == "committed":
            return "applied"
        if self.outcome == "failed" and not any(s in DONE_STATES for s in states):
            return "failed"
        if any(s in ("unknown", "diverged") for s in states):
            return "in doubt"
        if any(s in DONE_STATES for s in states):
            return "partial"
        return "interrupted" if self.outcome is None else "failed"

    @property
    def unresolved(self) -> bool:
        """Left in doubt or half done: it must be finished or rolled back before its rows are
        touched again."""
        return self.status in ("in doubt", "partial", "interrupted")

    @property
    def undoable(self) -> bool:
        return self.status == "applied" and not self.is_legacy

    def row_ids(self) -> set[str]:
        if self.data is not None:
            return {str(c["id"]).lower() for c in self.data.get("changes", [])}
        return {str(r.get("id", "")).lower() for r in self.legacy_rows}

    def keys(self) -> set[str]:
        if self.data is None:
            return set()
        return {c["key"] for c in self.data.get("changes", []) if c.get("key")}

    def result(self, change_index: int) -> dict[str, Any] | None:
        """What the service answered for one change: its status, new ETag and created id."""
        for index, members in enumerate(self.changesets):
            if change_index in members:
                results = self.results.get(index) or []
                position = members.index(change_index)
                return results[position] if position < len(results) else None
        return None

    def describe(self) -> str:
        return f"plan {self.short_id} ({self.title}, {self.time[:16].replace('T', ' ')}, {self.status})"


class Journal:
    def __init__(self, path: Path | None = None):
        self.path = path or default_path()

    def _append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size and os.lseek(fd, size - 1, os.SEEK_SET) >= 0 and os.read(fd, 1) != b"\n":
                line = "\n" + line  # a crash tore the last line: end it, so this record stands alone
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- writing --------------------------------------------------------------------------------
    def begin(self, *, plan: Mapping[str, Any], changesets: Sequence[Sequence[int]],
              operations: Sequence[Mapping[str, Any]], profile: str, organization: str | None = None,
              user: str | None = None, plan_id: str | None = None) -> str:
        plan_id = plan_id or str(uuid.uuid4())
        self._append({"event": "plan", "version": 2, "plan_id": plan_id, "profile": profile,
                      "organization": organization, "user": user, "time": _now(), "title": plan.get("title", ""),
                      "kind": plan.get("kind", ""), "parent": plan.get("parent"), "plan": dict(plan),
                      "changesets": [list(c) for c in changesets], "operations": [dict(o) for o in operations]})
        return plan_id

    def changeset_sent(self, plan_id: str, index: int, operation_count: int) -> None:
        self._append({"event": "changeset-sent", "plan_id": plan_id, "index": index,
                      "operations": operation_count, "time": _now()})

    def changeset_outcome(self, plan_id: str, index: int, state: str, detail: Any = None,
                          results: Sequence[Mapping[str, Any]] = ()) -> None:
        self._append({"event": "changeset-outcome", "plan_id": plan_id, "index": index, "state": state,
                      "detail": detail, "results": [dict(r) for r in results], "time": _now()})

    def changeset_checked(self, plan_id: str, index: int, state: str, detail: Any = None,
                          results: Sequence[Mapping[str, Any]] = ()) -> None:
        """What reading the service found of a changeset whose outcome was not known."""
        self._append({"event": "changeset-checked", "plan_id": plan_id, "index": index, "state": state,
                      "detail": detail, "results": [dict(r) for r in results], "time": _now()})

    def finish(self, plan_id: str, outcome: str) -> None:
        self._append({"event": "plan-end", "plan_id": plan_id, "outcome": outcome, "time": _now()})

    def resolve(self, plan_id: str, resolution: str, by: str | None = None, note: str | None = None) -> None:
        if resolution not in RESOLUTIONS:
            raise ValueError(f"unknown resolution {resolution!r}")
        self._append({"event": "plan-resolved", "plan_id": plan_id, "resolution": resolution, "by": by,
                      "note": note, "time": _now()})

    # -- reading --------------------------------------------------------------------------------
    def records(self) -> Iterator[dict[str, Any]]:
        """Every line. A line torn by a crash mid-write (the start of a record, cut off) is
        skipped; any other line that is not a JSON object raises, naming the file and line."""
        if not self.path.exists():
            return
        lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                if line.startswith('{"event":') and not line.rstrip().endswith("}"):
                    continue  # torn
                raise JournalError(f"{self.path}:{number}: the journal line is not JSON: {exc}") from None
            if not isinstance(record, dict):
                raise JournalError(f"{self.path}:{number}: the journal line is not a JSON object")
            yield record

    def plans(self) -> dict[str, PlanRecord]:
        """Every plan, oldest first."""
        plans: dict[str, PlanRecord] = {}
        for record in self.records():
            plan_id = record.get("plan_id")
            event = record.get("event")
            if event == "plan" and isinstance(plan_id, str):
                data = record.get("plan") if record.get("version") == 2 else None
                plans[plan_id] = PlanRecord(
                    plan_id, str(record.get("profile", "")), str(record.get("time", "")),
                    str(record.get("title") or record.get("description") or ""),
                    kind=str(record.get("kind") or "legacy"), organization=record.get("organization"),
                    user=record.get("user"), data=data, changesets=record.get("changesets") or [],
                    operations=record.get("operations") or [], legacy_rows=record.get("rows") or [],
                    parent=record.get("parent"))
                continue
            plan = plans.get(plan_id) if isinstance(plan_id, str) else None
            if plan is None:
                continue
            if event in ("changeset-sent", "changeset-outcome", "changeset-checked"):
                index = int(record["index"])
                plan.lines[index] = record
                if record.get("results"):
                    plan.results[index] = record["results"]
            elif event == "plan-end":
                plan.outcome = record.get("outcome")
            elif event == "plan-resolved":
                plan.resolution = record
        return plans

    def find(self, prefix: str) -> PlanRecord:
        """The plan whose id starts with ``prefix`` (at least 4 characters)."""
        text = prefix.strip().lower()
        if len(text) < 4:
            raise JournalError("give at least the first 4 characters of the plan id")
        matches = [p for p in self.plans().values() if p.plan_id.lower().startswith(text)]
        if not matches:
            raise JournalError(f"no plan in {self.path} has an id starting {prefix!r}")
        if len(matches) > 1:
            raise JournalError(f"{len(matches)} plans have ids starting {prefix!r}; give more of the id")
        return matches[0]

    def unresolved(self, profile: str | None = None, organization: str | None = None) -> list[PlanRecord]:
        """Plans left in doubt or half done, for one profile (and org)."""
        return [p for p in self.plans().values() if p.unresolved and (profile is None or p.profile == profile)
                and (organization is None or p.organization in (None, organization))]

    def overlapping(self, rows: set[str], keys: set[str], *, profile: str, organization: str | None,
                    exempt: set[str] = frozenset()) -> PlanRecord | None:  # type: ignore[assignment]
        """The first unresolved plan that touches any of ``rows`` (ids) or ``keys``."""
        wanted = {r.lower() for r in rows}
        for record in self.unresolved(profile, organization):
            if record.plan_id in exempt:
                continue
            if record.row_ids() & wanted or record.keys() & keys:
                return record
        return None
