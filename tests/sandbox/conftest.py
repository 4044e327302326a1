"""Fixtures for testing the sandbox's world and read endpoints without the platform.

``read_app`` mounts the read routes in a bare Starlette app whose middleware grants
every customer (what the platform's auth does for an unrestricted token) and turns
``ApiError`` into the documented ``{"error": ...}`` body.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.testclient import TestClient

from sprout_sandbox.api import read_routes
from sprout_sandbox.config import SandboxConfig, Scale
from sprout_sandbox.errors import ApiError
from sprout_sandbox.world import World

CLOCK = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
SMALL = Scale(customers=2, profiles=9, groups=3, users=4, tags=8, days=60, topics=2)


def read_app(world: World, customer_ids: frozenset[int] | None = None) -> Starlette:
    """A Starlette app serving only the read routes over ``world``."""
    allowed = frozenset(world.customer_ids()) if customer_ids is None else customer_ids

    class GrantCustomers(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            request.state.customer_ids = allowed
            return await call_next(request)

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    app = Starlette(
        routes=read_routes(),
        middleware=[Middleware(GrantCustomers)],
        exception_handlers={ApiError: api_error},
    )
    app.state.world = world
    return app


@pytest.fixture(scope="session")
def small_world() -> World:
    """Two customers, nine profiles each (one per network), 60 days before CLOCK."""
    return World(SandboxConfig(seed=7, scale=SMALL, now=CLOCK))


@pytest.fixture(scope="session")
def client(small_world: World) -> Iterator[TestClient]:
    """A client of the read endpoints over ``small_world`` (its clock must not move)."""
    with TestClient(read_app(small_world)) as test_client:
        yield test_client


@pytest.fixture
def make_client() -> Callable[..., TestClient]:
    """Build a client over a fresh world of the given config."""

    def build(config: SandboxConfig, customer_ids: frozenset[int] | None = None) -> TestClient:
        return TestClient(read_app(World(config), customer_ids))

    return build
