"""Listening endpoints: topic messages (page-numbered) and topic metrics (aggregates)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from functools import partial
from itertools import islice
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from sources.sprout import catalogue
from sprout_sandbox import filters as flt
from sprout_sandbox.api import paging as pg
from sprout_sandbox.api._common import (
    EQ,
    ORDER,
    TEXT,
    TIME_OPS,
    check_metrics,
    ok,
    path_customer,
    path_value,
    spec,
    utc_days,
    world_of,
)
from sprout_sandbox.errors import bad_request, forbidden
from sprout_sandbox.world import World
from sprout_sandbox.world import _common as wc
from sprout_sandbox.world._listening import message_metrics

LISTENING_FIELDS = frozenset({
    "content_category", "created_time", "from.guid", "from.name", "from.profile_picture",
    "from.screen_name", "from.profile_url", "from.followers_count", "guid", "network",
    "perma_link", "profile_guid", "text", "title", "hashtags", "visual_media", "sentiment",
    "sentiment_raw", "language", "location.city", "location.province", "location.country",
    "source.name", "source.url", "parent_message_id", "explicit_label",
    "explicit_probability", "mentions", "emoticons", "keywords", "related_words",
    "document.theme_ids",
})  # fmt: skip
# Listening answers these three inside ``listening_metadata`` (a documented quirk).
_LISTENING_METADATA = {"sentiment", "language", "explicit_label"}


_LISTENING_NUMBERS = ("likes", "replies", "shares_count", "engagements", "engagement_total",
                      "impressions", "from.followers_count", "sentiment_raw",
                      "explicit_probability")  # fmt: skip
LISTENING_FILTERS = {
    "created_time": spec("time", TIME_OPS),
    "network": spec("upper", EQ),
    "sentiment": spec("upper", EQ),
    "language": spec("str", EQ),
    "text": spec("text", TEXT),
    "title": spec("text", TEXT),
    "hashtags": spec("text", TEXT),
    "keywords": spec("text", TEXT),
    "mentions": spec("text", TEXT),
    "explicit_label": spec("bool", frozenset({"eq", "exists"})),
    "content_category": spec("upper", EQ),
    "distribution_type": spec("upper", EQ),
    "visual_media": spec("str", frozenset({"exists"})),
    "guid": spec("str", ORDER),
    "from.guid": spec("str", EQ),
    "from.name": spec("text", TEXT),
    "parent_message_id": spec("str", EQ | {"exists"}),
    "document.theme_ids": spec("str", EQ | {"exists"}),
    **{
        f"location.{part}": spec("str", EQ | {"exists"}) for part in ("city", "province", "country")
    },
    **{name: spec("num", ORDER | {"exists"}) for name in _LISTENING_NUMBERS},
}
LISTENING_DIMENSIONS = (
    "created_time.by(day)", "created_time.by(month)", "visual_media.media_type",
    "distribution_type", "network", "sentiment", "language", "explicit_label",
    "location.city", "location.province", "location.country",
)  # fmt: skip


# Listening ----------------------------------------------------------------------------------


def _topic(request: Request, customer_id: int) -> str:
    topic_id = str(request.path_params["topic_id"])
    if world_of(request).customer_of_topic(topic_id) != customer_id:
        raise forbidden(
            f"topic {topic_id} is not a listening topic of customer {customer_id}; "
            f"list them with GET /v1/{customer_id}/metadata/customer/topics"
        )
    return str(int(topic_id))


def _listening_value(message: dict[str, Any], field: str) -> Any:
    if field == "created_time":
        return message["_epoch"]
    if field in _LISTENING_METADATA:
        return message["listening_metadata"][field]
    if field in ("engagement_total", "engagements"):
        return message["_metrics"]["engagements"]
    if field in message["_metrics"]:
        return message["_metrics"][field]
    return path_value(message, field)


def _listening_messages(
    world: World, topic_id: str, filters: list[flt.BoundFilter], descending: bool = False
) -> Iterator[dict[str, Any]]:
    """The topic's messages that pass the filters, in created_time order, built as walked."""
    low, high = flt.time_bounds(filters, "created_time")
    days = utc_days(low, high, world)
    for day in reversed(days) if descending else days:
        found = world.listening.messages(topic_id, day)
        for m in reversed(found) if descending else found:
            if flt.passes(filters, partial(_listening_value, m)):
                yield m


def _listening_request(
    request: Request, body: dict[str, Any], where: str
) -> tuple[World, str, str, list[flt.BoundFilter], list[str]]:
    world, customer_id = world_of(request), path_customer(request)
    topic_id = _topic(request, customer_id)
    tz = pg.text(body, "timezone", where, "UTC")
    filters = flt.bind(flt.parse(pg.str_list(body, "filters", where)), LISTENING_FILTERS,
                       tz, where)  # fmt: skip
    metrics = pg.str_list(body, "metrics", where)
    check_metrics(metrics, set(catalogue.TOPIC_METRICS), where)
    return world, topic_id, tz, filters, metrics


async def topic_messages(request: Request) -> JSONResponse:
    """``POST .../listening/topics/{topic_id}/messages``: page-numbered topic messages."""
    where = "listening/topics/messages"
    body = await pg.json_body(request, where)
    world, topic_id, _, filters, metrics = _listening_request(request, body, where)
    fields = pg.check_fields(pg.str_list(body, "fields", where, True), LISTENING_FIELDS, where)
    page = pg.integer(body, "page", where, 1, 10**9)
    limit = pg.integer(body, "limit", where, 50, 100)
    _, descending = pg.sort_order(body, where, ("created_time",), "created_time:desc")
    walked = _listening_messages(world, topic_id, filters, descending)
    found = list(islice(walked, min(page * limit, pg.RESULT_CAP) + 1))
    offset, _ = pg.page_numbers(len(found), page, limit, where)
    rows = [_listening_row(m, fields, metrics) for m in found[offset : offset + limit]]
    # The documented answer carries current_page without total_pages.
    return ok(rows, {"current_page": page})


def _listening_row(
    message: dict[str, Any], fields: list[str], metrics: list[str]
) -> dict[str, Any]:
    plain = [f for f in fields if f not in _LISTENING_METADATA]
    row = {"guid": message["guid"], **pg.project(message, plain)}
    lifted = {f: message["listening_metadata"][f] for f in fields if f in _LISTENING_METADATA}
    if lifted:
        row["listening_metadata"] = lifted
    if metrics:
        values = message_metrics(message)
        row["metrics"] = {m: values[m] for m in metrics}
    return row


async def topic_metrics(request: Request) -> JSONResponse:
    """``POST .../listening/topics/{topic_id}/metrics``: aggregates of the topic's messages."""
    where = "listening/topics/metrics"
    body = await pg.json_body(request, where)
    world, topic_id, tz, filters, metrics = _listening_request(request, body, where)
    # The documented filter example sends no metrics; every topic metric is answered then.
    metrics = metrics or list(catalogue.TOPIC_METRICS)
    dimensions = pg.str_list(body, "dimensions", where)
    for dimension in dimensions:
        if dimension not in LISTENING_DIMENSIONS:
            raise bad_request(
                f"unknown dimension {dimension!r} for {where}; use one of "
                + ", ".join(LISTENING_DIMENSIONS)
            )
    with wc.bulk():
        found = list(_listening_messages(world, topic_id, filters))
    rows = aggregate_topic(found, dimensions, metrics, tz)
    if "limit" in body:
        rows = rows[: pg.integer(body, "limit", where, 100, 10_000)]
    # Both documented shapes occur: an empty paging object, and none at all.
    if any(d.startswith("created_time") for d in dimensions):
        return ok(rows, {})
    return ok(rows)


def aggregate_topic(
    found: list[dict[str, Any]], dimensions: list[str], metrics: list[str], tz: str
) -> list[dict[str, Any]]:
    """Topic metrics of ``found`` messages, one row per combination of dimension values.

    Values are floats, sentiment is upper case and ``created_time.by(...)`` comes back
    under ``created_time`` as a local midnight with offset, all as the API answers.
    """
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    local_days: dict[int, date] = {}
    for message in found:
        key = tuple(_dimension_value(message, d, tz, local_days) for d in dimensions)
        groups.setdefault(key, []).append(message)
    if not dimensions:
        groups.setdefault((), [])
    names = [d.split(".by(")[0] for d in dimensions]
    return [
        {
            "dimensions": dict(zip(names, key, strict=True)),
            "metrics": {m: _topic_total(groups[key], m) for m in metrics},
        }
        for key in sorted(groups, key=lambda k: tuple(str(v) for v in k))
    ]


def _topic_total(members: list[dict[str, Any]], metric: str) -> float:
    if metric == "authors_count":
        return float(len({m["from"]["guid"] for m in members}))
    if metric == "messages_count":
        return float(len(members))
    if metric == "from.followers_count":
        return float(sum(m["from"]["followers_count"] for m in members))
    if metric.endswith("_sentiments_count"):
        wanted = metric.removesuffix("_sentiments_count")
        return float(sum(1 for m in members if m["listening_metadata"]["sentiment"] == wanted))
    return float(sum(m["_metrics"][metric] for m in members))


def _dimension_value(
    message: dict[str, Any], dimension: str, tz: str, local_days: dict[int, date]
) -> Any:
    if dimension.startswith("created_time.by("):
        # Zone offsets are whole quarter hours, so one conversion per quarter is enough.
        quarter = message["_epoch"] // 900
        if quarter not in local_days:
            local = wc.from_epoch(quarter * 900).astimezone(wc.zone(tz)).date()
            local_days[quarter] = local
        day = local_days[quarter]
        if dimension.endswith("(month)"):
            day = day.replace(day=1)
        return wc.local_midnight(day, tz).isoformat()
    if dimension == "sentiment":
        return str(message["listening_metadata"]["sentiment"]).upper()
    if dimension == "visual_media.media_type":
        media = message["visual_media"]
        return media[0]["media_type"] if media else None
    return _listening_value(message, dimension)
