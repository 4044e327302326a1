"""Every example request body of the reference, replayed with the world's ids.

The bodies are transcribed from sprout-api-docs.txt and sprout-docs/*.md. Ids are
swapped for ids of the sandbox (``{profiles}``, ``{group}``, ...); the example
``page_cursor`` values ("123abc==") are placeholders for a cursor from an earlier page,
so they are left out. Old example dates must give well-formed (possibly empty) pages.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from sprout_sandbox.world import World

CUSTOMER = 100001

PROFILES = [
    {
        "filters": [
            "customer_profile_id.eq({profiles})",
            "reporting_period.in(2018-08-01...2018-10-01)",
        ],
        "metrics": ["impressions", "reactions"],
        "page": 1,
    },
    {
        "filters": [
            "customer_profile_id.eq({profiles})",
            "reporting_period.in(2018-01-01...2018-02-01)",
        ],
        "metrics": ["impressions", "likes"],
    },
    {
        "filters": [
            "customer_profile_id.eq({profiles})",
            "reporting_period.in(2026-11-01...2026-11-08)",
        ],
        "metrics": ["impressions", "reactions"],
        "page": 1,
    },
]
POSTS = [
    {
        "fields": [
            "created_time",
            "perma_link",
            "text",
            "internal.tags.id",
            "internal.sent_by.id",
            "internal.sent_by.email",
            "internal.sent_by.first_name",
            "internal.sent_by.last_name",
        ],
        "filters": [
            "customer_profile_id.eq({profiles})",
            "created_time.in(2020-04-06T00:00:00..2020-04-19T23:59:59)",
        ],
        "metrics": ["lifetime.impressions", "lifetime.reactions"],
        "timezone": "America/Chicago",
        "page": 1,
    },
    {
        "filters": ["customer_profile_id.eq({profiles})"],
        "fields": ["guid"],
        "sort": ["guid:asc"],
        "limit": 2,
    },
    {
        "filters": ["guid.gt({guid})", "customer_profile_id.eq({profiles})"],
        "fields": ["guid"],
        "sort": ["guid:asc"],
        "limit": 2,
    },
    {
        "filters": [
            "customer_profile_id.eq({profiles})",
            "created_time.in(2018-01-01...2018-02-01)",
        ],
        "fields": ["content_category", "created_time", "from.name"],
        "sort": ["created_time:asc"],
    },
]
MESSAGES = [
    {
        "filters": [
            "group_id.eq({group})",
            "customer_profile_id.eq({group_profiles})",
            "created_time.in(2020-04-06T00:00:00..2020-04-19T23:59:59)",
            "action_last_update_time.in(2020-08-06T00:00:00..2021-02-28T23:59:59)",
            "post_type.eq(TWEET,FACEBOOK_POST,INSTAGRAM_DIRECT_MESSAGE)",
        ],
        "fields": [
            "network", "activity_metadata.first_like.time_elapsed", "created_time",
            "post_category", "post_type", "perma_link", "text", "from", "profile_guid",
            "internal.tags.id", "internal.sent_by.id", "internal.sent_by.email",
        ],
        "sort": ["created_time:desc"],
        "limit": 50,
        "timezone": "America/Chicago",
    },
    {
        "filters": [
            "group_id.eq({group})",
            "customer_profile_id.eq({group_profiles})",
            "created_time.in(2026-11-01..2026-11-08)",
        ],
        "fields": ["post_type", "created_time", "from.name", "text"],
        "limit": 10,
    },
    {"filters": ["message_id.eq({message_ids})"]},
    {"filters": ["group_id.eq({group})", "created_time.in(2026-11-01...2026-11-08)",
                 "post_type.eq(TWITTER_DIRECT_MESSAGE, INSTAGRAM_MEDIA)"]},
    {"filters": ["group_id.eq({group})", "created_time.in(2026-11-01...2026-11-08)",
                 "tag_id.eq({tags})"]},
    {"filters": ["group_id.eq({group})", "created_time.in(2026-11-01...2026-11-08)",
                 "language_code.eq(en, es, fr)"]},
    {"filters": ["group_id.eq({group})", "created_time.in(2026-11-01...2026-11-08)",
                 "from.guid.eq(ytpr:1234)"]},
    {"filters": ["group_id.eq({group})", "created_time.in(2022-01-01...2022-02-01)",
                 "action_last_update_time.in(2022-01-01...2022-02-01)"]},
]  # fmt: skip
CASES = [
    {
        "filters": [
            "created_by.eq(urn:spt:core:account_login:{user})",
            "created_time.in(2025-02-06T00:00:00..2020-02-12T23:59:59)",
            "updated_time.in(2025-02-10...2025-02-13)",
            "priority.eq(HIGH, LOW, UNDEFINED)",
            "status.eq(OPEN, IN_PROGRESS, ON_HOLD, CLOSED)",
            "assigned_to.eq(urn:spt:core:account_login:{user})",
            "type.eq(general, support, lead, question, feedback)",
            "queue_id.eq({queue})",
            "message_id.eq(igdm:aWdddfZAG1faXRlbToxOklHTWVz)",
        ],
        "sort": ["created_time:desc"],
        "limit": 50,
        "timezone": "America/Chicago",
    },
    {
        "filters": ["case_id.eq({cases})"],
        "sort": ["created_time:desc"],
        "timezone": "America/Chicago",
    },
    {"filters": ["updated_time.in(2026-11-01...2026-11-08)", "priority.eq(HIGH, LOW, UNDEFINED)"]},
    {"filters": ["created_time.in(2026-11-01...2026-11-08)", "queue_id.eq({queue})",
                 "type.eq(GENERAL, SUPPORT, LEAD, QUESTION, FEEDBACK)",
                 "priority.eq(HIGH, LOW, CRITICAL, MEDIUM, UNDEFINED)",
                 "status.eq(OPEN, ON_HOLD, CLOSED)",
                 "message_id.eq(igdm:aWdddfZAG1faXRlbToxOklHTWVz)",
                 "tag_id.eq({tags})", "tag_id.neq(123,431,103)",
                 "assigned_by.eq(urn:spt:core:account_login:{user}, "
                 "urn:spt:core:automated_rule:12345)",
                 "created_by.eq(urn:spt:core:accont_login:8989, urn:spt:core:automated_rule:12345)",
                 "assigned_to.eq(urn:spt:core:account_login:{user})"]},
    {"filters": ["latest_activity_time.in(2026-11-01...2026-11-08)"]},
]  # fmt: skip
TOPIC_MESSAGES = [
    {
        "filters": [
            "created_time.in(2022-11-28..2022-12-29T23:59:59)",
            "explicit_label.exists(false), explicit_label.eq(false)",
            "network.eq(INSTAGRAM,YOUTUBE,LINKEDIN,TUMBLR,WWW,TIKTOK)",
        ],
        "fields": ["content_category", "created_time", "hashtags", "language", "location.city"],
        "metrics": [
            "engagements", "from.followers_count", "likes", "replies", "shares_count",
            "authors_count", "positive_sentiments_count", "neutral_sentiments_count",
            "negative_sentiments_count",
        ],
        "sort": ["created_time:desc"],
        "timezone": "America/Chicago",
        "limit": 50,
        "page": 1,
    },
    {
        "filters": ["created_time.in(2018-01-01...2018-02-01)"],
        "metrics": ["impressions", "likes"],
        "fields": ["content_category", "created_time", "from.name"],
        "sort": ["created_time:asc"],
        "timezone": "America/Chicago",
    },
    *(
        {"filters": ["created_time.in(2026-11-01...2026-11-08)", f], "fields": ["text"]}
        for f in [
            "likes.gt(10)", "engagement_total.gte(5)", "replies.lt(5)", "impressions.lte(1000)",
            "created_time.in(2023-05-01…2023-06-01T23:59:59)", "network.eq(TWITTER,INSTAGRAM)",
            "network.neq(FACEBOOK)", "visual_media.exists(true)", "text.match(blue OR red)",
            "text.match(“the blue car”)", "text.match(blue red green)",
        ]
    ),
]  # fmt: skip
TOPIC_METRICS = [
    {
        "filters": [
            "created_time.in(2022-11-28..2022-12-29T23:59:59)",
            "text.match(blue car)",
            "network.eq(INSTAGRAM,YOUTUBE,LINKEDIN,TUMBLR,WWW,TIKTOK,BLUESKY)",
        ]
    },
    {
        "filters": [
            "created_time.in(2022-11-28..2022-11-30)",
            "network.eq(INSTAGRAM,YOUTUBE,LINKEDIN,TUMBLR,WWW,TIKTOK)",
        ],
        "metrics": ["replies", "shares_count", "likes"],
        "dimensions": ["created_time.by(day)", "sentiment"],
        "timezone": "America/Chicago",
    },
    {
        "filters": [
            "created_time.in(2022-11-28..2022-12-29T23:59:59)",
            "network.eq(INSTAGRAM,YOUTUBE,LINKEDIN,REDDIT,TUMBLR,WWW)",
            "sentiment.eq(positive,negative,neutral,unclassified)",
        ],
        "metrics": ["replies", "shares_count", "likes"],
        "dimensions": ["sentiment"],
        "timezone": "America/Chicago",
    },
    {
        "filters": ["created_time.in(2026-11-01..2026-11-08)", "text.match(blue car)"],
        "metrics": ["replies", "shares_count", "likes"],
        "dimensions": ["created_time.by(day)", "sentiment"],
        "timezone": "America/Chicago",
    },
]

CASES_BY_ENDPOINT = [
    ("analytics/profiles", PROFILES),
    ("analytics/posts", POSTS),
    ("messages", MESSAGES),
    ("cases/filter", CASES),
    ("listening/topics/{topic}/messages", TOPIC_MESSAGES),
    ("listening/topics/{topic}/metrics", TOPIC_METRICS),
]
EXAMPLES = [(path, body) for path, bodies in CASES_BY_ENDPOINT for body in bodies]


def _ids(client: TestClient, world: World) -> dict[str, str]:
    group = world.groups(CUSTOMER)[0]["group_id"]
    group_profiles = world.group_profiles(group)
    first = client.post(
        f"/v1/{CUSTOMER}/analytics/posts",
        json={"filters": [f"customer_profile_id.eq({group_profiles[0]})"], "sort": ["guid:asc"]},
    ).json()["data"]
    messages = client.post(
        f"/v1/{CUSTOMER}/messages",
        json={"filters": [f"group_id.eq({group})", "created_time.in(2026-11-01...2026-11-02)"]},
    ).json()["data"]
    cases = client.post(
        f"/v1/{CUSTOMER}/cases/filter",
        json={"filters": ["created_time.in(2026-11-01...2026-11-02)"]},
    ).json()["data"]
    return {
        "profiles": ", ".join(str(p) for p in world.customer_profile_ids(CUSTOMER)[:3]),
        "group": str(group),
        "group_profiles": ", ".join(str(p) for p in group_profiles[:3]),
        "guid": first[1]["guid"],
        "message_ids": ", ".join(m["guid"] for m in messages[:2]),
        "cases": ",".join(c["case_id"] for c in cases[:3]),
        "tags": ", ".join(str(t["tag_id"]) for t in world.tags(CUSTOMER)[:3]),
        "user": str(world.users(CUSTOMER)[0]["id"]),
        "queue": world.queues(CUSTOMER)[0]["id"],
        "topic": world.topics(CUSTOMER)[0]["id"],
    }


def _fill(value: Any, ids: dict[str, str]) -> Any:
    text = json.dumps(value, ensure_ascii=False)
    for key, replacement in ids.items():
        text = text.replace("{" + key + "}", replacement)
    return json.loads(text)


@pytest.mark.parametrize(
    ("path", "body"),
    EXAMPLES,
    ids=[f"{path.split('/')[-1]}-{i}" for i, (path, _) in enumerate(EXAMPLES)],
)
def test_reference_example_gets_200_with_documented_shape(
    client: TestClient, small_world: World, path: str, body: dict[str, Any]
) -> None:
    ids = _ids(client, small_world)
    response = client.post(f"/v1/{CUSTOMER}/{_fill(path, ids)}", json=_fill(body, ids))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert isinstance(answer["data"], list)
    if path.startswith("analytics") or (path.endswith("messages") and "topics" in path):
        assert answer["paging"]["current_page"] == body.get("page", 1)
    if path == "analytics/profiles" or path.endswith("metrics"):
        assert all(set(row) == {"dimensions", "metrics"} for row in answer["data"])
    if path in ("messages", "cases/filter"):
        assert set(answer.get("paging", {})) <= {"next_cursor"}


def test_examples_with_current_dates_return_data(client: TestClient, small_world: World) -> None:
    ids = _ids(client, small_world)
    for path, body in [("analytics/profiles", PROFILES[2]), ("messages", MESSAGES[1]),
                       ("listening/topics/{topic}/metrics", TOPIC_METRICS[3])]:  # fmt: skip
        answer = client.post(f"/v1/{CUSTOMER}/{_fill(path, ids)}", json=_fill(body, ids)).json()
        assert answer["data"], path
