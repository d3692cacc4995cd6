from __future__ import annotations

from typing import Any

import pytest

from tests.oauth.helpers import STATIC_LOGIN


@pytest.fixture
async def gw(make_gateway: Any, echo_upstream: Any) -> Any:
    """A gateway on the embedded store with two static users (demo=1001, alice=2002) and the echo upstream."""
    client, services = await make_gateway(echo_upstream.url, login=STATIC_LOGIN)
    return client, services
