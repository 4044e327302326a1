"""The exact requests a first run sends for a known configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

import pipelines.run
from sources.sprout import catalogue, make_client, settings
from tests.pipeline.conftest import TINY, harness_for, sandbox_config


class Recorder(httpx.HTTPTransport):
    """Sends requests on, keeping each one's method, path and JSON body."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.sent.append((request.method, request.url.path, body))
        return super().handle_request(request)


def _in_service(metric: catalogue.Metric) -> bool:
    # The run ends on 2026-03-01, before the metrics retired on 2026-06-15 went away.
    return metric.retired_on is None or metric.retired_on > "2026-03-01"


def _metrics(network_types: list[str]) -> list[str]:
    """Every current metric of these networks, each once, networks in the order given."""
    keys = (
        m.key
        for network_type in network_types
        for m in catalogue.profile_metrics(catalogue.network_by_type(network_type))
        if _in_service(m)
    )
    return list(dict.fromkeys(keys))


def test_a_first_run_sends_exactly_these_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(
        pipelines.run, "make_client", lambda config, counts: make_client(config, counts, recorder)
    )
    with harness_for(sandbox_config(TINY), tmp_path, monkeypatch) as harness:
        result = harness.cli(
            "run", "--start-date", "2026-02-24", "--end-date", "2026-03-01", "--no-transform"
        )
        assert result.status == 0, result.stderr
        profiles = harness.truth("profiles")
        topic_id = harness.truth("topics")[0]["id"]
    ids = sorted(p["customer_profile_id"] for p in profiles)
    by_group: dict[int, list[int]] = {}
    for profile in profiles:
        by_group.setdefault(profile["groups"][0], []).append(profile["customer_profile_id"])
    base = "/v1/100001"
    window = "2026-02-24T00:00:00...2026-03-02T00:00:00"
    expected: list[tuple[str, str, Any]] = [
        ("GET", "/v1/metadata/client", None),
        *[
            ("GET", f"{base}/metadata/customer{suffix}", None)
            for suffix in ("", "/groups", "/tags", "/users", "/topics")
        ],
        (
            "POST",
            f"{base}/analytics/profiles",
            {
                "filters": [
                    f"customer_profile_id.eq({', '.join(map(str, ids))})",
                    "reporting_period.in(2026-02-24..2026-03-01)",
                ],
                "metrics": _metrics(sorted({p["network_type"] for p in profiles})),
                "limit": 1000,
                "page": 1,
            },
        ),
        (
            "POST",
            f"{base}/analytics/posts",
            {
                "filters": [
                    f"customer_profile_id.eq({', '.join(map(str, ids))})",
                    f"created_time.in({window})",
                ],
                "fields": list(settings.POST_FIELDS),
                "metrics": sorted_post_metrics(profiles),
                "timezone": "UTC",
                "sort": ["guid:asc"],
                "limit": 100,
            },
        ),
        *[
            (
                "POST",
                f"{base}/messages",
                {
                    "filters": [
                        f"group_id.eq({group})",
                        f"customer_profile_id.eq({', '.join(map(str, sorted(members)))})",
                        f"created_time.in({window})",
                    ],
                    "fields": list(settings.MESSAGE_FIELDS),
                    "limit": 100,
                    "sort": ["created_time:asc"],
                    "timezone": "UTC",
                },
            )
            for group, members in sorted(by_group.items())
        ],
        (
            "POST",
            f"{base}/cases/filter",
            {
                "filters": [f"latest_activity_time.in({window})"],
                "limit": 100,
                "sort": ["created_time:asc"],
                "timezone": "UTC",
            },
        ),
        (
            "POST",
            f"{base}/listening/topics/{topic_id}/messages",
            {
                "filters": [f"created_time.in({window})"],
                "fields": list(settings.TOPIC_MESSAGE_FIELDS),
                "metrics": ["likes", "replies", "shares_count", "engagements", "impressions"],
                "limit": 100,
                "sort": ["created_time:asc"],
                "timezone": "UTC",
                "page": 1,
            },
        ),
        (
            "POST",
            f"{base}/listening/topics/{topic_id}/metrics",
            {
                "filters": ["created_time.in(2026-02-24...2026-03-02)"],
                "metrics": list(catalogue.TOPIC_METRICS),
                "dimensions": ["created_time.by(day)", "network", "sentiment"],
                "timezone": "UTC",
            },
        ),
    ]
    sent = [request for request in recorder.sent if request not in expected]
    assert sent == [], "requests beyond the expected ones (only further pages are allowed)"
    for request in expected:
        assert request in recorder.sent, request
    assert len(recorder.sent) == len(expected)


def sorted_post_metrics(profiles: list[dict[str, Any]]) -> list[str]:
    """Every current `lifetime.*` metric of the customer's networks, in catalogue order."""
    keys: dict[str, None] = {}
    for network_type in sorted({p["network_type"] for p in profiles}):
        network = catalogue.network_by_type(network_type)
        for metric in catalogue.post_metrics(network):
            if _in_service(metric):
                keys[metric.key] = None
    return list(keys)
