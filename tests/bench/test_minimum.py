"""The bench's minimum request count, worked out by hand for a small world."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bench.minimum import Window, minimum_requests, pages, week_counts


@pytest.mark.parametrize(
    ("rows", "size", "expected"),
    [(0, 100, 1), (1, 100, 1), (100, 100, 1), (101, 100, 2), (2500, 1000, 3)],
    ids=["empty answer", "one row", "exactly one page", "one row over", "profile pages"],
)
def test_pages_count_an_empty_answer_as_one_request(rows: int, size: int, expected: int) -> None:
    assert pages(rows, size) == expected


def test_a_small_backfill_needs_the_requests_worked_out_by_hand() -> None:
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(30)]
    window = Window(
        # 150 profiles x 30 days: two batches (100 and 50), 3000 and 1500 rows.
        profile_days={profile: days for profile in range(1, 151)},
        # 150 posts each: the first batch holds 15,000 posts, the second 7,500.
        posts={profile: 150 for profile in range(1, 151)},
        messages={10: 250, 11: 0},
        case_weeks=[100, 101, 0, 5, 1],
        topic_messages={"a": 1000, "b": 1},
        topic_metric_days=40,
    )

    counts = minimum_requests([window])

    assert counts == {
        "metadata": 1 + 5,
        "profile_metrics": 3 + 2,
        "posts": 150 + 75,
        "messages": 3 + 1,
        "message_actions": 0,
        "cases": 1 + 2 + 1 + 1 + 1,
        "topic_messages": 10 + 1,
        "topic_metrics": 2 * 2,
    }


def test_an_incremental_run_counts_the_actions_window_per_group() -> None:
    window = Window(messages={10: 5, 11: 0}, message_actions={10: 120, 11: 0})

    assert minimum_requests([window])["message_actions"] == 2 + 1


def test_profile_metrics_need_a_request_per_year_of_each_batch() -> None:
    first = date(2025, 1, 1)
    days = [first + timedelta(days=i) for i in range(400)]

    counts = minimum_requests([Window(profile_days={1: days, 2: days})])

    # 365 days x 2 profiles = 730 rows, then 35 x 2 = 70 rows: one page each.
    assert counts["profile_metrics"] == 2


def test_cases_are_counted_per_week_from_the_window_start() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    times = [start, start + timedelta(days=6, hours=23), start + timedelta(days=7)]

    assert week_counts(times, start, start + timedelta(days=10)) == [2, 1]
