"""Sandbox → `sprout-elt run` → marts, checked against the sandbox's own ground truth.

The sandbox serves a small world; `sprout-elt run` loads it and builds the marts; one
day later on the sandbox clock a second run re-reads what was restated (recent profile
days, post lifetime metrics). The marts must then equal figures computed here, in
Python, from `export_world` at that later clock: follower growth, post engagements
and their network day, topic volumes by sentiment, inbox counts.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pipelines.pipeline import make_pipeline
from sources.sprout import catalogue
from tests.transforms.conftest import POSTGRES_DSN_VAR, fetch

server = pytest.importorskip("sprout_sandbox.server", reason="the sandbox server is not built yet")
export = pytest.importorskip("sprout_sandbox.export", reason="the sandbox export is not built yet")
config_module = pytest.importorskip("sprout_sandbox.config")
cli = pytest.importorskip("pipelines.cli")

FIRST_CLOCK = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SECOND_CLOCK = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
START_DATE = "2026-03-01"
"""Inside the sandbox's history at both clocks; the checks cover what loads from here."""

# The reference's formulas, written out again here so that the SQL is checked against
# an independent reading of them. Keys are the API's metric keys.
PROFILE_ENGAGEMENTS = {
    "TWITTER": (
        "likes",
        "comments_count",
        "shares_count",
        "post_link_clicks",
        "post_content_clicks_other",
        "engagements_other",
    ),
    "FACEBOOK": (
        "reactions",
        "comments_count",
        "shares_count",
        "post_link_clicks",
        "post_content_clicks_other",
    ),
    "INSTAGRAM": ("likes", "comments_count", "shares_count", "saves", "story_replies"),
    "LINKEDIN": ("reactions", "comments_count", "shares_count", "post_content_clicks"),
    "THREADS": ("likes", "comments_count", "reposts_count", "quotes_count"),
    "TIKTOK": ("likes_total", "comments_count_total", "shares_count_total"),
}
POST_ENGAGEMENTS = {
    "TWITTER": PROFILE_ENGAGEMENTS["TWITTER"],
    "FACEBOOK": PROFILE_ENGAGEMENTS["FACEBOOK"],
    "INSTAGRAM": ("likes", "comments_count", "shares_count", "saves"),
    "LINKEDIN": PROFILE_ENGAGEMENTS["LINKEDIN"],
    "YOUTUBE": (
        "comments_count",
        "likes",
        "dislikes",
        "shares_count",
        "subscribers_gained",
        "annotation_clicks",
        "card_clicks",
    ),
    "THREADS": ("reactions", "comments_count", "shares_count"),
    "TIKTOK": ("likes", "comments_count", "shares_count"),
    "BLUESKY": ("comments_count", "reactions", "reposts_count", "quotes_count"),
}
MARTS = (
    "daily_profile_performance",
    "post_performance",
    "daily_topic_sentiment",
    "daily_inbox_activity",
)
GROWTH_FROM_GAINED_AND_LOST = {"YOUTUBE", "PINTEREST"}
GROWTH_AS_REPORTED = {"TWITTER", "FACEBOOK", "INSTAGRAM", "LINKEDIN", "TIKTOK"}


def _sandbox_config(now: datetime) -> Any:
    scale = config_module.Scale(
        customers=1,
        profiles=9,
        days=12,
        posts_per_day=1.0,
        messages_per_day=2.0,
        cases_per_day=0.5,
        topics=1,
        topic_messages_per_day=4.0,
    )
    return config_module.SandboxConfig(seed=11, scale=scale, now=now, requests_per_minute=100_000)


def _run(monkeypatch: pytest.MonkeyPatch, now: datetime, destination: str, dataset: str) -> None:
    with server.run_sandbox(_sandbox_config(now)) as sandbox:
        monkeypatch.setenv("SOURCES__SPROUT__BASE_URL", sandbox.base_url)
        monkeypatch.setenv("SOURCES__SPROUT__END_DATE", now.date().isoformat())
        assert cli.main(["run", "--destination", destination, "--dataset", dataset]) == 0


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def sandbox_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Two runs a day apart into a fresh dataset, and the export at the second clock."""
    destination = request.param
    dsn = os.environ.get(POSTGRES_DSN_VAR)
    if destination == "postgres" and not dsn:
        pytest.skip(f"{POSTGRES_DSN_VAR} is not set: run `make test`, which starts PostgreSQL")
    base = tmp_path_factory.mktemp("end_to_end")
    dataset = f"sprout_e2e_{uuid.uuid4().hex[:8]}"
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("DLT_DATA_DIR", str(base / "dlt"))
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(base / "warehouse.duckdb"))
        if dsn:
            monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", dsn)
        monkeypatch.setenv("SOURCES__SPROUT__ACCESS_TOKEN", "sandbox-token")
        monkeypatch.setenv("SOURCES__SPROUT__REQUESTS_PER_MINUTE", "100000")
        monkeypatch.setenv("SOURCES__SPROUT__START_DATE", START_DATE)
        pipeline = make_pipeline(destination, dataset)
        _run(monkeypatch, FIRST_CLOCK, destination, dataset)
        first = {name: fetch(pipeline, name) for name in MARTS}
        _run(monkeypatch, SECOND_CLOCK, destination, dataset)
        export.export_world(_sandbox_config(SECOND_CLOCK), base / "export")
        marts = {name: fetch(pipeline, name) for name in MARTS}
        truth = {
            path.stem: [r for r in map(json.loads, path.read_text().splitlines()) if _loaded(r)]
            for path in (base / "export").glob("*.ndjson")
        }
        yield {"marts": marts, "first": first, "truth": truth}
        if destination == "postgres":
            with pipeline.sql_client() as sql_client:
                sql_client.execute_sql(f"drop schema if exists {dataset} cascade")
                sql_client.execute_sql(f"drop schema if exists {dataset}_staging cascade")


def _loaded(record: dict[str, Any]) -> bool:
    """Whether a ground-truth record falls in the loaded window (from START_DATE)."""
    when = record.get("reporting_date") or record.get("metric_date") or record.get("created_time")
    return when is None or str(when)[:10] >= START_DATE


def _networks(truth: dict[str, list[dict[str, Any]]]) -> dict[int, catalogue.Network]:
    return {
        int(p["customer_profile_id"]): catalogue.network_by_type(p["network_type"])
        for p in truth["profiles"]
    }


def _total(metrics: dict[str, Any], keys: tuple[str, ...], prefix: str = "") -> int:
    return sum(int(metrics.get(prefix + key) or 0) for key in keys)


def _local_date(created_time: str, network: catalogue.Network) -> date:
    moment = datetime.fromisoformat(created_time.replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo(network.timezone)).date()


def test_profile_growth_followers_and_engagements(sandbox_run: dict[str, Any]) -> None:
    truth = sandbox_run["truth"]
    networks = _networks(truth)
    expected = {}
    for day in truth["profile_metrics"]:
        metrics, network = day["metrics"], networks[int(day["customer_profile_id"])]
        if not metrics:
            continue
        if network.network in GROWTH_FROM_GAINED_AND_LOST:
            growth = int(metrics.get("followers_gained", 0)) - int(metrics.get("followers_lost", 0))
        else:
            growth = (
                metrics.get("net_follower_growth")
                if network.network in GROWTH_AS_REPORTED
                else None
            )
        keys = PROFILE_ENGAGEMENTS.get(network.network)
        expected[(int(day["customer_profile_id"]), date.fromisoformat(day["reporting_date"]))] = {
            "followers_count": metrics.get("lifetime_snapshot.followers_count"),
            "net_follower_growth": growth,
            "engagements": None if keys is None else _total(metrics, keys),
        }
    actual = {
        (row["customer_profile_id"], row["reporting_date"]): {
            key: row[key] for key in ("followers_count", "net_follower_growth", "engagements")
        }
        for row in sandbox_run["marts"]["daily_profile_performance"]
        if (row["customer_profile_id"], row["reporting_date"]) in expected
    }
    assert len(expected) > 50
    assert actual == expected


def test_post_engagements_and_network_day(sandbox_run: dict[str, Any]) -> None:
    truth = sandbox_run["truth"]
    networks = _networks(truth)
    expected = {}
    for post in truth["posts"]:
        network = networks[int(post["customer_profile_id"])]
        keys = POST_ENGAGEMENTS.get(network.network)
        expected[post["guid"]] = {
            "created_date": _local_date(post["created_time"], network),
            "engagements": None if keys is None else _total(post["metrics"], keys, "lifetime."),
        }
    actual = {
        row["post_id"]: {"created_date": row["created_date"], "engagements": row["engagements"]}
        for row in sandbox_run["marts"]["post_performance"]
    }
    assert len(expected) > 50
    assert actual == expected
    # The world holds posts whose network day is not their UTC day.
    assert any(
        row["created_date"] != row["created_at"].astimezone(UTC).date()
        for row in sandbox_run["marts"]["post_performance"]
    )


def test_second_run_restated_the_first(sandbox_run: dict[str, Any]) -> None:
    def engagements(mart: str, grain: tuple[str, ...], run: str) -> dict[Any, Any]:
        rows = sandbox_run[run][mart]
        return {tuple(row[key] for key in grain): row["engagements"] for row in rows}

    for mart, grain in (
        ("post_performance", ("post_id",)),
        ("daily_profile_performance", ("customer_profile_id", "reporting_date")),
    ):
        before, after = engagements(mart, grain, "first"), engagements(mart, grain, "marts")
        changed = [key for key in before if before[key] != after[key]]
        assert changed, f"no {mart} figure changed between the runs"


def test_posts_published_per_network_day(sandbox_run: dict[str, Any]) -> None:
    networks = _networks(sandbox_run["truth"])
    expected = Counter(
        (
            int(p["customer_profile_id"]),
            _local_date(p["created_time"], networks[int(p["customer_profile_id"])]),
        )
        for p in sandbox_run["truth"]["posts"]
    )
    actual = {
        (row["customer_profile_id"], row["reporting_date"]): row["posts_published_count"]
        for row in sandbox_run["marts"]["daily_profile_performance"]
        if row["posts_published_count"]
    }
    assert actual == dict(expected)


def test_topic_volumes_by_sentiment(sandbox_run: dict[str, Any]) -> None:
    expected = {
        (
            str(row["topic_id"]),
            date.fromisoformat(row["metric_date"]),
            row["dimensions"]["network"],
            row["dimensions"]["sentiment"].lower(),
        ): int(row["metrics"]["messages_count"])
        for row in sandbox_run["truth"]["topic_metrics"]
    }
    rows = sandbox_run["marts"]["daily_topic_sentiment"]
    actual = {
        (row["topic_id"], row["metric_date"], row["network"], row["sentiment"]): row[
            "messages_count"
        ]
        for row in rows
    }
    assert len(expected) > 20
    assert actual == expected
    per_topic_day = Counter()
    for (topic_id, day, _, _), volume in expected.items():
        per_topic_day[(topic_id, day)] += volume
    assert {(r["topic_id"], r["metric_date"]): r["topic_messages_count"] for r in rows} == dict(
        per_topic_day
    )


def _visible_tags(truth: dict[str, list[dict[str, Any]]]) -> dict[int, set[int]]:
    """Tag ids each profile's messages show: the source reads a profile's messages
    through its first group, and the API then leaves out tags of other groups."""
    tags = truth["tags"]
    visible = {}
    for profile in truth["profiles"]:
        group = (profile.get("groups") or [None])[0]
        visible[int(profile["customer_profile_id"])] = {
            int(t["tag_id"]) for t in tags if t.get("any_group") or group in (t.get("groups") or [])
        }
    return visible


def test_inbox_counts(sandbox_run: dict[str, Any]) -> None:
    networks = _networks(sandbox_run["truth"])
    visible = _visible_tags(sandbox_run["truth"])
    expected: dict[tuple[int, date], Counter[str]] = {}
    for message in sandbox_run["truth"]["messages"]:
        profile_id = int(message["customer_profile_id"])
        day = _local_date(message["created_time"], networks[profile_id])
        internal = message.get("internal") or {}
        sent = (message.get("from") or {}).get("guid") == message.get("profile_guid") or bool(
            internal.get("sent_by")
        )
        counts = expected.setdefault((profile_id, day), Counter())
        counts["messages_sent_count" if sent else "messages_received_count"] += 1
        if not sent and "first_reply" in (message.get("activity_metadata") or {}):
            counts["messages_replied_count"] += 1
        if {int(t["id"]) for t in internal.get("tags") or []} & visible[profile_id]:
            counts["messages_tagged_count"] += 1
    keys = (
        "messages_received_count",
        "messages_sent_count",
        "messages_replied_count",
        "messages_tagged_count",
    )
    actual = {
        (row["customer_profile_id"], row["activity_date"]): {key: row[key] for key in keys}
        for row in sandbox_run["marts"]["daily_inbox_activity"]
    }
    assert len(expected) > 20
    assert actual == {
        grain: {key: counts[key] for key in keys} for grain, counts in expected.items()
    }
