"""Small ASGI helpers shared by the sandbox's middleware and platform endpoints."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTROL_PREFIX = "/_sandbox/"
OAUTH_PREFIX = "/oauth2/"
_CUSTOMER_IN_PATH = re.compile(r"^/v1/(\d+)(?:/|$)")


def json_bytes(body: Any) -> bytes:
    """Serialise ``body`` compactly, as the API does."""
    return json.dumps(body, separators=(",", ":")).encode()


async def send_json(
    send: Send,
    status: int,
    body: Any,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send a complete JSON response through a raw ASGI ``send``."""
    payload = json_bytes(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of request header ``name`` (lower case), decoded as latin-1."""
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def customer_in_path(path: str) -> int | None:
    """The customer id of a ``/v1/<customer ID>/...`` path, if the path has one."""
    match = _CUSTOMER_IN_PATH.match(path)
    return int(match.group(1)) if match else None


def is_control(path: str) -> bool:
    """True for the sandbox's own control endpoints, which bypass auth, limits and faults."""
    return path.startswith(CONTROL_PREFIX)


def is_oauth(path: str) -> bool:
    """True for the OAuth authorization server's endpoints."""
    return path.startswith(OAUTH_PREFIX)


def sandbox_now(world: Any) -> datetime:
    """The sandbox clock of ``world`` as an aware UTC datetime."""
    now = world.now
    if callable(now):
        now = now()
    if now.tzinfo is None:
        return now.replace(tzinfo=UTC)
    return datetime.fromtimestamp(now.timestamp(), tz=UTC)


def iso_utc(moment: datetime) -> str:
    """``moment`` as the API writes timestamps: ISO 8601 in UTC with a ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    """Parse an ISO 8601 timestamp (``Z`` or offset; naive means UTC) to aware UTC.

    Raises:
        ValueError: when ``value`` is not an ISO 8601 timestamp.
    """
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def customer_ids_of_world(world: Any) -> frozenset[int]:
    """Every customer id the world holds, whatever shape ``customers()`` returns."""
    ids: set[int] = set()
    for customer in world.customers():
        if isinstance(customer, int):
            ids.add(customer)
        elif isinstance(customer, dict):
            ids.add(int(customer["customer_id"]))
        else:
            ids.add(int(customer.customer_id))
    return frozenset(ids)
