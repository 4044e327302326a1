"""Build the SQL models of ``transforms/`` on the pipeline's destination.

Each ``.sql`` file under ``staging/``, ``intermediate/`` and ``marts/`` is one model,
named by its file name and written once in DuckDB's dialect. The runner parses every
file with sqlglot, takes the tables it reads from the parsed query (a name that is
another model is a dependency, any other name a raw table loaded by dlt), orders the
models so that each runs after the ones it reads, and executes them through dlt's SQL
client: staging and intermediate models as views, marts as tables.

Raw tables are shaped by what the API returned: dlt creates a column only once a value
was seen, and a table only once a row was. So before building, the runner looks at the
columns each raw table has and stands in a null for every column a model reads that
does not exist (and an empty row set for a missing table). Staging models cast every
column, so a stand-in null gets the right type; the marts then show the metric as null.

Everything runs in one transaction where the destination has them: views are replaced,
each mart is built as ``<name>__new`` and then swapped for the old one. A failing model
rolls it all back, so the previous marts stay as they were, and a rebuild from the same
raw tables gives the same marts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

import sqlglot
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from sqlglot import exp

logger = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parent
LAYERS: tuple[str, ...] = ("staging", "intermediate", "marts")
TABLE_LAYERS = frozenset({"marts"})
"""Layers materialised as tables; the others become views."""
SOURCE_DIALECT = "duckdb"
"""The dialect the models are written in; other destinations get them transpiled."""
NEW_SUFFIX = "__new"


class TransformError(Exception):
    """A model could not be read or built; the message names the file at fault."""


@dataclass(frozen=True)
class Model:
    """One SQL file: its name, layer, parsed query and the tables it reads."""

    name: str
    layer: str
    path: Path
    query: exp.Expr
    reads: frozenset[str]

    @property
    def is_table(self) -> bool:
        """True when the model is materialised as a table (a mart)."""
        return self.layer in TABLE_LAYERS


def load_models(models_dir: Path = MODELS_DIR) -> list[Model]:
    """Parse every model file under ``models_dir``, in dependency order.

    Raises:
        TransformError: a file does not parse, two files share a name, or the models
            depend on each other in a cycle.
    """
    models: dict[str, Model] = {}
    for layer in LAYERS:
        for path in sorted((models_dir / layer).glob("*.sql")):
            model = _parse_model(path, layer)
            if model.name in models:
                raise TransformError(
                    f"{path} and {models[model.name].path} define the same model "
                    f"{model.name!r}: rename one of them"
                )
            models[model.name] = model
    return dependency_order(models.values())


def dependency_order(models: Iterable[Model]) -> list[Model]:
    """Order models so that each comes after every model it reads.

    Raises:
        TransformError: the models read each other in a cycle.
    """
    by_name = {model.name: model for model in models}
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for name in sorted(by_name):
        sorter.add(name, *sorted(by_name[name].reads & by_name.keys()))
    try:
        return [by_name[name] for name in sorter.static_order()]
    except CycleError as exc:
        raise TransformError(
            f"models read each other in a cycle: {' -> '.join(exc.args[1])}; "
            "break the cycle in one of those files"
        ) from exc


def raw_tables(models: Iterable[Model]) -> frozenset[str]:
    """Tables the models read that no model builds: the raw tables loaded by dlt."""
    models = list(models)
    names = {model.name for model in models}
    return frozenset(table for model in models for table in model.reads - names)


def render_model(
    model: Model,
    dialect: str,
    model_names: Iterable[str],
    dataset: str | None = None,
    raw_columns: dict[str, frozenset[str] | None] | None = None,
    renamed: dict[str, str] | None = None,
) -> str:
    """The model's query in ``dialect``, ready to run on a destination.

    Args:
        model: the parsed model.
        dialect: sqlglot dialect of the destination, e.g. ``postgres``.
        model_names: names of all models; every other table read is a raw table.
        dataset: schema to qualify every table with; unqualified when None.
        raw_columns: columns of each raw table (None for a table that does not
            exist); when given, columns and tables the model reads but the
            destination lacks are stood in for by nulls.
        renamed: models to read under another name, e.g. a mart built in the same
            run is read as ``<name>__new``.

    Raises:
        TransformError: the model uses a construct that ``dialect`` cannot express.
    """
    query = model.query.copy()
    known = set(model_names)
    renamed = renamed or {}
    references = _table_references(query)
    raw = [table for table in references if table.name not in known]
    for table in references:
        if table.name in known:
            _qualify(table, renamed.get(table.name, table.name), dataset)
        elif raw_columns is None:
            _qualify(table, table.name, dataset)
        else:
            needed = _columns_read_from(query, table, sole_source=len(raw) == 1)
            _stand_in_missing(table, needed, raw_columns.get(table.name), dataset)
    try:
        return query.sql(dialect=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.UnsupportedError as exc:
        raise TransformError(
            f"{model.path} cannot be written in {dialect} SQL: {exc}; "
            "rewrite the construct in a portable form"
        ) from exc


def build_models(sql_client: Any, models_dir: Path = MODELS_DIR) -> dict[str, int]:
    """Build every model on an open dlt SQL client's dataset; return rows per mart.

    Args:
        sql_client: an open ``dlt`` SQL client (``with pipeline.sql_client() as c``).
        models_dir: folder holding ``staging/``, ``intermediate/`` and ``marts/``.

    Raises:
        TransformError: a model failed to parse or to build; the previous marts are
            left as they were.
    """
    if not sql_client.has_dataset():
        raise TransformError(
            f"dataset {sql_client.dataset_name!r} does not exist on the destination: "
            "load data first with `sprout-elt run`, or check --destination/--dataset"
        )
    models = load_models(models_dir)
    dialect = sql_client.capabilities.sqlglot_dialect or SOURCE_DIALECT
    columns = _raw_columns(sql_client, raw_tables(models))
    missing = sorted(name for name, cols in columns.items() if cols is None)
    if missing:
        logger.info("raw tables not loaded yet, read as empty: %s", ", ".join(missing))
    started = time.monotonic()
    _run_in_transaction(sql_client, models, dialect, columns)
    marts = sorted(model.name for model in models if model.is_table)
    counts = {name: _count_rows(sql_client, name) for name in marts}
    logger.info(
        "built %d models in %.1f s: %s",
        len(models),
        time.monotonic() - started,
        ", ".join(f"{name} {rows} rows" for name, rows in counts.items()),
    )
    return counts


def build_marts(pipeline: Any, models_dir: Path = MODELS_DIR) -> dict[str, int]:
    """Build the marts from what ``pipeline`` has loaded; return rows per mart.

    Args:
        pipeline: a dlt pipeline whose destination and dataset hold the raw tables.
        models_dir: folder holding ``staging/``, ``intermediate/`` and ``marts/``.

    Raises:
        TransformError: a model failed; the previous marts are left as they were.
    """
    with pipeline.sql_client() as sql_client:
        return build_models(sql_client, models_dir)


def _parse_model(path: Path, layer: str) -> Model:
    text = path.read_text("utf-8")
    try:
        statements = [s for s in sqlglot.parse(text, read=SOURCE_DIALECT) if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise TransformError(f"{path} is not valid {SOURCE_DIALECT} SQL: {exc}") from exc
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise TransformError(f"{path} must hold exactly one select query")
    query = statements[0]
    reads = frozenset(table.name for table in _table_references(query))
    return Model(name=path.stem, layer=layer, path=path, query=query, reads=reads)


def _table_references(query: exp.Expr) -> list[exp.Table]:
    """Tables the query reads, leaving out its own CTEs."""
    ctes = {cte.alias_or_name for cte in query.find_all(exp.CTE)}
    return [
        table
        for table in query.find_all(exp.Table)
        if table.name and not (table.name in ctes and not table.db)
    ]


def _qualify(table: exp.Table, name: str, dataset: str | None) -> None:
    table.set("this", exp.to_identifier(name))
    if dataset is not None:
        table.set("db", exp.to_identifier(dataset))


def _stand_in_missing(
    table: exp.Table,
    needed: set[str],
    existing: frozenset[str] | None,
    dataset: str | None,
) -> None:
    """Replace a raw table reference by one that has every column in ``needed``."""
    alias = table.alias_or_name
    if existing is None:
        nulls = [exp.alias_(exp.null(), column) for column in sorted(needed) or ["_dlt_id"]]
        stand_in = exp.select(*nulls).where("1 = 0")
    else:
        absent = sorted(needed - existing)
        if not absent:
            _qualify(table, table.name, dataset)
            return
        source = exp.table_(table.name, db=dataset)
        stand_in = exp.select("*", *[exp.alias_(exp.null(), c) for c in absent]).from_(source)
    table.replace(stand_in.subquery(alias))


def _columns_read_from(query: exp.Expr, table: exp.Table, sole_source: bool) -> set[str]:
    """Column names the query reads from ``table``: by its alias, through a CTE that
    only selects ``*`` from it, or unqualified when it is the query's only raw table."""
    qualifiers = {table.alias_or_name}
    select = table.find_ancestor(exp.Select)
    if select is not None and select.is_star and isinstance(select.parent, exp.CTE):
        qualifiers.add(select.parent.alias_or_name)
    return {
        column.name.lower()
        for column in query.find_all(exp.Column)
        if column.name and (column.table in qualifiers or (not column.table and sole_source))
    }


def _raw_columns(sql_client: Any, tables: Iterable[str]) -> dict[str, frozenset[str] | None]:
    """Columns of each raw table as the destination has them; None when it is absent.

    A zero-row select works on every SQL destination dlt supports, without reading
    each one's information schema.
    """
    columns: dict[str, frozenset[str] | None] = {}
    for table in sorted(tables):
        query = f"select * from {sql_client.make_qualified_table_name(table)} where 1 = 0"
        try:
            with sql_client.execute_query(query) as cursor:
                columns[table] = frozenset(d[0].lower() for d in cursor.description)
        except DatabaseUndefinedRelation:
            columns[table] = None
    return columns


def _run_in_transaction(
    sql_client: Any,
    models: list[Model],
    dialect: str,
    columns: dict[str, frozenset[str] | None],
) -> None:
    names = [model.name for model in models]
    marts = {model.name for model in models if model.is_table}
    renamed = {name: name + NEW_SUFFIX for name in marts}
    dataset = _dataset_path(sql_client)
    try:
        with sql_client.begin_transaction():
            for model in reversed(models):
                if not model.is_table:
                    view = _qualified(sql_client, model.name)
                    sql_client.execute_sql(f"drop view if exists {view}")
            for model in models:
                select = render_model(model, dialect, names, dataset, columns, renamed)
                _create(sql_client, model, select)
            for name in sorted(marts):
                _swap_in(sql_client, name)
    except TransformError:
        raise
    except Exception as exc:
        raise TransformError(
            f"building the marts failed, previous marts left unchanged: {exc}"
        ) from exc


def _create(sql_client: Any, model: Model, select: str) -> None:
    started = time.monotonic()
    try:
        if model.is_table:
            target = _qualified(sql_client, model.name + NEW_SUFFIX)
            sql_client.execute_sql(f"drop table if exists {target}")
            sql_client.execute_sql(f"create table {target} as {select}")
        else:
            target = _qualified(sql_client, model.name)
            sql_client.execute_sql(f"create view {target} as {select}")
    except Exception as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise TransformError(
            f"model {model.path.parent.name}/{model.path.name} failed: {first_line}; "
            "fix that file (previous marts left unchanged)"
        ) from exc
    logger.debug("built %s in %.2f s", model.name, time.monotonic() - started)


def _swap_in(sql_client: Any, name: str) -> None:
    sql_client.execute_sql(f"drop table if exists {_qualified(sql_client, name)}")
    sql_client.execute_sql(
        f"alter table {_qualified(sql_client, name + NEW_SUFFIX)} "
        f"rename to {sql_client.escape_column_name(name)}"
    )


def _count_rows(sql_client: Any, name: str) -> int:
    rows = sql_client.execute_sql(f"select count(*) from {_qualified(sql_client, name)}")
    return int(rows[0][0])


def _qualified(sql_client: Any, name: str) -> str:
    return str(sql_client.make_qualified_table_name(name))


def _dataset_path(sql_client: Any) -> str:
    path = sql_client.make_qualified_table_name_path(None, quote=False)
    return str(path[-1])
