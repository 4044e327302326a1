"""The marts built from the hand-made account in ``raw_rows``, on DuckDB and PostgreSQL.

Expected figures are worked out by hand from the rows there and the formulas of the
reference's "Calculated Profile Metrics" and "Calculated Post Metrics".
"""

from __future__ import annotations

import itertools
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.transforms import raw_rows
from tests.transforms.conftest import MART_GRAINS, PipelineFactory, copy_models, fetch, scalar
from transforms.runner import TransformError, build_marts

D1, D2 = raw_rows.D1, raw_rows.D2


def _profile_day(loaded: dict[str, Any], profile_id: int, day: date) -> dict[str, Any]:
    rows = fetch(
        loaded["pipeline"],
        "daily_profile_performance",
        f"customer_profile_id = {profile_id} and reporting_date = '{day.isoformat()}'",
    )
    assert len(rows) == 1
    return rows[0]


def _post(loaded: dict[str, Any], post_id: str) -> dict[str, Any]:
    rows = fetch(loaded["pipeline"], "post_performance", f"post_id = '{post_id}'")
    assert len(rows) == 1
    return rows[0]


def _subset(row: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in expected}


@pytest.mark.parametrize("mart", list(MART_GRAINS), ids=list(MART_GRAINS))
def test_grain_is_unique_and_not_null(loaded: dict[str, Any], mart: str) -> None:
    keys = MART_GRAINS[mart]
    rows = fetch(loaded["pipeline"], mart)
    assert rows, f"{mart} is empty"
    assert all(row[key] is not None for row in rows for key in keys)
    grains = [tuple(row[key] for key in keys) for row in rows]
    assert len(grains) == len(set(grains))


@pytest.mark.parametrize("mart", list(MART_GRAINS), ids=list(MART_GRAINS))
def test_every_column_is_documented_in_order(loaded: dict[str, Any], mart: str) -> None:
    docs = (Path(__file__).parents[2] / "docs" / "marts.md").read_text()
    section = docs.split(f"\n## {mart}\n", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE)
    assert documented == list(fetch(loaded["pipeline"], mart)[0])


def test_rows_per_mart(loaded: dict[str, Any]) -> None:
    assert loaded["counts"] == {
        "daily_inbox_activity": 2,
        "daily_profile_performance": 12,
        "daily_topic_sentiment": 6,
        "post_performance": 9,
    }


@pytest.mark.parametrize(
    ("mart", "column", "table", "key"),
    [
        ("daily_profile_performance", "customer_profile_id", "profiles", "customer_profile_id"),
        ("post_performance", "customer_profile_id", "profiles", "customer_profile_id"),
        ("daily_inbox_activity", "customer_profile_id", "profiles", "customer_profile_id"),
        ("daily_topic_sentiment", "topic_id", "topics", "id"),
    ],
    ids=["profile-days", "posts", "inbox-days", "topic-days"],
)
def test_every_id_resolves(
    loaded: dict[str, Any], mart: str, column: str, table: str, key: str
) -> None:
    unresolved = scalar(
        loaded["pipeline"],
        f"select count(*) from {{{mart}}} as m"
        f" left join {{{table}}} as r on m.{column} = r.{key} where r.{key} is null",
    )
    assert unresolved == 0


def test_every_tag_id_resolves_to_a_name(loaded: dict[str, Any]) -> None:
    unresolved = scalar(
        loaded["pipeline"],
        "select count(*) from {posts__tag_ids} as t"
        " left join {tags} as tags on t.value = tags.tag_id where tags.tag_id is null",
    )
    assert unresolved == 0
    posts = {row["post_id"]: row for row in fetch(loaded["pipeline"], "post_performance")}
    assert _subset(posts["tw:1"], {"tag_ids": "", "tag_names": "", "tags_count": 0}) == {
        "tag_ids": "11,12",
        "tag_names": "Campaign, Support",
        "tags_count": 2,
    }
    assert (posts["fb:1"]["tag_names"], posts["ig:1"]["tag_names"]) == ("Campaign", None)


def test_sentiment_volumes_add_up_to_the_topic_total(loaded: dict[str, Any]) -> None:
    rows = fetch(loaded["pipeline"], "daily_topic_sentiment")
    totals: dict[tuple[str, date], int] = {}
    for row in rows:
        key = (row["topic_id"], row["metric_date"])
        totals[key] = totals.get(key, 0) + row["messages_count"]
        assert row["topic_messages_count"] == sum(
            other["messages_count"]
            for other in rows
            if (other["topic_id"], other["metric_date"]) == key
        )
    raw_total = sum(row["messages_count"] for row in raw_rows.topic_metrics())
    assert totals == {("501", D1): 27, ("501", D2): 3}
    assert sum(totals.values()) == raw_total


def test_sentiment_labels_have_one_spelling(loaded: dict[str, Any]) -> None:
    rows = fetch(loaded["pipeline"], "daily_topic_sentiment")
    assert {row["sentiment"] for row in rows} == {"positive", "neutral", "negative", "unclassified"}


def test_net_sentiment_score_per_topic_and_day(loaded: dict[str, Any]) -> None:
    rows = fetch(loaded["pipeline"], "daily_topic_sentiment")
    scores = {(row["metric_date"], row["network"], row["sentiment"]): row for row in rows}
    day_one = scores[(D1, "INSTAGRAM", "negative")]
    assert day_one["net_sentiment_score"] == pytest.approx((15 - 4) / (15 + 4))
    assert (day_one["topic_positive_messages_count"], day_one["topic_negative_messages_count"]) == (
        15,
        4,
    )
    day_one_scores = [row["net_sentiment_score"] for row in rows if row["metric_date"] == D1]
    assert day_one_scores == [pytest.approx(11 / 19)] * 5
    # Only neutral messages on the second day: no score rather than a division by 0.
    assert scores[(D2, "FACEBOOK", "neutral")]["net_sentiment_score"] is None
    assert _subset(
        scores[(D1, "INSTAGRAM", "positive")],
        {"engagements": 0, "likes": 0, "potential_impressions": 0, "authors_count": 0},
    ) == {"engagements": 100, "likes": 80, "potential_impressions": 5000, "authors_count": 9}


def test_follower_snapshots_and_growth_agree(loaded: dict[str, Any]) -> None:
    rows = fetch(loaded["pipeline"], "daily_profile_performance")
    checked = 0
    for before, after in itertools.pairwise(rows):
        if before["customer_profile_id"] != after["customer_profile_id"]:
            continue
        if None in (before["followers_count"], after["followers_count"]):
            continue
        if after["net_follower_growth"] is None:
            continue
        assert after["followers_count"] - before["followers_count"] == after["net_follower_growth"]
        checked += 1
    assert checked == 2


def test_missing_snapshot_carries_the_last_one(loaded: dict[str, Any]) -> None:
    facebook = _profile_day(loaded, 102, D2)
    assert (facebook["followers_count"], facebook["net_follower_growth"]) == (2000, 0)


PROFILE_CASES: list[tuple[int, date, dict[str, Any]]] = [
    # X: likes + @replies + reposts + link clicks + other clicks + other engagements;
    # engagements_other was never loaded, so it counts as 0.
    (
        101,
        D1,
        {
            "followers_count": 1000,
            "net_follower_growth": 10,
            "impressions": 5000,
            "reach": None,
            "video_views": 300,
            "reactions": 40,
            "comments_count": 5,
            "shares_count": 4,
            "clicks": 25,
            "engagements": 30 + 5 + 4 + 12 + 8,
            "engagement_rate_per_follower": pytest.approx(59 / 1000),
            "engagement_rate_per_impression": pytest.approx(59 / 5000),
            "click_through_rate": pytest.approx(12 / 5000),
        },
    ),
    # Facebook: reactions + comments + shares + link clicks + other clicks.
    (
        102,
        D1,
        {
            "followers_count": 2000,
            "reach": 7000,
            "likes": None,
            "clicks": 30 + 15,
            "engagements": 100 + 10 + 5 + 30 + 15,
            "engagement_rate_per_follower": pytest.approx(160 / 2000),
            "engagement_rate_per_impression": pytest.approx(160 / 10000),
            "click_through_rate": pytest.approx(30 / 10000),
        },
    ),
    # Facebook with 0 impressions: rates per impression are null, not a division error.
    (102, D2, {"engagements": 1, "engagement_rate_per_impression": None}),
    # Instagram: likes + comments + shares + saves + story replies (never loaded: 0).
    (
        103,
        D1,
        {
            "reach": 6000,
            "clicks": None,
            "engagements": 200 + 20 + 6 + 9,
            "engagement_rate_per_follower": pytest.approx(235 / 3000),
            "engagement_rate_per_impression": pytest.approx(235 / 9000),
            "click_through_rate": None,
        },
    ),
    # LinkedIn: reactions + comments + shares + post clicks (all).
    (
        104,
        D1,
        {
            "reach": 1500,
            "likes": None,
            "video_views": None,
            "clicks": 41,
            "engagements": 50 + 6 + 3 + 41,
            "engagement_rate_per_follower": pytest.approx(100 / 400),
            "engagement_rate_per_impression": pytest.approx(100 / 2000),
        },
    ),
    # YouTube: growth is gained - lost; no profile-level engagements.
    (
        105,
        D1,
        {
            "followers_count": 800,
            "net_follower_growth": 12 - 2,
            "impressions": None,
            "engagements": None,
            "engagement_rate_per_follower": None,
        },
    ),
    # Threads: shares = reposts + quotes; engagements = likes + replies + shares.
    (
        106,
        D1,
        {
            "followers_count": None,
            "shares_count": 3 + 2,
            "engagements": 15 + 4 + 5,
            "engagement_rate_per_impression": None,
        },
    ),
    # TikTok: likes + comments + shares from its *_total metrics; no impressions.
    (
        107,
        D1,
        {
            "video_views": 900,
            "likes": 70,
            "engagements": 70 + 7 + 3,
            "engagement_rate_per_impression": None,
            "engagement_rate_per_follower": None,
        },
    ),
    # Pinterest: growth is gained - lost; no engagement formula at all.
    (108, D1, {"net_follower_growth": 3 - 1, "engagements": None, "comments_count": None}),
    # Bluesky has no profile metrics: the row exists for its post, metrics are null.
    (
        109,
        D1,
        {
            "followers_count": None,
            "engagements": None,
            "posts_published_count": 1,
            "profile_name": "Acme on Bluesky",
            "network": "BLUESKY",
        },
    ),
]


@pytest.mark.parametrize(
    ("profile_id", "day", "expected"),
    PROFILE_CASES,
    ids=[
        "x",
        "facebook",
        "facebook-zero-impressions",
        "instagram",
        "linkedin",
        "youtube",
        "threads",
        "tiktok",
        "pinterest",
        "bluesky",
    ],
)
def test_calculated_profile_metrics(
    loaded: dict[str, Any], profile_id: int, day: date, expected: dict[str, Any]
) -> None:
    assert _subset(_profile_day(loaded, profile_id, day), expected) == expected


POST_CASES: list[tuple[str, dict[str, Any]]] = [
    (
        "tw:1",
        {
            "engagements": 14 + 2 + 3 + 4 + 1 + 5,
            "clicks": 9,
            "reach": None,
            "engagement_rate_per_impression": pytest.approx(29 / 1000),
            "click_through_rate": pytest.approx(4 / 1000),
            # Per follower: the profile's followers on the post's day (the 2nd, 1012).
            "profile_followers_count": 1012,
            "engagement_rate_per_follower": pytest.approx(29 / 1012),
        },
    ),
    (
        "fb:1",
        {
            "engagements": 40 + 6 + 4 + 10 + 5,
            "reach": 1600,
            "engagement_rate_per_impression": pytest.approx(65 / 2000),
            "engagement_rate_per_reach": pytest.approx(65 / 1600),
            "click_through_rate": pytest.approx(10 / 2000),
            "engagement_rate_per_follower": pytest.approx(65 / 2000),
        },
    ),
    # A story's replies arrive as lifetime.comments_count and count once.
    (
        "ig:1",
        {
            "engagements": 20 + 3 + 2 + 5,
            "engagement_rate_per_reach": pytest.approx(30 / 400),
            "click_through_rate": None,
            # No snapshot on the 2nd: the 1st's carries over.
            "engagement_rate_per_follower": pytest.approx(30 / 3000),
        },
    ),
    (
        "li:1",
        {
            "engagements": 20 + 4 + 2 + 14,
            "likes": None,
            "engagement_rate_per_reach": pytest.approx(40 / 600),
            "engagement_rate_per_follower": pytest.approx(40 / 400),
        },
    ),
    # YouTube: video engagements, reactions = likes + dislikes, per view not per impression.
    (
        "yt:1",
        {
            "engagements": 10 + 50 + 5 + 5 + 3 + 2 + 1,
            "reactions": 50 + 5,
            "clicks": 2 + 1,
            "engagements_per_video_view": pytest.approx(76 / 1000),
            "engagement_rate_per_impression": None,
            "profile_followers_count": 800,
            "engagement_rate_per_follower": None,
        },
    ),
    ("th:1", {"engagements": 12 + 3 + 3, "engagement_rate_per_impression": pytest.approx(0.06)}),
    ("tt:1", {"engagements": 40 + 5 + 5, "reach": 2000, "engagement_rate_per_impression": None}),
    ("pi:1", {"engagements": None, "saves": 7, "comments_count": 2, "shares_count": None}),
    # Bluesky: shares = reposts + quotes, engagements = replies + reactions + shares.
    ("bs:1", {"shares_count": 3 + 1, "engagements": 2 + 9 + 4}),
]


@pytest.mark.parametrize(
    ("post_id", "expected"),
    POST_CASES,
    ids=[
        "x",
        "facebook",
        "instagram",
        "linkedin",
        "youtube",
        "threads",
        "tiktok",
        "pinterest",
        "bluesky",
    ],
)
def test_calculated_post_metrics(
    loaded: dict[str, Any], post_id: str, expected: dict[str, Any]
) -> None:
    assert _subset(_post(loaded, post_id), expected) == expected


@pytest.mark.parametrize(
    ("post_id", "created_date"),
    [("fb:1", date(2026, 3, 1)), ("ig:1", date(2026, 3, 2)), ("tw:1", date(2026, 3, 2))],
    ids=["facebook-2330-pacific", "instagram-0005-pacific", "x-0010-utc"],
)
def test_posts_near_midnight_land_on_the_network_day(
    loaded: dict[str, Any], post_id: str, created_date: date
) -> None:
    assert _post(loaded, post_id)["created_date"] == created_date


def test_posts_published_count_uses_the_network_day(loaded: dict[str, Any]) -> None:
    assert _profile_day(loaded, 102, D1)["posts_published_count"] == 1
    assert _profile_day(loaded, 102, D2)["posts_published_count"] == 0
    assert _profile_day(loaded, 103, D2)["posts_published_count"] == 1


def test_post_descriptors(loaded: dict[str, Any]) -> None:
    post = _post(loaded, "fb:1")
    assert _subset(post, {"profile_name": 0, "sent_by_user_name": 0, "permalink": 0}) == {
        "profile_name": "Acme on Facebook",
        "sent_by_user_name": "Pat Lee",
        "permalink": "https://example.com/fb:1",
    }
    assert _post(loaded, "tw:1")["sent_by_user_name"] == "Sam Ray"
    assert post["post_age_at_refresh_hours"] == pytest.approx(22.5)


def test_restated_metrics_replace_the_first_figures(loaded: dict[str, Any]) -> None:
    first = {
        (row["customer_profile_id"], row["reporting_date"]): row
        for row in loaded["first"]["daily_profile_performance"]
    }
    assert first[(101, D2)]["engagements"] == 20 + 2 + 3 + 10 + 5
    assert _profile_day(loaded, 101, D2)["engagements"] == 26 + 2 + 3 + 10 + 5
    first_post = next(r for r in loaded["first"]["post_performance"] if r["post_id"] == "tw:1")
    assert first_post["engagements"] == 25
    assert _post(loaded, "tw:1")["engagements"] == 29
    assert _post(loaded, "tw:1")["post_age_at_refresh_hours"] == pytest.approx(48.0)


def test_inbox_activity(loaded: dict[str, Any]) -> None:
    rows = fetch(loaded["pipeline"], "daily_inbox_activity")
    counts = [
        _subset(
            row,
            {
                "customer_profile_id": 0,
                "activity_date": 0,
                "messages_received_count": 0,
                "messages_sent_count": 0,
                "messages_replied_count": 0,
                "messages_tagged_count": 0,
                "avg_first_reply_seconds": 0,
            },
        )
        for row in rows
    ]
    assert counts == [
        {
            "customer_profile_id": 101,
            "activity_date": D1,
            "messages_received_count": 2,
            "messages_sent_count": 1,
            "messages_replied_count": 1,
            "messages_tagged_count": 1,
            "avg_first_reply_seconds": 1800,
        },
        # 07:50 UTC on the 2nd is the 1st in Los Angeles.
        {
            "customer_profile_id": 102,
            "activity_date": D1,
            "messages_received_count": 1,
            "messages_sent_count": 0,
            "messages_replied_count": 1,
            "messages_tagged_count": 0,
            "avg_first_reply_seconds": 3600,
        },
    ]


def test_rebuild_is_idempotent(loaded: dict[str, Any]) -> None:
    pipeline = loaded["pipeline"]
    before = {name: fetch(pipeline, name) for name in MART_GRAINS}
    assert build_marts(pipeline) == loaded["counts"]
    assert {name: fetch(pipeline, name) for name in MART_GRAINS} == before


@pytest.mark.parametrize(
    ("layer", "broken_sql"),
    [
        ("marts", "select posts.no_such_column from int_post_metrics_unified as posts"),
        ("staging", "select posts.no_such_column from stg_sprout__posts as posts"),
    ],
    ids=["broken-mart", "broken-view"],
)
def test_failed_build_leaves_previous_marts_intact(
    loaded: dict[str, Any], tmp_path: Path, layer: str, broken_sql: str
) -> None:
    pipeline = loaded["pipeline"]
    before = {name: fetch(pipeline, name) for name in MART_GRAINS}
    models = copy_models(tmp_path / "models")
    (models / layer / "zz_broken.sql").write_text(f"-- Broken on purpose.\n{broken_sql}\n")
    with pytest.raises(TransformError, match=f"{layer}/zz_broken.sql"):
        build_marts(pipeline, models)
    assert {name: fetch(pipeline, name) for name in MART_GRAINS} == before
    leftovers = scalar(
        pipeline,
        "select count(*) from information_schema.tables"
        f" where table_schema = '{pipeline.dataset_name}'"
        " and (table_name like '%\\_\\_new' escape '\\' or table_name = 'zz_broken')",
    )
    assert leftovers == 0


def test_missing_raw_tables_and_columns_build_empty_marts(
    new_pipeline: PipelineFactory,
) -> None:
    pipeline = new_pipeline()
    tables = raw_rows.metadata()
    tables["profile_metrics_daily"] = [raw_rows.profile_metrics()[0]]
    raw_rows.load(pipeline, tables)
    counts = build_marts(pipeline)
    assert counts == {
        "daily_inbox_activity": 0,
        "daily_profile_performance": 1,
        "daily_topic_sentiment": 0,
        "post_performance": 0,
    }
    (row,) = fetch(pipeline, "daily_profile_performance")
    assert _subset(row, {"followers_count": 0, "engagements": 0, "reach": 0}) == {
        "followers_count": 1000,
        "engagements": 59,
        "reach": None,
    }


def test_nothing_loaded_names_the_next_step(new_pipeline: PipelineFactory) -> None:
    pipeline = new_pipeline()
    with pytest.raises(TransformError, match="sprout-elt run"):
        build_marts(pipeline)
