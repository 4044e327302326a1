"""The pacer holds the rate across threads; the budget counts requests per UTC month."""

from __future__ import annotations

import itertools
import random
import threading

import pendulum
import pytest

from sources.sprout.pacing import BudgetExceeded, Pacer, RequestBudget


class ThreadClock:
    """A fake monotonic clock where sleeping moves only the sleeping thread's time on.

    Each thread sees when it itself would wake up, so the start a pacer grants to a
    thread is recorded exactly, however the threads interleave.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now = 0.0
        self._local = threading.local()

    def __call__(self) -> float:
        with self._lock:
            self._local.seen = self._now
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            wake = self._local.seen + seconds
            self._now = max(self._now, wake)
            self._local.seen = wake

    def thread_now(self) -> float:
        return self._local.seen


def _acquire_from_threads(pacer: Pacer, clock: ThreadClock, threads: int, each: int) -> list[float]:
    starts: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(each):
            pacer.acquire()
            with lock:
                starts.append(clock.thread_now())

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sorted(starts)


@pytest.mark.parametrize("rpm", [60, 600], ids=["60_per_minute", "600_per_minute"])
def test_no_rolling_minute_holds_more_than_rpm_starts_under_four_threads(rpm: int) -> None:
    clock = ThreadClock()
    pacer = Pacer(rpm, clock=clock, sleep=clock.sleep)

    starts = _acquire_from_threads(pacer, clock, threads=4, each=rpm // 2)

    assert len(starts) == 2 * rpm
    # rpm + 1 consecutive starts must span more than the 60 s window.
    spans = [starts[i + rpm] - starts[i] for i in range(len(starts) - rpm)]
    assert min(spans) >= 60.0
    # And the pacer does not give away speed: two minutes' worth takes about two minutes.
    assert starts[-1] == pytest.approx((2 * rpm - 1) * 60.5 / rpm)


def test_starts_are_spread_evenly_not_bursts() -> None:
    clock = ThreadClock()
    pacer = Pacer(60, clock=clock, sleep=clock.sleep)

    starts = _acquire_from_threads(pacer, clock, threads=1, each=90)

    gaps = {round(b - a, 6) for a, b in itertools.pairwise(starts)}
    assert gaps == {round(60.5 / 60, 6)}
    assert starts[0] == 0.0


def test_first_request_waits_for_nothing() -> None:
    clock = ThreadClock()
    pacer = Pacer(60, clock=clock, sleep=clock.sleep)

    assert pacer.acquire() == 0.0
    assert pacer.acquire() == pytest.approx(60.5 / 60)


def test_back_off_pauses_everyone_for_a_window_plus_jitter() -> None:
    clock = ThreadClock()
    pacer = Pacer(600, clock=clock, sleep=clock.sleep, rng=random.Random(1))
    pacer.acquire()
    clock()

    pacer.back_off()
    pacer.acquire()

    assert 60.0 <= clock.thread_now() <= 65.0


def test_back_off_during_a_wait_also_holds_back_a_reserved_start() -> None:
    clock = ThreadClock()
    backed_off: list[float] = []

    def sleep_and_meet_a_429(seconds: float) -> None:
        clock.sleep(seconds)
        if not backed_off:
            # Another thread hears a 429 while this one waits for its slot.
            backed_off.append(clock.thread_now())
            pacer.back_off()

    pacer = Pacer(60, clock=clock, sleep=sleep_and_meet_a_429, jitter_seconds=0.0)
    pacer.acquire()
    pacer.acquire()

    assert backed_off == [pytest.approx(60.5 / 60)]
    assert clock.thread_now() == pytest.approx(60.5 / 60 + 60.0)


def test_rate_below_one_names_the_setting() -> None:
    with pytest.raises(ValueError, match=r"sources\.sprout\.requests_per_minute"):
        Pacer(0)


def _fixed(*moments: str):
    times = iter(pendulum.parse(moment) for moment in moments)
    current = {"now": next(times)}

    def now() -> pendulum.DateTime:
        return current["now"]  # type: ignore[return-value]

    def advance() -> None:
        current["now"] = next(times)

    return now, advance


def test_budget_stops_before_the_request_that_would_exceed() -> None:
    now, _ = _fixed("2026-12-03T10:00:00Z")
    counts = {"2026-12": 248}
    budget = RequestBudget(250, counts, now=now)

    budget.spend()
    budget.spend()
    with pytest.raises(BudgetExceeded) as raised:
        budget.spend()

    assert counts == {"2026-12": 250}
    assert budget.used_this_month == 250
    assert budget.left_this_month == 0
    message = str(raised.value)
    assert "monthly_request_budget of 250 requests is used up for 2026-12" in message
    assert "2027-01-01" in message
    assert "`sources.sprout.monthly_request_budget`" in message


def test_budget_rolls_over_at_the_utc_month_boundary() -> None:
    # 20:30 in Chicago on 31 December is already January in UTC.
    now, advance = _fixed(
        "2026-12-31T23:59:59Z", "2026-12-31T20:30:00-06:00", "2027-01-01T00:00:01Z"
    )
    counts = {"2026-12": 2}
    budget = RequestBudget(2, counts, now=now)

    with pytest.raises(BudgetExceeded):
        budget.spend()
    advance()
    budget.spend()
    advance()
    budget.spend()

    assert counts == {"2026-12": 2, "2027-01": 2}
    assert budget.left_this_month == 0


def test_budget_counts_from_many_threads_exactly() -> None:
    counts: dict[str, int] = {}
    budget = RequestBudget(1000, counts, now=lambda: pendulum.datetime(2026, 12, 3))
    refused = []

    def spend_many() -> None:
        for _ in range(300):
            try:
                budget.spend()
            except BudgetExceeded:
                refused.append(1)

    workers = [threading.Thread(target=spend_many) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert counts == {"2026-12": 1000}
    assert len(refused) == 200
