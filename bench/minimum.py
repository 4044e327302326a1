"""The fewest requests the Sprout API allows for a given set of data.

The minimum is computed from what a run loaded (or re-read) and the API's limits, not
from how the source batches its queries: profile metrics take 100 profiles of any
network and one year per request, 1000 rows a page; posts, messages, cases and
listening messages take 100 rows a page; cases take one week per request; topic
metrics one request per topic and 31 days; metadata one request per endpoint.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sources.sprout import settings

METADATA_ENDPOINTS_PER_CUSTOMER = 5
"""`metadata/customer` plus its groups, tags, users and topics."""


def pages(rows: int, page_size: int) -> int:
    """Requests to read `rows` rows at `page_size` a page: an empty answer costs one too."""
    return max(1, math.ceil(rows / page_size))


@dataclass
class Window:
    """What one run needed from the API for one customer.

    Attributes:
        profile_days: reporting days loaded per profile id, within the run's window.
        posts: posts per profile id in the posts window.
        messages: messages per inbox group in the messages window.
        message_actions: messages per group whose last action falls in the actions
            window; None when the run had no actions window (a first run).
        case_weeks: cases per one-week window, one entry per week of the cases window.
        topic_messages: listening messages per topic (every topic, zero included).
        topic_metric_days: days of the topic metrics window.
    """

    profile_days: dict[int, list[date]] = field(default_factory=dict)
    posts: dict[int, int] = field(default_factory=dict)
    messages: dict[int, int] = field(default_factory=dict)
    message_actions: dict[int, int] | None = None
    case_weeks: list[int] = field(default_factory=list)
    topic_messages: dict[str, int] = field(default_factory=dict)
    topic_metric_days: int = 0


def minimum_requests(windows: Sequence[Window]) -> dict[str, int]:
    """The fewest requests per resource for the data of `windows` (one per customer)."""
    counts = {"metadata": 1 + METADATA_ENDPOINTS_PER_CUSTOMER * len(windows)}
    for window in windows:
        for name, count in _customer_minimum(window).items():
            counts[name] = counts.get(name, 0) + count
    return counts


def _customer_minimum(window: Window) -> dict[str, int]:
    actions = window.message_actions
    topic_windows = math.ceil(window.topic_metric_days / settings.TOPIC_METRICS_WINDOW_DAYS)
    return {
        "profile_metrics": _profile_metric_requests(window.profile_days),
        "posts": sum(_paged(_batched(window.posts), settings.POSTS_PAGE_SIZE)),
        "messages": sum(_paged(window.messages.values(), settings.MESSAGES_PAGE_SIZE)),
        "message_actions": sum(_paged(actions.values(), settings.MESSAGES_PAGE_SIZE))
        if actions is not None
        else 0,
        "cases": sum(_paged(window.case_weeks, settings.CASES_PAGE_SIZE)),
        "topic_messages": sum(
            _paged(window.topic_messages.values(), settings.TOPIC_MESSAGES_PAGE_SIZE)
        ),
        "topic_metrics": topic_windows * len(window.topic_messages),
    }


def _paged(row_counts: Iterable[int], page_size: int) -> list[int]:
    return [pages(rows, page_size) for rows in row_counts]


def _batched(per_profile: dict[int, int]) -> list[int]:
    """Rows per batch of `PROFILE_BATCH_SIZE` profiles (ids in ascending order)."""
    ids = sorted(per_profile)
    size = settings.PROFILE_BATCH_SIZE
    return [sum(per_profile[i] for i in ids[at : at + size]) for at in range(0, len(ids), size)]


def _profile_metric_requests(profile_days: dict[int, list[date]]) -> int:
    """Batches of 100 profiles x one-year windows x pages of 1000 rows."""
    ids = sorted(profile_days)
    days = [d for i in ids for d in profile_days[i]]
    if not days:
        return 0
    first = min(days)
    total = 0
    size = settings.PROFILE_BATCH_SIZE
    for at in range(0, len(ids), size):
        by_year: dict[int, int] = {}
        for profile_id in ids[at : at + size]:
            for day in profile_days[profile_id]:
                year = (day - first).days // settings.PROFILE_WINDOW_MAX_DAYS
                by_year[year] = by_year.get(year, 0) + 1
        total += sum(pages(rows, settings.PROFILE_METRICS_PAGE_SIZE) for rows in by_year.values())
    return total


def week_counts(times: Iterable[datetime], start: datetime, end: datetime) -> list[int]:
    """Cases per one-week window from `start` to `end` (the last one may be shorter)."""
    week = timedelta(days=settings.CASES_WINDOW_DAYS).total_seconds()
    weeks = max(1, math.ceil((end - start).total_seconds() / week))
    counts = [0] * weeks
    for moment in times:
        if start <= moment < end:
            counts[int((moment - start).total_seconds() // week)] += 1
    return counts
