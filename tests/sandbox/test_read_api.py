"""The read endpoints over HTTP: shapes, validation, paging and cursors."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from sprout_sandbox.config import SandboxConfig, Scale
from sprout_sandbox.world import World
from tests.sandbox.conftest import CLOCK, read_app

CUSTOMER = 100001
OTHER = 100002


def post(client: TestClient, path: str, body: Any) -> Any:
    return client.post(f"/v1/{CUSTOMER}{path}", json=body)


def ids(world: World, customer: int = CUSTOMER) -> str:
    return ", ".join(str(p) for p in world.customer_profile_ids(customer))


def error_of(response: Any, status: int = 400) -> str:
    assert response.status_code == status, response.text
    message: str = response.json()["error"]
    return message


# Metadata -----------------------------------------------------------------------------------


def test_client_lists_only_the_customers_the_token_may_read(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(SandboxConfig(now=CLOCK), frozenset({OTHER}))
    assert client.get("/v1/metadata/client").json() == {
        "data": [{"customer_id": OTHER, "name": "Bluebird Outfitters 2"}]
    }


@pytest.mark.parametrize(
    ("path", "keys"),
    [
        ("", {"customer_profile_id", "network_type", "name", "native_name", "native_id", "groups"}),
        ("/tags", {"tag_id", "any_group", "active", "text", "type", "groups"}),
        ("/groups", {"group_id", "name"}),
        ("/users", {"id", "name", "email"}),
        ("/teams", {"id", "name", "description"}),
        ("/queues", {"id", "name", "description", "associated_teams"}),
    ],
    ids=["profiles", "tags", "groups", "users", "teams", "queues"],
)
def test_metadata_listings(client: TestClient, path: str, keys: set[str]) -> None:
    body = client.get(f"/v1/{CUSTOMER}/metadata/customer{path}").json()
    assert body["data"]
    assert all(set(row) == keys for row in body["data"])


def test_topics_are_a_bare_array_with_epoch_milliseconds(client: TestClient) -> None:
    topics = client.get(f"/v1/{CUSTOMER}/metadata/customer/topics").json()
    assert isinstance(topics, list) and len(topics) == 2
    assert isinstance(topics[0]["availability_time"], int)
    assert topics[0]["availability_time"] == int(
        datetime(2026, 10, 2, 9, 32, tzinfo=UTC).timestamp() * 1000
    )
    assert {"id", "name", "topic_type", "description", "group_id", "theme_groups"} <= set(topics[0])


def test_wrong_verb_is_405(client: TestClient) -> None:
    assert client.post(f"/v1/{CUSTOMER}/metadata/customer/tags").status_code == 405
    assert client.get(f"/v1/{CUSTOMER}/analytics/posts").status_code == 405


# Request bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "is not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (
            b'{"filters": "customer_profile_id.eq(1)"}',
            "`filters` of analytics/posts must be a list",
        ),
        (
            b'{"filters": ["customer_profile_id.eq(1000001)"], "limit": "10"}',
            "`limit` of analytics/posts must be an integer",
        ),
    ],
    ids=["invalid-json", "not-an-object", "filters-not-a-list", "limit-not-an-integer"],
)
def test_malformed_bodies_are_400(client: TestClient, content: bytes, message: str) -> None:
    response = client.post(
        f"/v1/{CUSTOMER}/analytics/posts",
        content=content,
        headers={"Content-Type": "application/json"},
    )
    assert message in error_of(response)


# Analytics: profiles ------------------------------------------------------------------------


def profiles_body(world: World, period: str, metrics: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "filters": [f"customer_profile_id.eq({ids(world)})", f"reporting_period.in({period})"],
        "metrics": metrics,
        **extra,
    }


def test_profile_rows_are_day_by_profile_with_flat_metric_keys(
    client: TestClient, small_world: World
) -> None:
    body = profiles_body(
        small_world, "2026-11-01...2026-11-03", ["lifetime_snapshot.followers_count", "saves"]
    )
    answer = post(client, "/analytics/profiles", body).json()
    assert answer["paging"] == {"current_page": 1, "total_pages": 1}
    assert len(answer["data"]) == 2 * 9
    first = answer["data"][0]
    assert first["dimensions"] == {
        "reporting_period.by(day)": "2026-11-01",
        "customer_profile_id": small_world.customer_profile_ids(CUSTOMER)[0],
    }
    instagram = small_world.customer_profile_ids(CUSTOMER)[2]
    rows = {r["dimensions"]["customer_profile_id"]: r["metrics"] for r in answer["data"][:9]}
    assert set(rows[instagram]) == {"lifetime_snapshot.followers_count", "saves"}
    assert set(rows[first["dimensions"]["customer_profile_id"]]) == {
        "lifetime_snapshot.followers_count"
    }


def test_profile_paging_to_the_end_and_past_it(client: TestClient, small_world: World) -> None:
    body = profiles_body(small_world, "2026-11-01..2026-11-30", ["impressions"], limit=100)
    pages, page = [], 1
    while True:
        answer = post(client, "/analytics/profiles", {**body, "page": page}).json()
        pages.append(answer["data"])
        if answer["paging"]["current_page"] == answer["paging"]["total_pages"]:
            break
        page += 1
    assert page == 3 and sum(len(p) for p in pages) == 30 * 9
    assert "past the last page (3)" in error_of(
        post(client, "/analytics/profiles", {**body, "page": 4})
    )


def test_old_reporting_periods_answer_an_empty_page(client: TestClient, small_world: World) -> None:
    answer = post(
        client,
        "/analytics/profiles",
        profiles_body(small_world, "2018-08-01...2018-10-01", ["impressions"]),
    ).json()
    assert answer == {"data": [], "paging": {"current_page": 1, "total_pages": 1}}


@pytest.mark.parametrize(
    ("filters", "metrics", "message"),
    [
        (
            [
                "customer_profile_id.eq(" + ",".join(str(1_000_001 + i) for i in range(101)) + ")",
                "reporting_period.in(2026-11-01...2026-11-02)",
            ],
            ["impressions"],
            "at most 100",
        ),
        (
            ["customer_profile_id.eq(1000001)", "reporting_period.in(2025-11-01..2026-11-02)"],
            ["impressions"],
            "at most one year",
        ),
        (
            ["customer_profile_id.eq(1000001)", "reporting_period.in(2026-11-01...2026-11-02)"],
            ["impresions"],
            "unknown metric 'impresions'",
        ),
        (
            ["customer_profile_id.eq(1000001)", "reporting_period.in(2026-11-01...2026-11-02)"],
            ["post_impressions"],
            "unknown metric 'post_impressions'",
        ),
        (["customer_profile_id.eq(1000001)"], ["impressions"], "needs the filter reporting_period"),
        (["reporting_period.in(2026-11-01...2026-11-02)"], ["impressions"], "customer_profile_id"),
        (
            ["customer_profile_id.eq(1000001)", "created_time.in(2026-11-01...2026-11-02)"],
            ["impressions"],
            "unknown filter 'created_time'",
        ),
        (
            ["customer_profile_id.eq(1000001)", "reporting_period.in(2026-11-01...2026-11-02)"],
            [],
            "`metrics` of analytics/profiles",
        ),
    ],
    ids=[
        "over-100-profiles",
        "over-one-year",
        "unknown-metric",
        "retired-metric",
        "no-period",
        "no-profiles",
        "undocumented-filter",
        "no-metrics",
    ],
)
def test_profile_validation(
    client: TestClient, filters: list[str], metrics: list[str], message: str
) -> None:
    response = post(client, "/analytics/profiles", {"filters": filters, "metrics": metrics})
    assert message in error_of(response)


def test_profiles_of_another_customer_are_403(client: TestClient, small_world: World) -> None:
    other = small_world.customer_profile_ids(OTHER)[0]
    body = {
        "filters": [
            f"customer_profile_id.eq({other})",
            "reporting_period.in(2026-11-01...2026-11-02)",
        ],
        "metrics": ["impressions"],
    }
    assert f"customer_profile_id {other}" in error_of(
        post(client, "/analytics/profiles", body), 403
    )


def test_too_large_a_scope_is_504(make_client: Callable[..., TestClient]) -> None:
    config = SandboxConfig(now=CLOCK, max_scope_profile_days=100)
    world = World(config)
    client = make_client(config)
    body = profiles_body(world, "2026-11-01...2026-11-30", ["impressions"])
    assert "decrease the scope" in error_of(post(client, "/analytics/profiles", body), 504)


# Analytics: posts ---------------------------------------------------------------------------


def posts_body(world: World, *filters: str, **extra: Any) -> dict[str, Any]:
    return {"filters": [f"customer_profile_id.eq({ids(world)})", *filters], **extra}


def test_posts_default_to_the_guid_only(client: TestClient, small_world: World) -> None:
    answer = post(
        client,
        "/analytics/posts",
        posts_body(small_world, "created_time.in(2026-11-01...2026-11-02)"),
    ).json()
    assert answer["data"] and all(set(row) == {"guid"} for row in answer["data"])
    assert answer["paging"]["current_page"] == 1


def test_post_fields_metrics_and_sort(client: TestClient, small_world: World) -> None:
    body = posts_body(
        small_world,
        "created_time.in(2026-11-01...2026-11-08)",
        fields=["created_time", "internal.tags.id", "internal.sent_by.email", "from.name"],
        metrics=["lifetime.impressions", "lifetime.saves"],
        sort=["created_time:asc"],
        limit=100,
    )
    rows = post(client, "/analytics/posts", body).json()["data"]
    times = [r["created_time"] for r in rows]
    assert times == sorted(times) and times[0].endswith("Z")
    assert all(set(r["metrics"]) <= {"lifetime.impressions", "lifetime.saves"} for r in rows)
    assert any(set(r["metrics"]) == {"lifetime.impressions"} for r in rows)
    assert all(set(r["internal"]) <= {"tags", "sent_by"} for r in rows)
    assert all(set(r["internal"].get("sent_by", {})) <= {"email"} for r in rows)


def test_timezone_shifts_date_filters_only(client: TestClient, small_world: World) -> None:
    def window(tz: str) -> list[str]:
        body = posts_body(
            small_world,
            "created_time.in(2026-11-10...2026-11-11)",
            fields=["created_time"],
            limit=100,
            timezone=tz,
        )
        return sorted(
            r["created_time"] for r in post(client, "/analytics/posts", body).json()["data"]
        )

    utc, chicago = window("UTC"), window("America/Chicago")
    assert utc[0] >= "2026-11-10T00:00:00Z" and utc[-1] < "2026-11-11T00:00:00Z"
    assert chicago[0] >= "2026-11-10T06:00:00Z" and chicago[-1] < "2026-11-11T06:00:00Z"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"limit": 101}, "between 1 and 100"),
        ({"fields": ["guid", "colour"]}, "unknown field 'colour'"),
        ({"fields": ["activity_metadata"]}, "unknown field 'activity_metadata'"),
        ({"metrics": ["impressions"]}, "unknown metric 'impressions'"),
        ({"sort": ["likes:desc"]}, "sort ['likes:desc']"),
        ({"page": 9}, "past the last page"),
        ({"timezone": "Central"}, "timezone 'Central'"),
    ],
    ids=["limit", "field", "messages-only-field", "metric", "sort", "page", "timezone"],
)
def test_post_validation(
    client: TestClient, small_world: World, extra: dict[str, Any], message: str
) -> None:
    body = posts_body(small_world, "created_time.in(2026-11-01...2026-11-02)", **extra)
    assert message in error_of(post(client, "/analytics/posts", body))


@pytest.fixture(scope="module")
def busy() -> Iterator[tuple[World, TestClient]]:
    """Two profiles posting about 90 times a day for 60 days: past the 10,000 cap."""
    scale = Scale(customers=1, profiles=2, days=60, posts_per_day=90.0, topics=1)
    world = World(SandboxConfig(scale=scale, now=CLOCK))
    with TestClient(read_app(world)) as client:
        yield world, client


def test_results_are_capped_at_10000(busy: tuple[World, TestClient]) -> None:
    world, client = busy
    answer = post(client, "/analytics/posts", posts_body(world, limit=30)).json()
    assert answer["paging"]["total_pages"] == 334  # 10,000 / 30, rounded up
    last = post(client, "/analytics/posts", posts_body(world, limit=30, page=334)).json()
    assert len(last["data"]) == 10  # results 9,991 to 10,000; the rest is out of reach
    assert "past the last page" in error_of(
        post(client, "/analytics/posts", posts_body(world, limit=30, page=335))
    )


def test_guid_walk_reaches_every_post_exactly_once(busy: tuple[World, TestClient]) -> None:
    world, client = busy
    expected = {
        item.guid
        for pid in world.customer_profile_ids(CUSTOMER)
        for day in range(int(world.start_epoch // 86_400), int(world.now_epoch // 86_400) + 1)
        for item in world.content.post_items(pid, day)
        if item.epoch <= world.now_epoch
    }
    assert len(expected) > 10_000
    seen: list[str] = []
    filters: list[str] = []
    while True:
        body = posts_body(world, *filters, fields=["guid"], sort=["guid:asc"], limit=100)
        rows = post(client, "/analytics/posts", body).json()["data"]
        if not rows:
            break
        seen += [r["guid"] for r in rows]
        filters = [f"guid.gt({rows[-1]['guid']})"]
    assert len(seen) == len(set(seen)) == len(expected)
    assert set(seen) == expected
    assert seen == sorted(seen)


# Messages -----------------------------------------------------------------------------------


def messages_body(
    world: World, *filters: str, group: int | None = None, **extra: Any
) -> dict[str, Any]:
    group_id = group or world.groups(CUSTOMER)[0]["group_id"]
    return {"filters": [f"group_id.eq({group_id})", *filters], **extra}


def walk_cursor(client: TestClient, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while True:
        answer = post(client, path, body).json()
        rows += answer["data"]
        if "paging" not in answer:
            return rows
        body = {**body, "page_cursor": answer["paging"]["next_cursor"]}


def test_messages_cursor_walk_returns_each_message_once(
    client: TestClient, small_world: World
) -> None:
    body = messages_body(
        small_world,
        "created_time.in(2026-11-01...2026-11-08)",
        fields=["guid", "created_time"],
        limit=17,
    )
    rows = walk_cursor(client, "/messages", body)
    everything = post(client, "/messages", {**body, "limit": 100}).json()
    assert "paging" not in everything or len(rows) > 100
    assert len(rows) == len({r["guid"] for r in rows}) > 17
    times = [r["created_time"] for r in rows]
    assert times == sorted(times, reverse=True)


def test_messages_fields_and_group_scoped_tags(client: TestClient, small_world: World) -> None:
    group = small_world.groups(CUSTOMER)[1]["group_id"]
    body = messages_body(
        small_world,
        "created_time.in(2026-11-01...2026-11-15)",
        group=group,
        fields=["internal.tags.id", "activity_metadata", "language_code", "case_id", "from"],
        limit=100,
        sort=["created_time:asc"],
    )
    rows = post(client, "/messages", body).json()["data"]
    allowed = {
        t["tag_id"] for t in small_world.tags(CUSTOMER) if t["any_group"] or group in t["groups"]
    }
    tag_ids = {t["id"] for r in rows for t in r["internal"]["tags"]}
    assert tag_ids and tag_ids <= allowed
    assert any(r.get("activity_metadata", {}).get("first_reply") for r in rows)
    assert any("case_id" in r for r in rows)
    assert all(len(r["language_code"]) == 2 for r in rows)


def test_messages_filters_on_tag_language_and_action_time(
    client: TestClient, small_world: World
) -> None:
    base = ["created_time.in(2026-11-01...2026-11-15)"]
    rows = post(
        client,
        "/messages",
        messages_body(small_world, *base, fields=["internal.tags.id", "language_code"], limit=100),
    ).json()["data"]
    tag = next(t["id"] for r in rows for t in r["internal"]["tags"])
    tagged = post(
        client,
        "/messages",
        messages_body(
            small_world, *base, f"tag_id.eq({tag})", fields=["internal.tags.id"], limit=100
        ),
    ).json()["data"]
    assert tagged and all(tag in [t["id"] for t in r["internal"]["tags"]] for r in tagged)
    spanish = post(
        client,
        "/messages",
        messages_body(
            small_world, *base, "language_code.eq(es)", fields=["language_code"], limit=100
        ),
    ).json()["data"]
    assert spanish and {r["language_code"] for r in spanish} == {"es"}
    acted = post(
        client,
        "/messages",
        messages_body(
            small_world,
            *base,
            "action_last_update_time.in(2026-11-20...2026-12-01)",
            fields=["activity_metadata"],
            limit=100,
        ),
    ).json()["data"]
    for row in acted:
        latest = max(a["action_time"] for a in row["activity_metadata"].values())
        assert "2026-11-20" <= latest < "2026-12-01"


def test_message_id_is_exclusive(client: TestClient, small_world: World) -> None:
    rows = post(
        client,
        "/messages",
        messages_body(small_world, "created_time.in(2026-11-01...2026-11-02)", limit=2),
    ).json()["data"]
    guids = [r["guid"] for r in rows]
    found = post(client, "/messages", {"filters": [f"message_id.eq({', '.join(guids)})"]}).json()
    assert sorted(r["guid"] for r in found["data"]) == sorted(guids)
    mixed = {"filters": [f"message_id.eq({guids[0]})", "created_time.in(2026-11-01...2026-11-02)"]}
    assert "without any other filter" in error_of(post(client, "/messages", mixed))


def test_messages_validation(client: TestClient, small_world: World) -> None:
    group = small_world.groups(CUSTOMER)[0]["group_id"]
    outside = next(
        p["customer_profile_id"] for p in small_world.profiles(CUSTOMER) if group not in p["groups"]
    )
    other_group = small_world.groups(OTHER)[0]["group_id"]
    window = "created_time.in(2026-11-01...2026-11-02)"
    cases = [
        ({"filters": [window]}, 400, "exactly one group_id"),
        ({"filters": [f"group_id.eq({group}, {group + 1})", window]}, 400, "at most 1"),
        ({"filters": [f"group_id.eq({other_group})", window]}, 403, f"group_id {other_group}"),
        (
            messages_body(small_world, window, f"customer_profile_id.eq({outside})"),
            400,
            "does not belong to group_id",
        ),
        (messages_body(small_world), 400, "needs a created_time filter"),
        (
            messages_body(
                small_world, window, "action_last_update_time.in(2026-10-01...2026-10-05)"
            ),
            400,
            "cannot be chronologically before",
        ),
        (
            messages_body(small_world, window, "reporting_period.in(2026-11-01...2026-11-02)"),
            400,
            "unknown filter 'reporting_period'",
        ),
        (messages_body(small_world, window, sort=["guid:asc"]), 400, "created_time:asc"),
        (messages_body(small_world, window, fields=["sent"]), 400, "unknown field 'sent'"),
    ]
    for body, status, message in cases:
        assert message in error_of(post(client, "/messages", body), status), body


def cursor_of(client: TestClient, path: str, body: dict[str, Any]) -> str:
    cursor: str = post(client, path, body).json()["paging"]["next_cursor"]
    return cursor


def test_tampered_and_foreign_cursors_are_400(client: TestClient, small_world: World) -> None:
    body = messages_body(small_world, "created_time.in(2026-11-01...2026-11-08)", limit=5)
    cursor = cursor_of(client, "/messages", body)
    payload, signature = cursor.split(".")
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    forged = base64.urlsafe_b64encode(decoded.replace(b"17", b"18")).decode().rstrip("=")
    for bad, message in [
        (f"{forged}.{signature}", "altered"),
        (cursor[:-1] + ("A" if cursor[-1] != "A" else "B"), "altered"),
        (cursor[:-3], "malformed"),
        ("123abc==", "malformed"),
    ]:
        assert message in error_of(post(client, "/messages", {**body, "page_cursor": bad}))
    other = messages_body(small_world, "created_time.in(2026-11-02...2026-11-08)", limit=5)
    assert "belongs to a query with other filters" in error_of(
        post(client, "/messages", {**other, "page_cursor": cursor})
    )


# Cases --------------------------------------------------------------------------------------


def test_cases_cursor_walk_and_chicago_default(client: TestClient) -> None:
    body = {"filters": ["created_time.in(2026-11-01...2026-11-08)"], "limit": 3}
    rows = walk_cursor(client, "/cases/filter", body)
    assert len(rows) == len({r["case_id"] for r in rows}) > 3
    # Naive times are read in America/Chicago: that week starts at 05:00 UTC.
    assert min(r["created_time"] for r in rows) >= "2026-11-01T05:00:00Z"
    assert max(r["created_time"] for r in rows) < "2026-11-08T06:00:00Z"
    assert {"case_id", "status", "messages", "updated_time", "latest_activity_time"} <= set(rows[0])
    ids_ = [r["case_id"] for r in rows[:3]]
    by_id = post(client, "/cases/filter", {"filters": [f"case_id.eq({', '.join(ids_)})"]}).json()
    assert sorted(r["case_id"] for r in by_id["data"]) == sorted(ids_)


def test_cases_filter_on_updated_time_and_status(client: TestClient) -> None:
    body = {
        "filters": ["updated_time.in(2026-11-10...2026-11-17)", "status.eq(CLOSED)"],
        "limit": 100,
        "sort": ["updated_time:asc"],
    }
    rows = post(client, "/cases/filter", body).json()["data"]
    assert rows and {r["status"] for r in rows} == {"CLOSED"}
    updated = [r["updated_time"] for r in rows]
    assert updated == sorted(updated)
    assert updated[0] >= "2026-11-10T06:00:00Z" and updated[-1] < "2026-11-17T06:00:00Z"


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (["status.eq(OPEN)"], "needs case_id.eq(...) alone"),
        (["created_time.in(2026-11-01...2026-11-09)"], "at most one week"),
        (["created_time.gte(2026-11-01)"], "at most one week"),
        (["case_id.eq(1)", "status.eq(OPEN)"], "without any other filter"),
        (
            [
                "created_time.in(2026-11-08...2026-11-10)",
                "updated_time.in(2026-11-01...2026-11-02)",
            ],
            "cannot be chronologically before",
        ),
    ],
    ids=["no-date", "eight-days", "open-ended", "case-id-with-others", "updated-before-created"],
)
def test_cases_validation(client: TestClient, filters: list[str], message: str) -> None:
    assert message in error_of(post(client, "/cases/filter", {"filters": filters}))


# Listening ----------------------------------------------------------------------------------


def topic_path(world: World, kind: str, customer: int = CUSTOMER) -> str:
    return f"/listening/topics/{world.topics(customer)[0]['id']}/{kind}"


def test_topic_messages_shape_and_paging_quirk(client: TestClient, small_world: World) -> None:
    body = {
        "filters": ["created_time.in(2026-11-01...2026-11-03)", "sentiment.eq(positive)"],
        "fields": ["text", "language", "sentiment", "from.name"],
        "metrics": ["likes", "authors_count"],
        "limit": 10,
    }
    answer = post(client, topic_path(small_world, "messages"), body).json()
    assert answer["paging"] == {"current_page": 1}
    row = answer["data"][0]
    assert set(row) == {"guid", "text", "from", "listening_metadata", "metrics"}
    assert row["listening_metadata"]["sentiment"] == "positive"
    assert isinstance(row["metrics"]["likes"], float)


def test_topic_messages_paging_past_the_end(client: TestClient, small_world: World) -> None:
    body = {
        "filters": ["created_time.in(2026-11-01...2026-11-02)"],
        "fields": ["text"],
        "limit": 100,
    }
    count = len(post(client, topic_path(small_world, "messages"), body).json()["data"])
    assert 0 < count < 100
    assert "past the last page" in error_of(
        post(client, topic_path(small_world, "messages"), {**body, "page": 2})
    )


@pytest.mark.parametrize(
    ("path_kind", "body", "status", "message"),
    [
        ("messages", {"filters": []}, 400, "needs `fields`"),
        ("messages", {"fields": ["colour"]}, 400, "unknown field 'colour'"),
        ("metrics", {"metrics": ["likes"], "dimensions": ["colour"]}, 400, "unknown dimension"),
        ("metrics", {"metrics": ["loves"]}, 400, "unknown metric 'loves'"),
    ],
    ids=["no-fields", "unknown-field", "unknown-dimension", "unknown-metric"],
)
def test_listening_validation(
    client: TestClient,
    small_world: World,
    path_kind: str,
    body: dict[str, Any],
    status: int,
    message: str,
) -> None:
    assert message in error_of(post(client, topic_path(small_world, path_kind), body), status)


def test_topic_of_another_customer_is_403(client: TestClient, small_world: World) -> None:
    other_topic = small_world.topics(OTHER)[0]["id"]
    response = post(client, f"/listening/topics/{other_topic}/metrics", {"metrics": ["likes"]})
    assert f"topic {other_topic}" in error_of(response, 403)


def test_topic_metrics_quirks(client: TestClient, small_world: World) -> None:
    body = {
        "filters": ["created_time.in(2026-11-28..2026-11-30)"],
        "metrics": ["likes", "messages_count"],
        "dimensions": ["created_time.by(day)", "sentiment"],
        "timezone": "America/Chicago",
    }
    answer = post(client, topic_path(small_world, "metrics"), body).json()
    assert answer["paging"] == {}
    days = {row["dimensions"]["created_time"] for row in answer["data"]}
    assert days == {"2026-11-28T00:00:00-06:00", "2026-11-29T00:00:00-06:00"}
    assert {row["dimensions"]["sentiment"] for row in answer["data"]} <= {
        "POSITIVE", "NEUTRAL", "NEGATIVE", "UNCLASSIFIED",
    }  # fmt: skip
    assert all(isinstance(v, float) for row in answer["data"] for v in row["metrics"].values())
    plain = post(client, topic_path(small_world, "metrics"), {"metrics": ["likes"]}).json()
    assert "paging" not in plain and len(plain["data"]) == 1


@pytest.mark.parametrize(
    "dimensions",
    [[], ["network"], ["sentiment", "language"], ["created_time.by(month)", "network"]],
    ids=["total", "network", "sentiment-language", "month-network"],
)
def test_topic_metrics_are_the_aggregates_of_topic_messages(
    client: TestClient, small_world: World, dimensions: list[str]
) -> None:
    filters = ["created_time.in(2026-10-20...2026-11-20)", "likes.gte(50)"]
    metrics = ["messages_count", "likes", "replies", "shares_count", "engagements",
               "impressions", "from.followers_count", "authors_count",
               "positive_sentiments_count", "neutral_sentiments_count",
               "negative_sentiments_count"]  # fmt: skip
    fields = ["network", "language", "sentiment", "created_time", "from.guid"]
    messages, page = [], 1
    while True:
        body = {
            "filters": filters,
            "fields": fields,
            "metrics": metrics,
            "limit": 100,
            "page": page,
        }
        response = post(client, topic_path(small_world, "messages"), body)
        if response.status_code == 400:
            break
        messages += response.json()["data"]
        page += 1
    assert len(messages) > 100
    expected: dict[tuple[str, ...], dict[str, Any]] = {}
    for m in messages:
        key = tuple(_dimension(m, d) for d in dimensions)
        totals = expected.setdefault(key, {k: 0.0 for k in metrics} | {"_authors": set()})
        for k in metrics:
            totals[k] += m["metrics"][k]
        totals["_authors"].add(m["from"]["guid"])
    for totals in expected.values():
        totals["authors_count"] = float(len(totals.pop("_authors")))
    body = {"filters": filters, "metrics": metrics, "dimensions": dimensions}
    rows = post(client, topic_path(small_world, "metrics"), body).json()["data"]
    got = {tuple(str(v) for v in row["dimensions"].values()): row["metrics"] for row in rows}
    assert got == expected


def _dimension(message: dict[str, Any], dimension: str) -> str:
    if dimension == "created_time.by(month)":
        return message["created_time"][:8] + "01T00:00:00+00:00"
    if dimension in ("sentiment", "language"):
        value = message["listening_metadata"][dimension]
        return str(value).upper() if dimension == "sentiment" else str(value)
    return str(message[dimension])


def test_moving_the_clock_serves_new_posts_and_grown_metrics() -> None:
    world = World(SandboxConfig(now=datetime(2026, 11, 30, 6, 0, tzinfo=UTC)))
    client = TestClient(read_app(world))
    body = posts_body(
        world,
        "created_time.in(2026-11-29...2026-12-01)",
        fields=["guid"],
        metrics=["lifetime.impressions"],
        limit=100,
    )
    before = {r["guid"]: r for r in post(client, "/analytics/posts", body).json()["data"]}
    world.set_now(datetime(2026, 12, 1, 0, 0, tzinfo=UTC))
    after = {r["guid"]: r for r in post(client, "/analytics/posts", body).json()["data"]}
    assert set(before) < set(after)
    assert all(
        after[g]["metrics"].get("lifetime.impressions", 0)
        >= before[g]["metrics"].get("lifetime.impressions", 0)
        for g in before
    )


def test_customers_outside_the_token_are_403(make_client: Callable[..., TestClient]) -> None:
    client = make_client(SandboxConfig(now=CLOCK), frozenset({OTHER}))
    assert "customer 100001" in error_of(client.get("/v1/100001/metadata/customer/groups"), 403)
    assert "customer 999" in error_of(client.get("/v1/999/metadata/customer"), 403)
    assert client.get(f"/v1/{OTHER}/metadata/customer/groups").status_code == 200


@pytest.mark.parametrize("direction", ["asc", "desc"], ids=str)
def test_guid_sort_orders_every_post_of_every_profile(
    client: TestClient, small_world: World, direction: str
) -> None:
    body = posts_body(
        small_world,
        "created_time.in(2026-11-01...2026-11-03)",
        fields=["guid"],
        sort=[f"guid:{direction}"],
        limit=100,
    )
    guids = [r["guid"] for r in post(client, "/analytics/posts", body).json()["data"]]
    by_time = posts_body(small_world, "created_time.in(2026-11-01...2026-11-03)", limit=100)
    expected = {r["guid"] for r in post(client, "/analytics/posts", by_time).json()["data"]}
    assert set(guids) == expected and len(guids) == len(expected) > 18
    assert guids == sorted(guids, reverse=direction == "desc")


def test_a_guid_bound_inside_an_either_or_entry_does_not_narrow(
    client: TestClient, small_world: World
) -> None:
    window = "created_time.in(2026-11-01...2026-11-03)"
    everything = post(client, "/analytics/posts", posts_body(small_world, window, limit=100))
    top = max(r["guid"] for r in everything.json()["data"])
    either = posts_body(
        small_world, window, f"guid.gt({top}), post_type.eq(TWEET)", sort=["guid:asc"], limit=100
    )
    rows = post(client, "/analytics/posts", {**either, "fields": ["guid", "post_type"]}).json()
    assert rows["data"] and {r["post_type"] for r in rows["data"]} == {"TWEET"}
