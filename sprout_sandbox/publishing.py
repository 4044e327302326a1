"""Publishing posts: create drafts and retrieve them, validated as the reference says.

A created post "fans out": one object per profile and scheduled time, each with its
own ``publishing_post_id``, as the posts would appear on the networks. Retrieving any
of those ids answers the whole fan-out group it was created with. Posts live in memory
for the life of the app.
"""

from __future__ import annotations

import itertools
import threading
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sources.sprout.catalogue import network_by_type
from sprout_sandbox._asgi import iso_utc, parse_iso, sandbox_now
from sprout_sandbox.errors import ApiError, bad_request, forbidden

FIRST_POST_ID = 4_500_000
MEDIA_TYPES = ("PHOTO", "VIDEO")


class PublishingStore:
    """Created publishing posts, by id, and their fan-out groups."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(FIRST_POST_ID)
        self._posts: dict[int, dict[str, Any]] = {}
        self._groups: dict[int, list[int]] = {}
        self._owner: dict[int, int] = {}

    def next_ids(self, count: int) -> list[int]:
        """Reserve ``count`` consecutive post ids."""
        with self._lock:
            return [next(self._ids) for _ in range(count)]

    def add(self, customer_id: int, posts: list[dict[str, Any]]) -> None:
        """Store one fan-out group created by ``customer_id``."""
        ids = [post["internal"]["publishing"]["publishing_post_id"] for post in posts]
        with self._lock:
            for post_id, post in zip(ids, posts, strict=True):
                self._posts[post_id] = post
                self._groups[post_id] = ids
                self._owner[post_id] = customer_id

    def group(self, customer_id: int, post_id: int) -> list[dict[str, Any]] | None:
        """The fan-out group of ``post_id``, if the customer created it."""
        with self._lock:
            if self._owner.get(post_id) != customer_id:
                return None
            return [self._posts[i] for i in self._groups[post_id]]

    def count(self) -> int:
        """How many fanned-out posts exist."""
        with self._lock:
            return len(self._posts)

    def all_posts(self) -> list[dict[str, Any]]:
        """Every fanned-out post with its ``customer_id``, oldest first."""
        with self._lock:
            return [{**self._posts[i], "customer_id": self._owner[i]} for i in sorted(self._posts)]


def routes() -> list[BaseRoute]:
    """The two publishing endpoints."""
    return [
        Route("/v1/{customer_id:int}/publishing/posts", create_post, methods=["POST"]),
        Route("/v1/{customer_id:int}/publishing/posts/{post_id}", retrieve_post, methods=["GET"]),
    ]


async def create_post(request: Request) -> Response:
    """``POST /v1/<customer ID>/publishing/posts``: create a draft and fan it out."""
    customer_id: int = request.path_params["customer_id"]
    body = await _body(request)
    state = request.app.state
    now = sandbox_now(state.world)
    group_id = _group(state.world, customer_id, body)
    profiles = _profiles(state.world, customer_id, group_id, body)
    times = _scheduled_times(body, now)
    media = _media(state.media, customer_id, body, now)
    _check_tags(state.world, customer_id, body)
    author = _author(state.world, customer_id)
    send_times: list[datetime | None] = list(times) or [None]
    slots = [(profile, time) for profile in profiles for time in send_times]
    ids = state.publishing.next_ids(len(slots))
    common = {
        "customer_id": customer_id,
        "group_id": group_id,
        "text": body.get("text"),
        "media": media,
        "author": author,
        "now": now,
    }
    posts = [
        _fanned_out(post_id, profile, time, common)
        for post_id, (profile, time) in zip(ids, slots, strict=True)
    ]
    state.publishing.add(customer_id, posts)
    return JSONResponse({"data": posts})


async def retrieve_post(request: Request) -> Response:
    """``GET /v1/<customer ID>/publishing/posts/<id>``: the post's fan-out group."""
    customer_id: int = request.path_params["customer_id"]
    raw = request.path_params["post_id"]
    if not str(raw).isdigit():
        raise bad_request(f"publishing_post_id {raw!r} is not a number.")
    posts = request.app.state.publishing.group(customer_id, int(raw))
    if posts is None:
        raise ApiError(404, f"No publishing post {raw} exists for customer {customer_id}.")
    return JSONResponse({"data": posts})


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise bad_request("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    if body.get("is_draft") is not True:
        raise bad_request('Only drafts can be created: send "is_draft": true.')
    return body


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _group(world: Any, customer_id: int, body: dict[str, Any]) -> int:
    group_id = body.get("group_id")
    if not _is_int(group_id):
        raise bad_request("group_id is required and must be an integer group id.")
    if any(group["group_id"] == group_id for group in world.groups(customer_id)):
        return int(str(group_id))
    if world.customer_of_group(group_id) is not None:
        raise forbidden(f"group_id {group_id} belongs to another customer.")
    raise bad_request(f"group_id {group_id} is not a group of customer {customer_id}.")


def _profiles(
    world: Any, customer_id: int, group_id: int, body: dict[str, Any]
) -> list[dict[str, Any]]:
    ids = body.get("customer_profile_ids")
    if not isinstance(ids, list) or not ids or not all(_is_int(i) for i in ids):
        raise bad_request("customer_profile_ids must be a non-empty array of profile ids.")
    by_id = {profile["customer_profile_id"]: profile for profile in world.profiles(customer_id)}
    chosen = []
    for profile_id in dict.fromkeys(ids):
        profile = by_id.get(profile_id)
        if profile is None and world.customer_of_profile(profile_id) is not None:
            raise forbidden(f"customer_profile_id {profile_id} belongs to another customer.")
        if profile is None:
            raise bad_request(
                f"customer_profile_id {profile_id} is not a profile of this customer."
            )
        if group_id not in profile.get("groups", []):
            raise bad_request(
                f"customer_profile_id {profile_id} is not in group {group_id}: all profiles of "
                "a post must be in its group."
            )
        chosen.append(profile)
    return chosen


def _scheduled_times(body: dict[str, Any], now: datetime) -> list[datetime]:
    delivery = body.get("delivery")
    if delivery is None:
        return []
    if not isinstance(delivery, dict):
        raise bad_request("delivery must be an object with scheduled_times and type.")
    if delivery.get("type") != "SCHEDULED":
        raise bad_request('delivery.type must be "SCHEDULED" (the only supported type).')
    raw_times = delivery.get("scheduled_times")
    if not isinstance(raw_times, list) or not raw_times:
        raise bad_request("delivery.scheduled_times must be a non-empty array of timestamps.")
    times = []
    for raw in raw_times:
        try:
            moment = parse_iso(str(raw))
        except ValueError:
            raise bad_request(f"delivery.scheduled_times: {raw!r} is not ISO 8601.") from None
        if moment <= now:
            raise bad_request(
                f"delivery.scheduled_times: {raw} is not in the future (now is {iso_utc(now)})."
            )
        # The API rounds seconds down to the minute.
        times.append(moment.replace(second=0, microsecond=0))
    return list(dict.fromkeys(times))


def _media(
    store: Any, customer_id: int, body: dict[str, Any], now: datetime
) -> list[dict[str, str]]:
    items = body.get("media", [])
    if not isinstance(items, list):
        raise bad_request("media must be an array of {media_id, media_type} objects.")
    result = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("media_id"), str):
            raise bad_request("each media entry needs a media_id string and a media_type.")
        media_id, media_type = item["media_id"], item.get("media_type")
        if media_type not in MEDIA_TYPES:
            raise bad_request(f"media_type {media_type!r} of {media_id} must be PHOTO or VIDEO.")
        kind = store.kind_of(customer_id, media_id, now)
        if kind is None:
            raise bad_request(f"media_id {media_id} does not exist or has expired: upload again.")
        if kind != media_type:
            raise bad_request(f"media_id {media_id} is a {kind}, not a {media_type}.")
        result.append({"id": media_id, "media_type": media_type})
    return result


def _check_tags(world: Any, customer_id: int, body: dict[str, Any]) -> None:
    tag_ids = body.get("tag_ids", [])
    if not isinstance(tag_ids, list) or not all(_is_int(t) for t in tag_ids):
        raise bad_request("tag_ids must be an array of integer tag ids.")
    known = {tag["tag_id"] for tag in world.tags(customer_id)}
    unknown = [t for t in tag_ids if t not in known]
    if unknown:
        raise bad_request(f"tag_ids {unknown} are not tags of customer {customer_id}.")


def _author(world: Any, customer_id: int) -> dict[str, Any]:
    users = list(world.users(customer_id))
    user = users[0] if users else {"id": 0, "name": "Sandbox User", "email": ""}
    first, _, last = str(user.get("name", "")).partition(" ")
    return {
        "id": user.get("id"),
        "email": user.get("email"),
        "first_name": first,
        "last_name": last,
    }


def _fanned_out(
    post_id: int, profile: dict[str, Any], time: datetime | None, common: dict[str, Any]
) -> dict[str, Any]:
    network = network_by_type(profile["network_type"])
    deliveries = []
    if time is not None:
        deliveries.append(
            {"type": "SCHEDULED", "delivery_status": "PENDING", "scheduled_time": iso_utc(time)}
        )
    created = iso_utc(common["now"])
    return {
        "post_category": "POST",
        "post_type": network.post_types[0],
        "customer_profile_id": str(profile["customer_profile_id"]),
        "profile_guid": f"{network.guid_prefix}pr:{profile.get('native_id', '')}",
        "internal": {
            "publishing": {
                "publishing_post_id": post_id,
                "group_id": common["group_id"],
                "is_draft": True,
                "text": common["text"],
                "perma_link": "https://app.sproutsocial.com/publishing/activity/"
                f"{common['customer_id']}/{post_id}",
                "deliveries": deliveries,
                "media": common["media"],
                "created_by": common["author"],
                "updated_by": common["author"],
                "created_time": created,
                "updated_time": created,
            }
        },
    }
