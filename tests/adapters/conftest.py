from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from narrator_server.providers.factory import Transport


@pytest.fixture(params=["fast", "httpx"])
def transport(request: pytest.FixtureRequest) -> Transport:
    """Every upstream adapter test runs over both of NARRATOR_UPSTREAM_TRANSPORT's values."""
    value: Transport = request.param
    return value
