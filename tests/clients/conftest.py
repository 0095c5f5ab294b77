"""The client tests write their queries in the sandbox's compact names; the app's own reads are
tested against both namings in tests/work365 and tests/workflows."""

from __future__ import annotations

import pytest


@pytest.fixture
def naming() -> str:
    return "compact"
