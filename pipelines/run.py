"""The `sprout-elt run` command: extract and load every enabled resource, then the marts.

A long backfill is loaded in chunks of `BACKFILL_CHUNK_DAYS`, each its own dlt run, so
an interrupted backfill keeps the chunks it finished and the next run resumes from the
cursors they committed. One client, and so one pacer and one monthly budget, spans
every chunk.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import fcntl
import importlib
import logging
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import pendulum
from dlt.common.pipeline import SupportsPipeline
from dlt.common.schema.utils import is_nested_table

from pipelines.errors import UserError
from pipelines.pipeline import (
    add_destination_arguments,
    bounded_load,
    lift_load_limit,
    make_pipeline,
    ran_out_of_memory,
    request_counts,
    source_state,
    sync_state,
)
from sources.sprout import (
    CURSORS,
    RESOURCE_GROUPS,
    Account,
    Run,
    SproutSettings,
    cursor_positions,
    discover_accounts,
    load_settings,
    make_client,
    plan_queries,
    settings,
    sprout_source,
)
from sources.sprout.publishing import recorded_publishing_post_ids
from sources.sprout.settings import ConfigError

logger = logging.getLogger(__name__)

LOCK_SUFFIX = ".run.lock"
"""`<pipeline dir>.run.lock` is held by the run using that directory (see `run_pipeline`)."""


def register(subparsers: Any) -> None:
    """Add the `run` command."""
    parser = subparsers.add_parser(
        "run",
        help="extract and load every enabled resource incrementally, then build the marts",
        description="Extract the Sprout API incrementally into the warehouse, then build "
        "the marts. Settings come from `sources.sprout` (.dlt/config.toml, secrets, env).",
    )
    add_destination_arguments(parser)
    parser.add_argument("--start-date", help="first day of the first backfill (YYYY-MM-DD)")
    parser.add_argument("--end-date", help="last day to load (YYYY-MM-DD; default: today)")
    parser.add_argument(
        "--resources",
        help="comma-separated resources to load (default: all): " + ", ".join(RESOURCE_GROUPS),
    )
    parser.add_argument("--no-transform", action="store_true", help="do not build the marts")
    parser.add_argument(
        "--plan",
        action="store_true",
        help="print the requests the run would make and how long they take; make none",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the pipeline (or print its plan) as the arguments say."""
    # One line per request is too much on a long run; the client logs what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    config = _settings(args)
    resources = select_resources(args.resources)
    pipeline = make_pipeline(args.destination, args.dataset)
    if args.plan:
        print_plan(pipeline, config, resources, sys.stdout)
        return 0
    summary = run_pipeline(pipeline, config, resources, transform=not args.no_transform)
    summary.write(sys.stdout)
    if summary.stopped:
        raise UserError(f"stopped early, keeping what was loaded: {summary.stopped}")
    return 0


def _settings(args: argparse.Namespace) -> SproutSettings:
    try:
        return load_settings(start_date=args.start_date, end_date=args.end_date)
    except ConfigError as exc:
        raise UserError(str(exc)) from None


def select_resources(names: str | None) -> list[str]:
    """The dlt resources for a `--resources` value (every one when None).

    Raises:
        UserError: a name is not a resource.
    """
    if not names:
        return sorted({r for group in RESOURCE_GROUPS.values() for r in group})
    selected: set[str] = set()
    for name in (n.strip() for n in names.split(",") if n.strip()):
        if name not in RESOURCE_GROUPS:
            raise UserError(
                f"--resources names unknown resource {name!r}: choose from "
                + ", ".join(RESOURCE_GROUPS)
            )
        selected.update(RESOURCE_GROUPS[name])
    return sorted(selected)


# The run -------------------------------------------------------------------------------


@dataclasses.dataclass
class Summary:
    """What a run did: rows per table, requests, time, budget, marts."""

    rows: dict[str, int] = dataclasses.field(default_factory=dict)
    chunks: int = 0
    requests_made: int = 0
    requests_retried: int = 0
    requests_throttled: int = 0
    budget_used: int = 0
    budget_limit: int = 0
    seconds: float = 0.0
    marts: dict[str, int] | None = None
    stopped: str | None = None

    def add_rows(self, counts: dict[str, int]) -> None:
        """Add the rows of one load, leaving out dlt's own tables."""
        for table, count in counts.items():
            if not table.startswith("_dlt"):
                self.rows[table] = self.rows.get(table, 0) + count

    def write(self, out: TextIO) -> None:
        """Print the summary: one block a user reads at the end of a run."""
        out.write(
            f"sprout-elt run: {self.chunks} chunk(s) in {self.seconds:.1f} s; rows loaded "
            "(rows re-read in lookback windows count again):\n"
        )
        for table, count in sorted(self.rows.items()):
            out.write(f"  {table:<40} {count:>9} rows\n")
        out.write(
            f"requests: {self.requests_made} made, {self.requests_retried} retried, "
            f"{self.requests_throttled} throttled (429); budget: {self.budget_used} of "
            f"{self.budget_limit} used this month, {self.budget_limit - self.budget_used} left\n"
        )
        if self.marts is None:
            out.write("marts: not built\n")
        else:
            built = ", ".join(f"{name} {rows}" for name, rows in sorted(self.marts.items()))
            out.write(f"marts: {built or 'none'}\n")


def run_pipeline(
    pipeline: SupportsPipeline,
    config: SproutSettings,
    resources: list[str],
    *,
    transform: bool = True,
) -> Summary:
    """Extract and load `resources` chunk by chunk, then build the marts.

    One run at a time per pipeline directory: a second run started meanwhile refuses.

    Returns:
        The summary; `stopped` says why the run ended early (budget or quota), if it did.

    Raises:
        UserError: a request or a load failed, or another run holds the pipeline
            directory; the message names it.
    """
    with _exclusive(pipeline):
        try:
            return _run_chunks(pipeline, config, resources, transform)
        except Exception as exc:
            locked = _locked_database(exc)
            if locked is None:
                raise
            raise UserError(locked) from exc


@contextlib.contextmanager
def _exclusive(pipeline: SupportsPipeline) -> Iterator[None]:
    """Hold the lock file of the pipeline's working directory for the whole run.

    Two runs sharing that directory would take each other's load packages and state.
    The lock file sits beside the directory, which dlt may wipe, and the lock goes with
    the process, so a killed run never leaves it held.
    """
    folder = getattr(pipeline, "working_dir", None)
    if not folder:
        yield
        return
    lock = Path(folder).parent / f"{Path(folder).name}{LOCK_SUFFIX}"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise UserError(
                f"another sprout-elt run (pid {holder}) is using the pipeline directory "
                f"{folder}: wait for it to finish, then run again"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield


def _run_chunks(
    pipeline: SupportsPipeline, config: SproutSettings, resources: list[str], transform: bool
) -> Summary:
    started = time.monotonic()
    sync_state(pipeline)
    counts = dict(request_counts(pipeline))
    client = make_client(config, counts)
    summary = Summary(budget_limit=config.monthly_request_budget)
    try:
        accounts = _discover(client, config)
        ends = chunk_ends(config, cursor_positions(source_state(pipeline)), resources)
        # Metrics the API turned out not to know stay dropped for the whole run.
        dropped: set[str] = set()
        for number, end in enumerate(ends, start=1):
            chunk = dataclasses.replace(config, end_date=end)
            if number > 1:
                # What the previous chunk of this run read is current: no lookback re-read.
                chunk = dataclasses.replace(
                    chunk, lookback_days=dict.fromkeys(config.lookback_days, 0)
                )
            logger.info("chunk %d of %d: up to %s", number, len(ends), end)
            run = Run(
                chunk,
                client,
                accounts,
                dropped_metrics=dropped,
                request_counts=counts,
                first_chunk=number == 1,
                run_end_date=config.end_date,
            )
            if number == len(ends):
                # Drafts do not depend on the time window: refresh them once, at the end.
                run.publishing_post_ids = recorded_publishing_post_ids(pipeline)
            summary.add_rows(_load(pipeline, run, resources))
            summary.chunks += 1
            if run.stopped:
                summary.stopped = run.stopped
                break
        if transform and summary.stopped is None:
            summary.marts = build_marts(pipeline)
    finally:
        _finish(summary, client, counts, started)
    return summary


def _discover(client: Any, config: SproutSettings) -> list[Account]:
    try:
        return discover_accounts(client, config)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _load(pipeline: Any, run: Run, resources: list[str]) -> dict[str, int]:
    """Extract, normalize and load one chunk, as dlt's `run` does, handing the memory
    each step freed back to the system before the next one takes its own."""
    source = sprout_source(run=run).with_resources(*resources)
    _arrow_on_malloc()
    try:
        with bounded_load():
            _load_pending(pipeline)
            pipeline.extract(source, loader_file_format=_file_format(pipeline))
            _release_freed_memory()
            normalized = pipeline.normalize()
            _release_freed_memory()
            _load_package(pipeline)
    except Exception as exc:
        raise UserError(_root_cause(exc)) from exc
    finally:
        _release_freed_memory()
    return dict(getattr(normalized, "row_counts", {}) or {})


def _load_package(pipeline: Any) -> None:
    """dlt's load; run again under the queries' memory limit if DuckDB ran out of the
    load's lower one on every retry (dlt retries a job five times)."""
    try:
        pipeline.load()
    except Exception as exc:
        if not ran_out_of_memory(exc) or not lift_load_limit():
            raise
        pipeline.load()


def _release_freed_memory() -> None:
    """Return the heap pages that Python freed to the system (glibc only).

    Pages freed by one step stay with the process otherwise: a default-scale chunk's
    extraction leaves ~400 MiB resident that DuckDB's load then adds to.
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _arrow_on_malloc() -> None:
    """Have Arrow allocate through malloc, whose freed pages `_release_freed_memory` returns.

    Arrow's own allocator keeps what it freed for reuse: at the bench's default scale the
    process then holds about 100 MiB more through every load.
    """
    import pyarrow as pa  # here, not at the top: `publish` never needs Arrow

    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


def _glibc() -> Any:
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


_LIBC = _glibc()
_M_ARENA_MAX = -8
"""glibc's `mallopt` parameter for the most heaps (arenas) its allocator keeps."""
_M_MMAP_THRESHOLD = -3
"""glibc's `mallopt` parameter for the size from which a block gets a mapping of its own."""
if _LIBC is not None:
    # At most two heaps instead of eight per core. The threads reading pages side by side
    # each fill a heap of their own, and the pieces still in use keep those heaps from
    # shrinking: over the first three chunks of the bench's default scale the peak was
    # 40 MiB higher. Set on import, before the threads that would make more heaps start.
    _LIBC.mallopt(_M_ARENA_MAX, 2)
    # Blocks of 1 MiB and more (answers, Arrow buffers) mapped on their own, and unmapped
    # the moment they are freed. Left to itself glibc raises that threshold to 32 MiB as
    # such blocks are freed, so they land in the heaps between small live objects, which
    # then keep those pages. Default-scale replay of the bench: peak 469 to 474 -> 459
    # MiB, in the same time.
    _LIBC.mallopt(_M_MMAP_THRESHOLD, 2**20)


def _load_pending(pipeline: SupportsPipeline) -> None:
    """Load what a killed run extracted but did not load, before extracting anew.

    Given pending packages, dlt's `run` loads only those and silently skips the data it
    was passed, so the chunk would count as loaded while nothing of it was.
    """
    if getattr(pipeline, "has_pending_data", False):
        logger.info("loading what an interrupted run extracted but did not load")
        pipeline.run()
        _remove_replayed_rows(pipeline)


def _remove_replayed_rows(pipeline: Any) -> None:
    """Drop the second copy of rows that a resumed load job wrote twice.

    A job killed after the warehouse committed its rows but before dlt recorded that runs
    again when its package resumes. dlt 1.31 then removes the repeats from child tables
    but not from the root table of a table chain, whose rows land twice with one
    `_dlt_id`. A root table holds each `_dlt_id` once otherwise, so exact copies go.
    """
    schema = getattr(pipeline, "default_schema", None)
    if schema is None:
        return
    roots = [t["name"] for t in schema.data_tables() if not is_nested_table(t)]
    with pipeline.sql_client() as client:
        for table in roots:
            name = client.make_qualified_table_name(table)
            try:
                rows = client.execute_sql(f"select count(*) - count(distinct _dlt_id) from {name}")
            except Exception:
                # A table of the schema that no load has created yet.
                continue
            if rows and rows[0][0]:
                _keep_one_copy(client, name)
                logger.warning(
                    "%s: removed %d rows loaded twice by a resumed load", table, rows[0][0]
                )


def _keep_one_copy(client: Any, name: str) -> None:
    copies = client.make_qualified_table_name("sprout_elt_replayed_rows")
    repeated = f"select _dlt_id from {name} group by _dlt_id having count(*) > 1"
    with client.begin_transaction():
        client.execute_sql(
            f"create table {copies} as select distinct * from {name} where _dlt_id in ({repeated})"
        )
        client.execute_sql(f"delete from {name} where _dlt_id in (select _dlt_id from {copies})")
        client.execute_sql(f"insert into {name} select * from {copies}")
        client.execute_sql(f"drop table {copies}")


def _file_format(pipeline: SupportsPipeline) -> Any:
    """Parquet for DuckDB, which loads it about three times faster, in a fifth of the
    memory, than dlt's default INSERT statements (README, "Performance"); other
    destinations keep their default.
    """
    destination = getattr(pipeline, "destination", None)
    return "parquet" if getattr(destination, "destination_name", None) == "duckdb" else None


_DUCKDB_LOCKED = re.compile(r'Could not set lock on file "([^"]+)".*?\(PID (\d+)\)')


def _locked_database(exc: BaseException) -> str | None:
    """A clear reason when another process holds the DuckDB file, else None.

    Runs with their own pipeline directories can still share one DuckDB file, which only
    one process at a time may open.
    """
    while exc.__cause__ is not None and not _DUCKDB_LOCKED.search(str(exc)):
        exc = exc.__cause__
    locked = _DUCKDB_LOCKED.search(str(exc))
    if locked is None:
        return None
    return (
        f"the DuckDB file {locked[1]} is in use by another process (pid {locked[2]}), such as "
        "another sprout-elt run: wait for it to finish, then run again"
    )


def _root_cause(exc: BaseException) -> str:
    """The innermost reason of a dlt step failure: the API's or the setting's message."""
    locked = _locked_database(exc)
    if locked is not None:
        return locked
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc).strip()
    if not text:
        return repr(exc)
    # dlt states the cause in a first paragraph (naming, say, the column at fault on a
    # line of its own) and its generic advice after a blank line.
    first_paragraph = text.split("\n\n")[0]
    return " ".join(line.strip() for line in first_paragraph.splitlines() if line.strip())


def _finish(summary: Summary, client: Any, counts: dict[str, int], started: float) -> None:
    stats = client.stats
    summary.requests_made = stats.made
    summary.requests_retried = stats.retried
    summary.requests_throttled = stats.throttled
    summary.budget_used = counts.get(pendulum.now("UTC").format("YYYY-MM"), 0)
    summary.seconds = time.monotonic() - started
    client.close()


def chunk_ends(
    config: SproutSettings, positions: dict[str, Any], resources: Iterable[str]
) -> list[pendulum.Date]:
    """Last day of each chunk: one chunk per `BACKFILL_CHUNK_DAYS` from the earliest resume.

    A daily run is one chunk; a backfill of a year is about a dozen, each committed.
    """
    selected = set(resources)
    # Where loaded data ends, not where the lookback re-read starts: re-reading 28 days
    # of posts is not a backfill.
    starts = [
        _as_date(positions[name]) if name in positions else config.start_date
        for name in CURSORS
        if name in selected or (name == "profile_analytics" and "profile_metrics_daily" in selected)
    ]
    first = max(min(starts, default=config.end_date), config.start_date)
    ends: list[pendulum.Date] = []
    end = first.add(days=settings.BACKFILL_CHUNK_DAYS - 1)
    while (config.end_date - end).days >= settings.BACKFILL_CHUNK_DAYS // 2:
        ends.append(end)
        end = end.add(days=settings.BACKFILL_CHUNK_DAYS)
    ends.append(config.end_date)
    return ends


def build_marts(pipeline: SupportsPipeline) -> dict[str, int] | None:
    """Build the marts with `transforms.runner.build_marts`, if that module is installed."""
    try:
        runner = importlib.import_module("transforms.runner")
    except ModuleNotFoundError:
        logger.info("marts are skipped: transforms.runner is not available in this version")
        return None
    build = getattr(runner, "build_marts", None)
    if build is None:
        logger.info("marts are skipped: transforms.runner has no build_marts")
        return None
    logger.info("building the marts")
    marts: dict[str, int] = build(pipeline)
    return marts


# The plan ------------------------------------------------------------------------------


def print_plan(
    pipeline: SupportsPipeline, config: SproutSettings, resources: list[str], out: TextIO
) -> None:
    """Print the requests a run would make and how long they take, making none.

    Customers, profiles and topics come from the source state of the last run; before
    the first run they are unknown, and the plan says so instead of asking the API.
    """
    state = source_state(pipeline)
    known = state.get("accounts") or {}
    accounts = [
        Account.from_snapshot(int(cid), snap)
        for cid, snap in sorted(known.items())
        if config.customer_id is None or int(cid) == config.customer_id
    ]
    positions = cursor_positions(state)
    ends = chunk_ends(config, positions, resources)
    totals = _plan_chunks(config, accounts, positions, resources, ends)
    _write_plan(out, config, accounts, ends, totals, request_counts(pipeline))


def _plan_chunks(
    config: SproutSettings,
    accounts: list[Account],
    positions: dict[str, Any],
    resources: list[str],
    ends: list[pendulum.Date],
) -> dict[str, int]:
    totals: dict[str, int] = {}
    for number, end in enumerate(ends):
        chunk = dataclasses.replace(config, end_date=end)
        queries = plan_queries(
            chunk, accounts, positions, resources, first_chunk=number == 0, run_end=config.end_date
        )
        for name, count in queries.items():
            # Metadata is read once per run; every chunk reuses it.
            if name != "metadata" or number == 0:
                totals[name] = totals.get(name, 0) + count
        # The next chunk resumes about where this one ends.
        moved = {name: max(_as_date(positions.get(name)), end) for name in CURSORS}
        positions = {**positions, **moved, "message_actions": chunk.end_at}
    return totals


def _as_date(value: Any) -> pendulum.Date:
    if value is None:
        return pendulum.Date(1970, 1, 1)
    return pendulum.Date(value.year, value.month, value.day)


def _write_plan(
    out: TextIO,
    config: SproutSettings,
    accounts: list[Account],
    ends: list[pendulum.Date],
    totals: dict[str, int],
    counts: dict[str, int],
) -> None:
    out.write(
        f"plan: up to {config.end_date}, {len(ends)} chunk(s), "
        f"{config.requests_per_minute} requests/minute\n"
    )
    if not accounts:
        out.write(
            "  customers, profiles and topics are unknown until the first run reads them "
            "(no request is made for a plan); counted here: the client request only\n"
        )
    for name, count in sorted(totals.items()):
        out.write(f"  {name:<24} at least {count:>7} requests\n")
    total = sum(totals.values())
    minutes = total / config.requests_per_minute
    month = pendulum.now("UTC").format("YYYY-MM")
    used = counts.get(month, 0)
    out.write(
        f"total: at least {total} requests (one per query; more when a query has several "
        f"pages), about {minutes:.1f} min; budget {used} of {config.monthly_request_budget} "
        f"used in {month}\n"
    )
