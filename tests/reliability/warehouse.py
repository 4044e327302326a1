"""A warehouse as a multiset of rows per table, and what one lost or repeated against another.

Rows are compared whole, every column at once. Columns that only say when or in which
load a row was written (dlt's `_dlt_load_id` and `_dlt_id`, `metrics_refreshed_at` and
what is computed from it) are left out. dlt links a child row to its parent by the
parent's random `_dlt_id`, so a child row carries its parent's content instead: a list
item is the same row whichever load wrote it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

LOAD_TIME_COLUMNS = frozenset(
    {
        "_dlt_load_id",
        "_dlt_id",
        "_dlt_root_id",
        "_dlt_parent_id",
        "metrics_refreshed_at",
        "post_age_at_refresh_hours",
    }
)
"""Columns that differ between two loads of the same data."""

Snapshot = dict[str, Counter[str]]
"""Table name to its rows, each row a canonical text."""


@dataclass
class Difference:
    """What a warehouse lost and repeated compared with a reference warehouse.

    Attributes:
        lost: reference rows missing (counted with multiplicity).
        duplicated: rows present more often than in the reference, or not in it at all.
        tables: per table with a difference, `(lost, duplicated)`.
    """

    lost: int = 0
    duplicated: int = 0
    tables: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __str__(self) -> str:
        shown = ", ".join(
            f"{t} -{lost}/+{extra}" for t, (lost, extra) in sorted(self.tables.items())
        )
        return f"{self.lost} lost, {self.duplicated} duplicated ({shown or 'no table differs'})"


def snapshot(database: Path, dataset: str = "sprout") -> Snapshot:
    """Every base table of `dataset` (raw tables and marts) except dlt's own, as row multisets."""
    with duckdb.connect(str(database), read_only=True) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "select table_name from information_schema.tables where table_schema = ? "
                "and table_type = 'BASE TABLE' and table_name not like '\\_dlt%' escape '\\' "
                "order by table_name",
                [dataset],
            ).fetchall()
        ]
        # Parents sort before their children (`posts` before `posts__tag_ids`).
        identities: dict[str, str] = {}
        result: Snapshot = {}
        for table in sorted(tables, key=lambda name: name.count("__")):
            result[table] = _rows(connection, dataset, table, identities)
    return result


def _rows(
    connection: duckdb.DuckDBPyConnection, dataset: str, table: str, identities: dict[str, str]
) -> Counter[str]:
    cursor = connection.execute(f'select * from "{dataset}"."{table}"')
    columns = [d[0] for d in cursor.description]
    rows: Counter[str] = Counter()
    for values in cursor.fetchall():
        record = dict(zip(columns, values, strict=True))
        kept = {k: _normal(v) for k, v in record.items() if k not in LOAD_TIME_COLUMNS}
        if "_dlt_parent_id" in record:
            kept["_parent"] = identities.get(str(record["_dlt_parent_id"]), "orphan")
        text = repr(sorted(kept.items()))
        if "_dlt_id" in record:
            identities[str(record["_dlt_id"])] = hashlib.sha1(text.encode()).hexdigest()
        rows[text] += 1
    return rows


def _normal(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def difference(reference: Snapshot, actual: Snapshot) -> Difference:
    """Rows of `reference` that `actual` lacks, and rows `actual` holds beyond it."""
    result = Difference()
    for table in sorted(set(reference) | set(actual)):
        want, got = reference.get(table, Counter()), actual.get(table, Counter())
        lost, extra = sum((want - got).values()), sum((got - want).values())
        if lost or extra:
            result.tables[table] = (lost, extra)
            result.lost += lost
            result.duplicated += extra
    return result


def row_count(snap: Snapshot) -> int:
    """Rows of every table of a snapshot."""
    return sum(sum(rows.values()) for rows in snap.values())
