"""Warehouses for the transform tests: DuckDB always, PostgreSQL when the test command
started one (``make test`` does, and passes its DSN in ``SPROUT_TEST_POSTGRES_DSN``)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest

from tests.transforms import raw_rows
from transforms.runner import LAYERS, MODELS_DIR, build_marts

POSTGRES_DSN_VAR = "SPROUT_TEST_POSTGRES_DSN"

MART_GRAINS: dict[str, tuple[str, ...]] = {
    "daily_profile_performance": ("customer_profile_id", "reporting_date"),
    "post_performance": ("post_id",),
    "daily_topic_sentiment": ("topic_id", "metric_date", "network", "sentiment"),
    "daily_inbox_activity": ("customer_profile_id", "activity_date"),
}

PipelineFactory = Callable[[], Any]


def _destination(name: str) -> Any:
    if name == "duckdb":
        return None
    dsn = os.environ.get(POSTGRES_DSN_VAR)
    if not dsn:
        pytest.skip(
            f"{POSTGRES_DSN_VAR} is not set: run `make test`, which starts a throwaway "
            "PostgreSQL, or point it at a server you can create schemas in"
        )
    return dlt.destinations.postgres(dsn)


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def new_pipeline(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PipelineFactory]:
    """Make pipelines with a fresh dataset each, on DuckDB or PostgreSQL."""
    postgres = _destination(request.param)
    made: list[Any] = []

    def make() -> Any:
        base = tmp_path_factory.mktemp("warehouse")
        destination = postgres or dlt.destinations.duckdb(str(base / "sprout.duckdb"))
        pipeline = dlt.pipeline(
            pipeline_name=f"sprout_test_{uuid.uuid4().hex[:8]}",
            destination=destination,
            dataset_name=f"sprout_{uuid.uuid4().hex[:8]}",
            pipelines_dir=str(base / "pipelines"),
        )
        made.append(pipeline)
        return pipeline

    yield make
    if postgres is not None:
        for pipeline in made:
            with pipeline.sql_client() as sql_client:
                # dlt merges through a `<dataset>_staging` schema beside the dataset.
                for schema in (pipeline.dataset_name, f"{pipeline.dataset_name}_staging"):
                    sql_client.execute_sql(f"drop schema if exists {schema} cascade")


@pytest.fixture(scope="module")
def loaded(new_pipeline: PipelineFactory) -> dict[str, Any]:
    """The hand-made account loaded and built, then restated, reloaded and rebuilt.

    Returns the pipeline and the marts as they were after the first build.
    """
    pipeline = new_pipeline()
    raw_rows.load(pipeline, raw_rows.all_tables())
    build_marts(pipeline)
    first = {name: fetch(pipeline, name) for name in MART_GRAINS}
    restated = {
        "profile_metrics_daily": raw_rows.profile_metrics(restated=True),
        "posts": raw_rows.posts(restated=True),
    }
    raw_rows.load(pipeline, restated)
    counts = build_marts(pipeline)
    return {"pipeline": pipeline, "first": first, "counts": counts}


def fetch(pipeline: Any, table: str, where: str = "") -> list[dict[str, Any]]:
    """Rows of a table in the pipeline's dataset as dicts, ordered by its grain."""
    order = ", ".join(MART_GRAINS.get(table, ("1",)))
    with pipeline.sql_client() as sql_client:
        query = f"select * from {sql_client.make_qualified_table_name(table)}"
        if where:
            query += f" where {where}"
        with sql_client.execute_query(f"{query} order by {order}") as cursor:
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def scalar(pipeline: Any, query: str) -> Any:
    """The single value of a query; ``{name}`` placeholders become qualified tables."""
    with pipeline.sql_client() as sql_client:
        names = {
            name: sql_client.make_qualified_table_name(name)
            for name in (*MART_GRAINS, *raw_rows.PRIMARY_KEYS, "posts__tag_ids")
        }
        return sql_client.execute_sql(query.format(**names))[0][0]


def copy_models(target: Path) -> Path:
    """A copy of the model folders, to change without touching the real ones."""
    for layer in LAYERS:
        shutil.copytree(MODELS_DIR / layer, target / layer)
    return target
