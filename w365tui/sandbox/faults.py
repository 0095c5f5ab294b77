"""Fault injection: make the sandbox throttle, fail, hang or drop connections on chosen routes.

Tests switch faults on per route (a regular expression over the path, optionally a method) and
for a number of requests; ``w365tui sandbox serve`` accepts them over HTTP at
``/_sandbox/faults`` so that a test driving another process can do the same.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from typing import Any

KINDS = ("status", "drop_before", "drop_after", "latency", "malformed")


@dataclass
class Fault:
    """One injected fault.

    ``status``: answer ``status`` (429, 503, …) in the service's error shape, with
    ``Retry-After`` when ``retry_after`` is set, without running the request.
    ``drop_before``: close the connection before the request runs (nothing is written).
    ``drop_after``: run and commit the request, then close the connection without answering.
    ``latency``: wait ``delay`` seconds before running the request.
    ``malformed``: answer 200 with a truncated JSON body, without running the request.

    ``skip`` lets that many matching requests through first (a fault on the third ``$batch``:
    ``skip=2``); ``times`` then counts the requests it hits.
    """

    kind: str
    path: str = ""
    method: str | None = None
    status: int = 503
    retry_after: float | None = None
    delay: float = 0.0
    times: int | None = None
    skip: int = 0
    id: int = 0
    hits: int = 0
    seen: int = 0
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; use one of {', '.join(KINDS)}")
        if self.kind == "status" and not 400 <= self.status <= 599:
            raise ValueError(f"a status fault needs a 4xx or 5xx status, not {self.status}")
        for name in ("status", "times", "skip"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{name} must be a whole number, not {value!r}")
        for name in ("delay", "retry_after"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                      or not 0 <= value <= 3600):
                raise ValueError(f"{name} must be a number of seconds from 0 to 3600, not {value!r}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1 (or absent for no limit)")
        if self.skip < 0:
            raise ValueError("skip cannot be negative")
        try:
            self._pattern = re.compile(self.path)
        except re.error as exc:
            raise ValueError(f"path {self.path!r} is not a regular expression: {exc}") from None
        if self.method:
            self.method = self.method.upper()

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method != method.upper():
            return False
        return bool(self._pattern.search(path))

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "path": self.path, "method": self.method,
            "status": self.status, "retry_after": self.retry_after, "delay": self.delay,
            "times": self.times, "skip": self.skip, "hits": self.hits,
        }


class FaultInjector:
    """The active faults; thread-safe, since tests add them from outside the server thread."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def add(self, kind: str, **options: Any) -> Fault:
        fault = Fault(kind, **options)
        with self._lock:
            fault.id = next(self._ids)
            self._faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        with self._lock:
            self._faults = [f for f in self._faults if f is not fault]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str) -> list[Fault]:
        """The faults that hit this request, counting the hit against their ``times``."""
        hit: list[Fault] = []
        with self._lock:
            for fault in list(self._faults):
                if fault.matches(method, path):
                    fault.seen += 1
                    if fault.seen <= fault.skip:
                        continue
                    fault.hits += 1
                    hit.append(fault)
                    if fault.times is not None and fault.hits >= fault.times:
                        self._faults.remove(fault)
        return hit
