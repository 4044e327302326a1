"""Injected failures, so that clients can be tested against a misbehaving API.

A fault spec is a comma-separated list of ``key=value`` items::

    500=0.1,503=0.05,504=0.02,202=0.05,429=0.02,drop=0.02,truncate=0.02,html=0.02,
    latency=200-2000,seed=3,oauth=1

- ``500``, ``503``, ``504``, ``202``, ``429``: probability per request of answering with
  that status and a JSON ``{"error": ...}`` body instead of serving the request.
- ``drop``: the request is served, but the connection closes part-way through the body
  (the declared Content-Length is never reached).
- ``truncate``: the request is served with its status, but the JSON body is cut short
  (Content-Length matches the cut body, so only the JSON parse fails).
- ``html``: a 502 or 503 HTML error page with ``text/html``, as a proxy would send.
- ``latency=A-B``: added delay per request, uniform in milliseconds (``latency=300`` for
  a fixed delay); overrides the configured latency.
- ``seed=N``: seed of the fault RNG (default 0); one draw per request, in arrival order.
- ``oauth=1``: also inject faults into the OAuth endpoints (off by default).

Probabilities add up to at most 1. Control endpoints under ``/_sandbox/`` never fail.

Besides the random faults, a test can aim one at specific requests with
``POST /_sandbox/faults`` and ``{"target": {"fault": "drop", "path": "/part/3$",
"method": "POST", "times": 1}}``: the next matching request fails that way.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sprout_sandbox._asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    is_control,
    is_oauth,
    send_json,
)

logger = logging.getLogger(__name__)

STATUS_KINDS = ("500", "503", "504", "202", "429")
BODY_KINDS = ("drop", "truncate", "html")
FAULT_KINDS = STATUS_KINDS + BODY_KINDS

_STATUS_MESSAGES = {
    "500": "Internal server error: retry the request.",
    "503": "Service unavailable: the server is overloaded, retry the request.",
    "504": "Gateway timeout: retry or decrease the scope of the request.",
    "202": "The request was accepted but the result is not ready yet: retry the request.",
    "429": "Too many requests: slow down.",
}
_HTML_PAGE = (
    "<html><head><title>{status} {reason}</title></head><body>"
    "<center><h1>{status} {reason}</h1></center><hr><center>sprout-gateway</center>"
    "</body></html>"
)
_HTML_REASONS = {502: "Bad Gateway", 503: "Service Temporarily Unavailable"}


@dataclass(frozen=True)
class FaultSpec:
    """A parsed fault spec (see the module docstring for the grammar)."""

    probabilities: dict[str, float] = field(default_factory=dict)
    latency_ms: tuple[int, int] | None = None
    seed: int = 0
    include_oauth: bool = False
    text: str = ""

    @property
    def is_active(self) -> bool:
        """True when the spec injects anything at all."""
        return any(self.probabilities.values()) or self.latency_ms is not None


def parse_spec(text: str) -> FaultSpec:
    """Parse a fault spec string.

    Args:
        text: e.g. ``"500=0.1,drop=0.02,latency=200-2000,seed=3"``; empty for no faults.

    Returns:
        The parsed spec.

    Raises:
        ValueError: naming the item at fault and the accepted forms.
    """
    probabilities: dict[str, float] = {}
    latency: tuple[int, int] | None = None
    seed, include_oauth = 0, False
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep:
            raise ValueError(f"fault spec item {item!r} is not key=value")
        if key in FAULT_KINDS:
            probabilities[key] = _probability(key, value)
        elif key == "latency":
            latency = parse_latency(value)
        elif key == "seed":
            seed = _integer(key, value)
        elif key == "oauth":
            include_oauth = value.lower() in ("1", "true", "yes")
        else:
            known = ", ".join((*FAULT_KINDS, "latency", "seed", "oauth"))
            raise ValueError(f"unknown fault kind {key!r} in fault spec; known kinds: {known}")
    if sum(probabilities.values()) > 1.0 + 1e-9:
        raise ValueError("fault probabilities add up to more than 1: lower some of them")
    return FaultSpec(probabilities, latency, seed, include_oauth, text.strip())


def parse_latency(value: str) -> tuple[int, int]:
    """Parse ``A-B`` (or ``A``) milliseconds into a range.

    Raises:
        ValueError: when the value is not one or two non-negative integers, low first.
    """
    low_text, _, high_text = value.partition("-")
    try:
        low = int(low_text)
        high = int(high_text) if high_text else low
    except ValueError:
        raise ValueError(f"latency {value!r} is not A-B in whole milliseconds") from None
    if low < 0 or high < low:
        raise ValueError(f"latency {value!r} needs 0 <= A <= B milliseconds")
    return low, high


def _probability(key: str, value: str) -> float:
    try:
        probability = float(value)
    except ValueError:
        raise ValueError(f"fault {key}={value} is not a probability between 0 and 1") from None
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"fault {key}={value} is not a probability between 0 and 1")
    return probability


def _integer(key: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"fault spec {key}={value} is not an integer") from None


@dataclass
class _Targeted:
    kind: str
    pattern: re.Pattern[str]
    method: str
    times: int


class FaultInjector:
    """Decides, request by request, which fault (if any) to inject.

    The RNG is seeded from the spec and consumed in the order requests arrive, so a
    client that sends the same sequence of requests meets the same faults.
    """

    def __init__(self, spec: FaultSpec, default_latency_ms: tuple[int, int] = (0, 0)) -> None:
        self._lock = threading.Lock()
        self._default_latency = default_latency_ms
        self.injected: Counter[str] = Counter()
        self._targeted: list[_Targeted] = []
        self.configure(spec)

    def configure(self, spec: FaultSpec) -> None:
        """Replace the spec and reseed the RNG."""
        with self._lock:
            self.spec = spec
            self._rng = random.Random(spec.seed)
            # A second stream picks the HTML page's status, so that choosing it does not
            # shift the fault sequence that a client can predict from the seed.
            self._html_rng = random.Random(spec.seed + 1)

    def applies_to(self, path: str) -> bool:
        """Whether requests to ``path`` are subject to faults at all."""
        if is_control(path):
            return False
        return self.spec.include_oauth or not is_oauth(path)

    def draw(self, method: str = "", path: str = "") -> tuple[str | None, float]:
        """The fault kind for the next request (or None) and its added latency in seconds.

        A targeted fault matching ``method`` and ``path`` takes precedence; the random
        draw is made all the same, so the seeded sequence stays predictable.
        """
        with self._lock:
            kind = self._pick(self._rng.random())
            low, high = self.spec.latency_ms or self._default_latency
            delay = self._rng.uniform(low, high) / 1000.0 if high > 0 else 0.0
            kind = self._take_targeted(method, path) or kind
            if kind is not None:
                self.injected[kind] += 1
        return kind, delay

    def add_targeted(self, kind: str, path_pattern: str, method: str = "", times: int = 1) -> None:
        """Fail the next ``times`` requests whose path matches ``path_pattern`` with ``kind``.

        Args:
            kind: a fault kind (``500``, ``drop``, ...).
            path_pattern: a regular expression searched in the request path.
            method: the HTTP verb to match; empty for any.
            times: how many matching requests fail.

        Raises:
            ValueError: for an unknown kind, a bad pattern or a non-positive count.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault {kind!r} is not one of {', '.join(FAULT_KINDS)}")
        if times < 1:
            raise ValueError(f"times={times} must be at least 1")
        try:
            pattern = re.compile(path_pattern)
        except re.error as exc:
            raise ValueError(f"path {path_pattern!r} is not a regular expression: {exc}") from None
        with self._lock:
            self._targeted.append(_Targeted(kind, pattern, method.upper(), times))

    def targeted(self) -> list[dict[str, Any]]:
        """Targeted faults still pending, for ``GET /_sandbox/state``."""
        with self._lock:
            return [
                {"fault": t.kind, "path": t.pattern.pattern, "method": t.method, "times": t.times}
                for t in self._targeted
            ]

    def _take_targeted(self, method: str, path: str) -> str | None:
        for target in self._targeted:
            if target.method in ("", method) and target.pattern.search(path):
                target.times -= 1
                if target.times == 0:
                    self._targeted.remove(target)
                return target.kind
        return None

    def html_status(self) -> int:
        """Status of the next HTML error page: 502 or 503."""
        with self._lock:
            return 502 if self._html_rng.random() < 0.5 else 503

    def _pick(self, draw: float) -> str | None:
        cumulative = 0.0
        for kind in FAULT_KINDS:
            cumulative += self.spec.probabilities.get(kind, 0.0)
            if draw < cumulative:
                return kind
        return None


class FaultMiddleware:
    """ASGI middleware that adds latency and injects the faults of the app's injector."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request, possibly delayed, refused or broken on purpose."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        injector: FaultInjector = scope["app"].state.faults
        if not injector.applies_to(scope["path"]):
            await self.app(scope, receive, send)
            return
        kind, delay = injector.draw(scope["method"], scope["path"])
        if delay:
            await asyncio.sleep(delay)
        if kind is None:
            await self.app(scope, receive, send)
        elif kind in STATUS_KINDS:
            logger.debug("injecting a %s into %s", kind, scope["path"])
            await send_json(send, int(kind), {"error": _STATUS_MESSAGES[kind]})
        elif kind == "html":
            await _send_html(send, injector.html_status())
        else:
            await self.app(scope, receive, _BodyBreaker(send, kind))


async def _send_html(send: Send, status: int) -> None:
    page = _HTML_PAGE.format(status=status, reason=_HTML_REASONS[status]).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/html"),
                (b"content-length", str(len(page)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": page})


class _BodyBreaker:
    """A ``send`` wrapper that buffers the response, then sends it broken.

    ``drop`` sends the original headers (full Content-Length) and half the body, then
    returns without finishing, so the server closes the connection mid-body.
    ``truncate`` sends half the body with a matching Content-Length.
    """

    def __init__(self, send: Send, kind: str) -> None:
        self._send = send
        self._kind = kind
        self._start: Message | None = None
        self._body = bytearray()

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._start = message
            return
        if message["type"] != "http.response.body" or self._start is None:
            await self._send(message)
            return
        self._body.extend(message.get("body", b""))
        if not message.get("more_body", False):
            await self._flush()

    async def _flush(self) -> None:
        assert self._start is not None
        body = bytes(self._body)
        cut = body[: max(1, len(body) // 2)] if body else b""
        length = len(body) if self._kind == "drop" else len(cut)
        if self._kind == "drop" and len(body) < 2:
            # Nothing to cut short: promise more bytes than will ever come.
            length = len(body) + 64
        headers: list[Any] = [
            (name, value) for name, value in self._start["headers"] if name != b"content-length"
        ]
        headers.append((b"content-length", str(length).encode()))
        await self._send({**self._start, "headers": headers})
        if self._kind == "drop":
            await self._send({"type": "http.response.body", "body": cut, "more_body": True})
            return
        await self._send({"type": "http.response.body", "body": cut})
