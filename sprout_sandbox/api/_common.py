"""What the read endpoints share: request access, checks, field and cursor paging."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from sources.sprout import catalogue
from sprout_sandbox import filters as flt
from sprout_sandbox.api import paging as pg
from sprout_sandbox.errors import ApiError, bad_request, forbidden
from sprout_sandbox.world import World

ONE_YEAR_DAYS = 366
ONE_WEEK = 7 * 86_400
TIME_OPS = frozenset({"in", "gt", "gte", "lt", "lte", "eq"})
EQ = frozenset({"eq", "neq"})
ORDER = frozenset({"eq", "neq", "in", "gt", "gte", "lt", "lte"})
TEXT = frozenset({"match", "exists", "eq", "neq"})


def spec(kind: str, ops: frozenset[str], max_values: int | None = None) -> flt.FieldSpec:
    """The filter spec of one documented filter field."""
    return flt.FieldSpec(kind, ops, max_values)


# Message fields ---------------------------------------------------------------------------

COMMON_FIELDS = frozenset({
    "content_category", "created_time", "from", "from.guid", "from.name",
    "from.profile_picture", "from.screen_name", "guid", "customer_profile_id", "internal",
    "internal.tags.id", "internal.sent_by.id", "internal.sent_by.email",
    "internal.sent_by.first_name", "internal.sent_by.last_name", "post_type",
    "post_category", "network", "perma_link", "profile_guid", "text", "title",
    "clickthrough_link.name", "clickthrough_link.long", "clickthrough_link.short",
    "hashtags", "visual_media",
})  # fmt: skip
POST_FIELDS = COMMON_FIELDS | {"sent", "pinterest.board_name", "is_boosted"}
MESSAGE_FIELDS = (
    COMMON_FIELDS
    | {"inbox_permalink", "case_id", "language_code", "review_ratings"}
    | {
        f"activity_metadata.{action}.{leaf}"
        for action in ("first_reply", "first_like", "first_tag", "first_complete")
        for leaf in ("action_time", "time_elapsed", "actor.id", "actor.name")
    }
)


def expand_fields(paths: list[str]) -> list[str]:
    """Requested field paths with the ``internal`` shorthand spelled out."""
    # ``internal`` is documented as a shorthand for the tag ids and the sender's id.
    expanded: list[str] = []
    for path in paths:
        expanded += ["internal.tags.id", "internal.sent_by.id"] if path == "internal" else [path]
    return expanded


# Shared helpers -----------------------------------------------------------------------------


def world_of(request: Request) -> World:
    """The world the app serves."""
    world: World = request.app.state.world
    return world


def path_customer(request: Request) -> int:
    """The customer id of the path, which must be one of the world's customers."""
    customer_id: int = request.path_params["customer_id"]
    allowed = getattr(request.state, "customer_ids", None)
    known = customer_id in world_of(request).customer_ids()
    if not known or (allowed is not None and customer_id not in allowed):
        raise forbidden(
            f"customer {customer_id} is not a customer this token may read; "
            "list them with GET /v1/metadata/client"
        )
    return customer_id


def own_profiles(world: World, customer_id: int, ids: Iterable[int]) -> list[int]:
    """Sorted profile ids, each of the customer; 403 naming the first that is not."""
    profile_ids = sorted(set(ids))
    for pid in profile_ids:
        if world.customer_of_profile(pid) != customer_id:
            raise forbidden(
                f"customer_profile_id {pid} is not a profile of customer {customer_id}; "
                f"list them with GET /v1/{customer_id}/metadata/customer"
            )
    return profile_ids


def eq_values(filters: list[flt.BoundFilter], field: str) -> list[Any] | None:
    """Values of every ``eq`` filter on ``field``; None when there is none."""
    found = [f for f in filters if f.field == field and f.op == "eq"]
    return None if not found else [v for f in found for v in f.values]


def ok(data: Any, paging: dict[str, Any] | None = None) -> JSONResponse:
    """The documented envelope: ``data`` and, when given, ``paging``."""
    body: dict[str, Any] = {"data": data}
    if paging is not None:
        body["paging"] = paging
    return JSONResponse(body)


def check_metrics(metrics: list[str], known: set[str], where: str) -> None:
    """400 naming the first metric that is not in ``known``."""
    for metric in metrics:
        if metric not in known:
            raise bad_request(
                f"unknown metric {metric!r} for {where}: no network offers it; "
                "see the metric tables of the Metrics and Fields section"
            )


def known_metrics(world: World, kind: str) -> set[str]:
    """Profile or post metric keys some network still serves at the clock."""
    lister = catalogue.profile_metrics if kind == "profile" else catalogue.post_metrics
    return {m.key for n in catalogue.NETWORKS for m in lister(n) if world.known_metric(m)}


def check_scope(world: World, profile_days: int, where: str) -> None:
    """504 when the request covers more profile-days than the sandbox allows."""
    limit = world.config.max_scope_profile_days
    if limit is not None and profile_days > limit:
        raise ApiError(
            504,
            f"{where} covers {profile_days} profile-days and could not be answered in "
            "time; decrease the scope of the request (fewer profiles or a shorter range)",
        )


def utc_days(low: float, high: float, world: World) -> range:
    """UTC day numbers that overlap the epoch window, clipped to the world's history."""
    low = max(low, world.start_epoch)
    high = min(high, world.now_epoch)
    if high < low:
        return range(0)
    return range(int(low // 86_400), int(high // 86_400) + 1)


def path_value(record: Any, path: str) -> Any:
    """The value at a dotted path of a nested record, or None."""
    for part in path.split("."):
        if not isinstance(record, dict):
            return None
        record = record.get(part)
    return record


def item_check(
    filters: list[flt.BoundFilter], value_of: Callable[[Any, str], Any]
) -> Callable[[Any], bool]:
    """A test of one item against the filters that its selection has not settled yet."""
    settled = {"customer_profile_id", "group_id"}
    rest = [f for f in filters if not (f.alone and f.field in settled)]
    if not rest:
        return lambda item: True
    return lambda item: flt.passes(rest, lambda field: value_of(item, field))


def cursor_page(
    request: Request,
    body: dict[str, Any],
    keyed: Iterable[tuple[list[Any], dict[str, Any]]],
    limit: int,
    descending: bool,
    query_parts: tuple[Any, ...],
) -> tuple[list[dict[str, Any]], str | None]:
    """The page after ``page_cursor`` from rows walked in sort order with their sort keys,
    and the cursor of the next page when there is one."""
    where = str(query_parts[-1])
    cursors = pg.Cursors(world_of(request).seed)
    query = cursors.fingerprint(request.path_params.get("customer_id"), descending, *query_parts)
    position = None
    if body.get("page_cursor") is not None:
        position = cursors.read(pg.text(body, "page_cursor", where, ""), query, where)
    page: list[tuple[list[Any], dict[str, Any]]] = []
    for key, row in keyed:
        if position is not None and not (key < position if descending else key > position):
            continue
        page.append((key, row))
        if len(page) > limit:
            break
    more = len(page) > limit
    page = page[:limit]
    cursor = cursors.make(query, page[-1][0]) if more else None
    return [row for _, row in page], cursor
