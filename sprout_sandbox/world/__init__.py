"""The sandbox's world: customers, profiles, posts, messages and topics, made up on demand.

Everything is a pure function of the seed, the scale, the ids involved and the clock.
Each entity draws from its own seeded generator, so any profile-day, post or topic-day
can be produced alone, in any order, and a later clock serves the same entities with
grown metrics. Generated pieces are cached; nothing is precomputed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any

from sources.sprout import catalogue
from sprout_sandbox.config import SandboxConfig
from sprout_sandbox.world import _common as c
from sprout_sandbox.world._cases import CaseGenerator
from sprout_sandbox.world._content import ContentGenerator
from sprout_sandbox.world._listening import ListeningGenerator
from sprout_sandbox.world._profiles import ProfileMetrics

__all__ = ["World"]

CUSTOMER_BASE = 100_001
_GROUP_BASE = 200_000
_TAG_BASE = 500_000
_USER_BASE = 700_000
_PROFILE_BASE = 1_000_000
_PROFILE_SPAN = 10_000
_TOPIC_BASE = 81_000_000_000
_SPAN = 1_000

_TOPIC_TYPES = ("BRAND_HEALTH", "INDUSTRY_INSIGHTS", "COMPETITIVE_ANALYSIS", "CAMPAIGN_ANALYSIS")
_TAG_WORDS = ("Support", "Sales", "Feedback", "Launch", "Spring Campaign", "VIP", "Urgent", "Press")
_THEMES = {
    "Complaints": ("Slow Login", "Late Delivery", "Billing"),
    "Praise": ("Friendly Staff", "Fast Shipping"),
    "Products": ("Cold Brew", "Gift Cards", "Mobile App"),
}


class World:
    """The generated world at a clock.

    Args:
        config: seed, scale and clock; ``config.now`` of ``None`` means the wall clock.
    """

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.seed = config.seed
        self.scale = config.scale
        self._now = _truncate(config.now or datetime.now(UTC))
        start = config.history_start or (self._now - timedelta(days=self.scale.days)).date()
        self.start_date: date = start
        """First UTC day with posts, messages, cases and topic messages."""
        self.profile_metrics = ProfileMetrics(self)
        self.content = ContentGenerator(self)
        self.cases = CaseGenerator(self)
        self.listening = ListeningGenerator(self)

    @property
    def now(self) -> datetime:
        """The sandbox clock, an aware UTC datetime to the second."""
        return self._now

    def set_now(self, moment: datetime) -> None:
        """Move the clock; the same entities are then served as they are at ``moment``."""
        self._now = _truncate(moment)

    @property
    def now_epoch(self) -> float:
        """The clock in epoch seconds."""
        return self._now.timestamp()

    @property
    def start_epoch(self) -> float:
        """Midnight UTC of the first day of history, in epoch seconds."""
        return datetime(self.start_date.year, self.start_date.month, self.start_date.day,
                        tzinfo=UTC).timestamp()  # fmt: skip

    # Customers and their metadata ----------------------------------------------------

    def customers(self) -> list[dict[str, Any]]:
        """Every customer: ``customer_id`` and ``name``."""
        return [dict(r) for r in self._customers]

    def customer_ids(self) -> list[int]:
        """Ids of every customer."""
        return [r["customer_id"] for r in self._customers]

    def profiles(self, customer_id: int) -> list[dict[str, Any]]:
        """The customer's profiles as ``/metadata/customer`` lists them."""
        return [_public(p) for p in self._profiles.get(customer_id, [])]

    def profile(self, profile_id: int) -> dict[str, Any]:
        """One profile record (KeyError if none)."""
        return self._profile_index[profile_id]

    def groups(self, customer_id: int) -> list[dict[str, Any]]:
        """The customer's groups: ``group_id`` and ``name``."""
        return [dict(g) for g in self._groups.get(customer_id, [])]

    def tags(self, customer_id: int) -> list[dict[str, Any]]:
        """Every tag of the customer, active and archived."""
        return [dict(t) for t in self._tags.get(customer_id, [])]

    def users(self, customer_id: int) -> list[dict[str, Any]]:
        """The customer's active users: ``id``, ``name``, ``email``."""
        return [dict(u) for u in self._users.get(customer_id, [])]

    def topics(self, customer_id: int) -> list[dict[str, Any]]:
        """The customer's listening topics, ``availability_time`` as an ISO timestamp."""
        return [dict(t) for t in self._topics.get(customer_id, [])]

    def teams(self, customer_id: int) -> list[dict[str, Any]]:
        """The customer's teams."""
        ci = self._index(customer_id)
        if ci is None:
            return []
        names = ("Care Team", "Pricing Team", "Social Team")
        return [
            {"id": str(9000 + ci * 100 + k + 1), "name": name, "description": f"Handles {name}"}
            for k, name in enumerate(names)
        ]

    def queues(self, customer_id: int) -> list[dict[str, Any]]:
        """The customer's case queues, each with its associated team ids."""
        teams = [t["id"] for t in self.teams(customer_id)]
        ci = self._index(customer_id)
        if ci is None:
            return []
        return [
            {
                "id": str(8000 + ci * 100 + k + 1),
                "name": name,
                "description": f"Cases about {name.lower()}",
                "associated_teams": teams[k : k + 2],
            }
            for k, name in enumerate(("Care Queue", "Pricing Queue"))
        ]

    # Ownership -------------------------------------------------------------------------

    def customer_of_profile(self, profile_id: int) -> int | None:
        """The customer owning a profile, or None if no customer has it."""
        profile = self._profile_index.get(profile_id)
        return None if profile is None else profile["_customer_id"]

    def customer_of_group(self, group_id: int) -> int | None:
        """The customer owning a group, or None."""
        return self._owner(group_id, _GROUP_BASE, self.scale.groups)

    def customer_of_tag(self, tag_id: int) -> int | None:
        """The customer owning a tag, or None."""
        return self._owner(tag_id, _TAG_BASE, self.scale.tags)

    def customer_of_topic(self, topic_id: int | str) -> int | None:
        """The customer owning a listening topic, or None."""
        try:
            number = int(topic_id)
        except (TypeError, ValueError):
            return None
        return self._owner(number, _TOPIC_BASE, self.scale.topics)

    def topic(self, topic_id: int | str) -> dict[str, Any] | None:
        """One topic record, or None."""
        customer = self.customer_of_topic(topic_id)
        if customer is None:
            return None
        return next(t for t in self._topics[customer] if t["id"] == str(int(topic_id)))

    def group_profiles(self, group_id: int) -> list[int]:
        """Ids of the profiles in a group."""
        customer = self.customer_of_group(group_id)
        if customer is None:
            return []
        return [
            p["customer_profile_id"] for p in self._profiles[customer] if group_id in p["groups"]
        ]

    def _owner(self, number: int, base: int, count: int) -> int | None:
        offset = number - base - 1
        ci, k = divmod(offset, _SPAN)
        if offset < 0 or ci >= self.scale.customers or k >= count:
            return None
        return CUSTOMER_BASE + ci

    def _index(self, customer_id: int) -> int | None:
        ci = customer_id - CUSTOMER_BASE
        return ci if 0 <= ci < self.scale.customers else None

    # Generation of metadata ---------------------------------------------------------

    @cached_property
    def _customers(self) -> list[dict[str, Any]]:
        names = ("Northwind Coffee", "Bluebird Outfitters", "Lakeside Health", "Orbit Labs")
        return [
            {"customer_id": CUSTOMER_BASE + ci, "name": f"{names[ci % len(names)]} {ci + 1}"}
            for ci in range(self.scale.customers)
        ]

    @cached_property
    def _groups(self) -> dict[int, list[dict[str, Any]]]:
        names = ("Brand", "Customer Care", "Regional", "Product", "Events")
        return {
            CUSTOMER_BASE + ci: [
                {
                    "group_id": _GROUP_BASE + ci * _SPAN + g + 1,
                    "name": f"{names[g % len(names)]} {g + 1}",
                }
                for g in range(self.scale.groups)
            ]
            for ci in range(self.scale.customers)
        }

    @cached_property
    def _profiles(self) -> dict[int, list[dict[str, Any]]]:
        return {
            CUSTOMER_BASE + ci: [self._make_profile(ci, p) for p in range(self.scale.profiles)]
            for ci in range(self.scale.customers)
        }

    @cached_property
    def _profile_index(self) -> dict[int, dict[str, Any]]:
        return {p["customer_profile_id"]: p for ps in self._profiles.values() for p in ps}

    def _make_profile(self, ci: int, p: int) -> dict[str, Any]:
        network = catalogue.NETWORKS[p % len(catalogue.NETWORKS)]
        r = c.rng(self.seed, "profile", ci, p)
        group_ids = [g["group_id"] for g in self._groups[CUSTOMER_BASE + ci]]
        groups = sorted({group_ids[p % len(group_ids)], group_ids[0] if p % 3 == 0 else -1} - {-1})
        handle = f"{r.choice(c.WORDS)}{r.choice(c.WORDS)}{p + 1}"
        record: dict[str, Any] = {
            "customer_profile_id": _PROFILE_BASE + ci * _PROFILE_SPAN + p + 1,
            "network_type": network.network_type,
            "name": f"{self._customers[ci]['name']} {network.network.title()} {p + 1}",
            "native_name": handle,
            "native_id": str(r.randrange(10**9, 10**12)),
            "groups": groups,
        }
        # Private keys (leading underscore) are stripped by the API and the export.
        record["_customer_id"] = CUSTOMER_BASE + ci
        record["_network"] = network
        record["_guid"] = f"{network.guid_prefix}pr:{record['native_id']}"
        return record

    @cached_property
    def _tags(self) -> dict[int, list[dict[str, Any]]]:
        result = {}
        for ci in range(self.scale.customers):
            group_ids = [g["group_id"] for g in self._groups[CUSTOMER_BASE + ci]]
            result[CUSTOMER_BASE + ci] = [
                self._make_tag(ci, t, group_ids) for t in range(self.scale.tags)
            ]
        return result

    def _make_tag(self, ci: int, t: int, group_ids: list[int]) -> dict[str, Any]:
        any_group = t % 3 == 0
        return {
            "tag_id": _TAG_BASE + ci * _SPAN + t + 1,
            "any_group": any_group,
            "active": t % 5 != 4,
            "text": f"{_TAG_WORDS[t % len(_TAG_WORDS)]} {t + 1}",
            "type": "CAMPAIGN" if t % 4 == 3 else "LABEL",
            "groups": list(group_ids) if any_group else [group_ids[t % len(group_ids)]],
        }

    @cached_property
    def _users(self) -> dict[int, list[dict[str, Any]]]:
        result = {}
        for ci in range(self.scale.customers):
            users = []
            for u in range(self.scale.users):
                first, last = c.person(c.rng(self.seed, "user", ci, u))
                users.append({
                    "id": _USER_BASE + ci * _SPAN + u + 1,
                    "name": f"{first} {last}",
                    "email": f"{first.lower()}.{last.lower()}{u + 1}@example.com",
                })  # fmt: skip
            result[CUSTOMER_BASE + ci] = users
        return result

    @cached_property
    def _topics(self) -> dict[int, list[dict[str, Any]]]:
        return {
            CUSTOMER_BASE + ci: [self._make_topic(ci, t) for t in range(self.scale.topics)]
            for ci in range(self.scale.customers)
        }

    def _make_topic(self, ci: int, t: int) -> dict[str, Any]:
        r = c.rng(self.seed, "topic", ci, t)
        group_ids = [g["group_id"] for g in self._groups[CUSTOMER_BASE + ci]]
        theme_groups = [
            {
                "name": name,
                "themes": [
                    {"id": str(uuid.UUID(int=r.getrandbits(128), version=4)), "name": theme}
                    for theme in themes
                ],
            }
            for name, themes in _THEMES.items()
        ]
        available = datetime(self.start_date.year, self.start_date.month, self.start_date.day,
                             9, 32, tzinfo=UTC)  # fmt: skip
        return {
            "id": str(_TOPIC_BASE + ci * _SPAN + t + 1),
            "name": f"{self._customers[ci]['name']} Topic {t + 1}",
            "topic_type": _TOPIC_TYPES[t % len(_TOPIC_TYPES)],
            "description": f"Conversation about {r.choice(c.WORDS)} and {r.choice(c.WORDS)}.",
            "group_id": group_ids[t % len(group_ids)],
            "theme_groups": theme_groups,
            "availability_time": c.iso_z(available),
        }

    # Helpers for the generators ------------------------------------------------------

    def customer_profile_ids(self, customer_id: int) -> list[int]:
        """Ids of a customer's profiles."""
        return [p["customer_profile_id"] for p in self._profiles.get(customer_id, [])]

    def known_metric(self, metric: catalogue.Metric) -> bool:
        """Whether the API still serves a metric at the clock (retired ones are gone)."""
        return metric.retired_on is None or self._now.date() < date.fromisoformat(metric.retired_on)


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _truncate(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)
