"""Pages of records as Arrow tables: a root table and its nested tables, built the way
dlt's relational normalizer lays them out, so that dlt loads them without normalizing
row by row.

A page of records becomes one Arrow table (:func:`page_table`) in the thread that read
it. After dlt's incremental step has filtered it, :func:`split_nested` turns it into
the tables dlt would have made of the same records: nested objects become columns named
`parent__child`, each list becomes a nested table (`posts__hashtags`) with
`_dlt_parent_id`, `_dlt_list_idx`, `_dlt_root_id` and its own `_dlt_id`, and every
column keeps the type the warehouse already has for it. A value of another type goes
to a variant column (`lifetime_likes__v_double`), as dlt does.

Two shapes are not reshaped as dlt would: times given as ISO text stay text (the
source converts times to datetimes first), and a list of lists keeps each inner list
as JSON in the nested table's `value`. Neither occurs in the tables the source
writes this way (posts, inbox and listening messages, profile metric buckets).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import dlt
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.normalizers.json.helpers import get_nested_row_hash
from dlt.common.normalizers.naming import NamingConvention
from dlt.common.normalizers.utils import generate_dlt_ids
from dlt.common.schema import Schema
from dlt.extract.items_transform import YieldMapItem

from sources.sprout.settings import ROW_KEY

NESTED_COLUMNS: dict[str, dict[str, Any]] = {
    "_dlt_root_id": {"data_type": "text", "nullable": False, "root_key": True},
    "_dlt_parent_id": {"data_type": "text", "nullable": False, "parent_key": True},
    "_dlt_list_idx": {"data_type": "bigint", "nullable": False},
    "_dlt_id": ROW_KEY,
}
"""Hints of the linking columns of a nested table; a merge deletes by `_dlt_root_id`."""

_ARROW_TYPES = {
    "bigint": pa.int64(),
    "double": pa.float64(),
    "text": pa.string(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}


def page_table(records: Sequence[dict[str, Any]]) -> pa.Table:
    """One page of records as a table with a column for every key of any record.

    Nested objects stay struct columns and lists stay list columns until
    :func:`split_nested`. A field whose values do not share one type (a number in
    one record, text in another) is kept as text, each value as its JSON; the objects
    and lists around it keep their shape.
    """
    names = dict.fromkeys(key for record in records for key in record)
    return column_table({name: [record.get(name) for record in records] for name in names})


def column_table(columns: dict[str, list[Any]]) -> pa.Table:
    """Equal-length lists of values as a table, each list typed as :func:`page_table` does."""
    return pa.table({name: _array(values) for name, values in columns.items()})


def batched(tables: Iterable[pa.Table], rows: int) -> Iterator[pa.Table]:
    """The tables joined into batches of at least `rows` rows (the last may be smaller).

    dlt spends a few milliseconds on every item it extracts, whatever its size, so a
    page of a hundred posts is best handed over with many others. Tables whose columns
    cannot be joined (a number in one, text in the other) are handed over one by one.
    When `tables` fails (a run stopped by its request budget), what it gave before is
    handed over first: those rows cost requests.
    """
    held: list[pa.Table] = []
    count = 0
    try:
        for table in tables:
            held.append(table)
            count += table.num_rows
            if count >= rows:
                yield from _joined(held)
                held, count = [], 0
    except Exception:
        yield from _joined(held)
        raise
    yield from _joined(held)


def _joined(tables: list[pa.Table]) -> Iterator[pa.Table]:
    if not tables:
        return
    try:
        yield pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        yield from tables


def _array(values: list[Any]) -> pa.Array:
    """The values as one array; where they disagree in type, only the disagreeing part
    becomes JSON text: objects and lists keep their shape around it."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    present = [v for v in values if v is not None]
    missing = pa.array([v is None for v in values], pa.bool_())
    if present and all(isinstance(v, dict) for v in present):
        keys = list(dict.fromkeys(key for v in present for key in v))
        fields = [_array([None if v is None else v.get(key) for v in values]) for key in keys]
        return pa.StructArray.from_arrays(fields, names=keys, mask=missing)
    if present and all(isinstance(v, list) for v in present):
        offsets = [0]
        for v in values:
            offsets.append(offsets[-1] + len(v or ()))
        items = _array([item for v in present for item in v])
        return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), items, mask=missing)
    return pa.array(
        [v if v is None or isinstance(v, str) else orjson.dumps(v).decode() for v in values],
        pa.string(),
    )


class NestedTables(YieldMapItem):
    """A resource step that splits its pages into root and nested tables.

    It runs after the incremental step, which must see the root rows alone: a nested
    table has no cursor column.
    """

    placement_affinity = 1.05  # dlt keeps its incremental step at 1, limits at 1.1

    def __init__(self, table_name: str, keys: Sequence[str]) -> None:
        self.table_name = table_name
        self.keys = tuple(keys)
        super().__init__(self._split)

    def _split(self, table: pa.Table) -> Iterator[Any]:
        load_id = dlt.current.load_package_state()["load_id"]
        schema = dlt.current.source_schema()
        yield from split_nested(table, self.table_name, self.keys, schema, load_id)


def split_nested(
    table: pa.Table, table_name: str, keys: Sequence[str], schema: Schema, load_id: str
) -> Iterator[Any]:
    """The root table and every nested table of one page, marked for dlt.

    The root rows get the load's id and new random `_dlt_id`s (as dlt gives them);
    nested rows get ids derived from their parent's id, table and position. `keys` are
    the root table's primary key, never null.
    """
    if table.num_rows == 0:
        return
    naming = schema.naming
    root, lists = _flatten(table, naming)
    ids = pa.array(generate_dlt_ids(root.num_rows), pa.string())
    root = root.append_column("_dlt_load_id", pa.array([load_id] * root.num_rows, pa.string()))
    root = root.append_column("_dlt_id", ids)
    required = {*keys, "_dlt_load_id", "_dlt_id"}
    yield _required(_conform(root, table_name, schema), required)
    for path, column in lists:
        name = naming.make_path(table_name, path)
        yield from _nested(column, name, table_name, ids, ids, schema)


def _nested(
    column: pa.ChunkedArray,
    table_name: str,
    parent_table: str,
    parent_ids: pa.Array,
    root_ids: pa.Array,
    schema: Schema,
) -> Iterator[Any]:
    """Rows of one list column as a nested table, then the tables nested in it."""
    lists = column.combine_chunks()
    if isinstance(lists, pa.ChunkedArray):  # an empty column combines to no chunk
        return
    parents = lists.value_parent_indices()
    if len(parents) == 0:
        return
    first = lists.offsets[0].as_py()
    positions = pc.subtract(
        pa.array(range(first, first + len(parents)), pa.int64()),
        pc.take(lists.offsets, parents).cast(pa.int64()),
    )
    values = lists.flatten()
    parent_of_row = pc.take(parent_ids, parents)
    if pa.types.is_struct(values.type):
        rows, lists_inside = _flatten(pa.Table.from_struct_array(values), schema.naming)
    else:
        rows, lists_inside = pa.table({"value": values}), []
    ids = pa.array(
        [
            get_nested_row_hash(parent, table_name, position)
            for parent, position in zip(
                parent_of_row.to_pylist(), positions.to_pylist(), strict=True
            )
        ],
        pa.string(),
    )
    root_of_row = pc.take(root_ids, parents)
    rows = (
        rows.append_column("_dlt_root_id", root_of_row)
        .append_column("_dlt_parent_id", parent_of_row)
        .append_column("_dlt_list_idx", positions)
        .append_column("_dlt_id", ids)
    )
    hints = dlt.mark.make_hints(
        table_name=table_name,
        parent_table_name=parent_table,
        primary_key=[],
        columns=NESTED_COLUMNS,
    )
    rows = _required(_conform(rows, table_name, schema), set(NESTED_COLUMNS))
    yield dlt.mark.with_hints(rows, hints, create_table_variant=True)
    for path, inner in lists_inside:
        name = schema.naming.make_path(table_name, path)
        yield from _nested(inner, name, table_name, ids, root_of_row, schema)


def _flatten(
    table: pa.Table, naming: NamingConvention
) -> tuple[pa.Table, list[tuple[str, pa.ChunkedArray]]]:
    """Struct columns spread into `parent__child` columns; list columns set apart.

    Returns the table without list columns and the list columns by their path.
    """
    table = table.rename_columns([naming.normalize_path(n) for n in table.column_names])
    while any(pa.types.is_struct(f.type) for f in table.schema):
        names: list[str] = []
        for field in table.schema:
            if pa.types.is_struct(field.type):
                names.extend(
                    naming.make_path(field.name, naming.normalize_identifier(inner.name))
                    for inner in field.type
                )
            else:
                names.append(field.name)
        table = table.flatten().rename_columns(names)
    is_list = {
        f.name: pa.types.is_list(f.type) or pa.types.is_large_list(f.type) for f in table.schema
    }
    lists = [(name, table.column(name)) for name, listed in is_list.items() if listed]
    kept = [f.name for f in table.schema if not is_list[f.name] and not pa.types.is_null(f.type)]
    return table.select(kept), lists


def _conform(table: pa.Table, table_name: str, schema: Schema) -> pa.Table:
    """Cast columns to the types the warehouse has for them; a value that does not fit
    moves to the variant column dlt would use (`name__v_<type>`)."""
    known = schema.tables.get(table_name, {}).get("columns", {})
    for index, name in enumerate(table.column_names):
        target = _ARROW_TYPES.get(str(known.get(name, {}).get("data_type")))
        column = table.column(index)
        if target is None or column.type == target:
            continue
        try:
            if pa.types.is_boolean(column.type) != pa.types.is_boolean(target):
                raise pa.ArrowInvalid("dlt keeps booleans and numbers apart")
            table = table.set_column(index, name, pc.cast(column, target, safe=True))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            variant = f"{name}__v_{_dlt_type(column.type)}"
            table = table.rename_columns(
                [variant if i == index else n for i, n in enumerate(table.column_names)]
            )
    return table


def _required(table: pa.Table, names: set[str]) -> pa.Table:
    """The table with the columns `names` marked as never null, as dlt's hints mark them."""
    fields = [f.with_nullable(False) if f.name in names else f for f in table.schema]
    return table.cast(pa.schema(fields, table.schema.metadata))


def _dlt_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_integer(arrow_type):
        return "bigint"
    if pa.types.is_floating(arrow_type):
        return "double"
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    return "text"


def _name_root_resource_of_nested_tables() -> None:
    """Let dlt's extract step count rows of nested tables written by a resource.

    dlt 1.31 sums the extracted rows per resource by reading each written table's
    `resource`, which only root tables carry, so a nested table written at extraction
    (a documented use of `parent_table_name`) fails the step with a KeyError. While the
    metrics are summed, a nested table answers with its root table's resource.
    """
    from dlt.extract.extract import Extract

    summed = Extract._compute_metrics
    if getattr(summed, "_nested_tables_named", False):
        return

    def compute_metrics(self: Extract, load_id: str, source: Any) -> Any:
        schema = source.schema
        tables = schema.tables
        added = []
        for name, table in tables.items():
            if "resource" not in table and table.get("parent"):
                root = table
                while root.get("parent") in tables:
                    root = tables[root["parent"]]
                if "resource" in root:
                    table["resource"] = root["resource"]
                    added.append(name)
        try:
            return summed(self, load_id, source)
        finally:
            for name in added:
                tables[name].pop("resource", None)

    compute_metrics._nested_tables_named = True  # type: ignore[attr-defined]
    Extract._compute_metrics = compute_metrics  # type: ignore[method-assign]


_name_root_resource_of_nested_tables()
