"""The dlt pipeline that every command shares: name, destination and dataset."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import copy
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import duckdb
from dlt.common.pipeline import SupportsPipeline
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from sources.sprout import REQUESTS_STATE_KEY

logger = logging.getLogger(__name__)

PIPELINE_NAME = "sprout"
DEFAULT_DATASET = "sprout"
DEFAULT_DESTINATION = "duckdb"
DEFAULT_DUCKDB_FILE = "sprout.duckdb"
SOURCE_NAME = "sprout"
"""Name of the dlt source, under which its state is kept."""
DUCKDB_SETTINGS: dict[str, Any] = {"preserve_insertion_order": False}
"""Settings of every DuckDB connection: no table promises an order, so inserts need not
keep one and can stream instead of buffering a whole chunk."""
WAREHOUSE_MEMORY_LIMIT = "256MB"
"""DuckDB's memory for the default warehouse file, past which it evicts cached blocks and
spills to `<file>.tmp`. Without it, DuckDB keeps every block a merge scanned, up to 80%
of the machine: 1.4 GiB at the bench's default scale."""
LOAD_MEMORY_LIMIT = "128MB"
LOAD_THREADS = 1
"""While a chunk is loaded into the default file, DuckDB works on one thread under a lower
limit. Each inserting thread holds row groups of its own in memory, a 256 KiB block for
each column: with two threads, 128 MB ran out on the widest tables and 256 MB let a load
add 200 MiB to the process. With one thread, and the chunk before checkpointed (see
:func:`bounded_load`), a default-scale load of the bench fits in 128 MB, but for a job or
two of its first chunk that dlt retries, and peaks about 100 MiB above what the process
holds between chunks. Queries (the marts) get every thread and
:data:`WAREHOUSE_MEMORY_LIMIT` back."""
WAREHOUSE_ROW_GROUP_ROWS = 16_384
"""Rows per row group of the default warehouse file. DuckDB writes each full row group of
an insert to disk before the commit and holds the rest in memory, so with its default of
122,880 a chunk of 60,000 posts needed 200 MB that the limit above cannot spill."""


def add_destination_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--destination`` and ``--dataset``, which every warehouse command takes."""
    parser.add_argument(
        "--destination",
        default=DEFAULT_DESTINATION,
        help=f"any dlt destination (default: duckdb, the file {DEFAULT_DUCKDB_FILE})",
    )
    parser.add_argument(
        "--dataset", default=DEFAULT_DATASET, help="dataset (schema) name (default: sprout)"
    )


def make_pipeline(
    destination: str = DEFAULT_DESTINATION,
    dataset: str = DEFAULT_DATASET,
    pipelines_dir: str | None = None,
) -> SupportsPipeline:
    """The ``sprout`` pipeline for a destination and dataset.

    DuckDB writes ``sprout.duckdb`` in the working directory unless
    ``DESTINATION__DUCKDB__CREDENTIALS`` points elsewhere.
    """
    options: dict[str, Any] = {"progress": _progress()}
    if pipelines_dir is not None:
        options["pipelines_dir"] = pipelines_dir
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=_destination(destination, dataset),
        dataset_name=dataset,
        **options,
    )


def local_duckdb_file(destination: str) -> Path | None:
    """The DuckDB file `destination` writes, or None when it is not a local DuckDB file."""
    if destination != "duckdb":
        return None
    location: Any = dlt.config.get("destination.duckdb.credentials")
    if location is None:
        location = DEFAULT_DUCKDB_FILE
    if not isinstance(location, str) or location.startswith(("md:", "motherduck:")):
        return None
    return Path(location.removeprefix("duckdb:///")).resolve()


def _destination(destination: str, dataset: str) -> Any:
    path = local_duckdb_file(destination)
    if path is None:
        return destination
    if path.stem != dataset:
        credentials = DuckDbCredentials(str(path))
        credentials.global_config = dict(DUCKDB_SETTINGS)
        return dlt.destinations.duckdb(credentials=credentials)
    return dlt.destinations.duckdb(credentials=_attached_under_alias(path))


def _attached_under_alias(path: Path) -> Any:
    """Credentials that reach the file ``path`` under a catalog not named like its stem.

    DuckDB names a database's catalog after its file, so in ``sprout.duckdb`` the
    two-part names ``sprout.<table>`` that dlt writes could mean the catalog or the
    schema, and DuckDB refuses them. Attaching the file under another alias and making
    that the default catalog of every session removes the ambiguity; inside the file the
    tables are where a reader expects them, ``sprout.sprout.<table>``.
    """
    key = str(path)
    if key not in _ATTACHED:
        alias = f"{path.stem}_warehouse"
        path.parent.mkdir(parents=True, exist_ok=True)
        settings = {
            **DUCKDB_SETTINGS,
            "memory_limit": WAREHOUSE_MEMORY_LIMIT,
            "temp_directory": f"{key}.tmp",
        }
        connection = duckdb.connect(config=settings)
        escaped = key.replace("'", "''")
        connection.execute(
            f"ATTACH '{escaped}' AS \"{alias}\" (ROW_GROUP_SIZE {WAREHOUSE_ROW_GROUP_ROWS})"
        )
        _ATTACHED[key] = (connection, alias)
    connection, alias = _ATTACHED[key]
    credentials = DuckDbCredentials(connection)
    credentials.local_config = {"schema": f"{alias}.main"}
    return credentials


@contextlib.contextmanager
def bounded_load() -> Iterator[None]:
    """Load into the default warehouse file with :data:`LOAD_THREADS` threads under
    :data:`LOAD_MEMORY_LIMIT`, then checkpoint it and give back the blocks DuckDB cached
    meanwhile.

    DuckDB did not checkpoint on its own during the loads: a default-scale backfill of
    the bench left 230 MB in the write-ahead log, what the process held between chunks
    grew by about 10 MiB a chunk, and closing the file checkpointed it all at once, the
    run's peak. A checkpoint per chunk takes 0.2 to 0.6 s there and keeps the log under
    60 MB.

    The cache is only worth its memory while a load runs; during the next chunk's
    extraction it would sit on top of the extraction's own peak. Lowering the limit
    evicts it; the limit and threads for queries are then restored.
    """
    bounded: list[tuple[duckdb.DuckDBPyConnection, str, int]] = []
    for connection, alias in _ATTACHED.values():
        row = connection.execute("SELECT current_setting('threads')").fetchone()
        connection.execute(f"SET threads = {LOAD_THREADS}")
        connection.execute(f"SET memory_limit = '{LOAD_MEMORY_LIMIT}'")
        bounded.append((connection, alias, int(row[0]) if row else LOAD_THREADS))
    try:
        yield
    finally:
        for connection, alias, threads in bounded:
            try:
                connection.execute(f'CHECKPOINT "{alias}"')
            except duckdb.Error as exc:
                # The rows are safe in the log; only memory is lost until the next one.
                logger.debug("no checkpoint of %s after the load: %s", alias, exc)
            # When more than that is in use rather than cached, there is nothing to give back.
            with contextlib.suppress(duckdb.OutOfMemoryException):
                connection.execute("SET memory_limit = '32MB'")
            connection.execute(f"SET memory_limit = '{WAREHOUSE_MEMORY_LIMIT}'")
            connection.execute(f"SET threads = {threads}")


def lift_load_limit() -> bool:
    """Give the load running in :func:`bounded_load` the queries' memory limit instead;
    False when no file is loaded under a bound of ours."""
    for connection, _ in _ATTACHED.values():
        logger.warning(
            "the load ran out of its %s of memory; loading it again with %s",
            LOAD_MEMORY_LIMIT,
            WAREHOUSE_MEMORY_LIMIT,
        )
        connection.execute(f"SET memory_limit = '{WAREHOUSE_MEMORY_LIMIT}'")
    return bool(_ATTACHED)


def ran_out_of_memory(exc: BaseException) -> bool:
    """Whether DuckDB running out of its memory limit is among the causes of `exc`."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, duckdb.OutOfMemoryException) or "Out of Memory Error" in str(cause):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


class _RetriedOutOfMemory(logging.Filter):
    """dlt's reports of a load job that DuckDB could not fit in its memory limit, cut to
    one line.

    dlt logs such a job twice with DuckDB's traceback, then retries it; when every retry
    fails the run loads it again under the larger limit (:func:`lift_load_limit`). A
    user can do nothing about a retried job, and the traceback reads like a failure.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        retried = message.startswith("Transient exception in job ") or (
            message.startswith("Job for ") and " retried in load " in message
        )
        failure = record.exc_info[1] if record.exc_info else None
        if not retried or not (
            "Out of Memory Error" in message or (failure and ran_out_of_memory(failure))
        ):
            return True
        job = message.split(" with message ", 1)[0].split(" in file ", 1)[0]
        record.msg = "%s: DuckDB ran out of its memory limit; dlt retries the job"
        record.args = (job.strip(),)
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


logging.getLogger("dlt").addFilter(_RetriedOutOfMemory())


def close_attached_databases() -> None:
    """Detach every file opened by :func:`_attached_under_alias`, flushing it to disk."""
    while _ATTACHED:
        _, (connection, _) = _ATTACHED.popitem()
        connection.close()


_ATTACHED: dict[str, tuple[duckdb.DuckDBPyConnection, str]] = {}
atexit.register(close_attached_databases)


def _progress() -> Any:
    """dlt's progress of long extractions and loads, every 10 s, on stderr via logging."""
    return dlt.progress.log(
        log_period=10.0, logger=logging.getLogger("sprout_elt.progress"), dump_system_stats=False
    )


def sync_state(pipeline: SupportsPipeline) -> None:
    """Bring the local pipeline state up to date with the destination's, if it has one.

    Without this, a run on a machine with a fresh `~/.dlt` would start the monthly request
    count from zero before dlt restores the state.
    """
    sync = getattr(pipeline, "sync_destination", None)
    if sync is not None:
        sync()


def source_state(pipeline: SupportsPipeline) -> dict[str, Any]:
    """A copy of the `sprout` source's state: cursors, request counts, accounts seen."""
    sources = pipeline.state.get("sources") or {}
    return copy.deepcopy(dict(sources.get(SOURCE_NAME) or {}))


def request_counts(pipeline: SupportsPipeline) -> dict[str, int]:
    """Requests made per calendar month (`YYYY-MM`), as the pipeline state keeps them."""
    counts = source_state(pipeline).get(REQUESTS_STATE_KEY) or {}
    return {str(month): int(count) for month, count in counts.items()}
