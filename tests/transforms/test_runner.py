"""How the runner finds, orders and renders the models, without a warehouse."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlglot

from sources.sprout import catalogue
from transforms.runner import (
    LAYERS,
    MODELS_DIR,
    Model,
    TransformError,
    dependency_order,
    load_models,
    raw_tables,
    render_model,
)

MODELS = load_models()
MODEL_NAMES = [model.name for model in MODELS]
MARTS = ["daily_inbox_activity", "daily_profile_performance", "daily_topic_sentiment"]


def _write(root: Path, layer: str, name: str, sql: str) -> None:
    (root / layer).mkdir(parents=True, exist_ok=True)
    (root / layer / f"{name}.sql").write_text(sql)


def test_every_model_file_is_found() -> None:
    files = sorted(path.stem for layer in LAYERS for path in (MODELS_DIR / layer).glob("*.sql"))
    assert sorted(MODEL_NAMES) == files
    assert {m.name for m in MODELS if m.is_table} == {*MARTS, "post_performance"}


def test_each_model_runs_after_the_models_it_reads() -> None:
    position = {name: index for index, name in enumerate(MODEL_NAMES)}
    for model in MODELS:
        for read in model.reads & position.keys():
            assert position[read] < position[model.name], (model.name, read)


def test_order_comes_from_parsing_not_from_file_names(tmp_path: Path) -> None:
    # Alphabetical and layer order would both put a_mart first and z_view last.
    _write(tmp_path, "marts", "a_mart", "select z_view.x from z_view")
    _write(tmp_path, "staging", "z_view", "with src as (select * from raw_table) select * from src")
    _write(tmp_path, "staging", "m_view", "select a_mart.x from a_mart")
    models = load_models(tmp_path)
    assert [model.name for model in models] == ["z_view", "a_mart", "m_view"]
    assert raw_tables(models) == {"raw_table"}
    assert models[0].reads == {"raw_table"}, "a CTE name is not a table read"


def test_a_cycle_names_the_models(tmp_path: Path) -> None:
    _write(tmp_path, "staging", "one", "select two.x from two")
    _write(tmp_path, "staging", "two", "select one.x from one")
    with pytest.raises(TransformError, match=r"cycle: (one -> two -> one|two -> one -> two)"):
        load_models(tmp_path)


def test_a_file_that_does_not_parse_is_named(tmp_path: Path) -> None:
    _write(tmp_path, "marts", "bad", "select from where")
    with pytest.raises(TransformError, match=r"marts/bad\.sql"):
        load_models(tmp_path)


def test_raw_tables_are_the_documented_ones() -> None:
    assert raw_tables(MODELS) == {
        "messages",
        "messages__tag_ids",
        "posts",
        "posts__tag_ids",
        "profile_metrics_daily",
        "profiles",
        "tags",
        "topic_messages",
        "topic_metrics_daily",
        "topics",
        "users",
    }


@pytest.mark.parametrize("dialect", ["bigquery", "snowflake", "databricks", "postgres", "duckdb"])
@pytest.mark.parametrize("model", MODELS, ids=MODEL_NAMES)
def test_every_model_transpiles(model: Model, dialect: str) -> None:
    # render_model refuses constructs the dialect cannot express; the result parses.
    sql = render_model(model, dialect, MODEL_NAMES, dataset="sprout")
    (statement,) = sqlglot.parse(sql, read=dialect)
    assert isinstance(statement, sqlglot.exp.Query)
    qualified = {t.name for t in statement.find_all(sqlglot.exp.Table) if t.db == "sprout"}
    assert qualified == set(model.reads)


def test_missing_columns_and_tables_are_stood_in_by_nulls() -> None:
    (model,) = [m for m in MODELS if m.name == "stg_sprout__post_tags"]
    columns = {"posts": frozenset({"guid", "_dlt_id"}), "posts__tag_ids": None}
    sql = render_model(model, "postgres", MODEL_NAMES, "sprout", columns)
    assert "FROM sprout.posts" in sql
    assert re.search(r"\(SELECT NULL AS _dlt_parent_id, NULL AS value WHERE 1 = 0\)", sql)


def test_a_table_with_every_column_is_only_qualified() -> None:
    (model,) = [m for m in MODELS if m.name == "stg_sprout__users"]
    columns = {"users": frozenset({"id", "customer_id", "name"})}
    sql = render_model(model, "duckdb", MODEL_NAMES, "sprout", columns)
    assert "FROM sprout.users" in sql
    partial = render_model(model, "duckdb", MODEL_NAMES, "sprout", {"users": frozenset({"id"})})
    assert "SELECT *, NULL AS customer_id, NULL AS name FROM sprout.users" in partial


def test_network_time_zones_match_the_catalogue() -> None:
    text = (MODELS_DIR / "intermediate" / "int_network_time_zones.sql").read_text()
    rows = set(re.findall(r"\('(\w+)', '(\w+)', '([\w/]+)'\)", text))
    assert rows == {(n.network_type, n.network, n.timezone) for n in catalogue.NETWORKS}


def test_dependency_order_is_stable() -> None:
    assert [m.name for m in dependency_order(reversed(MODELS))] == MODEL_NAMES
