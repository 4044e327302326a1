"""Rate limit, monthly quota and request counters.

The API allows 60 requests per rolling minute and 250,000 per month, per customer
account rather than per token. The rolling minute is measured on the wall clock (a
client's pacing is real time); the month is the calendar month of the sandbox clock,
so a test can move into the next month by advancing the clock. Refusals are a 429
with ``{"error": ...}`` and no ``Retry-After``: the reference documents none.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from typing import Any

from sprout_sandbox._asgi import (
    ASGIApp,
    Receive,
    Scope,
    Send,
    customer_in_path,
    is_control,
    is_oauth,
    sandbox_now,
    send_json,
)

WINDOW_SECONDS = 60.0


class RequestStats:
    """Counts of every request by status and endpoint, for ``GET /_sandbox/state``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_status: Counter[int] = Counter()
        self.by_endpoint: defaultdict[str, Counter[int]] = defaultdict(Counter)

    def record(self, endpoint: str, status: int) -> None:
        """Count one answered request."""
        with self._lock:
            self.by_status[status] += 1
            self.by_endpoint[endpoint][status] += 1

    def snapshot(self) -> dict[str, Any]:
        """Counts as JSON-ready dictionaries (status codes as strings)."""
        with self._lock:
            return {
                "total": sum(self.by_status.values()),
                "by_status": {str(s): n for s, n in sorted(self.by_status.items())},
                "by_endpoint": {
                    endpoint: {str(s): n for s, n in sorted(counts.items())}
                    for endpoint, counts in sorted(self.by_endpoint.items())
                },
            }

    def reset(self) -> None:
        """Forget every count."""
        with self._lock:
            self.by_status.clear()
            self.by_endpoint.clear()


class Limiter:
    """Per-customer rolling-minute rate limit and calendar-month quota."""

    def __init__(self, requests_per_minute: int, monthly_quota: int) -> None:
        self.requests_per_minute = requests_per_minute
        self.monthly_quota = monthly_quota
        self._lock = threading.Lock()
        self._windows: defaultdict[int, deque[float]] = defaultdict(deque)
        self._used: defaultdict[str, Counter[int]] = defaultdict(Counter)
        self.refused = 0

    def admit(self, customers: Iterable[int], month: str, now: float | None = None) -> str | None:
        """Count a request against ``customers``; return why it is refused, or None.

        Args:
            customers: the customers the request is charged to.
            month: calendar month of the sandbox clock, ``YYYY-MM``.
            now: wall-clock seconds (monotonic); the current time when omitted.
        """
        moment = time.monotonic() if now is None else now
        charged = sorted(set(customers))
        with self._lock:
            for customer in charged:
                reason = self._refusal(customer, month, moment)
                if reason:
                    self.refused += 1
                    return reason
            for customer in charged:
                self._windows[customer].append(moment)
                self._used[month][customer] += 1
        return None

    def _refusal(self, customer: int, month: str, moment: float) -> str | None:
        window = self._windows[customer]
        while window and window[0] <= moment - WINDOW_SECONDS:
            window.popleft()
        if len(window) >= self.requests_per_minute:
            return (
                f"Rate limit exceeded for customer {customer}: at most "
                f"{self.requests_per_minute} requests per minute. Slow down your requests."
            )
        if self._used[month][customer] >= self.monthly_quota:
            return (
                f"Monthly quota exhausted for customer {customer}: {self.monthly_quota} "
                f"requests in {month} used. Wait for the next month."
            )
        return None

    def quota_used(self, month: str) -> dict[str, int]:
        """Requests charged per customer (id as string) in ``month``."""
        with self._lock:
            return {str(c): n for c, n in sorted(self._used[month].items())}

    def reset(self) -> None:
        """Forget rate windows, quota use and the refusal count."""
        with self._lock:
            self._windows.clear()
            self._used.clear()
            self.refused = 0


def month_of(world: Any) -> str:
    """The calendar month of the sandbox clock, ``YYYY-MM``."""
    return sandbox_now(world).strftime("%Y-%m")


class LimitsMiddleware:
    """ASGI middleware charging each authenticated request to its customer(s).

    The customer is the one in the path; requests without one (``/v1/metadata/client``)
    are charged to every customer the token may read. Requests for unknown paths or
    with the wrong verb reach no endpoint and are not charged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse the request with a 429 when a limit is reached, else serve it."""
        path = scope.get("path", "")
        charged = scope.get("sandbox.route") is not None
        if scope["type"] != "http" or is_control(path) or is_oauth(path) or not charged:
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        customer = customer_in_path(path)
        if customer is not None:
            customers: Iterable[int] = (customer,)
        else:
            customers = scope.get("state", {}).get("customer_ids", frozenset())
        reason = state.limiter.admit(customers, month_of(state.world))
        if reason:
            await send_json(send, 429, {"error": reason})
            return
        await self.app(scope, receive, send)
