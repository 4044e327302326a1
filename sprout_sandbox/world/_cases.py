"""Cases (``/cases/filter``): opened per customer and day, then worked on over time.

A case is planned whole when it opens (assignment, holds, tags, closing, messages);
the clock decides how much of that plan has happened, so ``updated_time``,
``latest_activity_time``, ``status`` and the tag list move as the clock passes.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sprout_sandbox.world import _common as c

if TYPE_CHECKING:
    from sprout_sandbox.world import World

_ID_SPAN = 10**8
_TYPES = ("general", "support", "lead", "question", "feedback")
_PRIORITIES = ("HIGH", "LOW", "CRITICAL", "MEDIUM", "UNDEFINED")


def _urn(user_id: int) -> str:
    return f"urn:spt:core:account_login:{user_id}"


class CaseGenerator:
    """Cases of every customer, generated per customer and UTC day."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.day_cases = lru_cache(maxsize=50_000)(self._day_cases)

    def _day_cases(self, customer_id: int, day: int) -> tuple[dict[str, Any], ...]:
        ci = customer_id - self.world.customer_ids()[0]
        if day < c.day_number(self.world.start_date):
            return ()
        r = c.rng(self.world.seed, "cases", customer_id, day)
        count = min(99, c.poisson(r, self.world.scale.cases_per_day))
        times = sorted(day * 86_400 + r.randrange(0, 86_400) for _ in range(count))
        return tuple(
            self._plan(customer_id, str((ci + 1) * _ID_SPAN + day * 100 + n), epoch)
            for n, epoch in enumerate(times)
        )

    def _plan(self, customer_id: int, case_id: str, created: int) -> dict[str, Any]:
        r = c.rng(self.world.seed, "case", case_id)
        users = [u["id"] for u in self.world.users(customer_id)]
        profile = r.choice(self.world.profiles(customer_id))
        prefix = profile["network_type"][:2]
        events: list[tuple[int, str, Any]] = [
            (created + int(r.expovariate(1 / 3600)) + 60, "assign", r.choice(users))
        ]
        if r.random() < 0.3:
            events.append((created + int(r.expovariate(1 / 21_600)) + 120, "hold", None))
        if r.random() < 0.75:
            events.append((created + int(r.expovariate(1 / 172_800)) + 600, "close", None))
        tags = self.world.tags(customer_id)
        if tags and r.random() < 0.6:
            tag = r.choice(tags)["tag_id"]
            events.append((created + int(r.expovariate(1 / 10_800)) + 90, "tag", tag))
        messages = [(created, "RECEIVED", True)]
        for k in range(r.randrange(0, 4)):
            at = messages[-1][0] + int(r.expovariate(1 / 18_000)) + 30
            messages.append((at, "SENT" if k % 2 == 0 else "RECEIVED", False))
        return {
            "case_id": case_id,
            "type": r.choice(_TYPES),
            "group_id": str(r.choice(self.world.groups(customer_id))["group_id"]),
            "priority": r.choice(_PRIORITIES),
            "queue_id": r.choice(self.world.queues(customer_id))["id"],
            "created_by": _urn(r.choice(users))
            if r.random() < 0.7
            else "urn:spt:core:automated_rule:12345",
            "_created": created,
            "_events": sorted(events),
            "_messages": [
                (at, f"{prefix}m:{case_id}{i:02d}", direction, anchor)
                for i, (at, direction, anchor) in enumerate(messages)
            ],
        }

    def cases(self, customer_id: int, day: int) -> list[dict[str, Any]]:
        """Cases a customer opened on a UTC day, as served at the clock."""
        now = self.world.now_epoch
        return [self.served(p) for p in self.day_cases(customer_id, day) if p["_created"] <= now]

    def served(self, plan: dict[str, Any]) -> dict[str, Any]:
        """One case as it stands at the clock."""
        now = self.world.now_epoch
        happened = [e for e in plan["_events"] if e[0] <= now]
        status, closed_at, assignee, tags = "OPEN", None, None, []
        for at, kind, value in happened:
            if kind == "hold" and status == "OPEN":
                status = "ON_HOLD"
            elif kind == "close":
                status, closed_at = "CLOSED", at
            elif kind == "assign":
                assignee = value
            elif kind == "tag":
                updated_by = _urn(assignee) if assignee else plan["created_by"]
                tags.append({"tag_id": value, "updated_by": updated_by,
                             "updated_time": c.iso_z(c.from_epoch(at))})  # fmt: skip
        updated = max([plan["_created"], *(e[0] for e in happened)])
        messages = [m for m in plan["_messages"] if m[0] <= now]
        latest = max([updated, *(m[0] for m in messages)])
        return {
            "case_id": plan["case_id"],
            "type": plan["type"],
            "group_id": plan["group_id"],
            "priority": plan["priority"],
            "status": status,
            "messages": [
                {
                    "guid": guid,
                    "msg_created_date": c.iso_z(c.from_epoch(at)),
                    "case_message_direction": direction,
                    "is_anchor": anchor,
                }
                for at, guid, direction, anchor in messages
            ],
            "created_by": plan["created_by"],
            "created_time": c.iso_z(c.from_epoch(plan["_created"])),
            "updated_time": c.iso_z(c.from_epoch(updated)),
            "last_closed_time": c.iso_z(c.from_epoch(closed_at)) if closed_at else None,
            "queue_id": plan["queue_id"],
            "assigned_to": [_urn(assignee)] if assignee else [],
            "assigned_by": plan["created_by"] if assignee else None,
            "tags": tags,
            "latest_activity_time": c.iso_z(c.from_epoch(latest)),
        }

    def by_id(self, customer_id: int, case_id: str) -> dict[str, Any] | None:
        """A case of the customer by id as served at the clock, or None."""
        try:
            number = int(case_id)
        except ValueError:
            return None
        ci = customer_id - self.world.customer_ids()[0]
        rest = number - (ci + 1) * _ID_SPAN
        if not 0 <= rest < _ID_SPAN:
            return None
        day, n = divmod(rest, 100)
        plans = self.day_cases(customer_id, day)
        if n >= len(plans) or plans[n]["_created"] > self.world.now_epoch:
            return None
        return self.served(plans[n])

    def case_for_message(self, message: dict[str, Any]) -> str | None:
        """The id of the case a received inbox message was attached to, if any."""
        slot = message.get("_case_slot")
        if slot is None:
            return None
        customer = self.world.customer_of_profile(message["customer_profile_id"])
        day = message["_epoch"] // 86_400
        plans = self.day_cases(customer, day) if customer else ()
        if not plans:
            return None
        plan = plans[int(slot * len(plans))]
        if plan["_created"] > self.world.now_epoch:
            return None
        case_id: str = plan["case_id"]
        return case_id
