"""Owned posts (``analytics/posts``) and inbox messages (``/messages``) of each profile.

Both are generated per profile and UTC day. A cheap skeleton (time, guid, type) is
enough to sort, count and page; full records are built only for the rows served.
Post ``lifetime.*`` metrics grow after publication, most in the first days, and
settle after four weeks. Inbox actions (reply, like, tag, complete) happen after a
message arrives and show up once the clock passes them.
"""

from __future__ import annotations

import math
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from sources.sprout import catalogue
from sprout_sandbox.world import _common as c

if TYPE_CHECKING:
    from sprout_sandbox.world import World

SETTLE_DAYS = 28
_CATEGORIES = ("TEXT", "PHOTO", "PHOTO", "VIDEO", "LINK", "ALBUM")
_VIDEO_NETWORKS = ("youtube", "tiktok")
# Network keys on which a message field exists (fields not listed exist everywhere),
# after the Message Fields table of the reference.
_ONLY_ON = {
    "title": {"x", "facebook", "linkedin", "youtube"},
    "clickthrough_link": {"x", "facebook", "linkedin", "pinterest", "bluesky"},
    "hashtags": {"x", "facebook", "instagram", "threads"},
    "from.screen_name": {"x", "instagram", "pinterest", "tiktok", "threads", "bluesky"},
    "pinterest.board_name": {"pinterest"},
    "is_boosted": {"facebook", "tiktok"},
}
_NOT_ON = {
    "from.name": {"tiktok"},
    "from.profile_picture": {"tiktok"},
    "internal.sent_by": {"pinterest"},
    "sent": {"pinterest"},
    "profile_guid": {"pinterest"},
    "text": {"pinterest"},
}
# Received inbox message types per network and their unified post_category.
_INBOX_TYPES = {
    "x": (("TWITTER_DIRECT_MESSAGE", "DIRECT_MESSAGE"), ("TWEET", "MENTION")),
    "facebook": (("FBCR_COMMENT", "COMMENT"), ("FACEBOOK_MESSENGER_PM", "DIRECT_MESSAGE")),
    "instagram": (
        ("INSTAGRAM_GRAPH_COMMENT", "COMMENT"),
        ("INSTAGRAM_DIRECT_MESSAGE", "DIRECT_MESSAGE"),
    ),
    "linkedin": (("LINKEDIN_COMPANY_COMMENT", "COMMENT"),),
    "youtube": (("YOUTUBE_COMMENT", "COMMENT"),),
    "pinterest": (("PINTEREST_REPIN", "POST"),),
    "threads": (("THREADS_REPLY", "COMMENT"),),
    "tiktok": (("TIKTOK_VIDEO_COMMENT", "COMMENT"),),
    "bluesky": (("BLUESKY_POST", "MENTION"),),
}
_ACTIONS = (("first_reply", 0.55, 2.0), ("first_like", 0.3, 1.0),
            ("first_tag", 0.5, 0.5), ("first_complete", 0.45, 8.0))  # fmt: skip


class Item(NamedTuple):
    """What sorting, filtering by time or type and paging need of a post or message."""

    epoch: int
    guid: str
    profile_id: int
    day: int
    n: int
    post_type: str
    content_category: str


class ContentGenerator:
    """Posts and inbox messages of every profile, generated per profile and UTC day."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.post_items = lru_cache(maxsize=100_000)(self._post_items)
        self.message_items = lru_cache(maxsize=100_000)(self._message_items)
        self.post = lru_cache(maxsize=20_000)(self._post)
        self.message = lru_cache(maxsize=50_000)(self._message)
        self._post_finals = lru_cache(maxsize=50_000)(self._finals)

    # Posts -----------------------------------------------------------------------------

    def _post_items(self, profile_id: int, day: int) -> tuple[Item, ...]:
        if day < c.day_number(self.world.start_date):
            return ()
        profile = self.world.profile(profile_id)
        network: catalogue.Network = profile["_network"]
        r = c.rng(self.world.seed, "posts", profile_id, day)
        count = min(999, c.poisson(r, self.world.scale.posts_per_day))
        midnight_la = c.local_midnight(c.day_of(day), "America/Los_Angeles").timestamp()
        day_start = day * 86_400
        times = []
        for _ in range(count):
            # Some posts go out minutes around midnight in Los Angeles, where the UTC
            # date and the Pacific reporting date of the same post differ.
            if r.random() < 0.08:
                times.append(int(midnight_la) + r.randrange(-900, 900))
            else:
                times.append(day_start + int(r.triangular(0, 86_399, 54_000)))
        items = []
        for n, epoch in enumerate(sorted(times)):
            post_type = network.post_types[0] if r.random() < 0.8 else r.choice(network.post_types)
            category = "VIDEO" if network.key in _VIDEO_NETWORKS else r.choice(_CATEGORIES)
            guid = f"{network.guid_prefix}:{profile_id}{day:05d}{n:03d}"
            items.append(Item(epoch, guid, profile_id, day, n, post_type, category))
        return tuple(items)

    def posts_in_reporting_day(self, profile: dict[str, Any], day: int) -> list[Item]:
        """Posts published by the clock whose date in the network's zone is ``day``."""
        tz = c.zone(profile["_network"].timezone)
        start = c.local_midnight(c.day_of(day), profile["_network"].timezone)
        low, high = start.timestamp(), (start + timedelta(days=1)).astimezone(tz).timestamp()
        now = self.world.now_epoch
        pid = profile["customer_profile_id"]
        return [
            item
            for d in (day - 1, day, day + 1)
            for item in self.post_items(pid, d)
            if low <= item.epoch < high and item.epoch <= now
        ]

    def _post(self, item: Item) -> dict[str, Any]:
        profile = self.world.profile(item.profile_id)
        network: catalogue.Network = profile["_network"]
        r = c.rng(self.world.seed, "post", item.guid)
        record = self._common_fields(item, profile, r)
        record["post_category"] = "POST"
        record["sent"] = True
        record["internal"]["sent_by"] = self._sender(profile, r)
        record["pinterest"] = {"board_name": f"{r.choice(c.WORDS).title()} Ideas"}
        record["is_boosted"] = r.random() < 0.1
        return _drop_unavailable(record, network.key)

    def _common_fields(self, item: Item, profile: dict[str, Any], r: Any) -> dict[str, Any]:
        network: catalogue.Network = profile["_network"]
        words = [r.choice(c.WORDS) for _ in range(r.randrange(5, 14))]
        hashtags = sorted({r.choice(c.HASHTAGS) for _ in range(r.randrange(0, 3))})
        text = " ".join(words).capitalize() + "".join(f" #{h}" for h in hashtags)
        tags = self.world.tags(profile["_customer_id"])
        picked = (
            sorted({r.choice(tags)["tag_id"] for _ in range(r.randrange(0, 3))}) if tags else []
        )
        native = item.guid.split(":", 1)[1]
        record: dict[str, Any] = {
            "_epoch": item.epoch,
            "guid": item.guid,
            "created_time": c.iso_z(c.from_epoch(item.epoch)),
            "customer_profile_id": item.profile_id,
            "network": network.network,
            "post_type": item.post_type,
            "content_category": item.content_category,
            "text": text,
            "title": " ".join(words[:4]).title(),
            "perma_link": f"https://{network.key}.example.com/{profile['native_name']}/{native}",
            "profile_guid": profile["_guid"],
            "from": self._owner_author(profile),
            "internal": {"tags": [{"id": t} for t in picked]},
            "hashtags": hashtags,
            "clickthrough_link": None,
            "visual_media": [],
        }
        if item.content_category == "LINK":
            slug = "-".join(words[:3])
            record["clickthrough_link"] = {
                "name": " ".join(words[:3]).title(),
                "long": f"https://www.example.com/{slug}",
                "short": f"https://sprou.tt/{native[-6:]}",
            }
        elif item.content_category in ("PHOTO", "VIDEO", "ALBUM"):
            media_type = "VIDEO" if item.content_category == "VIDEO" else "PHOTO"
            record["visual_media"] = [
                {
                    "media_url": f"https://media.example.com/{native}/{i}.jpg",
                    "media_type": media_type,
                }
                for i in range(3 if item.content_category == "ALBUM" else 1)
            ]
        return record

    @staticmethod
    def _owner_author(profile: dict[str, Any]) -> dict[str, Any]:
        return {
            "guid": profile["_guid"],
            "name": profile["name"],
            "profile_picture": f"https://media.example.com/avatars/{profile['native_id']}.jpg",
            "screen_name": profile["native_name"],
        }

    def _sender(self, profile: dict[str, Any], r: Any) -> dict[str, Any]:
        user = r.choice(self.world.users(profile["_customer_id"]))
        first, last = user["name"].split(" ", 1)
        return {"id": user["id"], "email": user["email"], "first_name": first, "last_name": last}

    def _finals(self, guid: str, network: catalogue.Network) -> dict[str, int | float]:
        """The settled value of every lifetime metric of a post."""
        r = c.rng(self.world.seed, "post-metrics", guid)
        finals: dict[str, int | float] = {}
        for metric in catalogue.post_metrics(network):
            key = metric.key
            if any(word in key for word in ("rate", "per_view", "score")):
                finals[key] = round(r.uniform(0.0, 1.0), 4)
            elif key == "video_length":
                finals[key] = r.randrange(5, 600)
            elif any(word in key for word in ("impressions", "views", "minutes", "view_time")):
                finals[key] = r.randrange(200, 25_000)
            else:
                finals[key] = r.randrange(0, 400)
        return finals

    def post_metrics(self, record: dict[str, Any], keys: list[str] | None = None) -> dict[str, Any]:
        """``lifetime.*`` values of a post at the clock, grown by its age.

        Args:
            record: a post from :meth:`post`.
            keys: the metrics wanted; ``None`` for every one its network serves.
        """
        network = self.world.profile(record["customer_profile_id"])["_network"]
        served = [m.key for m in catalogue.post_metrics(network) if self.world.known_metric(m)]
        wanted = served if keys is None else [k for k in keys if k in set(served)]
        age = max(0.0, (self.world.now_epoch - _epoch(record)) / 86_400)
        share = min(1.0, (1 - math.exp(-age / 3)) / (1 - math.exp(-SETTLE_DAYS / 3)))
        finals = self._post_finals(record["guid"], network)
        return {
            k: finals[k]
            if isinstance(finals[k], float) or k == "video_length"
            else int(finals[k] * share)
            for k in wanted
        }

    # Inbox messages -------------------------------------------------------------------

    def _message_items(self, profile_id: int, day: int) -> tuple[Item, ...]:
        if day < c.day_number(self.world.start_date):
            return ()
        network: catalogue.Network = self.world.profile(profile_id)["_network"]
        r = c.rng(self.world.seed, "messages", profile_id, day)
        count = min(999, c.poisson(r, self.world.scale.messages_per_day))
        times = sorted(day * 86_400 + r.randrange(0, 86_400) for _ in range(count))
        items = []
        for n, epoch in enumerate(times):
            if r.random() < 0.25:
                post_type, category = network.post_types[0], "POST"
            else:
                post_type, category = r.choice(_INBOX_TYPES[network.key])
            guid = f"{network.guid_prefix}m:{profile_id}{day:05d}{n:03d}"
            items.append(Item(epoch, guid, profile_id, day, n, post_type, category))
        return tuple(items)

    def _message(self, item: Item) -> dict[str, Any]:
        profile = self.world.profile(item.profile_id)
        network: catalogue.Network = profile["_network"]
        r = c.rng(self.world.seed, "message", item.guid)
        sent = item.content_category == "POST" and item.post_type == network.post_types[0]
        category = "TEXT" if r.random() < 0.7 else r.choice(_CATEGORIES)
        record = self._common_fields(item._replace(content_category=category), profile, r)
        record["post_category"] = item.content_category
        record["inbox_permalink"] = f"https://app.sproutsocial.com/inbox/?message={item.guid}"
        record["language_code"] = r.choice(c.LANGUAGES)
        if sent:
            record["internal"]["sent_by"] = self._sender(profile, r)
        else:
            first, last = c.person(r)
            handle = f"{first.lower()}{r.randrange(100, 9999)}"
            record["from"] = {
                "guid": f"{network.guid_prefix}pr:{r.randrange(10**8, 10**11)}",
                "name": f"{first} {last}",
                "profile_picture": f"https://media.example.com/avatars/{handle}.jpg",
                "screen_name": handle,
            }
        record["_actions"] = self._plan_actions(item, profile, r, sent)
        record["_case_slot"] = None if sent or r.random() > 0.15 else r.random()
        return _drop_unavailable(record, network.key)

    def _plan_actions(
        self, item: Item, profile: dict[str, Any], r: Any, sent: bool
    ) -> dict[str, tuple[int, int, str]]:
        users = self.world.users(profile["_customer_id"])
        plan: dict[str, tuple[int, int, str]] = {}
        for name, chance, hours in _ACTIONS:
            if sent and name != "first_tag":
                continue
            if r.random() < (1.0 if sent else chance):
                delay = 1 if sent else int(r.expovariate(1 / (hours * 3600))) + 30
                user = r.choice(users)
                plan[name] = (item.epoch + delay, user["id"], user["name"])
        return plan

    def served_message(self, record: dict[str, Any], group_id: int | None) -> dict[str, Any]:
        """A message as served at the clock: actions so far, tags once tagged.

        Tags scoped to other groups than ``group_id`` are left out, as the API does.
        """
        now = self.world.now_epoch
        created = _epoch(record)
        activity = {
            name: {
                "action_time": c.iso_z(c.from_epoch(when)),
                "time_elapsed": when - created,
                "actor": {"id": actor, "name": actor_name},
            }
            for name, (when, actor, actor_name) in record["_actions"].items()
            if when <= now
        }
        served = {k: v for k, v in record.items() if not k.startswith("_")}
        served["internal"] = dict(record["internal"])
        tags = record["internal"]["tags"] if "first_tag" in activity else []
        if group_id is not None:
            tags = [t for t in tags if self._tag_in_group(record, t["id"], group_id)]
        served["internal"]["tags"] = tags
        served["activity_metadata"] = activity
        case_id = self.world.cases.case_for_message(record)
        if case_id is not None:
            served["case_id"] = case_id
        return served

    def action_last_update(self, record: dict[str, Any]) -> int | None:
        """Epoch of the latest inbox action taken by the clock, or None."""
        now = self.world.now_epoch
        times = [when for when, _, _ in record["_actions"].values() if when <= now]
        return max(times) if times else None

    def _tag_in_group(self, record: dict[str, Any], tag_id: int, group_id: int) -> bool:
        customer = self.world.customer_of_profile(record["customer_profile_id"])
        for tag in self.world.tags(customer or 0):
            if tag["tag_id"] == tag_id:
                return bool(tag["any_group"]) or group_id in tag["groups"]
        return False


def _epoch(record: dict[str, Any]) -> int:
    epoch: int = record["_epoch"]
    return epoch


def _drop_unavailable(record: dict[str, Any], network_key: str) -> dict[str, Any]:
    for path, networks in _ONLY_ON.items():
        if network_key not in networks:
            _drop(record, path)
    for path, networks in _NOT_ON.items():
        if network_key in networks:
            _drop(record, path)
    if record.get("clickthrough_link") is None:
        record.pop("clickthrough_link", None)
    return record


def _drop(record: dict[str, Any], path: str) -> None:
    head, _, rest = path.partition(".")
    if not rest:
        record.pop(head, None)
    elif isinstance(record.get(head), dict):
        _drop(record[head], rest)
        if not record[head]:
            record.pop(head)
