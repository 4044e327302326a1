"""A small stand-in world and read endpoints for testing the sandbox's platform layers.

The platform (auth, limits, faults, publishing, media, server) only needs a world's
clock and metadata, so these tests run against two hand-written customers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sprout_sandbox.app import create_app
from sprout_sandbox.config import SandboxConfig
from sprout_sandbox.errors import ApiError
from sprout_sandbox.server import RunningSandbox, run_sandbox

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
CUSTOMER = 1001
OTHER_CUSTOMER = 2002
TOKEN = "sandbox-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class FakeWorld:
    """Two customers, each with one group of two profiles, a tag and a user."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def set_now(self, moment: datetime) -> None:
        self.now = moment

    def customers(self) -> list[dict[str, Any]]:
        return [
            {"customer_id": CUSTOMER, "name": "Acme"},
            {"customer_id": OTHER_CUSTOMER, "name": "Globex"},
        ]

    def groups(self, customer_id: int) -> list[dict[str, Any]]:
        return [{"group_id": customer_id * 10, "name": "Team"}]

    def profiles(self, customer_id: int) -> list[dict[str, Any]]:
        group = customer_id * 10
        return [
            {
                "customer_profile_id": customer_id * 100 + 1,
                "network_type": "facebook",
                "name": "Page",
                "native_name": "page",
                "native_id": "1112345",
                "groups": [group],
            },
            {
                "customer_profile_id": customer_id * 100 + 2,
                "network_type": "fb_instagram_account",
                "name": "Insta",
                "native_name": "insta",
                "native_id": "5556789",
                "groups": [group],
            },
            {
                "customer_profile_id": customer_id * 100 + 3,
                "network_type": "twitter",
                "name": "X",
                "native_name": "x",
                "native_id": "42",
                "groups": [],
            },
        ]

    def tags(self, customer_id: int) -> list[dict[str, Any]]:
        return [{"tag_id": customer_id * 1000 + 1, "text": "Launch", "type": "CAMPAIGN"}]

    def users(self, customer_id: int) -> list[dict[str, Any]]:
        return [{"id": 77, "name": "Sprout User", "email": "sprout.user@example.com"}]

    def topics(self, customer_id: int) -> list[dict[str, Any]]:
        return []

    def customer_of_profile(self, profile_id: int) -> int | None:
        owner = profile_id // 100
        return owner if owner in (CUSTOMER, OTHER_CUSTOMER) else None

    def customer_of_group(self, group_id: int) -> int | None:
        owner = group_id // 10
        return owner if owner in (CUSTOMER, OTHER_CUSTOMER) else None

    def customer_of_topic(self, topic_id: int) -> int | None:
        return None


async def _broken(request: Request) -> JSONResponse:
    raise RuntimeError("a bug in an endpoint")


async def _refused(request: Request) -> JSONResponse:
    raise ApiError(400, "filters: `foo` is not a known filter")


async def _client(request: Request) -> JSONResponse:
    ids = sorted(request.state.customer_ids)
    return JSONResponse({"data": [{"customer_id": i, "name": f"c{i}"} for i in ids]})


async def _profiles(request: Request) -> JSONResponse:
    world = request.app.state.world
    return JSONResponse({"data": world.profiles(request.path_params["customer_id"])})


async def _analytics(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse({"data": [{"echo": body, "padding": "x" * 200}], "paging": {}})


def stand_in_routes() -> list[Route]:
    """Read endpoints standing in for the real ones (one refuses, one is broken)."""
    return [
        Route("/v1/metadata/client", _client, methods=["GET"]),
        Route("/v1/{customer_id:int}/metadata/customer", _profiles, methods=["GET"]),
        Route("/v1/{customer_id:int}/analytics/posts", _analytics, methods=["POST"]),
        Route("/v1/{customer_id:int}/messages", _refused, methods=["POST"]),
        Route("/v1/{customer_id:int}/cases/filter", _broken, methods=["POST"]),
    ]


def make_config(**overrides: Any) -> SandboxConfig:
    """A sandbox config with the media processing made short for tests."""
    settings: dict[str, Any] = {
        "now": NOW,
        "media_processing_min_seconds": 0.3,
        "media_processing_seconds_per_mib": 0.0,
        "requests_per_minute": 100_000,
    }
    settings.update(overrides)
    return SandboxConfig(**settings)


@contextmanager
def stand_in_sandbox(**overrides: Any) -> Iterator[tuple[RunningSandbox, httpx.Client]]:
    """A sandbox on loopback serving the fake world and stand-in routes, and a client."""
    config = make_config(**overrides)
    app = create_app(config, FakeWorld(), routes=stand_in_routes())
    with (
        run_sandbox_app(app, config) as sandbox,
        httpx.Client(base_url=sandbox.base_url, timeout=10) as client,
    ):
        yield sandbox, client


@contextmanager
def run_sandbox_app(app: Any, config: SandboxConfig) -> Iterator[RunningSandbox]:
    """Serve an already built app (stand-in world and routes) on a free loopback port."""
    with run_sandbox(config, app=app) as sandbox:
        yield sandbox


PNG_HEAD = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR"
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


def png(size: int = 1000) -> bytes:
    """Bytes that a media sniffer takes for a PNG image."""
    return PNG_HEAD + b"\x00" * (size - len(PNG_HEAD))


def mp4(size: int) -> bytes:
    """Bytes that a media sniffer takes for an MP4 video."""
    return MP4_HEAD + b"\x00" * (size - len(MP4_HEAD))
