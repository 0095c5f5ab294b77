"""The emulator's conformance tests speak the compact names they were written in; the published
naming is checked on its own (test_naming.py) and by the gateway and workflow tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def naming() -> str:
    return "compact"
