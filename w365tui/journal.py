"""The change journal: an append-only JSON-lines record of every plan the app applies.

For each plan: its id, profile, time, the rows it touches with their before values and ETags,
and its operations; then, around each changeset, a line before it is sent and a line with its
outcome. Each line is flushed and fsynced before the app goes on, so after a crash the journal
says which changesets were sent and which came back. :func:`incomplete_plans` finds plans that
did not finish.
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


def default_path() -> Path:
    from w365tui.settings import data_dir

    return data_dir() / JOURNAL_NAME


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class TouchedRow:
    entity_set: str
    id: str
    before: Mapping[str, Any]
    etag: str | None

    def to_json(self) -> dict[str, Any]:
        return {"entity_set": self.entity_set, "id": self.id, "before": dict(self.before), "etag": self.etag}


@dataclass
class PlanRecord:
    """What the journal knows of one plan, read back."""

    plan_id: str
    profile: str
    time: str
    description: str
    rows: list[dict[str, Any]]
    operations: list[dict[str, Any]]
    changesets: dict[int, dict[str, Any]] = field(default_factory=dict)  # index → latest line
    outcome: str | None = None

    @property
    def complete(self) -> bool:
        return self.outcome is not None

    @property
    def in_doubt(self) -> list[int]:
        """Changesets sent without a known outcome: check the service before acting again."""
        return sorted(i for i, line in self.changesets.items()
                      if line["event"] == "changeset-sent" or line.get("state") == "unknown")


class Journal:
    def __init__(self, path: Path | None = None):
        self.path = path or default_path()

    def _append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def begin(self, *, profile: str, description: str, rows: Sequence[TouchedRow],
              operations: Sequence[Mapping[str, Any]], plan_id: str | None = None) -> str:
        plan_id = plan_id or str(uuid.uuid4())
        self._append({"event": "plan", "plan_id": plan_id, "profile": profile, "time": _now(),
                      "description": description, "rows": [r.to_json() for r in rows],
                      "operations": [dict(o) for o in operations]})
        return plan_id

    def changeset_sent(self, plan_id: str, index: int, operation_count: int) -> None:
        self._append({"event": "changeset-sent", "plan_id": plan_id, "index": index,
                      "operations": operation_count, "time": _now()})

    def changeset_outcome(self, plan_id: str, index: int, state: str, detail: Any = None) -> None:
        self._append({"event": "changeset-outcome", "plan_id": plan_id, "index": index, "state": state,
                      "detail": detail, "time": _now()})

    def finish(self, plan_id: str, outcome: str) -> None:
        self._append({"event": "plan-end", "plan_id": plan_id, "outcome": outcome, "time": _now()})

    def records(self) -> Iterator[dict[str, Any]]:
        """Every line; a torn last line (a crash mid-write) is skipped, any other bad line raises."""
        if not self.path.exists():
            return
        lines = self.path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                if number == len(lines):
                    return
                raise ValueError(f"{self.path}:{number}: the journal line is not JSON: {exc}") from None
            yield record

    def plans(self) -> dict[str, PlanRecord]:
        plans: dict[str, PlanRecord] = {}
        for record in self.records():
            plan_id = record.get("plan_id")
            event = record.get("event")
            if event == "plan":
                plans[plan_id] = PlanRecord(plan_id, record["profile"], record["time"], record.get("description", ""),
                                            record["rows"], record["operations"])
            elif plan_id in plans and event in ("changeset-sent", "changeset-outcome"):
                plans[plan_id].changesets[record["index"]] = record
            elif plan_id in plans and event == "plan-end":
                plans[plan_id].outcome = record["outcome"]
        return plans

    def incomplete_plans(self, profile: str | None = None) -> list[PlanRecord]:
        return [p for p in self.plans().values() if not p.complete and (profile is None or p.profile == profile)]
