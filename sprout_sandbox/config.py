"""Everything that decides what a sandbox serves: seed, scale, clock, limits, faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

DEFAULT_TOKEN = "sandbox-token"
DEFAULT_CLIENT_ID = "sandbox-client"
DEFAULT_CLIENT_SECRET = "sandbox-secret"


@dataclass(frozen=True)
class Scale:
    """How much world there is. Per-profile and per-topic rates are daily averages."""

    customers: int = 2
    profiles: int = 9
    """Profiles per customer; networks are dealt round-robin so each one appears."""
    groups: int = 3
    users: int = 5
    tags: int = 8
    days: int = 120
    """Days of history before the clock."""
    posts_per_day: float = 2.0
    messages_per_day: float = 6.0
    cases_per_day: float = 2.0
    """Cases per customer and day."""
    topics: int = 2
    """Listening topics per customer."""
    topic_messages_per_day: float = 40.0


@dataclass
class SandboxConfig:
    """A sandbox's settings. Same seed, scale and clock: same answers, byte for byte."""

    seed: int = 7
    scale: Scale = field(default_factory=Scale)
    now: datetime | None = None
    """The sandbox clock (UTC); ``None`` means the wall clock at start, to the second."""
    tokens: dict[str, tuple[int, ...] | None] = field(default_factory=lambda: {DEFAULT_TOKEN: None})
    """Accepted static API tokens and the customer ids each may read (None: all)."""
    oauth_clients: dict[str, str] = field(
        default_factory=lambda: {DEFAULT_CLIENT_ID: DEFAULT_CLIENT_SECRET}
    )
    token_ttl_seconds: int = 3600
    requests_per_minute: int = 60
    monthly_quota: int = 250_000
    latency_ms: tuple[int, int] = (0, 0)
    """Uniform range of added latency per request, in milliseconds."""
    faults: str = ""
    """Fault spec, e.g. ``"500=0.1,503=0.05,drop=0.02,seed=3"``; empty for none."""
    max_scope_profile_days: int | None = None
    """Analytics requests covering more profile-days than this answer 504 (None: no limit)."""
    history_start: date | None = None
    """First day of generated history; ``None`` means ``scale.days`` before the clock.
    Pin it to keep the same history when restarting with a later clock."""
    media_processing_min_seconds: float = 0.3
    """Shortest wall-clock time a completed multipart media submission takes to process."""
    media_processing_seconds_per_mib: float = 0.005
    """Further processing time per MiB of a submission, in wall-clock seconds."""
