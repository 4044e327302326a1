"""Limits of the Sprout API and the defaults the source derives from them.

Page sizes are the largest each endpoint accepts, because at 60 requests a minute the
number of requests is the cost of a run. Lookback windows are how far back each run
re-reads data that the API keeps changing after the fact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pendulum
from dlt.common.configuration import configspec, resolve_configuration
from dlt.common.configuration.exceptions import ConfigValueCannotBeCoercedException
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.typing import TSecretStrValue

from sources.sprout import catalogue
from sources.sprout.redact import register_secret

API_VERSION = "v1"
DEFAULT_BASE_URL = "https://api.sproutsocial.com"
DEFAULT_REQUESTS_PER_MINUTE = 60
DEFAULT_MONTHLY_REQUEST_BUDGET = 250_000
DEFAULT_START_DAYS_AGO = 90
"""The first backfill starts this many days before today unless `start_date` is set."""

# analytics/profiles: at most 100 profiles and one year per request, 1000 rows a page.
PROFILE_BATCH_SIZE = 100
PROFILE_WINDOW_MAX_DAYS = 365
PROFILE_METRICS_PAGE_SIZE = 1000
PROFILE_QUERY_MAX_ROWS = 9_000
"""Rows (profiles x days) asked of one analytics/profiles query: a page below the API's
10,000-result cap, past which the rest of the answer is cut off. 100 profiles are read
90 days at a time."""

# analytics/posts: 100 profiles per request; the page size is undocumented and assumed
# to be capped at 100 like every other endpoint; a query serves at most 10,000 results.
POSTS_PAGE_SIZE = 100
RESULT_CAP = 10_000

# messages, cases/filter and listening messages all cap `limit` at 100.
MESSAGES_PAGE_SIZE = 100
CASES_PAGE_SIZE = 100
CASES_WINDOW_DAYS = 7
"""cases/filter refuses a date filter spanning more than one week."""
TOPIC_MESSAGES_PAGE_SIZE = 100
TOPIC_METRICS_WINDOW_DAYS = 31
"""The topic metrics endpoint does not page; a month of days x networks x sentiments
stays small enough for one response."""

# Re-read windows: how far before the last loaded value each run starts reading again.
PROFILE_METRICS_LOOKBACK_DAYS = 7
"""Networks restate recent daily profile metrics."""
POSTS_LOOKBACK_DAYS = 28
"""Lifetime post metrics keep growing for weeks after a post goes out."""
MESSAGES_LOOKBACK_DAYS = 1
"""Messages arrive in the inbox a little after they were created on the network."""
MESSAGE_ACTIONS_LOOKBACK_DAYS = 1
"""Replies, tags and completions are re-read from a day before the last one seen."""
CASES_LOOKBACK_DAYS = 1
TOPIC_MESSAGES_LOOKBACK_DAYS = 1
TOPIC_METRICS_LOOKBACK_DAYS = 7
"""Listening counts of recent days keep filling in as late messages are collected."""

ROW_KEY: dict[str, Any] = {"data_type": "text", "nullable": False, "unique": True, "row_key": True}
"""Hints of `_dlt_id` in the tables written as Arrow: merges find a row's nested rows
through it."""

TABLE_BATCH_ROWS = 2_000
"""Posts, inbox and listening messages are handed to dlt as Arrow tables of at least
this many rows: dlt's cost per item extracted is a few milliseconds, whatever its size.
Each batch is copied a few times on its way (the cursor's filter, the nested tables, the
file), so a larger one raises the peak: with 5,000 rows, the first three chunks of the
bench's default scale peaked 32 MiB higher and were no faster."""

POSTS_PARTS_OVER_CAP = 3
"""A posts query past the 10,000-result cap is read as this many time parts side by side:
two sequential guid walks already exceed 60 a minute at 0.5-2 s a request."""

BACKFILL_CHUNK_DAYS = 4 * CASES_WINDOW_DAYS
"""`sprout-elt run` loads a long backfill in chunks of this many days, committing each.
Whole weeks, so that no case window is cut in two by a chunk's end.
A remainder shorter than half a chunk joins the last chunk instead of costing a chunk
of its own (each chunk ends every paged stream on a partly filled page)."""

# Every request that filters on time uses UTC, so `created_time` windows are UTC days
# and line up with the UTC timestamps the API returns. analytics/profiles takes no
# `timezone`: each network buckets its daily profile metrics in its own time zone.
REQUEST_TIMEZONE = "UTC"

POST_FIELDS: tuple[str, ...] = (
    "guid",
    "customer_profile_id",
    "created_time",
    "content_category",
    "post_category",
    "post_type",
    "network",
    "profile_guid",
    "perma_link",
    "text",
    "title",
    "sent",
    "is_boosted",
    "hashtags",
    "visual_media",
    "clickthrough_link",
    "pinterest.board_name",
    "from",
    "internal.tags.id",
    "internal.sent_by.id",
    "internal.sent_by.email",
    "internal.sent_by.first_name",
    "internal.sent_by.last_name",
)
"""Every documented message field the posts endpoint serves."""

MESSAGE_FIELDS: tuple[str, ...] = (
    "guid",
    "customer_profile_id",
    "created_time",
    "content_category",
    "post_category",
    "post_type",
    "network",
    "profile_guid",
    "perma_link",
    "inbox_permalink",
    "text",
    "title",
    "hashtags",
    "visual_media",
    "clickthrough_link",
    "from",
    "internal.tags.id",
    "internal.sent_by.id",
    "internal.sent_by.email",
    "internal.sent_by.first_name",
    "internal.sent_by.last_name",
    "activity_metadata",
    "case_id",
    "language_code",
    "review_ratings",
)
"""Every documented message field the messages endpoint serves (`inbox_permalink` needs
the `group_id` filter, which every request carries)."""

TOPIC_MESSAGE_FIELDS: tuple[str, ...] = (
    "guid",
    "created_time",
    "content_category",
    "network",
    "profile_guid",
    "perma_link",
    "text",
    "title",
    "hashtags",
    "visual_media",
    "from.guid",
    "from.name",
    "from.profile_picture",
    "from.screen_name",
    "from.profile_url",
    "from.followers_count",
    "sentiment",
    "sentiment_raw",
    "language",
    "location.city",
    "location.province",
    "location.country",
    "source.name",
    "source.url",
    "parent_message_id",
    "explicit_label",
    "explicit_probability",
    "mentions",
    "emoticons",
    "keywords",
    "related_words",
    "document.theme_ids",
)
"""Every documented listening message field; the endpoint requires them by name."""

TOPIC_MESSAGE_METRICS: tuple[str, ...] = (
    "likes",
    "replies",
    "shares_count",
    "engagements",
    "impressions",
)
"""Topic metrics that mean something for one message (the others count messages or
authors, or repeat `from.followers_count`)."""

TOPIC_METRIC_DIMENSIONS: tuple[str, ...] = ("created_time.by(day)", "network", "sentiment")


# Configuration -----------------------------------------------------------------------

LOOKBACK_KEYS: dict[str, int] = {
    "profile_metrics": PROFILE_METRICS_LOOKBACK_DAYS,
    "posts": POSTS_LOOKBACK_DAYS,
    "messages": MESSAGES_LOOKBACK_DAYS,
    "message_actions": MESSAGE_ACTIONS_LOOKBACK_DAYS,
    "cases": CASES_LOOKBACK_DAYS,
    "topic_messages": TOPIC_MESSAGES_LOOKBACK_DAYS,
    "topic_metrics": TOPIC_METRICS_LOOKBACK_DAYS,
}
"""Each `<name>_lookback_days` setting of `sources.sprout` and its default."""

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ConfigError(ValueError):
    """A `sources.sprout` setting is missing or wrong; the message names it."""


@configspec
class SproutConfiguration(BaseConfiguration):
    """The raw `sources.sprout` section as dlt resolves it (TOML, secrets, env vars)."""

    base_url: str = DEFAULT_BASE_URL
    access_token: TSecretStrValue | None = None
    client_id: str | None = None
    client_secret: TSecretStrValue | None = None
    token_url: str | None = None
    refresh_token: TSecretStrValue | None = None
    customer_id: int | None = None
    start_date: str | None = None
    end_date: str | None = None
    requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE
    monthly_request_budget: int = DEFAULT_MONTHLY_REQUEST_BUDGET
    profile_metrics: list[str] | None = None
    post_metrics: list[str] | None = None
    profile_metrics_lookback_days: int = PROFILE_METRICS_LOOKBACK_DAYS
    posts_lookback_days: int = POSTS_LOOKBACK_DAYS
    messages_lookback_days: int = MESSAGES_LOOKBACK_DAYS
    message_actions_lookback_days: int = MESSAGE_ACTIONS_LOOKBACK_DAYS
    cases_lookback_days: int = CASES_LOOKBACK_DAYS
    topic_messages_lookback_days: int = TOPIC_MESSAGES_LOOKBACK_DAYS
    topic_metrics_lookback_days: int = TOPIC_METRICS_LOOKBACK_DAYS
    max_in_flight: int = 4


@dataclass(frozen=True)
class SproutSettings:
    """Validated settings of a run. Secrets are left out of ``repr``."""

    base_url: str
    start_date: pendulum.Date
    """First day to load on a first run (backfill)."""
    end_date: pendulum.Date
    """Last day to load, inclusive: `end_date`, or today (UTC)."""
    customer_id: int | None = None
    requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE
    monthly_request_budget: int = DEFAULT_MONTHLY_REQUEST_BUDGET
    profile_metrics: frozenset[str] | None = None
    post_metrics: frozenset[str] | None = None
    lookback_days: dict[str, int] = field(default_factory=lambda: dict(LOOKBACK_KEYS))
    max_in_flight: int = 4
    access_token: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    token_url: str | None = None
    refresh_token: str | None = field(default=None, repr=False)

    @property
    def today(self) -> pendulum.Date:
        """The day that decides which metrics are retired: the last day loaded."""
        return self.end_date

    @property
    def start_at(self) -> pendulum.DateTime:
        """Midnight UTC starting `start_date`."""
        return pendulum.datetime(self.start_date.year, self.start_date.month, self.start_date.day)

    @property
    def end_at(self) -> pendulum.DateTime:
        """Midnight UTC ending `end_date`: the exclusive end of every time window."""
        last = self.end_date.add(days=1)
        return pendulum.datetime(last.year, last.month, last.day)


def load_settings(**overrides: Any) -> SproutSettings:
    """Resolve and check `sources.sprout`; overrides (not None) win over configuration.

    Raises:
        ConfigError: a setting is missing or wrong; the message names it. Nothing is
            requested from the API before this check passes.
    """
    explicit = {key: value for key, value in overrides.items() if value is not None}
    try:
        raw = resolve_configuration(
            SproutConfiguration(), sections=("sources", "sprout"), explicit_value=explicit
        )
    except ConfigValueCannotBeCoercedException as exc:
        raise ConfigError(
            f"`sources.sprout.{exc.field_name}` is {exc.field_value!r}, which is not a "
            f"valid {getattr(exc.hint, '__name__', exc.hint)}: correct it"
        ) from None
    return _validated(raw)


def _validated(raw: SproutConfiguration) -> SproutSettings:
    for secret in (raw.access_token, raw.client_secret, raw.refresh_token):
        register_secret(secret)
    if not raw.access_token and not (raw.client_id and raw.client_secret):
        raise ConfigError(
            "no credentials: set `sources.sprout.access_token` (an API token), or "
            "`sources.sprout.client_id` and `sources.sprout.client_secret` (an OAuth client)"
        )
    today = pendulum.now("UTC").date()
    end = _date("end_date", raw.end_date) or today
    start = _date("start_date", raw.start_date) or end.subtract(days=DEFAULT_START_DAYS_AGO)
    if start > end:
        raise ConfigError(
            f"`sources.sprout.start_date` {start} is after the end date {end}: choose a "
            "start_date on or before `sources.sprout.end_date` (or today)"
        )
    _positive("requests_per_minute", raw.requests_per_minute)
    _positive("max_in_flight", raw.max_in_flight)
    _not_negative("monthly_request_budget", raw.monthly_request_budget)
    lookbacks = {name: getattr(raw, f"{name}_lookback_days") for name in LOOKBACK_KEYS}
    for name, days in lookbacks.items():
        _not_negative(f"{name}_lookback_days", days)
    return SproutSettings(
        base_url=_base_url(raw.base_url),
        start_date=start,
        end_date=end,
        customer_id=raw.customer_id,
        requests_per_minute=raw.requests_per_minute,
        monthly_request_budget=raw.monthly_request_budget,
        profile_metrics=_metrics("profile_metrics", raw.profile_metrics, _profile_keys()),
        post_metrics=_metrics("post_metrics", raw.post_metrics, _post_keys()),
        lookback_days=lookbacks,
        max_in_flight=raw.max_in_flight,
        access_token=raw.access_token,
        client_id=raw.client_id,
        client_secret=raw.client_secret,
        token_url=raw.token_url,
        refresh_token=raw.refresh_token,
    )


def _date(key: str, value: Any) -> pendulum.Date | None:
    if value is None or value == "":
        return None
    text = str(value)
    try:
        if not _DATE.match(text):
            raise ValueError(text)
        return pendulum.Date.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"`sources.sprout.{key}` is {text!r}, not a date: write it as YYYY-MM-DD"
        ) from None


def _positive(key: str, value: int) -> None:
    if value <= 0:
        raise ConfigError(f"`sources.sprout.{key}` is {value}: it must be a positive number")


def _not_negative(key: str, value: int) -> None:
    if value < 0:
        raise ConfigError(f"`sources.sprout.{key}` is {value}: it cannot be negative")


def _base_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ConfigError(
            f"`sources.sprout.base_url` is {value!r}: give the API root, e.g. {DEFAULT_BASE_URL}"
        )
    return value.rstrip("/")


def _metrics(key: str, values: list[str] | None, known: frozenset[str]) -> frozenset[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [v.strip() for v in values.split(",") if v.strip()]
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"`sources.sprout.{key}` names unknown metrics {unknown}: use the keys of the "
            "metric tables in Sprout's API documentation (e.g. `impressions`, "
            "`lifetime.impressions`)"
        )
    return frozenset(values)


def _profile_keys() -> frozenset[str]:
    return catalogue.all_profile_metric_keys()


def _post_keys() -> frozenset[str]:
    return catalogue.all_post_metric_keys()
