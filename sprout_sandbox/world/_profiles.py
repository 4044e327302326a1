"""Daily owned-profile metrics, bucketed by day in the network's reporting time zone.

Follower-like snapshots follow a closed form (a trend plus daily noise), so the
snapshot of any day is known without summing history, and the day's net growth is
exactly the difference of two snapshots. Activity metrics are restated: a day's
values keep changing for ``RESTATED_DAYS`` after the day ends, then settle.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sources.sprout import catalogue
from sprout_sandbox.world import _common as c

if TYPE_CHECKING:
    from sprout_sandbox.world import World

RESTATED_DAYS = 3
_ANCHOR_DAY = c.day_number(date(2015, 1, 1))
# Metric (without ``lifetime_snapshot.``) -> how it derives from a follower-like series.
_SERIES: dict[str, tuple[str, str]] = {
    "followers_count": ("snapshot", "followers"),
    "net_follower_growth": ("net", "followers"),
    "fans_count": ("snapshot", "fans"),
    "following_count": ("snapshot", "following"),
    "net_following_growth": ("net", "following"),
    **{
        f"{series}_{flow}": ("flow", series)
        for series in ("followers", "fans")
        for flow in ("gained", "lost", "gained_organic", "gained_paid")
    },
}
_BUCKETS = {
    "followers_by_age_gender": tuple(
        f"{g}.{a}" for g in ("F", "M", "U") for a in ("13-17", "18-24", "25-34", "35-44", "45-54")
    ),
    "followers_by_city": ("Chicago, IL", "Austin, TX", "London, England", "Toronto, ON"),
    "followers_by_country": ("US", "GB", "CA", "DE", "BR"),
    "followers_by_gender": ("F", "M", "U"),
    "followers_by_job_function": ("Engineering", "Marketing", "Sales", "Operations"),
    "followers_by_seniority": ("Entry", "Senior", "Manager", "Director", "VP"),
}
# How settled a restated day is, by whole days since it ended (-1: still in progress).
_RESTATEMENT = {-1: 0.55, 0: 0.8, 1: 0.9, 2: 0.97}


class ProfileMetrics:
    """Daily metrics of every profile, computed on demand."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._snapshot = lru_cache(maxsize=200_000)(self._snapshot_uncached)
        self._activity = lru_cache(maxsize=100_000)(self._activity_uncached)

    def last_day(self, profile: dict[str, Any]) -> date:
        """The latest reporting day (in the network's zone) that has begun at the clock."""
        return self.world.now.astimezone(c.zone(profile["_network"].timezone)).date()

    def metric_keys(self, profile: dict[str, Any]) -> list[str]:
        """Keys of the metrics this profile's network serves at the clock."""
        network = profile["_network"]
        return [m.key for m in catalogue.profile_metrics(network) if self.world.known_metric(m)]

    def day(self, profile: dict[str, Any], day: date, keys: list[str]) -> dict[str, Any]:
        """The values of ``keys`` (those the network has) for one profile and reporting day."""
        wanted = set(self.metric_keys(profile))
        number = c.day_number(day)
        pid = profile["customer_profile_id"]
        settled = self._settled_share(profile, day)
        result: dict[str, Any] = {}
        for key in keys:
            if key in wanted:
                result[key] = self._value(profile, pid, number, key, settled)
        return result

    def _value(
        self, profile: dict[str, Any], pid: int, number: int, key: str, settled: float
    ) -> Any:
        bare = key.removeprefix("lifetime_snapshot.")
        snapshot = self._snapshot_value(pid, number, bare)
        if snapshot is not None:
            return snapshot
        if bare in _BUCKETS:
            total = self._snapshot(pid, number, "followers")
            return c.split_total(c.rng(self.world.seed, "mix", pid, bare), total, _BUCKETS[bare])
        if key.startswith("posts_sent"):
            return self._posts_sent(profile, number, key)
        final = self._activity(pid, number, key)
        if isinstance(final, float):
            return final
        return final if settled >= 1 else int(final * settled)

    def _snapshot_value(self, pid: int, number: int, key: str) -> int | None:
        how = _SERIES.get(key)
        if how is None:
            return None
        kind, series = how
        if kind == "snapshot":
            return self._snapshot(pid, number, series)
        if kind == "net":
            return self._net(pid, number, series)
        return self._flow(pid, number, series, key)

    def _snapshot_uncached(self, pid: int, number: int, series: str) -> int:
        r = c.rng(self.world.seed, "trend", pid, series)
        base, slope = r.randrange(800, 40_000), r.uniform(0.5, 25.0)
        noise = c.rng(self.world.seed, "snap", pid, series, number).uniform(-1.0, 1.0)
        return int(base + slope * (number - _ANCHOR_DAY) + noise * (3 + 2 * slope))

    def _net(self, pid: int, number: int, series: str) -> int:
        return self._snapshot(pid, number, series) - self._snapshot(pid, number - 1, series)

    def _flow(self, pid: int, number: int, series: str, key: str) -> int:
        net = self._net(pid, number, series)
        r = c.rng(self.world.seed, "flow", pid, series, number)
        lost = max(0, -net) + r.randrange(0, 12)
        gained = net + lost
        organic = int(gained * r.uniform(0.6, 1.0))
        return {
            f"{series}_gained": gained,
            f"{series}_lost": lost,
            f"{series}_gained_organic": organic,
            f"{series}_gained_paid": gained - organic,
        }[key]

    def _activity_uncached(self, pid: int, number: int, key: str) -> int | float:
        r = c.rng(self.world.seed, "activity", pid, number, key)
        level = self._snapshot(pid, number, "followers")
        if any(word in key for word in ("rate", "per_view", "score")):
            return round(r.uniform(0.0, 1.0), 4)
        if "view_time" in key:
            share = 2.0
        elif any(word in key for word in ("impressions", "views", "reach")):
            share = 0.3
        else:
            share = 0.01
        return int(level * share * r.uniform(0.4, 1.6))

    def _settled_share(self, profile: dict[str, Any], day: date) -> float:
        tz = c.zone(profile["_network"].timezone)
        end = datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(days=1)
        elapsed = (self.world.now - end).total_seconds() // 86_400
        return 1.0 if elapsed >= RESTATED_DAYS else _RESTATEMENT[max(-1, int(elapsed))]

    def _posts_sent(self, profile: dict[str, Any], number: int, key: str) -> Any:
        posts = self.world.content.posts_in_reporting_day(profile, number)
        if key == "posts_sent_count":
            return len(posts)
        field = "post_type" if key.endswith("post_type") else "content_category"
        return dict(sorted(Counter(getattr(p, field) for p in posts).items()))
