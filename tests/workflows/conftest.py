"""These tests run against both namings: the app must discover either."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["published", "compact"])
def naming(request: pytest.FixtureRequest) -> str:
    return request.param
