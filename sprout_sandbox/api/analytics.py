"""Analytics endpoints: daily profile metrics and posts with lifetime metrics."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from sprout_sandbox import filters as flt
from sprout_sandbox.api import paging as pg
from sprout_sandbox.api._common import (
    EQ,
    ONE_YEAR_DAYS,
    ORDER,
    POST_FIELDS,
    TEXT,
    TIME_OPS,
    check_metrics,
    check_scope,
    eq_values,
    expand_fields,
    item_check,
    known_metrics,
    ok,
    own_profiles,
    path_customer,
    path_value,
    spec,
    utc_days,
    world_of,
)
from sprout_sandbox.errors import bad_request
from sprout_sandbox.world import World
from sprout_sandbox.world._content import Item

PROFILE_FILTERS = {
    "customer_profile_id": spec("int", frozenset({"eq"}), 100),
    "reporting_period": spec("date", TIME_OPS),
}
POST_FILTERS = {
    "customer_profile_id": spec("int", frozenset({"eq"}), 100),
    "created_time": spec("time", TIME_OPS),
    "guid": spec("str", ORDER),
    "post_type": spec("upper", EQ),
    "post_category": spec("upper", EQ),
    "content_category": spec("upper", EQ),
    "network": spec("upper", EQ),
    "text": spec("text", TEXT),
    "title": spec("text", TEXT),
    "hashtags": spec("text", TEXT),
    "from.guid": spec("str", EQ),
    "internal.tags.id": spec("int", EQ | {"exists"}),
    "internal.sent_by.id": spec("int", EQ),
    "sent": spec("bool", frozenset({"eq"})),
    "is_boosted": spec("bool", frozenset({"eq", "exists"})),
    "visual_media": spec("str", frozenset({"exists"})),
    "clickthrough_link": spec("str", frozenset({"exists"})),
}


# Analytics: profiles ------------------------------------------------------------------------


async def analytics_profiles(request: Request) -> JSONResponse:
    """``POST /v1/{customer_id}/analytics/profiles``: daily metrics per profile."""
    where = "analytics/profiles"
    world, customer_id = world_of(request), path_customer(request)
    body = await pg.json_body(request, where)
    filters = flt.bind(flt.parse(pg.str_list(body, "filters", where, True)),
                       PROFILE_FILTERS, "UTC", where)  # fmt: skip
    metrics = pg.str_list(body, "metrics", where, required=True)
    check_metrics(metrics, known_metrics(world, "profile"), where)
    page = pg.integer(body, "page", where, 1, 10**9)
    limit = pg.integer(body, "limit", where, 1000, 1000)
    ids = eq_values(filters, "customer_profile_id")
    if not ids:
        raise bad_request(f"{where} needs the filter customer_profile_id.eq(...)")
    profiles = [world.profile(p) for p in own_profiles(world, customer_id, ids)]
    days = _reporting_days(filters, where)
    check_scope(world, len(profiles) * len(days), where)
    rows = [
        (day, profile)
        for day in days
        for profile in profiles
        if world.start_date <= day <= world.profile_metrics.last_day(profile)
    ]
    offset, total_pages = pg.page_numbers(len(rows), page, limit, where)
    data = [
        {
            "dimensions": {
                "reporting_period.by(day)": day.isoformat(),
                "customer_profile_id": profile["customer_profile_id"],
            },
            "metrics": world.profile_metrics.day(profile, day, metrics),
        }
        for day, profile in rows[offset : offset + limit]
    ]
    return ok(data, {"current_page": page, "total_pages": total_pages})


def _reporting_days(filters: list[flt.BoundFilter], where: str) -> list[date]:
    periods = [f for f in filters if f.field == "reporting_period"]
    if not periods:
        raise bad_request(f"{where} needs the filter reporting_period.in(start...end)")
    first, last = date.min, date.max
    for f in periods:
        if f.op == "in":
            end = f.high if f.high_inclusive else f.high - timedelta(days=1)
            first, last = max(first, f.low), min(last, end)
        elif f.op in ("gt", "gte"):
            first = max(first, f.values[0] + timedelta(days=int(f.op == "gt")))
        elif f.op in ("lt", "lte"):
            last = min(last, f.values[0] - timedelta(days=int(f.op == "lt")))
        else:
            first, last = max(first, min(f.values)), min(last, max(f.values))
    if first == date.min or last == date.max:
        raise bad_request(f"reporting_period of {where} needs both a start and an end")
    if (last - first).days + 1 > ONE_YEAR_DAYS:
        raise bad_request(
            f"reporting_period of {where} spans {(last - first).days + 1} days; "
            "at most one year per request, split the range"
        )
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# Analytics: posts ---------------------------------------------------------------------------

_ITEM_FIELDS = {
    "created_time": "epoch",
    "guid": "guid",
    "customer_profile_id": "profile_id",
    "post_type": "post_type",
    "content_category": "content_category",
}


def _post_value(world: World, item: Item, field: str) -> Any:
    if field in _ITEM_FIELDS:
        return getattr(item, _ITEM_FIELDS[field])
    record = world.content.post(item)
    if field == "internal.tags.id":
        return [t["id"] for t in record.get("internal", {}).get("tags", [])]
    return path_value(record, field)


def _guid_floors(filters: list[flt.BoundFilter]) -> list[flt.BoundFilter]:
    """The ``guid.gt``/``guid.gte`` filters that bind on their own (the guid walk)."""
    return [f for f in filters if f.alone and f.field == "guid" and f.op in ("gt", "gte")]


async def analytics_posts(request: Request) -> JSONResponse:
    """``POST /v1/{customer_id}/analytics/posts``: posts with fields and lifetime metrics."""
    where = "analytics/posts"
    world, customer_id = world_of(request), path_customer(request)
    body = await pg.json_body(request, where)
    tz = pg.text(body, "timezone", where, "UTC")
    filters = flt.bind(flt.parse(pg.str_list(body, "filters", where, True)), POST_FILTERS,
                       tz, where)  # fmt: skip
    fields = pg.check_fields(pg.str_list(body, "fields", where) or ["guid"], POST_FIELDS, where)
    metrics = pg.str_list(body, "metrics", where)
    check_metrics(metrics, known_metrics(world, "post"), where)
    page = pg.integer(body, "page", where, 1, 10**9)
    limit = pg.integer(body, "limit", where, 50, 100)
    sort_field, descending = pg.sort_order(
        body, where, ("created_time", "guid"), "created_time:desc"
    )
    ids = eq_values(filters, "customer_profile_id")
    if not ids:
        raise bad_request(f"{where} needs the filter customer_profile_id.eq(...)")
    profile_ids = own_profiles(world, customer_id, ids)
    low, high = flt.time_bounds(filters, "created_time")
    days = utc_days(low, high, world)
    check_scope(world, len(profile_ids) * len(days), where)
    # Walking guids upwards, the walk itself applies the guid floor, as an index would.
    floors = _guid_floors(filters) if sort_field == "guid" and not descending else []
    check = _post_check(world, [f for f in filters if f not in floors])
    items: list[Item] = []
    for batch in _ordered_posts(world, profile_ids, days, sort_field, descending, floors):
        items += batch if check is None else [i for i in batch if check(i)]
        # Results past the cap are unreachable by paging, so the walk stops there.
        if len(items) >= pg.RESULT_CAP:
            del items[pg.RESULT_CAP :]
            break
    offset, total_pages = pg.page_numbers(len(items), page, limit, where)
    rows = [_post_row(world, i, fields, metrics) for i in items[offset : offset + limit]]
    return ok(rows, {"current_page": page, "total_pages": total_pages})


def _post_check(world: World, filters: list[flt.BoundFilter]) -> Callable[[Item], bool] | None:
    # Filters on what the skeleton holds (time, guid, type) skip building the post.
    rest = [f for f in filters if not (f.alone and f.field == "customer_profile_id")]
    if not rest:
        return None
    if all(f.alone and f.field in _ITEM_FIELDS for f in rest):
        tests = [_skeleton_test(f) for f in rest]
        return lambda item: all(test(item) for test in tests)
    return item_check(filters, lambda item, field: _post_value(world, item, field))


_COMPARE = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


def _skeleton_test(f: flt.BoundFilter) -> Callable[[Item], bool]:
    # A guid.gt walk checks every post past the cursor, so single comparisons are inlined.
    getter = operator.attrgetter(_ITEM_FIELDS[f.field])
    compare = _COMPARE.get(f.op)
    if compare is None:
        return lambda item: f.matches(getter(item))
    bound = f.values[0]
    return lambda item: bool(compare(getter(item), bound))


def _ordered_posts(
    world: World,
    profile_ids: list[int],
    days: range,
    sort_field: str,
    descending: bool,
    floors: list[flt.BoundFilter],
) -> Iterator[list[Item]]:
    """Published posts of the profiles in the requested order, a day's batch at a time.

    ``floors`` (guid lower bounds, for ascending guid order only) are applied here.
    """
    now = world.now_epoch
    day_order = reversed(days) if descending else days
    if sort_field == "created_time":
        for day in day_order:
            found = [i for pid in profile_ids for i in world.content.post_items(pid, day)]
            found.sort(key=lambda i: (i.epoch, i.guid), reverse=descending)
            yield [i for i in found if i.epoch <= now]
        return
    floor = max((f.values[0] for f in floors), default="")
    above = (
        operator.gt if any(f.op == "gt" and f.values[0] == floor for f in floors) else operator.ge
    )
    prefixes = {pid: f"{world.profile(pid)['_network'].guid_prefix}:{pid}" for pid in profile_ids}
    for pid in sorted(profile_ids, key=prefixes.__getitem__, reverse=descending):
        for day in reversed(days) if descending else days:
            # Guids sort by profile then day, so a guid.gt walk skips whole days unseen.
            if floor and f"{prefixes[pid]}{day:05d}~" <= floor:
                continue
            items = world.content.post_items(pid, day)
            ordered = reversed(items) if descending else items
            yield [i for i in ordered if i.epoch <= now and (not floor or above(i.guid, floor))]


def _post_row(world: World, item: Item, fields: list[str], metrics: list[str]) -> dict[str, Any]:
    if not metrics and set(fields) <= {"guid", "customer_profile_id", "post_type"}:
        # A guid walk asks for guids only: the skeleton has them, no post is built.
        return pg.project(
            {
                "guid": item.guid,
                "customer_profile_id": item.profile_id,
                "post_type": item.post_type,
            },
            fields,
        )
    record = world.content.post(item)
    row = pg.project(record, expand_fields(fields))
    if metrics:
        row["metrics"] = world.content.post_metrics(record, metrics)
    return row
