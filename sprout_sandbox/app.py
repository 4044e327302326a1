"""The sandbox as one ASGI application: endpoints plus the API's cross-cutting behaviour.

Layers, outermost first: response headers and request counting; latency and faults;
bearer-token check (401) and customer check (403); rate limit and quota (429);
content negotiation (415); routing (404 in the gateway's shape, 405). Control
endpoints under ``/_sandbox/`` and the OAuth server under ``/oauth2/`` skip the token
check and the limits.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route

from sprout_sandbox import media as media_endpoints
from sprout_sandbox import publishing
from sprout_sandbox._asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    customer_ids_of_world,
    header,
    is_control,
    iso_utc,
    parse_iso,
    sandbox_now,
    send_json,
)
from sprout_sandbox.auth import AuthMiddleware, TokenStore, oauth_routes
from sprout_sandbox.config import SandboxConfig
from sprout_sandbox.errors import ApiError
from sprout_sandbox.faults import FaultInjector, FaultMiddleware, parse_spec
from sprout_sandbox.limits import Limiter, LimitsMiddleware, RequestStats, month_of

logger = logging.getLogger(__name__)

API_VERSION = "1.1"
SERVER_VERSION = "1.1.3018"
_MEDIA_PATH = re.compile(r"^/v1/\d+/media(/|$)")
_CONVERTOR = re.compile(r":\w+}")
_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def create_app(
    config: SandboxConfig,
    world: Any = None,
    *,
    routes: Sequence[BaseRoute] | None = None,
) -> Starlette:
    """Build the sandbox application.

    Args:
        config: the sandbox's settings.
        world: the generated world; built from ``config`` when omitted.
        routes: read endpoints to serve instead of ``sprout_sandbox.api.read_routes()``
            (for tests of the platform layers with stand-in endpoints).

    Returns:
        A Starlette app whose ``state`` holds ``world``, ``config``, ``tokens``,
        ``limiter``, ``stats``, ``faults``, ``publishing`` and ``media``.

    Raises:
        ValueError: when ``config.faults`` is not a valid fault spec.
    """
    if world is None:
        from sprout_sandbox.world import World

        world = World(config)
    if routes is None:
        from sprout_sandbox.api import read_routes

        routes = read_routes()
    app = Starlette(
        routes=[*_control_routes(), *oauth_routes(), *platform_routes(), *routes],
        middleware=[
            Middleware(_HeadersMiddleware),
            Middleware(FaultMiddleware),
            Middleware(AuthMiddleware),
            Middleware(LimitsMiddleware),
            Middleware(_NegotiationMiddleware),
        ],
        exception_handlers={HTTPException: _http_error, ApiError: _api_error},
    )
    # The API gateway answers a path with an extra or missing slash with a 404, not
    # with Starlette's redirect.
    app.router.redirect_slashes = False
    _init_state(app, config, world)
    return app


def platform_routes() -> list[BaseRoute]:
    """The publishing and media endpoints."""
    return [*publishing.routes(), *media_endpoints.routes()]


def _init_state(app: Starlette, config: SandboxConfig, world: Any) -> None:
    state = app.state
    state.config = config
    state.world = world
    state.customer_ids = customer_ids_of_world(world)
    state.tokens = TokenStore(config)
    state.limiter = Limiter(config.requests_per_minute, config.monthly_quota)
    state.stats = RequestStats()
    state.faults = FaultInjector(parse_spec(config.faults), config.latency_ms)
    state.publishing = publishing.PublishingStore()
    state.media = media_endpoints.MediaStore(config)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    if status == 404:
        return JSONResponse({"code": 404, "message": "HTTP 404 Not Found"}, status_code=404)
    if status == 405:
        allowed = (getattr(exc, "headers", None) or {}).get("Allow", "")
        message = f"Method {request.method} is not allowed on {request.url.path}; use {allowed}."
        headers = {"Allow": allowed} if allowed else None
        return JSONResponse({"error": message}, status_code=405, headers=headers)
    return JSONResponse({"error": str(getattr(exc, "detail", exc))}, status_code=status)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse({"error": exc.message}, status_code=exc.status)


def _match(app: Starlette, scope: Scope) -> tuple[str, BaseRoute | None]:
    """The endpoint label of a request and its fully matching route, if any."""
    partial: BaseRoute | None = None
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return f"{scope['method']} {_template(route)}", route
        if match is Match.PARTIAL and partial is None:
            partial = route
    if partial is not None:
        return f"{scope['method']} {_template(partial)}", None
    return f"{scope['method']} (unknown path)", None


def _template(route: BaseRoute) -> str:
    """A route's path as the reference writes it, without Starlette's convertors."""
    return _CONVERTOR.sub("}", getattr(route, "path", "?"))


class _HeadersMiddleware:
    """Adds the ``X-Sprout-*`` headers to every response and counts every request.

    It also turns an unexpected exception into a 500 with the same headers, which
    Starlette's own error page would not carry.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request with the API's response headers."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        label, route = _match(scope["app"], scope)
        scope["sandbox.endpoint"], scope["sandbox.route"] = label, route
        status: list[int] = []

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                message = {**message, "headers": [*message["headers"], *_sprout_headers()]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            logger.exception("%s failed", label)
            if status:
                raise
            await send_json(send_with_headers, 500, {"error": "Internal server error."})
        if status and not is_control(scope["path"]):
            scope["app"].state.stats.record(label, status[0])


def _sprout_headers() -> list[tuple[bytes, bytes]]:
    return [
        (b"x-sprout-request-id", str(uuid.uuid4()).encode()),
        (b"x-sprout-api-version", API_VERSION.encode()),
        (b"x-sprout-server-version", SERVER_VERSION.encode()),
    ]


class _NegotiationMiddleware:
    """415 when an API endpoint gets a non-JSON body or is asked for non-JSON.

    Media uploads take ``multipart/form-data`` instead of JSON. Unknown paths and wrong
    verbs pass through, so that the router answers them with 404 and 405.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a request the endpoint cannot read or answer, else serve it."""
        route = scope.get("sandbox.route")
        if scope["type"] == "http" and route is not None and scope["path"].startswith("/v1/"):
            problem = _negotiation_problem(scope)
            if problem:
                await send_json(send, 415, {"error": problem})
                return
        await self.app(scope, receive, send)


def _negotiation_problem(scope: Scope) -> str | None:
    accept = header(scope, b"accept")
    if accept and not _accepts_json(accept):
        return f"Accept: {accept} excludes JSON: send `Accept: application/json`."
    if not _has_body(scope):
        return None
    content_type = (header(scope, b"content-type") or "").split(";")[0].strip().lower()
    if _MEDIA_PATH.match(scope["path"]):
        if content_type != "multipart/form-data":
            return "Media uploads must be sent as `Content-Type: multipart/form-data`."
        return None
    if content_type != "application/json" and not content_type.endswith("+json"):
        shown = content_type or "none"
        return f"The request body must be JSON (Content-Type: application/json), got {shown}."
    return None


def _accepts_json(accept: str) -> bool:
    for item in accept.split(","):
        media_range = item.split(";")[0].strip().lower()
        if media_range in ("*/*", "application/*", "application/json") or media_range.endswith(
            "+json"
        ):
            return True
    return False


def _has_body(scope: Scope) -> bool:
    length = header(scope, b"content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return header(scope, b"transfer-encoding") is not None


# --- control endpoints ----------------------------------------------------------------


def _control_routes() -> list[BaseRoute]:
    return [
        Route("/_sandbox/state", _state, methods=["GET"]),
        Route("/_sandbox/clock", _clock, methods=["POST"]),
        Route("/_sandbox/faults", _faults, methods=["POST"]),
        Route("/_sandbox/reset", _reset, methods=["POST"]),
        Route("/_sandbox/publishing/posts", _publishing_posts, methods=["GET"]),
    ]


async def _state(request: Request) -> Response:
    state = request.app.state
    month = month_of(state.world)
    faults = state.faults
    return JSONResponse(
        {
            "now": iso_utc(sandbox_now(state.world)),
            "requests": state.stats.snapshot(),
            "rate_limited": state.limiter.refused,
            "faults": {
                "spec": faults.spec.text,
                "injected": dict(sorted(faults.injected.items())),
                "targeted": faults.targeted(),
            },
            "quota": {
                "month": month,
                "limit": state.limiter.monthly_quota,
                "used": state.limiter.quota_used(month),
            },
            "publishing_posts": state.publishing.count(),
            "media": state.media.count(),
        }
    )


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "The request body must be a JSON object.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


async def _clock(request: Request) -> Response:
    body = await _json_object(request)
    world = request.app.state.world
    if "now" in body:
        try:
            moment = parse_iso(str(body["now"]))
        except ValueError:
            raise ApiError(400, f"now={body['now']!r} is not an ISO 8601 timestamp.") from None
    elif "advance" in body:
        moment = sandbox_now(world) + _duration(body["advance"])
    else:
        raise ApiError(400, 'Send {"now": ISO-TIMESTAMP} or {"advance": "P1D" or seconds}.')
    world.set_now(moment)
    return JSONResponse({"now": iso_utc(sandbox_now(world))})


def _duration(value: Any) -> timedelta:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value).strip().upper())
    if not match or str(value).strip().upper() in ("P", "PT"):
        raise ApiError(400, f"advance={value!r} is neither seconds nor an ISO 8601 duration.")
    parts = {key: float(amount) for key, amount in match.groupdict().items() if amount}
    return timedelta(**parts)


async def _faults(request: Request) -> Response:
    body = await _json_object(request)
    injector = request.app.state.faults
    try:
        if "spec" in body:
            injector.configure(parse_spec(str(body["spec"])))
            logger.info("fault spec set to %r", injector.spec.text)
        if "target" in body:
            _add_target(injector, body["target"])
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    if "spec" not in body and "target" not in body:
        raise ApiError(400, 'Send {"spec": "500=0.1,..."} and/or {"target": {...}}.')
    return JSONResponse({"spec": injector.spec.text, "targeted": injector.targeted()})


def _add_target(injector: FaultInjector, target: Any) -> None:
    if not isinstance(target, dict) or not isinstance(target.get("path"), str):
        raise ValueError(
            'target must be {"fault": KIND, "path": REGEX, "method": VERB, "times": N}'
        )
    times = target.get("times", 1)
    if not isinstance(times, int):
        raise ValueError(f"target times={times!r} must be a whole number")
    injector.add_targeted(
        str(target.get("fault", "")), target["path"], str(target.get("method", "")), times
    )


async def _reset(request: Request) -> Response:
    state = request.app.state
    state.stats.reset()
    state.limiter.reset()
    state.faults.injected.clear()
    return JSONResponse({"reset": True})


async def _publishing_posts(request: Request) -> Response:
    return JSONResponse({"data": request.app.state.publishing.all_posts()})
