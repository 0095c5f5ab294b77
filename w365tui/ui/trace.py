"""What the app does when, for the whole-app benchmark: off unless ``W365TUI_TRACE`` names a
file, then milestones ("accounts-loaded", "filter-painted" …) and every stall of the event loop
longer than 20 ms are appended to it as JSON lines, each with the system's monotonic time (the
same clock in every process, so a benchmark can time what it sent against what the app did).

Costs nothing when off: :func:`mark` returns at once.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

_PATH = os.environ.get("W365TUI_TRACE") or None
_MALLOC = _PATH is not None and bool(os.environ.get("W365TUI_TRACE_MALLOC"))
if _MALLOC:  # where the memory is, at each "memory" mark (slows the app down: a diagnosis only)
    import tracemalloc

    tracemalloc.start(1)
STALL = 0.020  # a loop held longer than this is written down
TICK = 0.005  # how often the watch wakes


def enabled() -> bool:
    return _PATH is not None


def mark(event: str, **data: Any) -> None:
    """Write one event (nothing when tracing is off)."""
    if _PATH is None:
        return
    line = json.dumps({"t": time.monotonic(), "event": event, **data}, default=str)
    try:
        with open(_PATH, "a", encoding="utf-8") as stream:
            stream.write(line + "\n")
    except OSError:
        pass


def _peak_memory_kb() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


async def watch_loop() -> None:
    """Sleep a tick at a time; a wake-up later than it should be is a stall of the loop."""
    mark("trace-start", pid=os.getpid())
    while True:
        asked = time.monotonic()
        await asyncio.sleep(TICK)
        late = time.monotonic() - asked - TICK
        if late > STALL:
            mark("stall", ms=round(late * 1000, 1), peak_kb=_peak_memory_kb())


def memory() -> None:
    top = None
    if _MALLOC:
        import tracemalloc

        stats = tracemalloc.take_snapshot().statistics("lineno")[:15]
        top = [f"{stat.size / 1e6:.1f} MB {stat.traceback[0].filename}:{stat.traceback[0].lineno}" for stat in stats]
    mark("memory", peak_kb=_peak_memory_kb(), **({"top": top} if top else {}))
