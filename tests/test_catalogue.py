"""The metric catalogue against the reference it was transcribed from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sources.sprout import catalogue

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "sprout-docs"
METRICS_DOC = REFERENCE / "12-metrics-and-fields.md"


def test_every_network_with_metric_tables_is_known() -> None:
    keys = {n.key for n in catalogue.NETWORKS}
    assert keys == {
        "x",
        "facebook",
        "instagram",
        "linkedin",
        "youtube",
        "pinterest",
        "threads",
        "tiktok",
        "bluesky",
    }


@pytest.mark.parametrize(
    ("network_type", "key", "expected"),
    [
        ("twitter", "lifetime_snapshot.followers_count", True),
        ("linkedin_company", "followers_by_seniority", True),
        ("fb_instagram_account", "lifetime_snapshot.followers_by_city", True),
        ("facebook", "lifetime_snapshot.followers_by_city", False),
        ("youtube", "impressions", False),
    ],
    ids=["x-followers", "linkedin-seniority", "instagram-city", "facebook-no-city", "yt-no-impr"],
)
def test_profile_metric_membership(network_type: str, key: str, expected: bool) -> None:
    network = catalogue.network_by_type(network_type)
    assert (key in {m.key for m in catalogue.profile_metrics(network)}) is expected


def test_object_valued_metrics_are_recognised() -> None:
    linkedin = catalogue.network_by_type("linkedin_company")
    objects = {m.key for m in catalogue.profile_metrics(linkedin) if m.is_object}
    assert objects == {
        "followers_by_job_function",
        "followers_by_seniority",
        "posts_sent_by_post_type",
        "posts_sent_by_content_type",
    }


def test_facebook_metrics_retired_in_june_2026_are_flagged() -> None:
    facebook = catalogue.network_by_type("facebook")
    retired = {m.key for m in catalogue.profile_metrics(facebook) if m.retired_on}
    assert "post_impressions" in retired
    assert "impressions" not in retired


@pytest.mark.skipif(not METRICS_DOC.exists(), reason="the API reference is not beside the repo")
def test_catalogue_holds_every_key_of_the_reference_tables() -> None:
    documented = set(
        re.findall(r"^\| [^|]+ \| `([a-z_.]+)` \| [A-Z]", METRICS_DOC.read_text(), re.M)
    )
    topic = set(catalogue.TOPIC_METRICS)
    known = catalogue.all_profile_metric_keys() | catalogue.all_post_metric_keys() | topic
    assert documented - known == set()
