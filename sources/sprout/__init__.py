"""The dlt source for the Sprout Social public API.

One resource per read endpoint, all fed by one :class:`~sources.sprout.client.SproutClient`
so that every request of a run shares the pacer and the monthly budget. Time windows
are computed here and passed in the request filters; the client pages and retries.

Time zones, deliberately: every time-filtered request (posts, messages, cases, topic
messages, topic metrics) sends ``"timezone": "UTC"``, so ``created_time`` windows are
UTC days, matching the UTC timestamps the API returns and the UTC days of the topic
metrics. ``analytics/profiles`` takes no time zone: each network reports its daily
profile metrics in its own zone (see ``catalogue.NETWORKS``), and ``reporting_date``
keeps that day.
"""

from __future__ import annotations

import copy
import datetime
import functools
import itertools
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar, cast

import dlt
import httpx
import pendulum
from dlt.common.exceptions import PipelineStateNotAvailable
from dlt.extract.incremental import Incremental
from dlt.sources import DltResource

from sources.sprout import catalogue, settings
from sources.sprout.client import (
    BudgetExceeded,
    OverCap,
    Pacer,
    QuotaExhausted,
    RequestBudget,
    ScopeTooLarge,
    SproutApiError,
    SproutClient,
    TokenProvider,
)
from sources.sprout.publishing import publishing_posts
from sources.sprout.settings import SproutSettings, load_settings
from sources.sprout.streams import interleave

if TYPE_CHECKING:  # pyarrow costs 60 MiB; `sprout-elt publish` never needs it
    import pyarrow as pa

__all__ = [
    "CURSORS",
    "REQUESTS_STATE_KEY",
    "RESOURCE_GROUPS",
    "Account",
    "Run",
    "SproutSettings",
    "cursor_positions",
    "discover_accounts",
    "load_settings",
    "make_client",
    "plan_queries",
    "resume_start",
    "sprout_source",
]

logger = logging.getLogger(__name__)

REQUESTS_STATE_KEY = "requests_by_month"
"""Source-state key of the monthly request counts (``YYYY-MM`` -> requests)."""

RESOURCE_GROUPS: dict[str, tuple[str, ...]] = {
    "customers": ("customers",),
    "profiles": ("profiles",),
    "groups": ("groups",),
    "tags": ("tags",),
    "users": ("users",),
    "topics": ("topics",),
    "profile_metrics": ("profile_metrics_daily", "profile_metrics_buckets"),
    "profile_metrics_daily": ("profile_metrics_daily",),
    "profile_metrics_buckets": ("profile_metrics_buckets",),
    "posts": ("posts",),
    "publishing_posts": ("publishing_posts",),
    "messages": ("messages", "message_actions"),
    "cases": ("cases",),
    "topic_messages": ("topic_messages",),
    "topic_metrics": ("topic_metrics_daily",),
    "topic_metrics_daily": ("topic_metrics_daily",),
}
"""Names accepted by ``--resources`` and the dlt resources each one selects."""

ACCOUNTS_STATE_KEY = "accounts"
"""Source-state key of the profiles and topics of each customer, as last read."""

_STOPPING = (BudgetExceeded, QuotaExhausted)
_Q = TypeVar("_Q")
_S = TypeVar("_S", pendulum.Date, pendulum.DateTime)
_Batch = TypeVar("_Batch", list[dict[str, Any]], "pa.Table")


# Accounts: what the token can see ----------------------------------------------------


@dataclass
class Account:
    """One customer and its metadata, each endpoint read at most once per run."""

    customer: dict[str, Any]
    client: SproutClient | None
    _cache: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    snapshot: dict[str, Any] = field(default_factory=dict)
    """Profiles and topics as last seen, kept in the source state for `--plan`."""

    @classmethod
    def from_snapshot(cls, customer_id: int, snapshot: dict[str, Any]) -> Account:
        """An account rebuilt from the source state, for planning without requests."""
        profiles = [
            {"customer_profile_id": pid, "network_type": network, "groups": groups}
            for pid, network, groups in snapshot.get("profiles", [])
        ]
        topics = [{"id": topic_id} for topic_id in snapshot.get("topics", [])]
        cache = {"": profiles, "topics": topics}
        return cls({"customer_id": customer_id}, None, cache, snapshot=dict(snapshot))

    @property
    def customer_id(self) -> int:
        """The Sprout customer id."""
        return int(self.customer["customer_id"])

    def metadata(self, endpoint: str) -> list[dict[str, Any]]:
        """Records of ``metadata/customer[/endpoint]``, each with ``customer_id`` added."""
        with self._lock:
            if endpoint not in self._cache:
                self._cache[endpoint] = self._fetch(endpoint)
            return self._cache[endpoint]

    def _fetch(self, endpoint: str) -> list[dict[str, Any]]:
        if self.client is None:
            raise RuntimeError(f"customer {self.customer_id} was not read in this run")
        suffix = f"/{endpoint}" if endpoint else ""
        answer = self.client.get(_path(self.customer_id, f"metadata/customer{suffix}"))
        records = [{**record, "customer_id": self.customer_id} for record in _records(answer)]
        if endpoint == "":
            self.snapshot["profiles"] = [
                [p["customer_profile_id"], p.get("network_type"), p.get("groups") or []]
                for p in records
            ]
        elif endpoint == "topics":
            self.snapshot["topics"] = [str(t["id"]) for t in records]
        return records

    @property
    def profiles(self) -> list[dict[str, Any]]:
        """The customer's profiles (``metadata/customer``)."""
        return self.metadata("")

    @property
    def topics(self) -> list[dict[str, Any]]:
        """The customer's listening topics."""
        return self.metadata("topics")


def make_client(
    config: SproutSettings,
    request_counts: dict[str, int],
    transport: httpx.BaseTransport | None = None,
) -> SproutClient:
    """The client of a run: token, pacer and monthly budget from the settings.

    Args:
        config: validated settings.
        request_counts: requests per ``YYYY-MM`` so far, updated in place as requests go.
        transport: an httpx transport to send through (tests record requests with it).
    """
    tokens = TokenProvider(
        access_token=config.access_token,
        client_id=config.client_id,
        client_secret=config.client_secret,
        token_url=config.token_url,
        refresh_token=config.refresh_token,
    )
    return SproutClient(
        config.base_url,
        tokens,
        Pacer(config.requests_per_minute),
        RequestBudget(config.monthly_request_budget, request_counts),
        max_in_flight=config.max_in_flight,
        transport=transport,
    )


def discover_accounts(client: SproutClient, config: SproutSettings) -> list[Account]:
    """The customers to load: every one the token sees, or only `customer_id`.

    Raises:
        ValueError: `customer_id` is set but the token cannot see that customer.
    """
    customers = _records(client.get(f"/{settings.API_VERSION}/metadata/client"))
    if config.customer_id is not None:
        visible = sorted(int(c["customer_id"]) for c in customers)
        customers = [c for c in customers if int(c["customer_id"]) == config.customer_id]
        if not customers:
            raise ValueError(
                f"customer {config.customer_id} is not visible to this token (it sees "
                f"{visible}): check `sources.sprout.customer_id`"
            )
    logger.info("loading customers %s", [int(c["customer_id"]) for c in customers])
    return [Account(dict(c), client) for c in customers]


# The run: what every resource shares -------------------------------------------------


@dataclass
class Run:
    """What the resources of one source share: settings, client, accounts, outcome."""

    config: SproutSettings
    client: SproutClient
    accounts: list[Account]
    refreshed_at: pendulum.DateTime = field(default_factory=lambda: pendulum.now("UTC"))
    dropped_metrics: set[str] = field(default_factory=set)
    stopped: str | None = None
    """Why the run stopped early (budget or quota), once it has."""
    known_profiles: frozenset[int] | None = None
    """Profiles seen by earlier runs; others are new and read from `start_date`."""
    request_counts: dict[str, int] | None = None
    """The budget's live count of requests per month, to keep in the source state."""
    publishing_post_ids: dict[int, list[int]] = field(default_factory=dict)
    """Drafts created by `sprout-elt publish`, by customer, to refresh from the API."""
    first_chunk: bool = True
    """False for the later chunks of a backfill: what earlier chunks read is current."""
    run_end_date: pendulum.Date | None = None
    """Last day of the whole run when it is cut into chunks (`config.end_date` if None)."""

    def series_end(self) -> pendulum.Date | None:
        """Last day to read of the daily series (profile and topic metrics), or None.

        They are a few rows a day, and their requests span a year (profiles) or 31 days
        (topics): reading them per chunk would cost a request per chunk each. So
        the first chunk reads them up to the end of the whole run and later chunks skip
        them.
        """
        if not self.first_chunk:
            return None
        return self.run_end_date or self.config.end_date

    def remember_requests(self) -> None:
        """Keep request counts and the accounts seen in the source state.

        The state holds the live objects, so it is saved with every request and profile
        read up to the end of the extraction.
        """
        state = dlt.current.source_state()
        if self.request_counts is not None:
            state[REQUESTS_STATE_KEY] = self.request_counts
        known = state.setdefault(ACCOUNTS_STATE_KEY, {})
        for account in self.accounts:
            for key, value in (known.get(str(account.customer_id)) or {}).items():
                account.snapshot.setdefault(key, value)
            known[str(account.customer_id)] = account.snapshot


@dlt.source(name="sprout", max_table_nesting=3)
def sprout_source(
    config: SproutSettings | None = None,
    client: SproutClient | None = None,
    accounts: list[Account] | None = None,
    run: Run | None = None,
) -> Iterator[DltResource]:
    """Every read endpoint of the Sprout API as dlt resources.

    Called without arguments it reads `sources.sprout.*` from dlt's configuration
    and secrets, opens a client and asks `/v1/metadata/client` for the customers.
    `sprout-elt run` passes its own, so that one pacer and budget span every chunk.

    Args:
        config: validated settings; `load_settings()` when not given.
        client: the HTTP client; one built from `config` when not given.
        accounts: the customers to load; discovered when not given.
        run: shared run state; built from the three above when not given.
    """
    previous = _previous_state()
    if run is None:
        config = config or load_settings()
        counts = {str(k): int(v) for k, v in (previous.get(REQUESTS_STATE_KEY) or {}).items()}
        client = client or make_client(config, counts)
        found = accounts or discover_accounts(client, config)
        run = Run(config, client, found, request_counts=counts)
    if run.known_profiles is None:
        run.known_profiles = _known_profiles(previous)
    yield customers(run)
    yield profiles(run)
    yield groups(run)
    yield tags(run)
    yield users(run)
    yield topics(run)
    analytics = profile_analytics(run, reporting_date=_date_cursor(run, "profile_metrics"))
    yield analytics.parallelize()
    yield analytics | profile_metrics_daily
    # A copy: piping binds the transformer in place, and its split step must not pile
    # up on the module's transformer, one more for every run in the process.
    buckets = profile_metrics_buckets.with_name("profile_metrics_buckets")
    yield _split(analytics | buckets, "customer_profile_id", "reporting_date", "metric", "bucket")
    # The streams below are extracted side by side (dlt runs each in a worker thread), so
    # one stream's tail of sequential cursor pages overlaps the next stream's first
    # requests and the shared pacer never waits for a stream to finish.
    created = functools.partial(_time_cursor, run, "created_time")
    yield _split(posts(run, created_time=created("posts")), "guid").parallelize()
    yield _split(messages(run, created_time=created("messages")), "guid").parallelize()
    yield _split(message_actions(run), "guid").parallelize()
    yield cases(
        run, latest_activity_time=_time_cursor(run, "latest_activity_time", "cases")
    ).parallelize()
    topic_rows = topic_messages(run, created_time=created("topic_messages"))
    yield _split(topic_rows, "topic_id", "guid").parallelize()
    yield topic_metrics_daily(run, metric_date=_date_cursor(run, "topic_metrics")).parallelize()
    yield publishing_posts(run.client, run.publishing_post_ids)


def _split(resource: DltResource, *key: str) -> DltResource:
    """The resource with its Arrow tables split into the tables dlt's normalizer would
    make: the big tables (metric buckets, posts, inbox and listening messages) skip its
    row-by-row work. `key` is the table's primary key."""
    from sources.sprout.tables import NestedTables

    return resource.add_step(NestedTables(str(resource.table_name), key))


def _previous_state() -> dict[str, Any]:
    """The source state as the last run left it (read-only here), or empty outside a run."""
    try:
        return dict(dlt.current.source_state())
    except PipelineStateNotAvailable:
        return {}


def _known_profiles(previous: dict[str, Any]) -> frozenset[int] | None:
    """Profiles that earlier runs saw; None before the first run."""
    known = previous.get(ACCOUNTS_STATE_KEY) or {}
    ids = {int(p[0]) for snapshot in known.values() for p in snapshot.get("profiles", [])}
    return frozenset(ids) or None


def _by_start(
    run: Run, ids: tuple[int, ...], start: _S, first: _S
) -> list[tuple[_S, tuple[int, ...]]]:
    """Profiles with the window start each needs: a profile new since the last run
    has no history loaded yet, so it is read from `start_date` instead of the cursor."""
    known = run.known_profiles
    new = tuple(i for i in ids if known is not None and i not in known)
    if not new or start <= first:
        return [(start, ids)]
    seen = tuple(i for i in ids if i not in new)
    parts: list[tuple[_S, tuple[int, ...]]] = [(first, new)]
    if seen:
        parts.append((start, seen))
    return parts


def _time_cursor(run: Run, cursor: str, name: str) -> Incremental[Any]:
    days = run.config.lookback_days[name]
    return dlt.sources.incremental(cursor, initial_value=run.config.start_at, lag=days * 86_400)


def _date_cursor(run: Run, name: str) -> Incremental[Any]:
    cursor = "reporting_date" if name == "profile_metrics" else "metric_date"
    days = run.config.lookback_days[name]
    return dlt.sources.incremental(cursor, initial_value=run.config.start_date, lag=days)


# Metadata ----------------------------------------------------------------------------


@dlt.resource(primary_key="customer_id", write_disposition="merge")
def customers(run: Run) -> Iterator[list[dict[str, Any]]]:
    """Customers of the token. Merges on `customer_id`, so a renamed customer is updated."""
    run.remember_requests()
    yield [dict(account.customer) for account in run.accounts]


@dlt.resource(primary_key="customer_profile_id", write_disposition="merge")
def profiles(run: Run) -> Iterator[list[dict[str, Any]]]:
    """Profiles of every customer. Merges on the id: names and groups change over time."""
    run.remember_requests()
    yield from _guarded(run, _each_account(run, lambda a: a.profiles), None)


@dlt.resource(primary_key="group_id", write_disposition="merge")
def groups(run: Run) -> Iterator[list[dict[str, Any]]]:
    """Groups of every customer. Merges on the id: groups are renamed."""
    run.remember_requests()
    yield from _guarded(run, _each_account(run, lambda a: a.metadata("groups")), None)


@dlt.resource(primary_key="tag_id", write_disposition="merge")
def tags(run: Run) -> Iterator[list[dict[str, Any]]]:
    """Message tags, active and archived. Merges on the id: tags are archived and renamed."""
    run.remember_requests()
    yield from _guarded(run, _each_account(run, lambda a: a.metadata("tags")), None)


@dlt.resource(primary_key="id", write_disposition="merge")
def users(run: Run) -> Iterator[list[dict[str, Any]]]:
    """Active users of every customer. Merges on the id: names and emails change."""
    run.remember_requests()
    yield from _guarded(run, _each_account(run, lambda a: a.metadata("users")), None)


@dlt.resource(primary_key="id", write_disposition="merge")
def topics(run: Run) -> Iterator[list[dict[str, Any]]]:
    """Listening topics. Merges on the id: themes and availability change."""
    run.remember_requests()
    rows = _each_account(run, lambda a: [_topic_row(t) for t in a.topics])
    yield from _guarded(run, rows, None)


def _each_account(
    run: Run, read: Callable[[Account], list[dict[str, Any]]]
) -> Iterator[list[dict[str, Any]]]:
    for account in run.accounts:
        rows = read(account)
        if rows:
            yield rows


def _topic_row(topic: dict[str, Any]) -> dict[str, Any]:
    # The table says ISO timestamp, the example shows epoch milliseconds.
    row = dict(topic)
    row["availability_time"] = _row_time(topic.get("availability_time"))
    return row


# Daily profile metrics ---------------------------------------------------------------


@dataclass(frozen=True)
class _ProfileQuery:
    customer_id: int
    profile_ids: tuple[int, ...]
    metrics: tuple[str, ...]
    """Every metric of the batch's networks: the API leaves out, per profile, those its
    network lacks, so profiles of different networks share one request."""
    start: pendulum.Date
    end: pendulum.Date
    """Last day, inclusive."""
    network_types: dict[int, str] = field(default_factory=dict, compare=False)
    """Each profile's network type, for the rows."""

    def body(self, dropped: set[str]) -> dict[str, Any]:
        return {
            "filters": [
                _eq("customer_profile_id", self.profile_ids),
                f"reporting_period.in({self.start.isoformat()}..{self.end.isoformat()})",
            ],
            "metrics": [m for m in self.metrics if m not in dropped],
            "limit": settings.PROFILE_METRICS_PAGE_SIZE,
        }

    def halves(self) -> tuple[_ProfileQuery, _ProfileQuery] | None:
        if len(self.profile_ids) > 1:
            middle = len(self.profile_ids) // 2
            return (
                replace(self, profile_ids=self.profile_ids[:middle]),
                replace(self, profile_ids=self.profile_ids[middle:]),
            )
        days = (self.end - self.start).days
        if days < 1:
            return None
        middle_day = self.start.add(days=days // 2)
        return (
            replace(self, end=middle_day),
            replace(self, start=middle_day.add(days=1)),
        )


@dlt.resource(selected=False)
def profile_analytics(
    run: Run,
    reporting_date: Incremental[Any] = dlt.sources.incremental(  # noqa: B008
        "reporting_date", lag=settings.PROFILE_METRICS_LOOKBACK_DAYS
    ),
) -> Iterator[list[dict[str, Any]]]:
    """Daily metrics per profile, re-read over a lookback window (networks restate days).

    Feeds `profile_metrics_daily` and `profile_metrics_buckets`; the reporting day is the
    network's own, so no `timezone` is sent.
    """
    run.remember_requests()
    start = reporting_date.start_value or run.config.start_date
    first_day = pendulum.Date(start.year, start.month, start.day)
    read = _in_flight(
        run,
        f"profile metrics from {first_day}",
        lambda: _profile_queries(run, first_day),
        lambda q: _read_profile_query(run, q),
    )
    yield from _guarded(run, read, reporting_date)


def _profile_queries(run: Run, start: pendulum.Date) -> Iterator[_ProfileQuery]:
    end = run.series_end()
    if end is None:
        return
    for account in run.accounts:
        networks = _network_types(account)
        measured = tuple(p for p, network in networks.items() if _profile_metric_keys(run, network))
        for since, part in _by_start(run, measured, start, run.config.start_date):
            for batch in _chunks(part, settings.PROFILE_BATCH_SIZE):
                types = {p: networks[p] for p in batch}
                metrics = _union_of_metrics(run, sorted(set(types.values())))
                days = min(
                    settings.PROFILE_WINDOW_MAX_DAYS, settings.PROFILE_QUERY_MAX_ROWS // len(batch)
                )
                for first, last in _date_windows(since, end, days):
                    yield _ProfileQuery(account.customer_id, batch, metrics, first, last, types)


def _network_types(account: Account) -> dict[int, str]:
    """Each profile's network type, by profile id in ascending order."""
    pairs = ((int(p["customer_profile_id"]), str(p.get("network_type"))) for p in account.profiles)
    return dict(sorted(pairs))


def _union_of_metrics(run: Run, network_types: list[str]) -> tuple[str, ...]:
    """The metrics of several networks, each once, in catalogue order."""
    keys = (key for network in network_types for key in _profile_metric_keys(run, network))
    return tuple(dict.fromkeys(keys))


def _profile_metric_keys(run: Run, network_type: str) -> tuple[str, ...]:
    """Documented metrics of a network, minus retired ones and those not selected."""
    try:
        network = catalogue.network_by_type(network_type)
    except KeyError:
        logger.info("profiles of network type %r have no documented metrics", network_type)
        return ()
    wanted = run.config.profile_metrics
    return tuple(
        m.key
        for m in catalogue.profile_metrics(network)
        if (wanted is None or m.key in wanted) and _in_service(m, run.config.today)
    )


def _in_service(metric: catalogue.Metric, today: pendulum.Date) -> bool:
    return metric.retired_on is None or today < pendulum.Date.fromisoformat(metric.retired_on)


def _read_profile_query(run: Run, query: _ProfileQuery) -> list[dict[str, Any]]:
    path = _path(query.customer_id, "analytics/profiles")
    try:
        pages = _with_known_metrics(
            run, query.metrics, lambda: run.client.pages(path, query.body(run.dropped_metrics))
        )
        rows = [row for page in pages for row in page]
    except ScopeTooLarge:
        halves = query.halves()
        if halves is None:
            raise
        logger.info("profile metrics: splitting a request the API could not answer in time")
        return [row for half in halves for row in _read_profile_query(run, half)]
    return [_profile_day(query, row) for row in rows]


def _profile_day(query: _ProfileQuery, row: dict[str, Any]) -> dict[str, Any]:
    dimensions = row.get("dimensions") or {}
    day = dimensions.get("reporting_period.by(day)") or dimensions.get("reporting_period")
    return {
        "customer_id": query.customer_id,
        "customer_profile_id": int(dimensions["customer_profile_id"]),
        "network_type": query.network_types.get(int(dimensions["customer_profile_id"])),
        "reporting_date": pendulum.Date.fromisoformat(str(day)[:10]),
        "metrics": dict(row.get("metrics") or {}),
    }


@dlt.transformer(primary_key=("customer_profile_id", "reporting_date"), write_disposition="merge")
def profile_metrics_daily(days: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """One row per profile and reporting day, one column per scalar metric.

    Merges on profile and day: networks restate recent days, which are re-read.
    """
    rows = []
    for day in days:
        row = {k: v for k, v in day.items() if k != "metrics"}
        row.update({k: v for k, v in day["metrics"].items() if not isinstance(v, dict)})
        rows.append(row)
    yield rows


@dlt.transformer(
    primary_key=("customer_profile_id", "reporting_date", "metric", "bucket"),
    merge_key=("customer_profile_id", "reporting_date"),
    write_disposition="merge",
    columns={"_dlt_id": settings.ROW_KEY},
)
def profile_metrics_buckets(days: list[dict[str, Any]]) -> Iterator[pa.Table]:
    """Object-valued metrics (`followers_by_*`, `posts_sent_by_*`), one bucket per row.

    Replaces every bucket of a re-read profile and day (the merge key), so a bucket that
    disappears on restatement disappears here too.
    """
    # Built column by column: a year of 100 profiles holds millions of buckets, and a
    # dict per bucket cost more than the rest of the transformer.
    columns: dict[str, list[Any]] = {
        "customer_id": [],
        "customer_profile_id": [],
        "reporting_date": [],
        "metric": [],
        "bucket": [],
        "value": [],
    }
    for day in days:
        for metric, buckets in day["metrics"].items():
            if not isinstance(buckets, dict):
                continue
            count = len(buckets)
            columns["customer_id"] += [day["customer_id"]] * count
            columns["customer_profile_id"] += [day["customer_profile_id"]] * count
            columns["reporting_date"] += [day["reporting_date"]] * count
            columns["metric"] += [metric] * count
            columns["bucket"] += buckets.keys()
            columns["value"] += buckets.values()
    if columns["metric"]:
        from sources.sprout.tables import column_table

        yield column_table(columns)


# Posts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TimeQuery:
    customer_id: int
    profile_ids: tuple[int, ...]
    start: pendulum.DateTime
    end: pendulum.DateTime
    """Exclusive."""
    group_id: int | None = None

    def window(self, name: str) -> str:
        return f"{name}.in({_iso(self.start)}...{_iso(self.end)})"

    def parts(self, count: int) -> list[_TimeQuery]:
        """The window cut into `count` consecutive parts of equal length."""
        step = (self.end - self.start) / count
        bounds = [self.start + step * n for n in range(count)] + [self.end]
        return [replace(self, start=a, end=b) for a, b in itertools.pairwise(bounds)]

    def halves(self) -> tuple[_TimeQuery, _TimeQuery] | None:
        if len(self.profile_ids) > 1:
            middle = len(self.profile_ids) // 2
            return (
                replace(self, profile_ids=self.profile_ids[:middle]),
                replace(self, profile_ids=self.profile_ids[middle:]),
            )
        if (self.end - self.start).total_seconds() <= 3600:
            return None
        middle_time = self.start + (self.end - self.start) / 2
        return replace(self, end=middle_time), replace(self, start=middle_time)


@dlt.resource(primary_key="guid", write_disposition="merge", columns={"_dlt_id": settings.ROW_KEY})
def posts(
    run: Run,
    created_time: Incremental[Any] = dlt.sources.incremental(  # noqa: B008
        "created_time", lag=settings.POSTS_LOOKBACK_DAYS * 86_400
    ),
) -> Iterator[pa.Table]:
    """Sent posts with every field and every `lifetime.*` metric of their network.

    Merges on `guid`: lifetime metrics keep growing, so each run re-reads the posts of the
    lookback window and refreshes their metrics (`metrics_refreshed_at`). Each query
    walks by ascending guid, which costs the same requests as paging and is never cut
    off at the API's 10,000-result cap. Queries are read side by side and page by page:
    a year of 100 profiles is never held in memory, only a few pages of it.
    """
    run.remember_requests()
    start = _utc(created_time.start_value) or run.config.start_at
    from sources.sprout.tables import batched

    pages = _post_stream(run, start)
    yield from _guarded(run, batched(pages, settings.TABLE_BATCH_ROWS), created_time)


def _post_stream(run: Run, start: pendulum.DateTime) -> Iterator[pa.Table]:
    """Pages of every posts query, queries side by side; a generator, so that nothing
    (not even the profiles the queries need) is requested before `_guarded` iterates."""
    planned = _post_queries(run, start)
    logger.info("posts from %s: %d queries", _iso(start), len(planned))
    openers = [functools.partial(_post_pages, run, query) for query in planned]
    yield from interleave(openers, run.config.max_in_flight)


def _post_queries(run: Run, start: pendulum.DateTime) -> list[_TimeQuery]:
    if start >= run.config.end_at:
        return []
    return [
        _TimeQuery(account.customer_id, batch, since, run.config.end_at)
        for account in run.accounts
        for since, part in _by_start(run, _profile_ids(account), start, run.config.start_at)
        for batch in _chunks(part, settings.PROFILE_BATCH_SIZE)
    ]


def _profile_ids(account: Account) -> tuple[int, ...]:
    return tuple(sorted(int(p["customer_profile_id"]) for p in account.profiles))


def _post_metric_keys(run: Run, account: Account) -> list[str]:
    """`lifetime.*` metrics of the account's networks, minus retired and unselected ones."""
    keys: dict[str, None] = {}
    wanted = run.config.post_metrics
    for network_type in sorted({str(p.get("network_type")) for p in account.profiles}):
        try:
            network = catalogue.network_by_type(network_type)
        except KeyError:
            continue
        for metric in catalogue.post_metrics(network):
            if (wanted is None or metric.key in wanted) and _in_service(metric, run.config.today):
                keys[metric.key] = None
    return list(keys)


def _posts_body(run: Run, query: _TimeQuery, metrics: list[str]) -> dict[str, Any]:
    return {
        "filters": [_eq("customer_profile_id", query.profile_ids), query.window("created_time")],
        "fields": list(settings.POST_FIELDS),
        "metrics": [m for m in metrics if m not in run.dropped_metrics],
        "timezone": settings.REQUEST_TIMEZONE,
    }


def _post_pages(run: Run, query: _TimeQuery, split_over_cap: bool = True) -> Iterator[pa.Table]:
    """Pages of post rows of one query as tables; its first page decides how it is read."""
    account = next(a for a in run.accounts if a.customer_id == query.customer_id)
    metrics = _post_metric_keys(run, account)
    path = _path(query.customer_id, "analytics/posts")

    def walk() -> Iterator[list[dict[str, Any]]]:
        body = _posts_body(run, query, metrics)
        return run.client.guid_walk(
            path, body, limit=settings.POSTS_PAGE_SIZE, stop_over_cap=split_over_cap
        )

    try:
        pages = _with_known_metrics(run, metrics, walk)
    except OverCap:
        # Walking one query by guid is one request at a time: at 0.5-2 s a request, about
        # 0.8 a second. Its parts, walked side by side, keep the rate full; the cost is
        # the first page of the whole query and a part-filled last page per part.
        parts = query.parts(settings.POSTS_PARTS_OVER_CAP)
        logger.info("posts from %s reach the cap: %d parts", _iso(query.start), len(parts))
        openers = [functools.partial(_post_pages, run, part, False) for part in parts]
        yield from interleave(openers, len(parts))
        return
    except ScopeTooLarge:
        halves = query.halves()
        if halves is None:
            raise
        for half in halves:
            yield from _post_pages(run, half, split_over_cap)
        return
    from sources.sprout.tables import page_table

    for page in pages:
        yield page_table([_post_row(run, query.customer_id, row) for row in page])


def _post_row(run: Run, customer_id: int, post: dict[str, Any]) -> dict[str, Any]:
    row = _message_row(customer_id, post)
    row.update(post.get("metrics") or {})
    row.pop("metrics", None)
    row["metrics_refreshed_at"] = run.refreshed_at
    return row


def _message_row(customer_id: int, message: dict[str, Any]) -> dict[str, Any]:
    """A post or inbox message with UTC times and its tag ids lifted into `tag_ids`."""
    row = {**message, "customer_id": customer_id}
    row["created_time"] = _row_time(message.get("created_time"))
    internal = dict(message.get("internal") or {})
    row["tag_ids"] = [int(t["id"]) for t in internal.pop("tags", None) or [] if "id" in t]
    if internal:
        row["internal"] = internal
    else:
        row.pop("internal", None)
    return row


# Inbox messages ----------------------------------------------------------------------


@dlt.resource(primary_key="guid", write_disposition="merge", columns={"_dlt_id": settings.ROW_KEY})
def messages(
    run: Run,
    created_time: Incremental[Any] = dlt.sources.incremental(  # noqa: B008
        "created_time", lag=settings.MESSAGES_LOOKBACK_DAYS * 86_400
    ),
) -> Iterator[pa.Table]:
    """Inbox messages of every group, by `created_time`.

    Merges on `guid`: `message_actions` re-reads messages whose replies, tags or
    completion changed, and both land in this table.
    """
    run.remember_requests()
    start = _utc(created_time.start_value) or run.config.start_at
    read = _message_stream(run, f"messages from {_iso(start)}", start, "created_time")
    yield from _guarded(run, read, created_time)


@dlt.resource(
    name="message_actions",
    table_name="messages",
    primary_key="guid",
    write_disposition="merge",
    columns={"_dlt_id": settings.ROW_KEY},
)
def message_actions(run: Run) -> Iterator[pa.Table]:
    """Messages with a Sprout action (reply, tag, like, complete) since the last run.

    Merges on `guid` into `messages`, updating rows loaded earlier. The window is kept in
    the resource state rather than a row cursor: the first run reads every message by
    `created_time` already, so this pass starts where that run ended.
    """
    run.remember_requests()
    state = dlt.current.resource_state()
    previous = _utc(state.get("read_until"))
    until = run.config.end_at
    # In later chunks of a run, every message read so far already shows its actions.
    if previous is not None and run.first_chunk:
        lookback = run.config.lookback_days["message_actions"]
        since = max(previous.subtract(days=lookback), run.config.start_at)
        label = f"messages with actions from {_iso(since)}"
        read = _message_stream(run, label, since, "action_last_update_time")
        yield from _guarded(run, read, None)
    if run.stopped is None:
        state["read_until"] = _iso(until)


def _message_queries(run: Run, start: pendulum.DateTime) -> Iterator[_TimeQuery]:
    """One query per group, with the profiles whose first group it is.

    A profile in several groups would otherwise return its messages once per group.
    """
    if start >= run.config.end_at:
        return
    for account in run.accounts:
        by_group: dict[int, list[int]] = {}
        for profile in account.profiles:
            profile_groups = profile.get("groups") or []
            if profile_groups:
                by_group.setdefault(int(profile_groups[0]), []).append(
                    int(profile["customer_profile_id"])
                )
        for group_id, ids in sorted(by_group.items()):
            for since, part in _by_start(run, tuple(sorted(ids)), start, run.config.start_at):
                for batch in _chunks(part, settings.PROFILE_BATCH_SIZE):
                    end = run.config.end_at
                    yield _TimeQuery(account.customer_id, batch, since, end, group_id)


def _messages_body(run: Run, query: _TimeQuery, window: str) -> dict[str, Any]:
    filters = [f"group_id.eq({query.group_id})", _eq("customer_profile_id", query.profile_ids)]
    if window == "created_time":
        filters.append(query.window("created_time"))
    else:
        # The action window may not start before the created_time window.
        created = replace(query, start=run.config.start_at)
        filters += [created.window("created_time"), query.window(window)]
    return {
        "filters": filters,
        "fields": list(settings.MESSAGE_FIELDS),
        "limit": settings.MESSAGES_PAGE_SIZE,
        "sort": ["created_time:asc"],
        "timezone": settings.REQUEST_TIMEZONE,
    }


def _message_stream(
    run: Run, label: str, start: pendulum.DateTime, window: str
) -> Iterator[pa.Table]:
    """Pages of every group's messages from `start`, groups side by side; a generator,
    so that nothing is requested before `_guarded` iterates."""
    from sources.sprout.tables import batched

    planned = list(_message_queries(run, start))
    logger.info("%s: %d queries", label, len(planned))
    openers = [functools.partial(_message_pages, run, query, window) for query in planned]
    yield from batched(interleave(openers, run.config.max_in_flight), settings.TABLE_BATCH_ROWS)


def _message_pages(run: Run, query: _TimeQuery, window: str) -> Iterator[pa.Table]:
    """One query's messages, a table per page, handed over once the query is read whole.

    The API may refuse the scope on any page (a 504 that persists); the query is then
    read again as two halves, so nothing of the refused read may have been handed on.
    Each page becomes a table as it arrives: a group's four weeks of messages as dicts
    would take tens of megabytes, as Arrow a few.
    """
    from sources.sprout.tables import page_table

    path = _path(query.customer_id, "messages")
    try:
        tables = [
            page_table([_inbox_row(query, row) for row in page])
            for page in run.client.cursor_pages(path, _messages_body(run, query, window))
        ]
    except ScopeTooLarge:
        halves = query.halves()
        if halves is None:
            raise
        for half in halves:
            yield from _message_pages(run, half, window)
        return
    yield from tables


def _inbox_row(query: _TimeQuery, message: dict[str, Any]) -> dict[str, Any]:
    row = _message_row(query.customer_id, message)
    row["group_id"] = query.group_id
    # Action times as datetimes, and the latest of them, which the
    # `action_last_update_time` filter tests.
    actions = message.get("activity_metadata")
    if isinstance(actions, dict):
        row["activity_metadata"] = {k: _with_action_time(a) for k, a in actions.items()}
        listed = list(row["activity_metadata"].values())
    elif isinstance(actions, list):
        row["activity_metadata"] = listed = [_with_action_time(a) for a in actions]
    else:
        listed = []
    times = (a.get("action_time") for a in listed if isinstance(a, dict))
    moments = (t for t in times if isinstance(t, datetime.datetime))
    row["action_last_update_time"] = max(moments, default=None)
    return row


def _with_action_time(action: Any) -> Any:
    if not isinstance(action, dict) or not action.get("action_time"):
        return action
    return {**action, "action_time": _row_time(action["action_time"])}


# Cases -------------------------------------------------------------------------------


@dlt.resource(primary_key="case_id", write_disposition="merge")
def cases(
    run: Run,
    latest_activity_time: Incremental[Any] = dlt.sources.incremental(  # noqa: B008
        "latest_activity_time", lag=settings.CASES_LOOKBACK_DAYS * 86_400
    ),
) -> Iterator[list[dict[str, Any]]]:
    """Cases with any activity (status, assignment, tags, messages) in the window.

    Merges on `case_id`: a case changes until it is closed. `cases/filter` accepts at most
    one week per date filter, so the window is read week by week.
    """
    run.remember_requests()
    start = _utc(latest_activity_time.start_value) or run.config.start_at
    read = _in_flight(
        run,
        f"cases active from {_iso(start)}",
        lambda: _case_queries(run, start),
        lambda q: _read_cases(run, *q),
    )
    yield from _guarded(run, read, latest_activity_time)


def _case_queries(
    run: Run, start: pendulum.DateTime
) -> list[tuple[int, pendulum.DateTime, pendulum.DateTime]]:
    weeks = _time_windows(start, run.config.end_at, settings.CASES_WINDOW_DAYS)
    return [(a.customer_id, first, last) for a in run.accounts for first, last in weeks]


def _read_cases(
    run: Run, customer_id: int, start: pendulum.DateTime, end: pendulum.DateTime
) -> list[dict[str, Any]]:
    body = {
        "filters": [f"latest_activity_time.in({_iso(start)}...{_iso(end)})"],
        "limit": settings.CASES_PAGE_SIZE,
        "sort": ["created_time:asc"],
        "timezone": settings.REQUEST_TIMEZONE,
    }
    # Cases, topic messages and topic metrics are not split on a 504: retry instead.
    pages = run.client.cursor_pages(_path(customer_id, "cases/filter"), body, splittable=False)
    return [_case_row(customer_id, case) for page in pages for case in page]


def _case_row(customer_id: int, case: dict[str, Any]) -> dict[str, Any]:
    row = {**case, "customer_id": customer_id}
    for name in ("created_time", "updated_time", "last_closed_time", "latest_activity_time"):
        if name in row:
            row[name] = _row_time(row[name])
    return row


# Listening ---------------------------------------------------------------------------


@dlt.resource(
    primary_key=("topic_id", "guid"),
    write_disposition="merge",
    columns={"_dlt_id": settings.ROW_KEY},
)
def topic_messages(
    run: Run,
    created_time: Incremental[Any] = dlt.sources.incremental(  # noqa: B008
        "created_time", lag=settings.TOPIC_MESSAGES_LOOKBACK_DAYS * 86_400
    ),
) -> Iterator[pa.Table]:
    """Messages of every listening topic, with every documented field requested by name.

    Merges on topic and `guid`, since the lookback window re-reads late arrivals.
    """
    run.remember_requests()
    start = _utc(created_time.start_value) or run.config.start_at
    read = _in_flight(
        run,
        f"topic messages from {_iso(start)}",
        lambda: _topic_message_queries(run, start),
        lambda q: _read_topic_messages(run, *q),
    )
    yield from _guarded(run, _tables_of(read), created_time)


def _topic_message_queries(
    run: Run, start: pendulum.DateTime
) -> list[tuple[int, str, pendulum.DateTime, pendulum.DateTime]]:
    return [
        (account.customer_id, str(topic["id"]), first, last)
        for account in run.accounts
        for topic in account.topics
        for first, last in _time_windows(start, run.config.end_at, None)
    ]


def _read_topic_messages(
    run: Run, customer_id: int, topic_id: str, start: pendulum.DateTime, end: pendulum.DateTime
) -> list[dict[str, Any]]:
    body = {
        "filters": [f"created_time.in({_iso(start)}...{_iso(end)})"],
        "fields": list(settings.TOPIC_MESSAGE_FIELDS),
        "metrics": list(settings.TOPIC_MESSAGE_METRICS),
        "limit": settings.TOPIC_MESSAGES_PAGE_SIZE,
        "sort": ["created_time:asc"],
        "timezone": settings.REQUEST_TIMEZONE,
    }
    path = _path(customer_id, f"listening/topics/{topic_id}/messages")
    rows = [row for page in run.client.pages(path, body, splittable=False) for row in page]
    if len(rows) >= settings.RESULT_CAP and (end - start).total_seconds() > 3600:
        # Paged results stop at the cap; ask again for each half of the window.
        middle = start + (end - start) / 2
        logger.info(
            "topic %s: %d messages reach the cap; splitting the window", topic_id, len(rows)
        )
        return _read_topic_messages(run, customer_id, topic_id, start, middle) + (
            _read_topic_messages(run, customer_id, topic_id, middle, end)
        )
    return [_topic_message_row(customer_id, topic_id, row) for row in rows]


def _topic_message_row(customer_id: int, topic_id: str, message: dict[str, Any]) -> dict[str, Any]:
    """A listening message with `sentiment` and `language` wherever the API put them."""
    row = {**message, "customer_id": customer_id, "topic_id": topic_id}
    meta = dict(row.pop("listening_metadata", None) or {})
    # Requested as fields, these come back inside `listening_metadata` (or at the top).
    for name in ("sentiment", "language", "explicit_label"):
        if name in meta:
            row.setdefault(name, meta.pop(name))
    if isinstance(row.get("sentiment"), str):
        row["sentiment"] = row["sentiment"].lower()
    if meta:
        row["listening_metadata"] = meta
    row.update({k: _number(v) for k, v in (row.pop("metrics", None) or {}).items()})
    row["created_time"] = _row_time(message.get("created_time"))
    return row


@dlt.resource(
    primary_key=("topic_id", "metric_date", "network", "sentiment"),
    merge_key=("topic_id", "metric_date"),
    write_disposition="merge",
)
def topic_metrics_daily(
    run: Run,
    metric_date: Incremental[Any] = dlt.sources.incremental(  # noqa: B008
        "metric_date", lag=settings.TOPIC_METRICS_LOOKBACK_DAYS
    ),
) -> Iterator[list[dict[str, Any]]]:
    """Topic metrics by UTC day, network and sentiment.

    Re-reads the lookback window (late messages keep arriving) and replaces every row of
    each re-read topic and day (the merge key), so no stale combination is left behind.
    """
    run.remember_requests()
    start = metric_date.start_value or run.config.start_date
    first_day = pendulum.Date(start.year, start.month, start.day)
    read = _in_flight(
        run,
        f"topic metrics from {first_day}",
        lambda: _topic_metric_queries(run, first_day),
        lambda q: _read_topic_metrics(run, *q),
    )
    yield from _guarded(run, read, metric_date)


def _topic_metric_queries(
    run: Run, first_day: pendulum.Date
) -> list[tuple[int, str, pendulum.Date, pendulum.Date]]:
    end = run.series_end()
    if end is None:
        return []
    windows = _date_windows(first_day, end, settings.TOPIC_METRICS_WINDOW_DAYS)
    return [
        (account.customer_id, str(topic["id"]), first, last)
        for account in run.accounts
        for topic in account.topics
        for first, last in windows
    ]


def _topic_metrics_body(first: pendulum.Date, last: pendulum.Date) -> dict[str, Any]:
    return {
        "filters": [f"created_time.in({first.isoformat()}...{last.add(days=1).isoformat()})"],
        "metrics": list(catalogue.TOPIC_METRICS),
        "dimensions": list(settings.TOPIC_METRIC_DIMENSIONS),
        "timezone": settings.REQUEST_TIMEZONE,
    }


def _read_topic_metrics(
    run: Run, customer_id: int, topic_id: str, first: pendulum.Date, last: pendulum.Date
) -> list[dict[str, Any]]:
    path = _path(customer_id, f"listening/topics/{topic_id}/metrics")
    answer = run.client.post(path, _topic_metrics_body(first, last), splittable=False)
    return [_topic_metric_row(customer_id, topic_id, row) for row in _records(answer)]


def _topic_metric_row(customer_id: int, topic_id: str, row: dict[str, Any]) -> dict[str, Any]:
    dimensions = row.get("dimensions") or {}
    # Requested as `created_time.by(day)`, answered as `created_time` at local midnight
    # with an offset: the date part is the day in the requested (UTC) time zone.
    day = dimensions.get("created_time") or dimensions.get("created_time.by(day)")
    metrics = {k: _number(v) for k, v in (row.get("metrics") or {}).items()}
    return {
        "customer_id": customer_id,
        "topic_id": topic_id,
        "metric_date": pendulum.Date.fromisoformat(str(day)[:10]),
        "network": dimensions.get("network"),
        "sentiment": str(dimensions.get("sentiment", "")).lower() or None,
        **metrics,
    }


# Planning: the requests of a run, computed from settings and state ------------------

CURSORS: dict[str, tuple[str, str]] = {
    "profile_analytics": ("reporting_date", "profile_metrics"),
    "posts": ("created_time", "posts"),
    "messages": ("created_time", "messages"),
    "cases": ("latest_activity_time", "cases"),
    "topic_messages": ("created_time", "topic_messages"),
    "topic_metrics_daily": ("metric_date", "topic_metrics"),
}
"""Resources with a cursor: the cursor column and the lookback setting that lags it."""

_METADATA_NEEDS: dict[str, tuple[str, ...]] = {
    "": ("profiles", "profile_metrics_daily", "profile_metrics_buckets", "posts", "messages"),
    "groups": ("groups",),
    "tags": ("tags",),
    "users": ("users",),
    "topics": ("topics", "topic_messages", "topic_metrics_daily"),
}


def cursor_positions(source_state: dict[str, Any]) -> dict[str, Any]:
    """The last value of each cursor in a source state (`message_actions`: read until)."""
    resources = source_state.get("resources") or {}
    positions: dict[str, Any] = {}
    for name, (cursor, _) in CURSORS.items():
        incremental = (resources.get(name) or {}).get("incremental") or {}
        value = (incremental.get(cursor) or {}).get("last_value")
        if value is not None:
            positions[name] = value
    until = (resources.get("message_actions") or {}).get("read_until")
    if until:
        positions["message_actions"] = _utc(until)
    return positions


def resume_start(config: SproutSettings, name: str, position: Any) -> pendulum.DateTime:
    """Where the next run of a cursor resource starts reading: lagged, not before start."""
    if position is None:
        return config.start_at
    lookback = config.lookback_days[CURSORS[name][1]]
    moment = _utc(position) if not _is_date(position) else _midnight(position)
    assert moment is not None
    return max(config.start_at, moment.subtract(days=lookback))


def plan_queries(
    config: SproutSettings,
    accounts: list[Account],
    positions: dict[str, Any],
    resources: Iterable[str],
    *,
    first_chunk: bool = True,
    run_end: pendulum.Date | None = None,
) -> dict[str, int]:
    """The queries each selected resource would send, one request each at least.

    Args:
        config: settings of the run (or of one chunk).
        accounts: customers with their profiles and topics (from the source state).
        positions: cursor positions, as `cursor_positions` gives them.
        resources: dlt resource names selected.
        first_chunk: whether `config` is the first chunk of its run.
        run_end: last day of the whole run, when `config` is one of its chunks.
    """
    selected = set(resources)
    client = cast(SproutClient, None)
    run = Run(config, client, accounts, first_chunk=first_chunk, run_end_date=run_end)
    counts: dict[str, int] = {"metadata": _metadata_requests(accounts, selected)}
    start = {name: resume_start(config, name, positions.get(name)) for name in CURSORS}
    if selected & {"profile_metrics_daily", "profile_metrics_buckets"}:
        counts["profile_metrics"] = len(
            list(_profile_queries(run, start["profile_analytics"].date()))
        )
    builders: dict[str, Callable[[], int]] = {
        "posts": lambda: len(_post_queries(run, start["posts"])),
        "messages": lambda: len(list(_message_queries(run, start["messages"]))),
        "message_actions": lambda: _action_queries(run, positions.get("message_actions")),
        "cases": lambda: len(_case_queries(run, start["cases"])),
        "topic_messages": lambda: len(_topic_message_queries(run, start["topic_messages"])),
        "topic_metrics_daily": lambda: len(
            _topic_metric_queries(run, start["topic_metrics_daily"].date())
        ),
    }
    for name, count in builders.items():
        if name in selected:
            counts[name] = count()
    return counts


def _metadata_requests(accounts: list[Account], selected: set[str]) -> int:
    endpoints = [e for e, users in _METADATA_NEEDS.items() if selected & set(users)]
    return 1 + len(endpoints) * len(accounts)


def _action_queries(run: Run, read_until: Any) -> int:
    until = _utc(read_until)
    if until is None:
        return 0
    lookback = run.config.lookback_days["message_actions"]
    since = max(until.subtract(days=lookback), run.config.start_at)
    return len(list(_message_queries(run, since)))


def _is_date(value: Any) -> bool:
    return hasattr(value, "isoformat") and not hasattr(value, "hour")


def _midnight(day: Any) -> pendulum.DateTime:
    return pendulum.datetime(day.year, day.month, day.day)


# Shared helpers ----------------------------------------------------------------------


def _in_flight(
    run: Run,
    label: str,
    queries: Callable[[], Iterable[_Q]],
    read: Callable[[_Q], list[dict[str, Any]]],
) -> Iterator[list[dict[str, Any]]]:
    """Build the queries, then read them concurrently through the shared client.

    A generator, so nothing (not even the metadata the queries need) is requested before
    `_guarded` iterates it.
    """
    planned = list(queries())
    logger.info("%s: %d queries", label, len(planned))
    yield from run.client.map_in_flight(read, planned)


def _tables_of(pages: Iterable[list[dict[str, Any]]]) -> Iterator[pa.Table]:
    """Pages of rows as Arrow tables of at least `TABLE_BATCH_ROWS` rows."""
    from sources.sprout.tables import batched, page_table

    return batched((page_table(rows) for rows in pages), settings.TABLE_BATCH_ROWS)


def _guarded(
    run: Run, batches: Iterable[_Batch], cursor: Incremental[Any] | None
) -> Iterator[_Batch]:
    """Yield batches until the budget or quota runs out, then stop the run cleanly.

    What was read is kept (every table merges on its keys), but the cursor goes back to
    where this run found it: results arrive out of time order, so an advanced cursor
    could skip what was never read.
    """
    if run.stopped:
        return
    saved = copy.deepcopy(cursor.get_state()) if cursor is not None else None
    try:
        for batch in batches:
            if batch:
                yield batch
    except _STOPPING as exc:
        run.stopped = str(exc)
        logger.warning("stopping: %s", exc)
        if cursor is not None and saved is not None:
            state: dict[str, Any] = cursor.get_state()  # type: ignore[assignment]
            state.clear()
            state.update(saved)


def _with_known_metrics(
    run: Run,
    requested: Sequence[str],
    read: Callable[[], Iterator[list[dict[str, Any]]]],
) -> Iterator[list[dict[str, Any]]]:
    """The pages of `read`, its first page already asked for; a requested metric that
    the API rejects is dropped with a warning and the read started again.

    Metrics come and go; one the catalogue still lists but the API no longer knows must
    not break a run. The API refuses it on the first page, so the pages after it are
    read only as they are taken. `read` builds its body without `run.dropped_metrics`,
    so a dropped metric is left out of every later request of the run.
    """
    while True:
        pages = read()
        try:
            first = next(pages, None)
        except SproutApiError as exc:
            live = [m for m in requested if m not in run.dropped_metrics]
            metric = _rejected_metric(exc.message, live) if exc.status == 400 else None
            if metric is None:
                raise
            logger.warning("the API does not know metric %r (%s); dropping it", metric, exc.message)
            run.dropped_metrics.add(metric)
            continue
        return itertools.chain([] if first is None else [first], pages)


def _rejected_metric(message: str, requested: Sequence[str]) -> str | None:
    """The requested metric a 400's message names (the longest, if several match)."""
    named = [m for m in requested if re.search(rf"(?<![\w.]){re.escape(m)}(?![\w.])", message)]
    return max(named, key=len) if named else None


def _records(answer: Any) -> list[dict[str, Any]]:
    """The records of an answer: `data` of the envelope, or a bare array (topics)."""
    if isinstance(answer, list):
        return answer
    if isinstance(answer, dict) and isinstance(answer.get("data"), list):
        return list(answer["data"])
    return []


def _path(customer_id: int, endpoint: str) -> str:
    return f"/{settings.API_VERSION}/{customer_id}/{endpoint}"


def _eq(name: str, values: Sequence[Any]) -> str:
    return f"{name}.eq({', '.join(str(v) for v in values)})"


def _iso(moment: pendulum.DateTime) -> str:
    """A UTC time as the filters take it (the request's `timezone` is UTC)."""
    return moment.in_timezone("UTC").format("YYYY-MM-DDTHH:mm:ss")


def _utc(value: Any) -> pendulum.DateTime | None:
    """A UTC datetime from ISO text, epoch milliseconds or a datetime; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return pendulum.from_timestamp(value / 1000, tz="UTC")
    if isinstance(value, str):
        parsed = pendulum.parse(value)
        if not isinstance(parsed, pendulum.DateTime):
            raise ValueError(f"{value!r} is not a timestamp")
        return parsed.in_timezone("UTC")
    moment = pendulum.instance(value)
    return moment.in_timezone("UTC")


def _row_time(value: Any) -> datetime.datetime | None:
    """:func:`_utc` for the times in rows, as a plain datetime: ten times faster on ISO
    text, which a backfill parses for every post and message."""
    if isinstance(value, str) and value:
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError:
            return _utc(value)  # other ISO 8601 forms, or a clear error
        if moment.tzinfo is None:
            return moment.replace(tzinfo=datetime.UTC)
        return moment.astimezone(datetime.UTC)
    return _utc(value)


def _number(value: Any) -> Any:
    """Listening answers floats; integral ones become integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _chunks(items: Sequence[int], size: int) -> Iterator[tuple[int, ...]]:
    for index in range(0, len(items), size):
        yield tuple(items[index : index + size])


def _date_windows(
    start: pendulum.Date, end: pendulum.Date, max_days: int
) -> list[tuple[pendulum.Date, pendulum.Date]]:
    """Consecutive inclusive day ranges of at most `max_days` days from start to end."""
    windows = []
    first = start
    while first <= end:
        last = min(first.add(days=max_days - 1), end)
        windows.append((first, last))
        first = last.add(days=1)
    return windows


def _time_windows(
    start: pendulum.DateTime, end: pendulum.DateTime, max_days: int | None
) -> list[tuple[pendulum.DateTime, pendulum.DateTime]]:
    """Consecutive half-open windows of at most `max_days` days (one if None)."""
    if start >= end:
        return []
    if max_days is None:
        return [(start, end)]
    windows = []
    first = start
    while first < end:
        last = min(first.add(days=max_days), end)
        windows.append((first, last))
        first = last
    return windows
