"""The default warehouse file: loaded whole within DuckDB's memory bounds."""

from __future__ import annotations

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
