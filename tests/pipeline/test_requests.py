"""How many requests a run makes, at what pace, and what it does when they run out."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from sources.sprout import pacing
from sprout_sandbox import limits
from sprout_sandbox.config import Scale
from tests.pipeline.conftest import (
    CLOCK,
    HISTORY_START,
    TINY,
    Harness,
    harness_for,
    sandbox_config,
)
from tests.pipeline.truth import compare


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def expected_incremental_requests(harness: Harness) -> int:
    """Requests of a run right after another at the same clock, from the ground truth.

    Metadata: the client endpoint, then five endpoints per customer. Profile metrics:
    one per batch of up to 100 profiles of a customer, whatever their networks. Posts:
    one walk per customer. Messages: one per group (each profile is read in its first
    group), once by creation and once by action time. Cases: one per week from a day
    before the latest activity seen. Listening: one messages and one metrics request per topic.
    """
    profiles = harness.truth("profiles")
    customers = len(harness.truth("customers"))
    per_customer = Counter(p["customer_id"] for p in profiles)
    batches = sum(math.ceil(count / 100) for count in per_customer.values())
    groups = len({(p["customer_id"], p["groups"][0]) for p in profiles})
    topics = len(harness.truth("topics"))
    end = datetime.combine(CLOCK.date() + timedelta(days=1), datetime.min.time(), CLOCK.tzinfo)
    latest = max(_time(c["latest_activity_time"]) for c in harness.truth("cases"))
    weeks = math.ceil((end - (latest - timedelta(days=1))) / timedelta(days=7))
    return 1 + 5 * customers + batches + customers + 2 * groups + customers * weeks + 2 * topics


def test_a_run_with_nothing_new_makes_only_the_lookback_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with harness_for(sandbox_config(TINY), tmp_path, monkeypatch) as harness:
        assert harness.run().status == 0
        for name in ("posts", "messages", "topic_messages"):
            assert len(harness.truth(name)) < 100, f"{name}: more than one page per query"
        before = harness.requests_made()
        result = harness.run()
        assert result.status == 0, result.stderr
        assert harness.requests_made() - before == expected_incremental_requests(harness)


def test_the_plan_makes_no_request_and_counts_the_queries_of_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with harness_for(sandbox_config(TINY), tmp_path, monkeypatch) as harness:
        first = harness.cli("run", "--plan", "--start-date", HISTORY_START.isoformat())
        assert first.status == 0, first.stderr
        assert "unknown until the first run" in first.stdout
        assert harness.run().status == 0
        before = harness.requests_made()
        plan = harness.cli("run", "--plan", "--end-date", CLOCK.date().isoformat())
        assert plan.status == 0, plan.stderr
        assert harness.requests_made() == before
        total = next(line for line in plan.stdout.splitlines() if line.startswith("total:"))
        assert f"at least {expected_incremental_requests(harness)} requests" in total


def test_a_query_over_ten_thousand_posts_is_loaded_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scale = Scale(
        customers=1,
        profiles=1,
        groups=1,
        users=1,
        tags=1,
        days=20,
        posts_per_day=560.0,
        messages_per_day=0.0,
        cases_per_day=0.0,
        topics=0,
        topic_messages_per_day=0.0,
    )
    # One metric keeps the load small; the walk is what is tested.
    monkeypatch.setenv("SOURCES__SPROUT__POST_METRICS", '["lifetime.likes"]')
    with harness_for(sandbox_config(scale), tmp_path, monkeypatch) as harness:
        result = harness.run("--resources", "posts")
        assert result.status == 0, result.stderr
        truth = harness.truth("posts")
        assert len(truth) > 10_000
        loaded = harness.query("select count(*), count(distinct guid) from sprout.posts")[0]
        assert loaded == (len(truth), len(truth))


def test_the_pacer_holds_the_rate_of_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Time runs 60 times faster: a 1-second window of 10 requests stands for a minute.
    monkeypatch.setattr(limits, "WINDOW_SECONDS", 1.0)
    monkeypatch.setattr(pacing, "_WINDOW_SECONDS", 1.0)
    config = sandbox_config(requests_per_minute=10)
    with harness_for(config, tmp_path, monkeypatch, rpm=10) as harness:
        result = harness.run()
        assert result.status == 0, result.stderr
        state = harness.state()
        # At least three windows' worth, so the pace held across windows, not within one.
        assert state["requests"]["total"] >= 3 * 10
        assert state["rate_limited"] == 0


def test_an_exhausted_quota_ends_the_run_and_keeps_what_was_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pacing, "_WINDOW_SECONDS", 0.2)
    monkeypatch.setattr(pacing, "_BACK_OFF_JITTER_SECONDS", 0.05)
    config = sandbox_config(TINY, monthly_quota=12)
    with harness_for(config, tmp_path, monkeypatch) as harness:
        result = harness.run()
        assert result.status == 1
        assert "stopped early" in result.stderr and "quota" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert "requests:" in result.stdout
        assert harness.query("select count(*) from sprout.customers")[0][0] == 1
        assert harness.query("select count(*) from sprout.profiles")[0][0] == 3
        # Once the quota allows again, the next run resumes and nothing is missing.
        harness.sandbox.app.state.limiter.monthly_quota = 10_000
        again = harness.run()
        assert again.status == 0, again.stderr
        for name in ("profile_metrics", "posts", "cases", "topic_messages", "topic_metrics"):
            assert compare(harness, name) == [], name


def test_the_monthly_budget_stops_the_run_before_it_is_exceeded(harness: Harness) -> None:
    assert harness.run("--resources", "profiles").status == 0
    used = harness.requests_made()
    harness_budget = used + 4
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCES__SPROUT__MONTHLY_REQUEST_BUDGET", str(harness_budget))
        result = harness.run()
        assert result.status == 1
        assert "monthly_request_budget" in result.stderr
        assert harness.requests_made() == harness_budget
        status = harness.cli("status")
    assert f"{harness_budget} of {harness_budget}" in status.stdout


def test_a_metric_the_api_has_retired_is_dropped_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The sandbox is past Facebook's retirement of 2026-06-15; the run asks for days
    # before it, so it still requests the retired metrics and meets the API's 400.
    config = sandbox_config(
        TINY, now=datetime(2026, 6, 16, 12, tzinfo=UTC), history_start=date(2026, 6, 8)
    )
    with harness_for(config, tmp_path, monkeypatch) as harness:
        result = harness.run(
            "--resources", "profile_metrics,posts", start=date(2026, 6, 8), end=date(2026, 6, 14)
        )
        assert result.status == 0, result.stderr
        assert "does not know metric 'post_impressions'" in caplog.text
        assert "does not know metric 'lifetime.impressions_viral_unique'" in caplog.text
        facebook = harness.query(
            "select count(*) from sprout.profile_metrics_daily where network_type = 'facebook'"
        )[0][0]
        assert facebook == 7
