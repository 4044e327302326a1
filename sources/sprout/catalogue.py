"""What the Sprout API offers: networks, their reporting time zones, metrics and fields.

The metric lists come from the reference's per-network tables and live in
``catalogue.json`` beside this module (rebuilt by ``scripts/build_catalogue.py``). Both
the dlt source and the sandbox read them, so a metric is named in exactly one place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True)
class Metric:
    """One metric key as the API spells it, e.g. ``lifetime_snapshot.followers_count``."""

    key: str
    name: str
    availability: str
    retired_on: str | None = None

    @property
    def is_object(self) -> bool:
        """True for metrics whose value is an object of bucket label to count."""
        bare = self.key.removeprefix("lifetime_snapshot.")
        return bare.startswith(("followers_by_", "posts_sent_by_"))


@dataclass(frozen=True)
class Network:
    """A social network as the API names it in its different places."""

    key: str
    """Key of the metric tables in the reference, e.g. ``x``."""
    network_type: str
    """``network_type`` of ``/metadata/customer`` profiles, e.g. ``twitter``."""
    network: str
    """``network`` field of messages and posts, e.g. ``TWITTER``."""
    timezone: str
    """Time zone in which the network buckets its daily profile metrics."""
    guid_prefix: str
    """Prefix of post guids and profile guids of this network."""
    post_types: tuple[str, ...]
    """Post types of owned posts (the first is the regular post)."""


# Reporting time zones are the reference's "Profile Time Zone" table; it names
# PST/PDT for the Meta and Google networks. Threads and Bluesky are not in that
# table: Threads is a Meta network and is assumed to follow Facebook, Bluesky UTC.
NETWORKS: tuple[Network, ...] = (
    Network("x", "twitter", "TWITTER", "UTC", "tw", ("TWEET", "RETWEET_COMMENT")),
    Network("facebook", "facebook", "FACEBOOK", "America/Los_Angeles", "fb", ("FACEBOOK_POST",)),
    Network(
        "instagram",
        "fb_instagram_account",
        "INSTAGRAM",
        "America/Los_Angeles",
        "ig",
        ("INSTAGRAM_MEDIA", "INSTAGRAM_STORY"),
    ),
    Network(
        "linkedin",
        "linkedin_company",
        "LINKEDIN",
        "UTC",
        "li",
        ("LINKEDIN_COMPANY_UPDATE",),
    ),
    Network("youtube", "youtube", "YOUTUBE", "America/Los_Angeles", "yt", ("YOUTUBE_VIDEO",)),
    Network("pinterest", "pinterest", "PINTEREST", "UTC", "pi", ("PINTEREST_PIN",)),
    Network("threads", "threads", "THREADS", "America/Los_Angeles", "th", ("THREADS_POST",)),
    Network("tiktok", "tiktok", "TIKTOK", "UTC", "tt", ("TIKTOK_VIDEO",)),
    Network("bluesky", "bluesky", "BLUESKY", "UTC", "bs", ("BLUESKY_POST",)),
)

TOPIC_METRICS: tuple[str, ...] = (
    "messages_count",
    "engagements",
    "likes",
    "replies",
    "shares_count",
    "impressions",
    "authors_count",
    "from.followers_count",
    "positive_sentiments_count",
    "neutral_sentiments_count",
    "negative_sentiments_count",
)

SENTIMENTS: tuple[str, ...] = ("positive", "neutral", "negative", "unclassified")

LISTENING_NETWORKS: tuple[str, ...] = (
    "FACEBOOK",
    "INSTAGRAM",
    "LINKEDIN",
    "YOUTUBE",
    "TIKTOK",
    "REDDIT",
    "TUMBLR",
    "WWW",
)


@cache
def _tables() -> dict[str, dict[str, list[dict[str, str]]]]:
    path = Path(__file__).with_name("catalogue.json")
    data: dict[str, dict[str, list[dict[str, str]]]] = json.loads(path.read_text("utf-8"))
    return data


def _metrics(network_key: str, kind: str) -> tuple[Metric, ...]:
    return tuple(Metric(**row) for row in _tables()[network_key][kind])


def profile_metrics(network: Network) -> tuple[Metric, ...]:
    """Every documented owned-profile metric of a network (retired ones included)."""
    return _metrics(network.key, "profile")


def post_metrics(network: Network) -> tuple[Metric, ...]:
    """Every documented ``lifetime.*`` post metric of a network (retired ones included)."""
    return _metrics(network.key, "post")


def network_by_type(network_type: str) -> Network:
    """The network of a profile's ``network_type``; KeyError for one we do not know."""
    for network in NETWORKS:
        if network.network_type == network_type:
            return network
    raise KeyError(network_type)


def all_profile_metric_keys() -> frozenset[str]:
    """Keys valid for ``analytics/profiles`` on at least one network."""
    return frozenset(m.key for n in NETWORKS for m in profile_metrics(n))


def all_post_metric_keys() -> frozenset[str]:
    """Keys valid for ``analytics/posts`` on at least one network."""
    return frozenset(m.key for n in NETWORKS for m in post_metrics(n))
