"""The sandbox's ground truth as NDJSON: every entity it would serve at its clock.

One file per entity (``customers.ndjson``, ``posts.ndjson``, ...), each line the record
as the API serves it with every field and metric requested, plus the keys that place
it (see docs/architecture.md, "Ground truth export"). Same config: same bytes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from sprout_sandbox.api import aggregate_topic, served_topic
from sprout_sandbox.config import SandboxConfig
from sprout_sandbox.world import World
from sprout_sandbox.world import _common as wc

logger = logging.getLogger(__name__)

_TOPIC_METRIC_KEYS = (
    "messages_count", "engagements", "likes", "replies", "shares_count", "impressions",
    "authors_count", "from.followers_count", "positive_sentiments_count",
    "neutral_sentiments_count", "negative_sentiments_count",
)  # fmt: skip


def export_world(config: SandboxConfig, out_dir: Path) -> dict[str, int]:
    """Write the ground truth of the world ``config`` describes into ``out_dir``.

    Args:
        config: seed, scale and clock of the sandbox to export.
        out_dir: directory for the NDJSON files (created if missing).

    Returns:
        Rows written per file name (without the ``.ndjson`` suffix).
    """
    world = World(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    producers = {
        "customers": lambda: iter(world.customers()),
        "profiles": lambda: _metadata(world, world.profiles),
        "groups": lambda: _metadata(world, world.groups),
        "tags": lambda: _metadata(world, world.tags),
        "users": lambda: _metadata(world, world.users),
        "topics": lambda: _metadata(world, lambda c: [served_topic(t) for t in world.topics(c)]),
        "profile_metrics": lambda: _profile_metrics(world),
        "posts": lambda: _posts(world),
        "messages": lambda: _messages(world),
        "cases": lambda: _cases(world),
        "topic_messages": lambda: _topic_messages(world),
        "topic_metrics": lambda: _topic_metrics(world),
    }
    with wc.bulk():
        counts = {
            name: _write(out_dir / f"{name}.ndjson", make()) for name, make in producers.items()
        }
    logger.info("exported the sandbox world at %s to %s: %s", world.now, out_dir, counts)
    return counts


def _write(path: Path, records: Iterable[dict[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            handle.write("\n")
            count += 1
    return count


def _metadata(world: World, lister: Any) -> Iterator[dict[str, Any]]:
    for customer_id in world.customer_ids():
        for record in lister(customer_id):
            yield {**record, "customer_id": customer_id}


def _utc_days(world: World) -> range:
    first = wc.day_number(world.start_date)
    return range(first, int(world.now_epoch // 86_400) + 1)


def _profile_metrics(world: World) -> Iterator[dict[str, Any]]:
    for customer_id in world.customer_ids():
        for profile_id in world.customer_profile_ids(customer_id):
            profile = world.profile(profile_id)
            keys = world.profile_metrics.metric_keys(profile)
            day, last = world.start_date, world.profile_metrics.last_day(profile)
            while day <= last:
                yield {
                    "dimensions": {
                        "reporting_period.by(day)": day.isoformat(),
                        "customer_profile_id": profile_id,
                    },
                    "metrics": world.profile_metrics.day(profile, day, keys),
                    "customer_id": customer_id,
                    "customer_profile_id": profile_id,
                    "reporting_date": day.isoformat(),
                }
                day += timedelta(days=1)


def _posts(world: World) -> Iterator[dict[str, Any]]:
    now = world.now_epoch
    for customer_id in world.customer_ids():
        for profile_id in world.customer_profile_ids(customer_id):
            for day in _utc_days(world):
                for item in world.content.post_items(profile_id, day):
                    if item.epoch > now:
                        continue
                    record = world.content.post(item)
                    public = {k: v for k, v in record.items() if not k.startswith("_")}
                    metrics = world.content.post_metrics(record)
                    yield {**public, "metrics": metrics, "customer_id": customer_id}


def _messages(world: World) -> Iterator[dict[str, Any]]:
    now = world.now_epoch
    for customer_id in world.customer_ids():
        for profile_id in world.customer_profile_ids(customer_id):
            for day in _utc_days(world):
                for item in world.content.message_items(profile_id, day):
                    if item.epoch <= now:
                        served = world.content.served_message(world.content.message(item), None)
                        yield {**served, "customer_id": customer_id}


def _cases(world: World) -> Iterator[dict[str, Any]]:
    for customer_id in world.customer_ids():
        for day in _utc_days(world):
            for case in world.cases.cases(customer_id, day):
                yield {**case, "customer_id": customer_id}


def _topic_messages(world: World) -> Iterator[dict[str, Any]]:
    for customer_id, topic_id, message in _all_topic_messages(world):
        public = {k: v for k, v in message.items() if not k.startswith("_")}
        metrics = {k: float(v) for k, v in message["_metrics"].items()}
        yield {**public, "metrics": metrics, "customer_id": customer_id, "topic_id": topic_id}


def _all_topic_messages(world: World) -> Iterator[tuple[int, str, dict[str, Any]]]:
    for customer_id in world.customer_ids():
        for topic in world.topics(customer_id):
            for day in _utc_days(world):
                for message in world.listening.messages(topic["id"], day):
                    yield customer_id, topic["id"], message


def _topic_metrics(world: World) -> Iterator[dict[str, Any]]:
    dimensions = ["created_time.by(day)", "network", "sentiment"]
    for customer_id in world.customer_ids():
        for topic in world.topics(customer_id):
            for day in _utc_days(world):
                found = world.listening.messages(topic["id"], day)
                for row in aggregate_topic(found, dimensions, list(_TOPIC_METRIC_KEYS), "UTC"):
                    yield {
                        **row,
                        "customer_id": customer_id,
                        "topic_id": topic["id"],
                        "metric_date": row["dimensions"]["created_time"][:10],
                    }
