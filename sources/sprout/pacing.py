"""How fast and how much: a rate pacer shared by a whole run, and a monthly request budget.

The Sprout API allows 60 requests a minute and 250,000 a month per customer account.
At that pace the number of requests is the cost of a run, so every request of a run
passes through one :class:`Pacer`, and every attempt is counted by a
:class:`RequestBudget` that the caller persists with the pipeline state.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

import pendulum

logger = logging.getLogger(__name__)

_WINDOW_SECONDS = 60.0
# Starts are spaced so that any run of rpm + 1 starts spans the window plus this slack:
# the server counts arrivals, and a request may arrive a little earlier or later than
# it started, relative to its neighbours.
_SLACK_SECONDS = 0.5
_BACK_OFF_JITTER_SECONDS = 5.0


class BudgetExceeded(Exception):  # noqa: N818 (name agreed with the source)
    """The next request would exceed ``monthly_request_budget`` for the current month."""


class Pacer:
    """Spreads request starts evenly so that no rolling minute holds more than allowed.

    Thread-safe: every request of a run, from every resource and worker thread, calls
    :meth:`acquire` on the same instance just before it starts.

    Args:
        requests_per_minute: the most starts allowed in any rolling 60 seconds.
        clock: monotonic seconds; injectable for tests.
        sleep: blocks for the given seconds; injectable for tests.
        jitter_seconds: the most random extra pause added by :meth:`back_off`; None
            takes the module's setting when the pacer is made, so tests can shrink it.
        rng: random source for that jitter.
    """

    def __init__(
        self,
        requests_per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        *,
        jitter_seconds: float | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if requests_per_minute < 1:
            raise ValueError(
                f"requests_per_minute is {requests_per_minute}; it must be at least 1: "
                "check `sources.sprout.requests_per_minute`"
            )
        self.requests_per_minute = requests_per_minute
        self._interval = (_WINDOW_SECONDS + _SLACK_SECONDS) / requests_per_minute
        self._clock = clock
        self._sleep = sleep
        self._jitter = _BACK_OFF_JITTER_SECONDS if jitter_seconds is None else jitter_seconds
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._next_start = float("-inf")
        self._resume_at = float("-inf")

    def __repr__(self) -> str:
        return f"Pacer(requests_per_minute={self.requests_per_minute})"

    def acquire(self) -> float:
        """Block until this caller may start a request.

        Returns:
            The seconds spent waiting.
        """
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                slot = max(now, self._next_start, self._resume_at)
                self._next_start = slot + self._interval
            if slot > now:
                self._sleep(slot - now)
                waited += slot - now
            with self._lock:
                # A 429 seen by another thread while this one waited pauses it as well.
                if self._resume_at <= slot:
                    return waited

    def back_off(self) -> None:
        """After a 429: nobody starts for a full window plus a random jitter."""
        with self._lock:
            resume_at = self._clock() + _WINDOW_SECONDS + self._rng.uniform(0, self._jitter)
            self._resume_at = max(self._resume_at, resume_at)
            self._next_start = max(self._next_start, self._resume_at)


class RequestBudget:
    """Counts requests per calendar month (UTC) and refuses the one that would exceed.

    Args:
        limit: the most requests allowed in one calendar month.
        counts: requests made per month, keyed ``YYYY-MM``; updated in place so that
            the caller can persist it (for example in the dlt pipeline state).
        now: returns the current time; injectable for tests.
    """

    def __init__(
        self,
        limit: int,
        counts: dict[str, int],
        now: Callable[[], pendulum.DateTime] = pendulum.now,
    ) -> None:
        if limit < 0:
            raise ValueError(
                f"monthly_request_budget is {limit}; it cannot be negative: "
                "check `sources.sprout.monthly_request_budget`"
            )
        self.limit = limit
        self.counts = counts
        self._now = now
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RequestBudget(limit={self.limit}, used_this_month={self.used_this_month})"

    def _month(self) -> str:
        return self._now().in_timezone("UTC").format("YYYY-MM")

    @property
    def used_this_month(self) -> int:
        """Requests counted in the current calendar month (UTC)."""
        return self.counts.get(self._month(), 0)

    @property
    def left_this_month(self) -> int:
        """Requests still allowed in the current calendar month (UTC)."""
        return max(0, self.limit - self.used_this_month)

    def spend(self) -> None:
        """Count one request, or raise before the request that would exceed the budget.

        Raises:
            BudgetExceeded: the month's budget is used up; nothing was counted.
        """
        with self._lock:
            month = self._month()
            used = self.counts.get(month, 0)
            if used >= self.limit:
                raise BudgetExceeded(self._exceeded_message(month, used))
            self.counts[month] = used + 1

    def _exceeded_message(self, month: str, used: int) -> str:
        next_month = self._now().in_timezone("UTC").start_of("month").add(months=1)
        return (
            f"monthly_request_budget of {self.limit} requests is used up for {month} "
            f"({used} made); what was loaded so far is kept. Rerun after "
            f"{next_month.to_date_string()} (UTC) or raise "
            "`sources.sprout.monthly_request_budget`"
        )
