"""Pages of posts as Arrow tables, split into the tables dlt's own normalizer makes.

Most cases load the same records into two DuckDB files: once as dicts that dlt
normalizes row by row, once as `page_table` pages split by `NestedTables`. Both
warehouses must hold the same tables, columns, types and values, each nested row
linked to the same parent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
import pendulum
import pyarrow as pa
import pytest
from dlt.common.normalizers.json.helpers import get_nested_row_hash
from dlt.extract.incremental import Incremental

from sources.sprout.settings import ROW_KEY
from sources.sprout.tables import NestedTables, batched, page_table

Page = list[dict[str, Any]]
Position = tuple[Any, ...]

FEB_1 = pendulum.datetime(2026, 2, 1)
FEB_2 = pendulum.datetime(2026, 2, 2)
FEB_3 = pendulum.datetime(2026, 2, 3)

LINKS = ("_dlt_id", "_dlt_parent_id", "_dlt_root_id", "_dlt_list_idx", "_dlt_load_id")
"""dlt's bookkeeping columns: ids differ between two loads, so they are compared as links."""

POSTS: list[Page] = [
    [
        {
            "guid": "p1",
            "created_time": FEB_1,
            "text": "a",
            "is_boosted": True,
            "metrics": {"likes": 3, "impressions": 10, "engagementRate": 0.3},
            "hashtags": ["x", "y"],
            "tags": [
                {"id": 1, "name": "a", "labels": ["l1", "l2"], "meta": {"color": "red"}},
                {"id": 2, "name": "b"},
            ],
            "internal": {"tags": [{"id": 5}], "sent_by": {"email": "e@x"}},
        },
        {
            "guid": "p2",
            "created_time": FEB_2,
            "metrics": {"likes": 1},
            "hashtags": [],
            "tags": [{"id": 3, "labels": ["l3"]}],
        },
    ],
    [
        {"guid": "p3", "created_time": FEB_3, "text": None, "hashtags": ["z"], "internal": {}},
    ],
]
"""Posts as Sprout sends them, some lacking some fields, times already made UTC."""

ISO_TIMES: list[Page] = [
    [
        {
            "guid": "p1",
            "created_time": "2026-02-01T00:00:00Z",
            "text": "a",
            "metrics": {"likes": 3, "impressions": 10},
            "hashtags": ["x", "y"],
            "tags": [{"id": 1, "name": "a"}],
            "internal": {"tags": [{"id": 5}]},
        },
        {"guid": "p2", "created_time": "2026-02-02T00:00:00Z", "hashtags": ["z"]},
    ]
]
"""Posts with `created_time` still the API's ISO text, which dlt would load as a
timestamp; the source hands times over as datetimes, so the split tables keep text."""

LISTS_IN_LISTS: list[Page] = [
    [{"guid": "p1", "matrix": [[1, 2], [3]]}, {"guid": "p2", "matrix": [[4]]}],
]
"""A list whose elements are lists: dlt would make a nested table of a nested table;
no posts or listening field has one, so the split tables keep each inner list as JSON."""


@dataclass
class Table:
    columns: dict[str, str]
    """Column name to the warehouse's type."""
    rows: list[dict[str, Any]]


def _pipeline(tmp_path: Path, name: str) -> Any:
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.duckdb(str(tmp_path / f"{name}.duckdb")),
        dataset_name="t",
        pipelines_dir=str(tmp_path / "pipelines"),
        dev_mode=False,
    )


def _as_dicts(pages: list[Page]) -> Any:
    """The pages as dlt's own normalizer sees them."""

    @dlt.resource(
        name="posts", primary_key="guid", write_disposition="merge", columns={"_dlt_id": ROW_KEY}
    )
    def posts() -> Iterator[Page]:
        yield from pages

    return posts()


def _as_tables(pages: list[Page]) -> Any:
    """The pages as the Sprout source hands them over: Arrow tables split by a step."""

    @dlt.resource(
        name="posts", primary_key="guid", write_disposition="merge", columns={"_dlt_id": ROW_KEY}
    )
    def posts() -> Iterator[pa.Table]:
        yield from (page_table(page) for page in pages)

    return posts().add_step(NestedTables("posts", ["guid"]))


def _tables(pipeline: Any) -> dict[str, Table]:
    """Every data table of dataset `t` with its columns and rows."""
    tables: dict[str, Table] = {}
    with pipeline.sql_client() as client:
        columns = client.execute_sql(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 't' and table_name not like '\\_dlt\\_%' escape '\\' "
            "order by table_name, ordinal_position"
        )
        for table, column, data_type in columns:
            tables.setdefault(table, Table({}, [])).columns[column] = data_type
        for name, table in tables.items():
            names = list(table.columns)
            quoted = ", ".join(f'"{n}"' for n in names)
            rows = client.execute_sql(f'select {quoted} from t."{name}" order by "_dlt_id"')
            for row in rows:
                table.rows.append(dict(zip(names, row, strict=True)))
    return tables


def _by_position(tables: dict[str, Table]) -> dict[str, dict[Position, dict[str, Any]]]:
    """Each row's own values, keyed by where it sits: the root row by its `guid`, a
    nested row by its parent's key and its list index, followed through `_dlt_parent_id`.
    """
    paths: dict[str, Position] = {}
    placed: dict[str, dict[Position, dict[str, Any]]] = {}
    # A parent table's name is a prefix of its children's, so it is placed first.
    for name in sorted(tables, key=len):
        placed[name] = {}
        for row in tables[name].rows:
            own = {k: v for k, v in row.items() if k not in LINKS}
            if "_dlt_parent_id" in row:
                path = (*paths[row["_dlt_parent_id"]], row["_dlt_list_idx"])
            else:
                path = (own.pop("guid"),)
            paths[row["_dlt_id"]] = path
            placed[name][path] = own
    return placed


def _broken_links(tables: dict[str, Table]) -> list[str]:
    """Nested rows whose parent row, root row or own id is not the one dlt gives them."""
    ids = {name: {row["_dlt_id"]: row for row in table.rows} for name, table in tables.items()}
    broken = []
    for name, table in tables.items():
        if name == "posts":
            continue
        # The parent table is the longest table name that prefixes this one.
        parent_table = max((t for t in tables if name.startswith(f"{t}__")), key=len)
        for row in table.rows:
            parent = ids[parent_table].get(row["_dlt_parent_id"])
            if parent is None:
                broken.append(f"{name}: no parent for {row}")
                continue
            root = parent.get("_dlt_root_id", parent["_dlt_id"])
            own = get_nested_row_hash(parent["_dlt_id"], name, row["_dlt_list_idx"])
            if row["_dlt_root_id"] != root or root not in ids["posts"]:
                broken.append(f"{name}: wrong root for {row}")
            elif row["_dlt_id"] != own:
                broken.append(f"{name}: _dlt_id of {row} is not {own}")
    return broken


def _hashtags(pipeline: Any) -> list[tuple[str, int, str]]:
    """`(guid, _dlt_list_idx, value)` of every hashtag, joined to its post."""
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "select p.guid, h._dlt_list_idx, h.value from t.posts__hashtags h "
            "join t.posts p on h._dlt_parent_id = p._dlt_id and h._dlt_root_id = p._dlt_id "
            "order by 1, 2"
        )
    return [tuple(row) for row in rows]


def _load_both(tmp_path: Path, *loads: list[Page]) -> tuple[Any, Any]:
    """Pipelines that loaded `loads` in turn, as dicts and as split tables."""
    dicts, tables = _pipeline(tmp_path, "as_dicts"), _pipeline(tmp_path, "as_tables")
    for pages in loads:
        dicts.run(_as_dicts(pages))
        tables.run(_as_tables(pages))
    return dicts, tables


def _columns(tables: dict[str, Table]) -> set[tuple[str, str, str]]:
    return {
        (name, column, kind) for name, t in tables.items() for column, kind in t.columns.items()
    }


def _cells(
    placed: dict[str, dict[Position, dict[str, Any]]],
) -> set[tuple[str, Position, str, Any]]:
    return {
        (name, path, column, value)
        for name, rows in placed.items()
        for path, row in rows.items()
        for column, value in row.items()
    }


def _assert_same_warehouse(dicts: Any, tables: Any) -> dict[str, dict[Position, dict[str, Any]]]:
    """Both warehouses hold the same tables, columns, types and linked rows.

    Returns the rows of the split tables by position.
    """
    expected, actual = _tables(dicts), _tables(tables)
    assert sorted(actual) == sorted(expected)
    assert _columns(actual) == _columns(expected)
    placed = _by_position(actual)
    assert _cells(placed) == _cells(_by_position(expected))
    assert placed == _by_position(expected)
    assert _broken_links(actual) == []
    assert _broken_links(expected) == []
    return placed


@pytest.mark.parametrize(
    "pages",
    [POSTS],
    ids=["sprout-posts"],
)
def test_split_tables_load_as_dlt_normalizes_the_same_records(
    tmp_path: Path, pages: list[Page]
) -> None:
    dicts, tables = _load_both(tmp_path, pages)
    _assert_same_warehouse(dicts, tables)
    assert _hashtags(tables) == _hashtags(dicts)


def test_iso_text_and_lists_of_lists_are_kept_as_they_came(tmp_path: Path) -> None:
    # The two shapes the split does not reshape as dlt would; the module says so.
    times, lists = _pipeline(tmp_path, "times"), _pipeline(tmp_path, "lists")
    times.run(_as_tables(ISO_TIMES))
    lists.run(_as_tables(LISTS_IN_LISTS))
    posts = _tables(times)["posts"]
    assert posts.columns["created_time"] == "VARCHAR"
    created = {row["guid"]: row["created_time"] for row in posts.rows}
    assert created == {"p1": "2026-02-01T00:00:00Z", "p2": "2026-02-02T00:00:00Z"}
    tables = _tables(lists)
    ids = {row["_dlt_id"]: row["guid"] for row in tables["posts"].rows}
    matrix = {
        (ids[row["_dlt_parent_id"]], row["_dlt_list_idx"], row["value"])
        for row in tables["posts__matrix"].rows
    }
    assert matrix == {("p1", 0, "[1,2]"), ("p1", 1, "[3]"), ("p2", 0, "[4]")}


def test_the_sprout_posts_land_in_the_tables_and_columns_dlt_names(tmp_path: Path) -> None:
    # What the equivalence above compares, spelled out once for the posts themselves.
    pipeline = _pipeline(tmp_path, "posts_layout")
    pipeline.run(_as_tables(POSTS))
    tables = _tables(pipeline)
    assert sorted(tables) == [
        "posts",
        "posts__hashtags",
        "posts__internal__tags",
        "posts__tags",
        "posts__tags__labels",
    ]
    assert set(tables["posts"].columns) == {
        "guid",
        "created_time",
        "text",
        "is_boosted",
        "metrics__likes",
        "metrics__impressions",
        "metrics__engagement_rate",
        "internal__sent_by__email",
        "_dlt_load_id",
        "_dlt_id",
    }
    assert tables["posts__tags"].columns == {
        "id": "BIGINT",
        "name": "VARCHAR",
        "meta__color": "VARCHAR",
        "_dlt_root_id": "VARCHAR",
        "_dlt_parent_id": "VARCHAR",
        "_dlt_list_idx": "BIGINT",
        "_dlt_id": "VARCHAR",
    }
    placed = _by_position(tables)
    assert placed["posts__tags__labels"] == {
        ("p1", 0, 0): {"value": "l1"},
        ("p1", 0, 1): {"value": "l2"},
        ("p2", 0, 0): {"value": "l3"},
    }
    assert placed["posts__internal__tags"] == {("p1", 0): {"id": 5}}
    assert _hashtags(pipeline) == [("p1", 0, "x"), ("p1", 1, "y"), ("p3", 0, "z")]


def _rows_of(tables: dict[str, Table], guid: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the post `guid`, its own and its nested rows, by table."""
    root = next(row["_dlt_id"] for row in tables["posts"].rows if row["guid"] == guid)
    return {
        name: sorted(
            (r for r in table.rows if root in (r["_dlt_id"], r.get("_dlt_root_id"))),
            key=lambda r: str(r["_dlt_id"]),
        )
        for name, table in tables.items()
    }


def test_a_merged_post_keeps_only_its_new_nested_rows(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path, "merged")
    first = [
        {"guid": "p1", "hashtags": ["x", "y", "z"], "tags": [{"id": 1, "labels": ["a", "b"]}]},
        {"guid": "p2", "hashtags": ["w"], "tags": [{"id": 2, "labels": ["c"]}]},
    ]
    pipeline.run(_as_tables([first]))
    p2_before = _rows_of(_tables(pipeline), "p2")

    pipeline.run(_as_tables([[{"guid": "p1", "hashtags": ["x"], "tags": [{"id": 1}]}]]))

    assert _hashtags(pipeline) == [("p1", 0, "x"), ("p2", 0, "w")]
    after = _tables(pipeline)
    assert _broken_links(after) == []
    assert len(after["posts"].rows) == 2
    placed = _by_position(after)
    assert placed["posts__tags"] == {("p1", 0): {"id": 1}, ("p2", 0): {"id": 2}}
    assert placed["posts__tags__labels"] == {("p2", 0, 0): {"value": "c"}}
    # p2 was not in the second load: its rows are the very rows of the first load.
    assert _rows_of(after, "p2") == p2_before


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        pytest.param(
            {"v": 3},
            {"v": "many"},
            {
                "posts": {
                    ("p1",): {"v": 3, "v__v_text": None},
                    ("p2",): {"v": None, "v__v_text": "many"},
                }
            },
            id="number-then-text",
        ),
        pytest.param(
            {"v": 1.5},
            {"v": 2},
            {"posts": {("p1",): {"v": 1.5}, ("p2",): {"v": 2.0}}},
            id="double-then-bigint",
        ),
        pytest.param(
            {"v": "a"},
            {"v": 5},
            {"posts": {("p1",): {"v": "a"}, ("p2",): {"v": "5"}}},
            id="text-then-number",
        ),
        pytest.param(
            {"tags": [{"id": 1}]},
            {"tags": [{"id": "x"}]},
            {
                "posts__tags": {
                    ("p1", 0): {"id": 1, "id__v_text": None},
                    ("p2", 0): {"id": None, "id__v_text": "x"},
                }
            },
            id="nested-number-then-text",
        ),
        pytest.param(
            {"v": 4},
            {"v": True},
            {
                "posts": {
                    ("p1",): {"v": 4, "v__v_bool": None},
                    ("p2",): {"v": None, "v__v_bool": True},
                }
            },
            id="bigint-then-bool",
        ),
        pytest.param(
            {"v": FEB_1},
            {"v": "soon"},
            {
                "posts": {
                    ("p1",): {"v": FEB_1, "v__v_text": None},
                    ("p2",): {"v": None, "v__v_text": "soon"},
                }
            },
            id="timestamp-then-text",
        ),
    ],
)
def test_a_value_of_another_type_lands_where_dlt_puts_it(
    tmp_path: Path, first: dict[str, Any], second: dict[str, Any], expected: dict[str, Any]
) -> None:
    dicts, tables = _load_both(tmp_path, [[{"guid": "p1", **first}]], [[{"guid": "p2", **second}]])
    placed = _assert_same_warehouse(dicts, tables)
    assert {name: placed[name] for name in expected} == expected


def test_a_page_keeps_every_value_of_a_key_whose_values_differ_in_type() -> None:
    table = page_table(
        [
            {"guid": "p1", "v": 1, "metrics": {"likes": 2}},
            {"guid": "p2", "v": "a", "hashtags": ["x"]},
            {"guid": "p3", "v": {"k": [1, 2]}},
            {"guid": "p4", "v": None},
            {"guid": "p5"},
            {"guid": "p6", "v": 2.5},
        ]
    )
    assert table.column_names == ["guid", "v", "metrics", "hashtags"]
    assert table.column("v").type == pa.string()
    assert table.column("v").to_pylist() == ["1", "a", '{"k":[1,2]}', None, None, "2.5"]
    assert table.column("metrics").to_pylist() == [{"likes": 2}, None, None, None, None, None]
    assert table.column("hashtags").to_pylist() == [None, ["x"], None, None, None, None]
    assert page_table([]).num_rows == 0


def _numbered(first: int, rows: int) -> pa.Table:
    return pa.table({"n": pa.array(range(first, first + rows), pa.int64())})


def test_a_field_that_disagrees_in_type_keeps_the_objects_and_lists_around_it(
    tmp_path: Path,
) -> None:
    # Only the disagreeing field becomes text: its object still flattens into columns
    # and its list still becomes a nested table.
    page = [
        {"guid": "p1", "internal": {"sent_by": {"id": 1}, "n": 1}, "tags": [{"id": 7}]},
        {"guid": "p2", "internal": {"sent_by": {"id": "u2"}, "n": 2}, "tags": [{"id": "x"}]},
        {"guid": "p3"},
    ]
    pipeline = _pipeline(tmp_path, "mixed")
    pipeline.run(_as_tables([page]))
    tables = _tables(pipeline)
    posts = {row["guid"]: row for row in tables["posts"].rows}
    assert {g: (r["internal__sent_by__id"], r["internal__n"]) for g, r in posts.items()} == {
        "p1": ("1", 1),
        "p2": ("u2", 2),
        "p3": (None, None),
    }
    assert tables["posts"].columns["internal__n"] == "BIGINT"
    guids = {row["_dlt_id"]: row["guid"] for row in tables["posts"].rows}
    tags = {(guids[row["_dlt_parent_id"]], row["id"]) for row in tables["posts__tags"].rows}
    assert tags == {("p1", "7"), ("p2", "x")}


def test_pages_are_joined_into_batches_of_at_least_the_given_rows() -> None:
    pages = [_numbered(0, 3), _numbered(3, 3), _numbered(6, 3), _numbered(9, 3), _numbered(12, 2)]
    batches = list(batched(pages, 5))
    assert [b.num_rows for b in batches] == [6, 6, 2]
    assert [n for b in batches for n in b.column("n").to_pylist()] == list(range(14))


def test_pages_read_before_a_failure_are_handed_over_before_it() -> None:
    # A run stopped by its request budget keeps the rows it paid for.
    def pages() -> Iterator[pa.Table]:
        yield _numbered(0, 3)
        yield _numbered(3, 3)
        raise RuntimeError("budget spent")

    taken: list[int] = []
    with pytest.raises(RuntimeError, match="budget spent"):
        for batch in batched(pages(), 100):
            taken.extend(batch.column("n").to_pylist())
    assert taken == list(range(6))


def test_pages_whose_columns_cannot_be_joined_are_handed_over_one_by_one() -> None:
    numbers, words = _numbered(0, 2), pa.table({"n": ["a", "b"]})
    batches = list(batched([numbers, words], 10))
    assert [b.column("n").to_pylist() for b in batches] == [[0, 1], ["a", "b"]]
    # Columns that one page lacks are joined as nulls.
    joined = list(batched([numbers, pa.table({"n": [2], "m": ["x"]})], 10))
    assert [b.to_pylist() for b in joined] == [
        [{"n": 0, "m": None}, {"n": 1, "m": None}, {"n": 2, "m": "x"}]
    ]


def _posts_since_cursor(pages: list[Page]) -> Any:
    """The pages behind a `created_time` cursor, split after it as the Sprout source does."""

    @dlt.resource(
        name="posts", primary_key="guid", write_disposition="merge", columns={"_dlt_id": ROW_KEY}
    )
    def posts(
        created_time: Incremental[Any] = dlt.sources.incremental("created_time"),  # noqa: B008
    ) -> Iterator[pa.Table]:
        yield from (page_table(page) for page in pages)

    return posts().add_step(NestedTables("posts", ["guid"])).parallelize()


def _cursor(pipeline: Any) -> Any:
    resources = pipeline.state["sources"][pipeline.default_schema_name]["resources"]
    return resources["posts"]["incremental"]["created_time"]["last_value"]


def test_the_cursor_filters_posts_before_their_nested_rows_are_split(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path, "incremental")
    pipeline.run(
        _posts_since_cursor(
            [
                [
                    {"guid": "p1", "created_time": FEB_1, "text": "a", "hashtags": ["x"]},
                    {"guid": "p2", "created_time": FEB_2, "text": "b", "hashtags": ["y"]},
                ]
            ]
        )
    )
    assert _cursor(pipeline) == FEB_2
    loaded = _tables(pipeline)

    older = [
        {"guid": "p0", "created_time": FEB_1.subtract(days=10), "hashtags": ["old"]},
        {"guid": "p1", "created_time": FEB_1, "text": "edited", "hashtags": ["new"]},
    ]
    pipeline.run(_posts_since_cursor([older]))

    assert _tables(pipeline) == loaded
    assert _cursor(pipeline) == FEB_2

    pipeline.run(
        _posts_since_cursor([[{"guid": "p3", "created_time": FEB_3, "hashtags": ["z", "w"]}]])
    )
    assert _cursor(pipeline) == FEB_3
    assert _hashtags(pipeline) == [("p1", 0, "x"), ("p2", 0, "y"), ("p3", 0, "z"), ("p3", 1, "w")]
    assert _broken_links(_tables(pipeline)) == []
