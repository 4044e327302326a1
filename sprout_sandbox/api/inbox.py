"""Inbox endpoints: messages of a group and cases, both paged with signed cursors."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from sprout_sandbox import filters as flt
from sprout_sandbox.api import paging as pg
from sprout_sandbox.api._common import (
    EQ,
    MESSAGE_FIELDS,
    ONE_WEEK,
    TIME_OPS,
    cursor_page,
    eq_values,
    expand_fields,
    item_check,
    ok,
    own_profiles,
    path_customer,
    path_value,
    spec,
    utc_days,
    world_of,
)
from sprout_sandbox.errors import bad_request, forbidden
from sprout_sandbox.world import World

MESSAGE_FILTERS = {
    "group_id": spec("int", frozenset({"eq"}), 1),
    "customer_profile_id": spec("int", frozenset({"eq"}), 100),
    "message_id": spec("str", frozenset({"eq"}), 100),
    "created_time": spec("time", TIME_OPS),
    "action_last_update_time": spec("time", TIME_OPS),
    "post_type": spec("upper", EQ),
    "tag_id": spec("int", EQ),
    "language_code": spec("str", EQ),
    "from.guid": spec("str", EQ),
}
_CASE_TIMES = ("created_time", "latest_activity_time", "updated_time")
CASE_FILTERS = {
    "case_id": spec("str", frozenset({"eq"}), 100),
    **{name: spec("time", TIME_OPS) for name in _CASE_TIMES},
    "queue_id": spec("str", EQ),
    "type": spec("upper", EQ),
    "priority": spec("upper", EQ),
    "status": spec("upper", EQ),
    "message_id": spec("str", EQ),
    "tag_id": spec("int", EQ),
    "assigned_by": spec("str", EQ),
    "created_by": spec("str", EQ),
    "assigned_to": spec("str", EQ),
}


# Messages -----------------------------------------------------------------------------------


def _message_value(world: World, served: dict[str, Any], record: dict[str, Any], field: str) -> Any:
    if field == "created_time":
        return record["_epoch"]
    if field == "action_last_update_time":
        return world.content.action_last_update(record)
    if field == "tag_id":
        return [t["id"] for t in served["internal"]["tags"]]
    if field == "message_id":
        return served["guid"]
    return path_value(served, field)


async def messages(request: Request) -> JSONResponse:
    """``POST /v1/{customer_id}/messages``: inbox messages of one group, cursor-paged."""
    where = "messages"
    world, customer_id = world_of(request), path_customer(request)
    body = await pg.json_body(request, where)
    tz = pg.text(body, "timezone", where, "UTC")
    texts = pg.str_list(body, "filters", where, True)
    filters = flt.bind(flt.parse(texts), MESSAGE_FILTERS, tz, where)
    fields = pg.check_fields(pg.str_list(body, "fields", where) or ["guid"], MESSAGE_FIELDS, where)
    limit = pg.integer(body, "limit", where, 50, 100)
    _, descending = pg.sort_order(body, where, ("created_time",), "created_time:desc")
    group_id, candidates = _message_candidates(world, customer_id, filters, where, descending)
    check = item_check(filters, lambda pair, field: _message_value(world, pair[0], pair[1], field))
    served = ((world.content.served_message(record, group_id), record) for record in candidates)
    keyed = (([r["_epoch"], s["guid"]], s) for s, r in served if check((s, r)))
    page, cursor = cursor_page(request, body, keyed, limit, descending, (texts, tz, where))
    return ok([pg.project(s, expand_fields(fields)) for s in page],
               None if cursor is None else {"next_cursor": cursor})  # fmt: skip


def _message_candidates(
    world: World,
    customer_id: int,
    filters: list[flt.BoundFilter],
    where: str,
    descending: bool,
) -> tuple[int | None, Iterator[dict[str, Any]]]:
    """The group asked for and its messages in created_time order, built as walked."""
    if any(f.field == "message_id" for f in filters):
        if len(filters) > 1:
            raise bad_request(f"message_id of {where} must be used without any other filter")
        guids = eq_values(filters, "message_id") or []
        found = [r for r in (_message_by_guid(world, customer_id, g) for g in guids) if r]
        found.sort(key=lambda r: (r["_epoch"], r["guid"]), reverse=descending)
        return None, iter(found)
    groups = eq_values(filters, "group_id")
    if not groups:
        raise bad_request(f"{where} needs exactly one group_id.eq(...) filter")
    group_id = groups[0]
    if world.customer_of_group(group_id) != customer_id:
        raise forbidden(f"group_id {group_id} is not a group of customer {customer_id}")
    profile_ids = _group_profile_ids(world, customer_id, group_id, filters)
    if not any(f.field == "created_time" for f in filters):
        raise bad_request(f"{where} needs a created_time filter, e.g. created_time.in(a..b)")
    low, high = flt.time_bounds(filters, "created_time")
    _check_action_range(filters, low, where)
    return group_id, _ordered_messages(world, profile_ids, utc_days(low, high, world), descending)


def _ordered_messages(
    world: World, profile_ids: list[int], days: range, descending: bool
) -> Iterator[dict[str, Any]]:
    now = world.now_epoch
    for day in reversed(days) if descending else days:
        found = [i for pid in profile_ids for i in world.content.message_items(pid, day)]
        found.sort(key=lambda i: (i.epoch, i.guid), reverse=descending)
        yield from (world.content.message(i) for i in found if i.epoch <= now)


def _group_profile_ids(
    world: World, customer_id: int, group_id: int, filters: list[flt.BoundFilter]
) -> list[int]:
    in_group = world.group_profiles(group_id)
    asked = eq_values(filters, "customer_profile_id")
    if asked is None:
        return in_group
    profile_ids = own_profiles(world, customer_id, asked)
    for pid in profile_ids:
        if pid not in in_group:
            raise bad_request(
                f"customer_profile_id {pid} does not belong to group_id {group_id}; "
                "request profiles of that group only"
            )
    return profile_ids


def _check_action_range(filters: list[flt.BoundFilter], created_low: float, where: str) -> None:
    if not any(f.field == "action_last_update_time" for f in filters):
        return
    _, action_high = flt.time_bounds(filters, "action_last_update_time")
    if action_high < created_low:
        raise bad_request(
            f"action_last_update_time of {where} ends before the created_time range "
            "starts; it cannot be chronologically before created_time"
        )


def _message_by_guid(world: World, customer_id: int, guid: str) -> dict[str, Any] | None:
    _, _, digits = guid.partition(":")
    if len(digits) < 9 or not digits.isdigit():
        return None
    pid, day, n = int(digits[:-8]), int(digits[-8:-3]), int(digits[-3:])
    if world.customer_of_profile(pid) != customer_id:
        return None
    items = world.content.message_items(pid, day)
    if n >= len(items) or items[n].guid != guid or items[n].epoch > world.now_epoch:
        return None
    return world.content.message(items[n])


# Cases --------------------------------------------------------------------------------------

_CASE_VALUES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "assigned_to": lambda c: c["assigned_to"],
    "message_id": lambda c: [m["guid"] for m in c["messages"]],
    "tag_id": lambda c: [t["tag_id"] for t in c["tags"]],
}


def _case_value(case: dict[str, Any], field: str) -> Any:
    if field in _CASE_VALUES:
        return _CASE_VALUES[field](case)
    value = case.get(field)
    if field in _CASE_TIMES and value:
        return datetime.fromisoformat(value).timestamp()
    return value


async def cases(request: Request) -> JSONResponse:
    """``POST /v1/{customer_id}/cases/filter``: cases, cursor-paged."""
    where = "cases/filter"
    world, customer_id = world_of(request), path_customer(request)
    body = await pg.json_body(request, where)
    tz = pg.text(body, "timezone", where, "America/Chicago")
    texts = pg.str_list(body, "filters", where, True)
    filters = flt.bind(flt.parse(texts), CASE_FILTERS, tz, where)
    limit = pg.integer(body, "limit", where, 50, 100)
    sort_field, descending = pg.sort_order(
        body, where, ("created_time", "updated_time"), "created_time:desc"
    )
    found = [
        case for case in _case_candidates(world, customer_id, filters, where)
        if flt.passes(filters, partial(_case_value, case))
    ]  # fmt: skip
    keyed = sorted(
        (([_case_value(c, sort_field), c["case_id"]], c) for c in found),
        key=lambda pair: pair[0],
        reverse=descending,
    )
    page, cursor = cursor_page(request, body, keyed, limit, descending,
                                (texts, tz, sort_field, where))  # fmt: skip
    return ok(page, None if cursor is None else {"next_cursor": cursor})


def _case_candidates(
    world: World, customer_id: int, filters: list[flt.BoundFilter], where: str
) -> list[dict[str, Any]]:
    if any(f.field == "case_id" for f in filters):
        if len(filters) > 1:
            raise bad_request(f"case_id of {where} must be used without any other filter")
        found = (world.cases.by_id(customer_id, i) for i in eq_values(filters, "case_id") or [])
        return [case for case in found if case is not None]
    windows = _case_windows(filters, where)
    low = windows.get("created_time", (None, None))[0]
    if low is None:
        # Cases updated in the window may have opened earlier; they settle within weeks.
        low = min(w[0] for w in windows.values()) - 60 * 86_400
    high = min(w[1] for w in windows.values())
    return [
        case for day in utc_days(low, high, world) for case in world.cases.cases(customer_id, day)
    ]


def _case_windows(filters: list[flt.BoundFilter], where: str) -> dict[str, tuple[float, float]]:
    windows = {}
    for name in _CASE_TIMES:
        if any(f.field == name for f in filters):
            low, high = flt.time_bounds(filters, name)
            # An hour of slack: a week that crosses a DST change lasts 169 hours.
            if math.isinf(low) or math.isinf(high) or high - low > ONE_WEEK + 3600:
                raise bad_request(
                    f"{name} of {where} must be a range of at most one week, "
                    f"e.g. {name}.in(2025-01-01...2025-01-08)"
                )
            windows[name] = (low, high)
    if not windows:
        raise bad_request(
            f"{where} needs case_id.eq(...) alone or at least one of "
            f"{', '.join(_CASE_TIMES)} as a range of at most one week"
        )
    created_low = windows.get("created_time", (-math.inf, 0))[0]
    for name in ("latest_activity_time", "updated_time"):
        if name in windows and windows[name][1] < created_low:
            raise bad_request(
                f"{name} of {where} ends before the created_time range starts; "
                "it cannot be chronologically before created_time"
            )
    return windows
