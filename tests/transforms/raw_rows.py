"""Small hand-made raw tables, shaped as ``sources.sprout`` loads them.

Rows carry the API's own metric keys (``lifetime.likes``,
``lifetime_snapshot.followers_count``); dlt turns them into the snake_case columns
that the staging models read. Every figure that a test expects is worked out by hand
in ``test_marts.py`` from the numbers here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import dlt

D1 = date(2026, 3, 1)
D2 = date(2026, 3, 2)

PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "profiles": ("customer_profile_id",),
    "tags": ("tag_id",),
    "users": ("id",),
    "topics": ("id",),
    "profile_metrics_daily": ("customer_profile_id", "reporting_date"),
    "posts": ("guid",),
    "messages": ("guid",),
    "topic_messages": ("topic_id", "guid"),
    "topic_metrics_daily": ("topic_id", "metric_date", "network", "sentiment"),
}

PROFILES = {
    101: ("twitter", "Acme on X"),
    102: ("facebook", "Acme on Facebook"),
    103: ("fb_instagram_account", "Acme on Instagram"),
    104: ("linkedin_company", "Acme on LinkedIn"),
    105: ("youtube", "Acme on YouTube"),
    106: ("threads", "Acme on Threads"),
    107: ("tiktok", "Acme on TikTok"),
    108: ("pinterest", "Acme on Pinterest"),
    109: ("bluesky", "Acme on Bluesky"),
}


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _profile_day(profile_id: int, day: date, **metrics: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "customer_id": 1,
        "customer_profile_id": profile_id,
        "network_type": PROFILES[profile_id][0],
        "reporting_date": day,
    }
    row.update({key.replace("__", "."): value for key, value in metrics.items()})
    return row


# Keyword names use "__" where the API key has a dot.
FOLLOWERS = "lifetime_snapshot__followers_count"


def profile_metrics(restated: bool = False) -> list[dict[str, Any]]:
    """Daily profile metrics; ``restated`` gives X's second day as re-read later.

    No row has ``engagements_other`` or ``story_replies``, so dlt never creates
    those columns.
    """
    x_day2_likes = 26 if restated else 20
    return [
        _profile_day(
            101,
            D1,
            **{FOLLOWERS: 1000},
            net_follower_growth=10,
            impressions=5000,
            video_views=300,
            reactions=40,
            likes=30,
            comments_count=5,
            shares_count=4,
            post_content_clicks=25,
            post_link_clicks=12,
            post_content_clicks_other=8,
        ),
        _profile_day(
            101,
            D2,
            **{FOLLOWERS: 1012},
            net_follower_growth=12,
            impressions=4000,
            likes=x_day2_likes,
            comments_count=2,
            shares_count=3,
            post_link_clicks=10,
            post_content_clicks_other=5,
        ),
        _profile_day(
            102,
            D1,
            **{FOLLOWERS: 2000},
            net_follower_growth=20,
            impressions=10000,
            impressions_unique=7000,
            video_views=800,
            reactions=100,
            comments_count=10,
            shares_count=5,
            post_link_clicks=30,
            post_content_clicks_other=15,
        ),
        # No follower snapshot on Facebook's second day: the last one carries over.
        _profile_day(
            102,
            D2,
            net_follower_growth=0,
            impressions=0,
            reactions=1,
            comments_count=0,
        ),
        _profile_day(
            103,
            D1,
            **{FOLLOWERS: 3000},
            net_follower_growth=30,
            impressions=9000,
            impressions_unique=6000,
            video_views=500,
            reactions=210,
            likes=200,
            comments_count=20,
            shares_count=6,
            saves=9,
        ),
        _profile_day(
            104,
            D1,
            **{FOLLOWERS: 400},
            net_follower_growth=4,
            impressions=2000,
            impressions_unique=1500,
            reactions=50,
            comments_count=6,
            shares_count=3,
            post_content_clicks=41,
        ),
        # YouTube's growth is gained - lost by its formula, whatever net_follower_growth says.
        _profile_day(
            105,
            D1,
            **{FOLLOWERS: 800},
            followers_gained=12,
            followers_lost=2,
            net_follower_growth=999,
        ),
        # Threads' shares are reposts + quotes by its formula, not shares_count.
        _profile_day(
            106,
            D1,
            likes=15,
            comments_count=4,
            reposts_count=3,
            quotes_count=2,
            shares_count=99,
        ),
        _profile_day(
            107,
            D1,
            **{FOLLOWERS: 600},
            net_follower_growth=6,
            likes_total=70,
            comments_count_total=7,
            shares_count_total=3,
            video_views_total=900,
        ),
        _profile_day(108, D1, **{FOLLOWERS: 50}, followers_gained=3, followers_lost=1),
    ]


def _post(
    guid: str,
    profile_id: int,
    network: str,
    post_type: str,
    created: str,
    tag_ids: Iterable[int] = (),
    sent_by: dict[str, Any] | None = None,
    refreshed: str = "2026-03-03T06:00:00",
    **metrics: int,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "guid": guid,
        "customer_id": 1,
        "customer_profile_id": profile_id,
        "network": network,
        "post_type": post_type,
        "post_category": "POST",
        "content_category": "TEXT",
        "created_time": _utc(created),
        "text": f"post {guid}",
        "perma_link": f"https://example.com/{guid}",
        "tag_ids": list(tag_ids),
        "metrics_refreshed_at": _utc(refreshed),
    }
    if sent_by is not None:
        row["internal"] = {"sent_by": sent_by}
    row.update({f"lifetime.{key}": value for key, value in metrics.items()})
    return row


def posts(restated: bool = False) -> list[dict[str, Any]]:
    """One post per network; ``restated`` gives the X post's likes as re-read later."""
    return [
        _post(
            "tw:1",
            101,
            "TWITTER",
            "TWEET",
            "2026-03-02T00:10:00",
            [11, 12],
            {"id": 900},
            "2026-03-04T00:10:00" if restated else "2026-03-03T00:10:00",
            impressions=1000,
            likes=14 if restated else 10,
            comments_count=2,
            shares_count=3,
            post_link_clicks=4,
            post_content_clicks_other=1,
            engagements_other=5,
            post_content_clicks=9,
            video_views=50,
            reactions=12,
        ),
        # 07:30 UTC is 23:30 the day before in Los Angeles (PST, UTC-8).
        _post(
            "fb:1",
            102,
            "FACEBOOK",
            "FACEBOOK_POST",
            "2026-03-02T07:30:00",
            [11],
            {"id": 901, "first_name": "Pat", "last_name": "Lee"},
            impressions=2000,
            impressions_unique=1600,
            reactions=40,
            likes=30,
            comments_count=6,
            shares_count=4,
            post_link_clicks=10,
            post_content_clicks_other=5,
            post_content_clicks=20,
        ),
        # 08:05 UTC is 00:05 in Los Angeles: the same calendar day.
        _post(
            "ig:1",
            103,
            "INSTAGRAM",
            "INSTAGRAM_STORY",
            "2026-03-02T08:05:00",
            impressions=500,
            impressions_unique=400,
            likes=20,
            comments_count=3,
            shares_count=2,
            saves=5,
            reactions=20,
        ),
        _post(
            "li:1",
            104,
            "LINKEDIN",
            "LINKEDIN_COMPANY_UPDATE",
            "2026-03-01T12:00:00",
            impressions=800,
            impressions_unique=600,
            reactions=20,
            comments_count=4,
            shares_count=2,
            post_content_clicks=14,
        ),
        _post(
            "yt:1",
            105,
            "YOUTUBE",
            "YOUTUBE_VIDEO",
            "2026-03-01T20:00:00",
            video_views=1000,
            likes=50,
            dislikes=5,
            comments_count=10,
            shares_count=5,
            subscribers_gained=3,
            annotation_clicks=2,
            card_clicks=1,
            reactions=55,
        ),
        _post(
            "th:1",
            106,
            "THREADS",
            "THREADS_POST",
            "2026-03-01T10:00:00",
            impressions=300,
            reactions=12,
            likes=12,
            comments_count=3,
            shares_count=3,
        ),
        _post(
            "tt:1",
            107,
            "TIKTOK",
            "TIKTOK_VIDEO",
            "2026-03-01T09:00:00",
            likes=40,
            comments_count=5,
            shares_count=5,
            impressions_unique=2000,
            video_views=3000,
            reactions=40,
        ),
        _post(
            "pi:1",
            108,
            "PINTEREST",
            "PINTEREST_PIN",
            "2026-03-01T09:00:00",
            comments_count=2,
            saves=7,
        ),
        _post(
            "bs:1",
            109,
            "BLUESKY",
            "BLUESKY_POST",
            "2026-03-01T15:00:00",
            comments_count=2,
            likes=9,
            reactions=9,
            reposts_count=3,
            quotes_count=1,
            shares_count=99,
        ),
    ]


def _message(
    guid: str,
    profile_id: int,
    network: str,
    created: str,
    author: str,
    profile_guid: str,
    replied: str | None = None,
    tag_ids: Iterable[int] = (),
    sent_by: int | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "guid": guid,
        "customer_id": 1,
        "group_id": 7,
        "customer_profile_id": profile_id,
        "network": network,
        "post_type": "TWEET" if network == "TWITTER" else "FBCR_COMMENT",
        "created_time": _utc(created),
        "from": {"guid": author, "name": author},
        "profile_guid": profile_guid,
        "tag_ids": list(tag_ids),
    }
    if replied is not None:
        row["activity_metadata"] = {"first_reply": {"action_time": _utc(replied)}}
    if sent_by is not None:
        row["internal"] = {"sent_by": {"id": sent_by}}
    return row


def messages() -> list[dict[str, Any]]:
    """Inbox messages of the X and Facebook profiles."""
    return [
        _message(
            "m1",
            101,
            "TWITTER",
            "2026-03-01T10:00:00",
            "tw:fan",
            "tw:acme",
            replied="2026-03-01T10:30:00",
            tag_ids=[12],
        ),
        _message("m2", 101, "TWITTER", "2026-03-01T11:00:00", "tw:fan", "tw:acme"),
        _message("m3", 101, "TWITTER", "2026-03-01T10:30:00", "tw:acme", "tw:acme", sent_by=900),
        # 07:50 UTC is 23:50 the day before in Los Angeles.
        _message(
            "m4",
            102,
            "FACEBOOK",
            "2026-03-02T07:50:00",
            "fb:fan",
            "fb:acme",
            replied="2026-03-02T08:50:00",
        ),
    ]


def _topic_day(day: date, network: str, sentiment: str, messages: int) -> dict[str, Any]:
    return {
        "customer_id": 1,
        "topic_id": "501",
        "metric_date": day,
        "network": network,
        "sentiment": sentiment,
        "messages_count": float(messages),
        "engagements": float(messages * 10),
        "likes": float(messages * 8),
        "replies": float(messages),
        "shares_count": float(messages),
        "impressions": float(messages * 500),
        "authors_count": float(messages - 1),
    }


def topic_metrics() -> list[dict[str, Any]]:
    """Topic 501's metrics; one label arrives upper case, as the API sometimes sends."""
    return [
        _topic_day(D1, "INSTAGRAM", "positive", 10),
        _topic_day(D1, "INSTAGRAM", "negative", 4),
        _topic_day(D1, "INSTAGRAM", "neutral", 6),
        _topic_day(D1, "FACEBOOK", "positive", 5),
        _topic_day(D1, "FACEBOOK", "UNCLASSIFIED", 2),
        _topic_day(D2, "FACEBOOK", "neutral", 3),
    ]


def metadata() -> dict[str, list[dict[str, Any]]]:
    """Customers, profiles, tags, users and topics."""
    return {
        "customers": [{"customer_id": 1, "name": "Acme"}],
        "profiles": [
            {
                "customer_profile_id": profile_id,
                "customer_id": 1,
                "network_type": network_type,
                "name": name,
                "native_name": name.lower().replace(" ", "_"),
                "native_id": str(profile_id * 1000),
                "groups": [7],
            }
            for profile_id, (network_type, name) in PROFILES.items()
        ],
        "tags": [
            {
                "tag_id": 11,
                "customer_id": 1,
                "text": "Campaign",
                "type": "CAMPAIGN",
                "active": True,
                "any_group": True,
            },
            {
                "tag_id": 12,
                "customer_id": 1,
                "text": "Support",
                "type": "LABEL",
                "active": True,
                "any_group": True,
            },
        ],
        "users": [{"id": 900, "customer_id": 1, "name": "Sam Ray", "email": "sam@example.com"}],
        "topics": [
            {
                "id": "501",
                "customer_id": 1,
                "name": "Brand",
                "topic_type": "BRAND_HEALTH",
                "availability_time": _utc("2025-01-01T00:00:00"),
            },
            {
                "id": "502",
                "customer_id": 1,
                "name": "Competitor",
                "topic_type": "COMPETITOR",
                "availability_time": _utc("2025-01-01T00:00:00"),
            },
        ],
    }


def all_tables(restated: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Every raw table of the hand-made account."""
    tables = metadata()
    tables["profile_metrics_daily"] = profile_metrics(restated)
    tables["posts"] = posts(restated)
    tables["messages"] = messages()
    tables["topic_metrics_daily"] = topic_metrics()
    tables["topic_messages"] = [
        {
            "topic_id": "501",
            "guid": "tm1",
            "customer_id": 1,
            "network": "INSTAGRAM",
            "created_time": _utc("2026-03-01T12:00:00"),
            "sentiment": "POSITIVE",
            "language": "en",
        },
    ]
    return tables


def load(pipeline: Any, tables: dict[str, list[dict[str, Any]]]) -> None:
    """Load ``tables`` the way the source does: merged on each table's key."""
    resources = [
        dlt.resource(
            rows,
            name=name,
            primary_key=list(PRIMARY_KEYS[name]),
            write_disposition="merge",
        )
        for name, rows in tables.items()
    ]
    pipeline.run(resources)
