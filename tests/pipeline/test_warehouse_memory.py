"""The default warehouse file: loaded whole within DuckDB's memory bounds."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipelines import pipeline
from tests.pipeline.conftest import Harness

ROWS = 3 * pipeline.WAREHOUSE_ROW_GROUP_ROWS + 100


@pytest.fixture
def default_file(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The harness's warehouse renamed after its dataset, as a user's default file is."""
    path = harness.tmp / "sprout.duckdb"
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(path))
    yield path
    pipeline.close_attached_databases()


def _bounded_connection(path: Path) -> duckdb.DuckDBPyConnection:
    """The connection through which the commands load `path`."""
    pipeline._attached_under_alias(path)
    return pipeline._ATTACHED[str(path)][0]


def _memory_limit(connection: duckdb.DuckDBPyConnection) -> int:
    row = connection.execute(
        "select value from duckdb_settings() where name = 'memory_limit'"
    ).fetchone()
    assert row is not None
    number, unit = str(row[0]).split()
    return int(float(number) * {"MiB": 2**20, "KiB": 2**10, "GiB": 2**30}[unit])


def test_a_run_into_the_default_file_lands_every_post(harness: Harness, default_file: Path) -> None:
    assert harness.run().status == 0
    pipeline.close_attached_databases()
    with duckdb.connect(str(default_file), read_only=True) as db:
        posts = db.execute("select count(*) from sprout.sprout.posts").fetchall()[0][0]
    assert posts == len(harness.truth("posts"))
    assert posts > 0


def test_inserts_write_row_groups_of_bounded_size(default_file: Path) -> None:
    connection = _bounded_connection(default_file)
    alias = f"{default_file.stem}_warehouse"
    connection.execute(
        f'create table "{alias}".main.wide as '
        f"select range as id, repeat('x', 200) as text from range({ROWS})"
    )
    counts = connection.execute(
        "select row_group_id, max(count) from pragma_storage_info("
        f"'\"{alias}\".main.wide') where column_name = 'id' group by 1"
    ).fetchall()
    assert len(counts) == 4
    assert max(count for _, count in counts) == pipeline.WAREHOUSE_ROW_GROUP_ROWS


def _megabytes(limit: str) -> float:
    assert limit.endswith("MB")
    return float(limit.removesuffix("MB")) * 10**6


def _setting(connection: duckdb.DuckDBPyConnection, name: str) -> str:
    row = connection.execute(f"select current_setting('{name}')").fetchone()
    assert row is not None
    return str(row[0])


def test_a_load_is_bounded_then_gives_its_cache_back(default_file: Path) -> None:
    connection = _bounded_connection(default_file)
    alias = f"{default_file.stem}_warehouse"
    threads = _setting(connection, "threads")
    assert _memory_limit(connection) == pytest.approx(
        _megabytes(pipeline.WAREHOUSE_MEMORY_LIMIT), rel=0.01
    )

    def used() -> float:
        row = connection.execute("select sum(memory_usage_bytes) from duckdb_memory()").fetchone()
        assert row is not None
        return float(row[0])

    with pipeline.bounded_load():
        assert _setting(connection, "threads") == "1"
        assert _memory_limit(connection) == pytest.approx(
            _megabytes(pipeline.LOAD_MEMORY_LIMIT), rel=0.01
        )
        connection.execute(
            f'create table "{alias}".main.big as select range as id, '
            f"md5(range::varchar) as a, md5((range + 1)::varchar) as b from range(2000000)"
        )
        connection.execute("checkpoint")
        connection.execute(f'select max(a), max(b), sum(id) from "{alias}".main.big').fetchall()
        cached = used()
    assert used() < cached / 2
    assert _memory_limit(connection) == pytest.approx(
        _megabytes(pipeline.WAREHOUSE_MEMORY_LIMIT), rel=0.01
    )
    assert _setting(connection, "threads") == threads


def test_a_load_is_checkpointed_out_of_the_log(default_file: Path) -> None:
    connection = _bounded_connection(default_file)
    alias = f"{default_file.stem}_warehouse"
    log = default_file.with_name(default_file.name + ".wal")
    with pipeline.bounded_load():
        # Far below the log size at which DuckDB would checkpoint by itself.
        connection.execute(
            f'create table "{alias}".main.few as select range as id from range(1000)'
        )
        assert log.exists() and log.stat().st_size > 0
    assert not log.exists() or log.stat().st_size == 0
    assert connection.execute(f'select count(*) from "{alias}".main.few').fetchall() == [(1000,)]


def test_a_load_out_of_its_memory_is_loaded_again_under_the_larger_limit(
    harness: Harness,
    default_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Too little for any merge: dlt retries each job five times, then the run lifts it.
    monkeypatch.setattr(pipeline, "LOAD_MEMORY_LIMIT", "4MB")
    result = harness.run()
    assert result.status == 0, result.stderr
    assert "the load ran out of its 4MB of memory" in caplog.text
    pipeline.close_attached_databases()
    with duckdb.connect(str(default_file), read_only=True) as db:
        posts = db.execute("select count(*) from sprout.sprout.posts").fetchall()[0][0]
    assert posts == len(harness.truth("posts"))


def _out_of_memory() -> duckdb.OutOfMemoryException:
    with duckdb.connect(config={"memory_limit": "1MB", "threads": 1}) as connection:
        try:
            connection.execute("select list(range) from range(1000000)").fetchall()
        except duckdb.OutOfMemoryException as exc:
            return exc
    raise AssertionError("DuckDB did not run out of 1MB")


def test_dlt_reports_a_job_retried_for_memory_in_one_line() -> None:
    kept = _Kept()
    dlt_logger = logging.getLogger("dlt")
    dlt_logger.addHandler(kept)
    try:
        exc = _out_of_memory()
        try:
            raise exc
        except duckdb.OutOfMemoryException:
            dlt_logger.exception("Transient exception in job posts.1.sql in file /tmp/posts.1.sql")
        dlt_logger.warning(f"Job for posts.1.sql retried in load 1 with message Traceback\n{exc}")
        dlt_logger.warning("Job for posts.2.sql retried in load 1 with message timeout")
        dlt_logger.error(f"Job for posts.3.sql failed terminally in load 1 with message {exc}")
    finally:
        dlt_logger.removeHandler(kept)
    assert kept.lines == [
        "WARNING Transient exception in job posts.1.sql: "
        "DuckDB ran out of its memory limit; dlt retries the job",
        "WARNING Job for posts.1.sql retried in load 1: "
        "DuckDB ran out of its memory limit; dlt retries the job",
        "WARNING Job for posts.2.sql retried in load 1 with message timeout",
        f"ERROR Job for posts.3.sql failed terminally in load 1 with message {exc}",
    ]


class _Kept(logging.Handler):
    """The records logged through the logger it is added to, one formatted line each."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
