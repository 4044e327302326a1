"""Customer metadata endpoints: client, profiles, tags, groups, users, topics, teams,
queues."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from sprout_sandbox.api._common import (
    ok,
    path_customer,
    world_of,
)
from sprout_sandbox.world import World

# Metadata -----------------------------------------------------------------------------------


async def client(request: Request) -> JSONResponse:
    """``GET /v1/metadata/client``: the customers the token may read."""
    allowed = request.state.customer_ids
    return ok([c for c in world_of(request).customers() if c["customer_id"] in allowed])


async def customer_profiles(request: Request) -> JSONResponse:
    """``GET /v1/{customer_id}/metadata/customer``: the customer's profiles."""
    return ok(world_of(request).profiles(path_customer(request)))


def listing_endpoint(method: Callable[[World, int], list[dict[str, Any]]]) -> Callable[..., Any]:
    """A ``GET .../metadata/customer/<name>`` handler answering ``{"data": method(...)}``.

    Args:
        method: the World method listing the records, e.g. ``World.tags``.
    """

    async def handler(request: Request) -> JSONResponse:
        return ok(method(world_of(request), path_customer(request)))

    return handler


async def customer_topics(request: Request) -> JSONResponse:
    """``GET .../metadata/customer/topics``: a bare array, ``availability_time`` in epoch ms."""
    return JSONResponse([served_topic(t) for t in world_of(request).topics(path_customer(request))])


def served_topic(topic: dict[str, Any]) -> dict[str, Any]:
    """A topic as the endpoint serves it: ``availability_time`` in epoch milliseconds,
    although the field table documents an ISO timestamp."""
    moment = datetime.fromisoformat(topic["availability_time"])
    return {**topic, "availability_time": int(moment.timestamp() * 1000)}
