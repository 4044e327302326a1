"""The ground-truth export: complete, deterministic, and in agreement with the API."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from sprout_sandbox.config import SandboxConfig, Scale
from sprout_sandbox.export import export_world
from sprout_sandbox.world import World
from tests.sandbox.conftest import CLOCK, read_app

TINY = Scale(
    customers=1, profiles=9, groups=2, users=3, tags=4, days=6, posts_per_day=3.0,
    messages_per_day=3.0, cases_per_day=2.0, topics=1, topic_messages_per_day=25.0,
)  # fmt: skip
FILES = [
    "customers", "profiles", "groups", "tags", "users", "topics", "profile_metrics", "posts",
    "messages", "cases", "topic_messages", "topic_metrics",
]  # fmt: skip


def config(now: Any = CLOCK) -> SandboxConfig:
    return SandboxConfig(seed=11, scale=TINY, now=now, history_start=date(2026, 11, 25))


def read(out: Path, name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / f"{name}.ndjson").read_text("utf-8").splitlines()]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("export")
    return out, export_world(config(), out)


def test_every_entity_file_is_written_with_its_row_count(
    exported: tuple[Path, dict[str, int]],
) -> None:
    out, counts = exported
    assert list(counts) == FILES
    for name in FILES:
        assert len(read(out, name)) == counts[name]
    assert counts["customers"] == 1 and counts["profiles"] == 9 and counts["topics"] == 1
    # Seven reporting days (Nov 25 to Dec 1) for every profile.
    assert counts["profile_metrics"] == 9 * 7
    assert all(counts[name] > 0 for name in FILES)


def test_same_config_gives_the_same_bytes(
    exported: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    out, _ = exported
    export_world(config(), tmp_path)
    for name in FILES:
        assert (tmp_path / f"{name}.ndjson").read_bytes() == (out / f"{name}.ndjson").read_bytes()


def test_later_clock_keeps_old_posts_and_grows_their_metrics(
    exported: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    out, _ = exported
    export_world(config(CLOCK + timedelta(days=3)), tmp_path)
    before = {p["guid"]: p for p in read(out, "posts")}
    after = {p["guid"]: p for p in read(tmp_path, "posts")}
    assert set(before) < set(after)
    for guid, post in before.items():
        assert {k: v for k, v in post.items() if k != "metrics"} == {
            k: v for k, v in after[guid].items() if k != "metrics"
        }
        assert all(after[guid]["metrics"][k] >= v for k, v in post["metrics"].items())
    old_rows = {
        (r["customer_profile_id"], r["reporting_date"]): r for r in read(out, "profile_metrics")
    }
    new_rows = {
        (r["customer_profile_id"], r["reporting_date"]): r
        for r in read(tmp_path, "profile_metrics")
    }
    restated = [k for k in old_rows if old_rows[k]["metrics"] != new_rows[k]["metrics"]]
    assert restated and all(k[1] >= "2026-11-27" for k in restated)


def test_records_carry_their_placing_keys(exported: tuple[Path, dict[str, int]]) -> None:
    out, _ = exported
    metric_row = read(out, "profile_metrics")[0]
    assert {"customer_id", "customer_profile_id", "reporting_date", "dimensions", "metrics"} <= set(
        metric_row
    )
    assert metric_row["reporting_date"] == "2026-11-25"
    assert all("customer_id" in r and "topic_id" in r for r in read(out, "topic_messages"))
    assert all(isinstance(t["availability_time"], int) for t in read(out, "topics"))


def test_exported_posts_are_what_the_api_serves(exported: tuple[Path, dict[str, int]]) -> None:
    out, _ = exported
    world = World(config())
    client = TestClient(read_app(world))
    exported_posts = {p["guid"]: p for p in read(out, "posts")}
    profiles = ",".join(str(p) for p in world.customer_profile_ids(100001))
    fields = [
        "guid", "created_time", "customer_profile_id", "network", "post_type", "text",
        "internal.tags.id", "internal.sent_by.id", "from", "visual_media",
    ]  # fmt: skip
    rows = client.post(
        "/v1/100001/analytics/posts",
        json={
            "filters": [f"customer_profile_id.eq({profiles})"],
            "fields": fields,
            "metrics": ["lifetime.impressions", "lifetime.likes"],
            "limit": 100,
        },
    ).json()["data"]
    assert len(rows) == min(100, len(exported_posts))
    for row in rows:
        truth = exported_posts[row["guid"]]
        assert row["created_time"] == truth["created_time"]
        assert row["from"] == truth["from"]
        assert row["internal"]["tags"] == truth["internal"]["tags"]
        assert row["metrics"] == {
            k: v
            for k, v in truth["metrics"].items()
            if k in ("lifetime.impressions", "lifetime.likes")
        }


def test_topic_metrics_are_the_aggregates_of_topic_messages(
    exported: tuple[Path, dict[str, int]],
) -> None:
    out, _ = exported
    sums: dict[tuple[str, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    authors: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for m in read(out, "topic_messages"):
        key = (m["created_time"][:10], m["network"], m["listening_metadata"]["sentiment"].upper())
        sums[key]["messages_count"] += 1
        sums[key]["likes"] += m["metrics"]["likes"]
        sums[key]["impressions"] += m["metrics"]["impressions"]
        authors[key].add(m["from"]["guid"])
    rows = read(out, "topic_metrics")
    assert len(rows) == len(sums)
    for row in rows:
        key = (row["metric_date"], row["dimensions"]["network"], row["dimensions"]["sentiment"])
        assert row["metrics"]["messages_count"] == sums[key]["messages_count"]
        assert row["metrics"]["likes"] == sums[key]["likes"]
        assert row["metrics"]["impressions"] == sums[key]["impressions"]
        assert row["metrics"]["authors_count"] == len(authors[key])
        positive = row["metrics"]["positive_sentiments_count"]
        assert positive == (sums[key]["messages_count"] if key[2] == "POSITIVE" else 0)


def test_follower_snapshots_in_the_export_add_up(exported: tuple[Path, dict[str, int]]) -> None:
    out, _ = exported
    by_profile: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in read(out, "profile_metrics"):
        by_profile[row["customer_profile_id"]].append(row["metrics"])
    checked = 0
    for rows in by_profile.values():
        for before, after in itertools.pairwise(rows):
            if "net_follower_growth" in after and "lifetime_snapshot.followers_count" in after:
                growth = (
                    after["lifetime_snapshot.followers_count"]
                    - before["lifetime_snapshot.followers_count"]
                )
                assert after["net_follower_growth"] == growth
                checked += 1
    assert checked >= 6 * 6
