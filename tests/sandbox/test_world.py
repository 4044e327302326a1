"""The generated world: metadata, consistency of metrics, growth over the clock."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from sources.sprout import catalogue
from sprout_sandbox.config import SandboxConfig
from sprout_sandbox.world import World
from sprout_sandbox.world import _common as wc
from tests.sandbox.conftest import CLOCK, SMALL


def world_at(now: datetime, **changes: object) -> World:
    config = SandboxConfig(seed=7, scale=SMALL, now=now, history_start=date(2026, 10, 1))
    for key, value in changes.items():
        setattr(config, key, value)
    return World(config)


def test_clock_is_the_configured_one_truncated_to_the_second() -> None:
    world = world_at(CLOCK.replace(microsecond=123))
    assert world.now == CLOCK
    world.set_now(datetime(2026, 12, 5, 1, 2, 3, 999, tzinfo=UTC))
    assert world.now == datetime(2026, 12, 5, 1, 2, 3, tzinfo=UTC)


def test_customers_and_their_metadata(small_world: World) -> None:
    assert [c["customer_id"] for c in small_world.customers()] == [100001, 100002]
    profiles = small_world.profiles(100001)
    assert len(profiles) == 9
    assert {p["network_type"] for p in profiles} == {n.network_type for n in catalogue.NETWORKS}
    assert all(p["groups"] for p in profiles)
    assert set(profiles[0]) == {
        "customer_profile_id", "network_type", "name", "native_name", "native_id", "groups",
    }  # fmt: skip
    tags = small_world.tags(100001)
    assert {t["type"] for t in tags} == {"LABEL", "CAMPAIGN"}
    assert {t["active"] for t in tags} == {True, False}
    assert {t["any_group"] for t in tags} == {True, False}
    assert len(small_world.users(100001)) == 4
    assert all(t["theme_groups"] for t in small_world.topics(100001))


def test_ownership_lookups(small_world: World) -> None:
    profile = small_world.profiles(100002)[3]["customer_profile_id"]
    group = small_world.groups(100002)[1]["group_id"]
    topic = small_world.topics(100002)[1]["id"]
    assert small_world.customer_of_profile(profile) == 100002
    assert small_world.customer_of_group(group) == 100002
    assert small_world.customer_of_topic(topic) == 100002
    assert small_world.customer_of_topic(int(topic)) == 100002
    assert small_world.customer_of_profile(42) is None
    assert small_world.customer_of_group(group + 50) is None
    assert small_world.customer_of_topic("nope") is None


def test_same_config_same_world() -> None:
    first, second = world_at(CLOCK), world_at(CLOCK)
    pid = first.customer_profile_ids(100001)[1]
    day = wc.day_number(date(2026, 11, 20))
    assert first.content.post_items(pid, day) == second.content.post_items(pid, day)
    item = first.content.post_items(pid, day)[0]
    assert first.content.post(item) == second.content.post(item)
    assert first.topics(100001) == second.topics(100001)


def test_later_clock_serves_the_same_posts_with_grown_metrics() -> None:
    early, late = world_at(CLOCK), world_at(CLOCK + timedelta(days=10))
    pid = early.customer_profile_ids(100001)[1]
    day = wc.day_number(date(2026, 11, 29))
    items = early.content.post_items(pid, day)
    assert items and items == late.content.post_items(pid, day)
    before = early.content.post_metrics(early.content.post(items[0]))
    after = late.content.post_metrics(late.content.post(items[0]))
    assert after.keys() == before.keys()
    assert all(after[k] >= before[k] for k in before)
    assert after["lifetime.impressions"] > before["lifetime.impressions"]


def test_post_metrics_settle_after_four_weeks() -> None:
    world = world_at(CLOCK)
    pid = world.customer_profile_ids(100001)[0]
    item = world.content.post_items(pid, wc.day_number(date(2026, 10, 20)))[0]
    settled = world.content.post_metrics(world.content.post(item))
    world.set_now(CLOCK + timedelta(days=30))
    assert world.content.post_metrics(world.content.post(item)) == settled


def test_only_posts_published_by_the_clock_exist() -> None:
    world = world_at(datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    profile = world.profile(world.customer_profile_ids(100001)[0])
    today = world.content.posts_in_reporting_day(profile, wc.day_number(date(2026, 11, 30)))
    assert all(item.epoch <= world.now_epoch for item in today)


def test_some_posts_fall_on_another_date_in_los_angeles() -> None:
    world = world_at(CLOCK)
    facebook = next(p for p in world.profiles(100001) if p["network_type"] == "facebook")
    differing = [
        item
        for day in range(wc.day_number(date(2026, 10, 1)), wc.day_number(date(2026, 12, 1)))
        for item in world.content.post_items(facebook["customer_profile_id"], day)
        if wc.from_epoch(item.epoch).date()
        != wc.from_epoch(item.epoch).astimezone(wc.zone("America/Los_Angeles")).date()
    ]
    near_midnight = [
        i
        for i in differing
        if wc.from_epoch(i.epoch).astimezone(wc.zone("America/Los_Angeles")).hour == 23
    ]
    assert near_midnight


@pytest.mark.parametrize("network", [n.key for n in catalogue.NETWORKS], ids=str)
def test_follower_snapshots_agree_with_gains_and_losses(small_world: World, network: str) -> None:
    network_type = next(n.network_type for n in catalogue.NETWORKS if n.key == network)
    profile = next(
        small_world.profile(p["customer_profile_id"])
        for p in small_world.profiles(100001)
        if p["network_type"] == network_type
    )
    keys = small_world.profile_metrics.metric_keys(profile)
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(20)]
    rows = [small_world.profile_metrics.day(profile, d, keys) for d in days]
    for before, row in itertools.pairwise(rows):
        if "lifetime_snapshot.followers_count" in row and "net_follower_growth" in row:
            growth = (
                row["lifetime_snapshot.followers_count"]
                - before["lifetime_snapshot.followers_count"]
            )
            assert row["net_follower_growth"] == growth
        if "followers_gained" in row:
            assert row["followers_gained"] - row["followers_lost"] == row["net_follower_growth"]
            assert row["followers_gained"] >= 0 and row["followers_lost"] >= 0
        for key, value in row.items():
            if key.removeprefix("lifetime_snapshot.").startswith("followers_by_"):
                assert all(isinstance(v, int) and v >= 0 for v in value.values())
                if "lifetime_snapshot.followers_count" in row:
                    assert sum(value.values()) == row["lifetime_snapshot.followers_count"]


def test_posts_sent_metrics_count_that_days_posts(small_world: World) -> None:
    profile = small_world.profile(small_world.customer_profile_ids(100001)[2])  # Instagram
    for offset in range(10):
        day = date(2026, 11, 1) + timedelta(days=offset)
        row = small_world.profile_metrics.day(
            profile,
            day,
            ["posts_sent_count", "posts_sent_by_post_type", "posts_sent_by_content_type"],
        )
        posts = small_world.content.posts_in_reporting_day(profile, wc.day_number(day))
        assert row["posts_sent_count"] == len(posts)
        assert sum(row["posts_sent_by_post_type"].values()) == len(posts)
        assert sum(row["posts_sent_by_content_type"].values()) == len(posts)


def test_recent_days_are_restated_then_settle() -> None:
    world = world_at(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    profile = world.profile(world.customer_profile_ids(100001)[0])  # X, reports in UTC
    day = date(2026, 11, 19)
    seen = []
    for later in range(6):
        world.set_now(datetime(2026, 11, 20, 12, 0, tzinfo=UTC) + timedelta(days=later))
        seen.append(world.profile_metrics.day(profile, day, ["impressions"])["impressions"])
    assert seen[0] < seen[1] < seen[2] < seen[3]
    assert seen[3] == seen[4] == seen[5]


def test_retired_facebook_metrics_are_gone_after_their_date() -> None:
    facebook = catalogue.NETWORKS[1]
    world = world_at(datetime(2026, 6, 1, tzinfo=UTC))
    profile = world.profile(world.customer_profile_ids(100001)[1])
    assert profile["network_type"] == facebook.network_type
    assert "post_impressions" in world.profile_metrics.metric_keys(profile)
    world.set_now(datetime(2026, 6, 15, tzinfo=UTC))
    assert "post_impressions" not in world.profile_metrics.metric_keys(profile)


def test_inbox_actions_appear_as_the_clock_passes_them() -> None:
    world = world_at(datetime(2026, 10, 31, 20, 0, tzinfo=UTC))
    day = wc.day_number(date(2026, 10, 31))
    records = [
        world.content.message(i)
        for pid in world.customer_profile_ids(100001)
        for i in world.content.message_items(pid, day)
        if i.epoch <= world.now_epoch
    ]
    record = next(
        r for r in records if any(when > world.now_epoch for when, _, _ in r["_actions"].values())
    )
    before = world.content.served_message(record, None)["activity_metadata"]
    world.set_now(datetime(2026, 12, 1, tzinfo=UTC))
    after = world.content.served_message(record, None)["activity_metadata"]
    assert set(before) < set(after)
    for action in after.values():
        assert action["time_elapsed"] > 0
        assert set(action["actor"]) == {"id", "name"}


def test_cases_move_as_the_clock_passes() -> None:
    world = world_at(datetime(2026, 11, 2, 0, 0, tzinfo=UTC))
    day = wc.day_number(date(2026, 11, 1))
    before = {c["case_id"]: c for c in world.cases.cases(100001, day)}
    world.set_now(datetime(2026, 12, 1, tzinfo=UTC))
    after = {c["case_id"]: c for c in world.cases.cases(100001, day)}
    assert before.keys() == after.keys()
    assert any(after[k]["updated_time"] > before[k]["updated_time"] for k in before)
    assert all(
        after[k]["latest_activity_time"] >= before[k]["latest_activity_time"] for k in before
    )
    assert all(world.cases.by_id(100001, k) == after[k] for k in after)
