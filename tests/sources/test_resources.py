"""Resources of the Sprout source against a fake client: requests, splits, shapes."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta
from typing import Any

import pendulum
import pytest

import sources.sprout as sprout
from pipelines.run import chunk_ends, select_resources
from sources.sprout.client import BudgetExceeded, OverCap, ScopeTooLarge, SproutApiError
from tests.sources.conftest import make_run


def _rows(path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    ids = body["filters"][0].removeprefix("customer_profile_id.eq(").rstrip(")").split(", ")
    return [
        {
            "dimensions": {"reporting_period.by(day)": "2026-02-27", "customer_profile_id": int(i)},
            "metrics": {"impressions": 5, "lifetime_snapshot.followers_by_country": {"US": 3}},
        }
        for i in ids
    ]


def test_a_metric_the_api_no_longer_knows_is_dropped_and_the_request_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def answer(method: str, path: str, body: dict[str, Any] | None) -> Any:
        assert body is not None
        if "impressions" in body["metrics"]:
            return SproutApiError(400, method, path, "unknown metric 'impressions' for x")
        return {"data": _rows(path, body)}

    run, client = make_run(answer)
    queries = list(sprout._profile_queries(run, pendulum.Date(2026, 2, 27)))
    with caplog.at_level(logging.WARNING):
        rows = [row for q in queries for row in sprout._read_profile_query(run, q)]
    assert run.dropped_metrics == {"impressions"}
    assert "does not know metric 'impressions'" in caplog.text
    # One refused request, then every query without the metric, never asking again.
    assert len(client.sent) == 1 + len(queries)
    later = [body for _, _, body in client.sent[1:]]
    assert all(body is not None and "impressions" not in body["metrics"] for body in later)
    assert sorted(r["customer_profile_id"] for r in rows) == [11, 12, 13]


def test_a_request_too_large_to_answer_is_split_by_profiles_then_by_days() -> None:
    def answer(method: str, path: str, body: dict[str, Any] | None) -> Any:
        assert body is not None
        ids = body["filters"][0].count(",") + 1
        first, last = body["filters"][1].removeprefix("reporting_period.in(")[:-1].split("..")
        if ids > 1 or first != last:
            return ScopeTooLarge(504, method, path, "too large")
        return {"data": _rows(path, body)}

    run, client = make_run(answer)
    query = sprout._ProfileQuery(
        100,
        (11, 13),
        ("impressions",),
        pendulum.Date(2026, 2, 26),
        pendulum.Date(2026, 2, 27),
    )
    rows = sprout._read_profile_query(run, query)
    assert [r["customer_profile_id"] for r in rows] == [11, 11, 13, 13]
    filters = [body["filters"] for _, _, body in client.sent]  # type: ignore[index]
    assert filters[0] == [
        "customer_profile_id.eq(11, 13)",
        "reporting_period.in(2026-02-26..2026-02-27)",
    ]
    assert filters[1] == [
        "customer_profile_id.eq(11)",
        "reporting_period.in(2026-02-26..2026-02-27)",
    ]
    assert filters[2] == [
        "customer_profile_id.eq(11)",
        "reporting_period.in(2026-02-26..2026-02-26)",
    ]


def test_a_profile_query_of_100_profiles_stays_under_the_result_cap(nothing: Any) -> None:
    run, _ = make_run(nothing, end="2026-12-31")
    account = run.accounts[0]
    account._cache[""] = [
        {"customer_profile_id": n, "network_type": "twitter", "groups": [7], "customer_id": 100}
        for n in range(1, 151)
    ]

    queries = list(sprout._profile_queries(run, pendulum.Date(2026, 1, 1)))

    first_batch = [(q.start, q.end) for q in queries if len(q.profile_ids) == 100]
    # 9,000 rows a query: 90 days of 100 profiles; the other 50 profiles take 180 days.
    assert first_batch[:2] == [
        (pendulum.Date(2026, 1, 1), pendulum.Date(2026, 3, 31)),
        (pendulum.Date(2026, 4, 1), pendulum.Date(2026, 6, 29)),
    ]
    assert len(first_batch) == 5
    assert all(len(q.profile_ids) * ((q.end - q.start).days + 1) <= 9_000 for q in queries)
    assert len([q for q in queries if len(q.profile_ids) == 50]) == 3


def test_profiles_of_every_network_share_a_batch_with_all_their_metrics(nothing: Any) -> None:
    run, _ = make_run(nothing)
    queries = list(sprout._profile_queries(run, pendulum.Date(2025, 1, 1)))
    # 2025-01-01 to 2026-03-01 is more than a year: two windows for the one batch.
    assert [(q.profile_ids, q.start, q.end) for q in queries] == [
        ((11, 12, 13), pendulum.Date(2025, 1, 1), pendulum.Date(2025, 12, 31)),
        ((11, 12, 13), pendulum.Date(2026, 1, 1), pendulum.Date(2026, 3, 1)),
    ]
    metrics = queries[0].metrics
    assert len(metrics) == len(set(metrics))
    assert {"lifetime_snapshot.followers_count", "post_link_clicks"} <= set(metrics)
    assert "fans_gained" in metrics  # a Facebook metric, for profile 12
    assert queries[0].network_types == {11: "twitter", 12: "facebook", 13: "twitter"}


@pytest.mark.parametrize(
    ("end", "present"), [("2026-06-14", True), ("2026-06-15", False)], ids=["before", "on-the-day"]
)
def test_metrics_retired_by_the_catalogue_are_left_out_from_their_date(
    nothing: Any, end: str, present: bool
) -> None:
    run, _ = make_run(nothing, end=end)
    facebook = sprout._profile_metric_keys(run, "facebook")
    assert ("post_impressions" in facebook) is present
    assert "impressions" in facebook


def test_messages_read_each_profile_once_in_its_first_group(nothing: Any) -> None:
    run, _ = make_run(nothing)
    queries = list(sprout._message_queries(run, run.config.start_at))
    assert [(q.group_id, q.profile_ids) for q in queries] == [(7, (11, 12)), (8, (13,))]


def test_a_stop_keeps_the_batches_read_and_puts_the_cursor_back(nothing: Any) -> None:
    run, _ = make_run(nothing)

    class Cursor:
        def __init__(self) -> None:
            self.state: dict[str, Any] = {"last_value": "2026-02-01", "unique_hashes": []}

        def get_state(self) -> dict[str, Any]:
            return self.state

    cursor = Cursor()

    def batches() -> Any:
        yield [{"guid": "a"}]
        cursor.state["last_value"] = "2026-02-20"
        raise BudgetExceeded("monthly_request_budget of 10 requests is used up")

    read = list(sprout._guarded(run, batches(), cursor))  # type: ignore[arg-type]
    assert read == [[{"guid": "a"}]]
    assert cursor.state["last_value"] == "2026-02-01"
    assert run.stopped is not None and "monthly_request_budget" in run.stopped
    assert list(sprout._guarded(run, iter([[{"guid": "b"}]]), None)) == []


@pytest.mark.parametrize(
    "answer",
    [
        {"sentiment": "POSITIVE", "listening_metadata": {"language": "en"}},
        {"listening_metadata": {"sentiment": "positive", "language": "en"}},
    ],
    ids=["top-level-upper", "in-metadata"],
)
def test_sentiment_and_language_are_taken_from_wherever_the_answer_puts_them(
    answer: dict[str, Any],
) -> None:
    message = {"guid": "g1", "created_time": "2026-02-27T10:00:00Z", **answer}
    message["metrics"] = {"likes": 4.0, "impressions": 7.5}
    row = sprout._topic_message_row(100, "555", message)
    assert (row["sentiment"], row["language"]) == ("positive", "en")
    assert (row["likes"], row["impressions"]) == (4, 7.5)
    assert isinstance(row["likes"], int)
    assert "listening_metadata" not in row
    assert row["created_time"] == pendulum.datetime(2026, 2, 27, 10)


def test_topic_metrics_keep_the_day_lower_the_sentiment_and_make_counts_integers() -> None:
    answer = {
        "dimensions": {
            "created_time": "2026-02-27T00:00:00-06:00",
            "network": "INSTAGRAM",
            "sentiment": "UNCLASSIFIED",
        },
        "metrics": {"likes": 557.0, "from.followers_count": 12.5},
    }
    row = sprout._topic_metric_row(100, "555", answer)
    assert row == {
        "customer_id": 100,
        "topic_id": "555",
        "metric_date": pendulum.Date(2026, 2, 27),
        "network": "INSTAGRAM",
        "sentiment": "unclassified",
        "likes": 557,
        "from.followers_count": 12.5,
    }


@pytest.mark.parametrize(
    "availability",
    [1600895454244, "2020-09-23T21:10:54.244Z"],
    ids=["epoch-ms", "iso"],
)
def test_topic_availability_becomes_a_utc_timestamp(availability: Any) -> None:
    row = sprout._topic_row({"id": "1", "availability_time": availability})
    assert row["availability_time"] == pendulum.datetime(2020, 9, 23, 21, 10, 54, 244_000)


@pytest.mark.parametrize(
    "value",
    [
        "2026-02-01T03:04:05Z",
        "2026-02-01T03:04:05.123+02:00",
        "2026-02-01T03:04:05",
        "2026-02-01",
        "20260201T030405Z",
        1769915045000,
        pendulum.datetime(2026, 2, 1, 3, 4, 5, tz="Europe/Berlin"),
        None,
    ],
)
def test_row_times_are_the_same_instants_as_the_general_conversion(value: Any) -> None:
    fast, general = sprout._row_time(value), sprout._utc(value)
    assert fast == general
    assert fast is None or fast.utcoffset() == timedelta(0)


FEB_1 = pendulum.datetime(2026, 2, 1)


@pytest.mark.parametrize("shape", ["by-name", "listed"])
def test_inbox_action_times_become_instants_and_the_latest_is_lifted(shape: str) -> None:
    actions = {
        "first_reply": {"action_time": "2026-02-01T10:00:00Z", "actor": 1},
        "first_like": {"action_time": "2026-02-03T09:30:00+01:00"},
        "first_tag": {"actor": 2},
    }
    metadata: Any = actions if shape == "by-name" else list(actions.values())
    query = sprout._TimeQuery(1, (11,), FEB_1, FEB_1, group_id=5)
    row = sprout._inbox_row(query, {"guid": "m1", "activity_metadata": metadata})
    kept = row["activity_metadata"]
    listed = list(kept.values()) if isinstance(kept, dict) else kept
    assert [a.get("action_time") for a in listed] == [
        pendulum.datetime(2026, 2, 1, 10),
        pendulum.datetime(2026, 2, 3, 8, 30),
        None,
    ]
    assert row["action_last_update_time"] == pendulum.datetime(2026, 2, 3, 8, 30)
    assert row["group_id"] == 5


def test_a_row_time_that_is_no_time_is_an_error() -> None:
    with pytest.raises(ValueError, match="soon"):
        sprout._row_time("soon")


def test_posts_over_the_cap_are_read_as_three_parts_of_the_window() -> None:
    whole = "created_time.in(2026-02-01T00:00:00...2026-02-04T00:00:00)"

    def answer(method: str, path: str, body: dict[str, Any] | None) -> Any:
        assert body is not None
        window = body["filters"][1]
        if window == whole:
            return OverCap("100 pages of 100 reach the cap")
        return {"data": [{"guid": window, "created_time": "2026-02-01T00:00:00Z"}]}

    run, client = make_run(answer)
    query = sprout._TimeQuery(
        100, (11, 12), pendulum.datetime(2026, 2, 1), pendulum.datetime(2026, 2, 4)
    )

    rows = [row for page in sprout._post_pages(run, query) for row in page.to_pylist()]

    windows = [body["filters"][1] for _, _, body in client.sent]  # type: ignore[index]
    parts = [
        "created_time.in(2026-02-01T00:00:00...2026-02-02T00:00:00)",
        "created_time.in(2026-02-02T00:00:00...2026-02-03T00:00:00)",
        "created_time.in(2026-02-03T00:00:00...2026-02-04T00:00:00)",
    ]
    # The parts are read side by side, so they are asked for and answered in any order.
    assert windows[0] == whole
    assert sorted(windows[1:]) == parts
    assert sorted(row["guid"] for row in rows) == parts


def test_posts_lift_metrics_and_tag_ids(nothing: Any) -> None:
    run, _ = make_run(nothing)
    post = {
        "guid": "tw:1",
        "created_time": "2026-02-27T10:00:00Z",
        "metrics": {"lifetime.impressions": 15},
        "internal": {"tags": [{"id": 1}, {"id": 2}], "sent_by": {"id": 9}},
    }
    row = sprout._post_row(run, 100, post)
    assert row["lifetime.impressions"] == 15 and "metrics" not in row
    assert row["tag_ids"] == [1, 2] and row["internal"] == {"sent_by": {"id": 9}}
    assert row["metrics_refreshed_at"] == run.refreshed_at


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ("messages", ["message_actions", "messages"]),
        ("profile_metrics,posts", ["posts", "profile_metrics_buckets", "profile_metrics_daily"]),
    ],
    ids=["messages-both-passes", "groups"],
)
def test_resource_names_select_their_dlt_resources(names: str, expected: list[str]) -> None:
    assert select_resources(names) == expected


def test_a_backfill_is_cut_into_chunks_and_a_daily_run_is_one(nothing: Any) -> None:
    run, _ = make_run(nothing, end="2026-04-11")
    resources = select_resources(None)
    # 70 days from 1 February: two chunks of four weeks and a remainder of 14 (half a chunk).
    assert chunk_ends(run.config, {}, resources) == [
        pendulum.Date(2026, 2, 28),
        pendulum.Date(2026, 3, 28),
        pendulum.Date(2026, 4, 11),
    ]
    # One day less: the 13-day remainder joins the last chunk.
    shorter = dataclasses.replace(run.config, end_date=pendulum.Date(2026, 4, 10))
    assert chunk_ends(shorter, {}, resources) == [
        pendulum.Date(2026, 2, 28),
        pendulum.Date(2026, 4, 10),
    ]
    recent = {name: pendulum.datetime(2026, 4, 10) for name in sprout.CURSORS}
    recent["profile_analytics"] = recent["topic_metrics_daily"] = pendulum.Date(2026, 4, 10)
    assert chunk_ends(run.config, recent, resources) == [pendulum.Date(2026, 4, 11)]


def test_daily_series_are_read_for_the_whole_run_in_its_first_chunk(nothing: Any) -> None:
    run, _ = make_run(nothing, end="2026-03-02")
    run.run_end_date = pendulum.Date(2026, 4, 15)
    profile = [(q.start, q.end) for q in sprout._profile_queries(run, run.config.start_date)]
    assert profile == [(pendulum.Date(2026, 2, 1), pendulum.Date(2026, 4, 15))]
    topic = [(q[2], q[3]) for q in sprout._topic_metric_queries(run, run.config.start_date)]
    assert topic == [
        (pendulum.Date(2026, 2, 1), pendulum.Date(2026, 3, 3)),
        (pendulum.Date(2026, 3, 4), pendulum.Date(2026, 4, 3)),
        (pendulum.Date(2026, 4, 4), pendulum.Date(2026, 4, 15)),
    ]
    run.first_chunk = False
    assert list(sprout._profile_queries(run, pendulum.Date(2026, 4, 15))) == []
    assert sprout._topic_metric_queries(run, pendulum.Date(2026, 4, 15)) == []


def test_a_profile_new_since_the_last_run_is_read_from_the_start_date(nothing: Any) -> None:
    run, _ = make_run(nothing)
    run.known_profiles = frozenset({11, 12})
    cursor = pendulum.datetime(2026, 2, 20)
    posts = sprout._post_queries(run, cursor)
    assert [(q.profile_ids, q.start) for q in posts] == [
        ((13,), pendulum.datetime(2026, 2, 1)),
        ((11, 12), cursor),
    ]
    messages = list(sprout._message_queries(run, cursor))
    assert [(q.group_id, q.profile_ids, q.start) for q in messages] == [
        (7, (11, 12), cursor),
        (8, (13,), pendulum.datetime(2026, 2, 1)),
    ]
