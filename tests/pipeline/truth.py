"""Compare the warehouse with the sandbox's ground truth, table by table, value by value.

Each ground-truth record is shaped the way the source lands it (metrics lifted into
columns, nested objects flattened with ``__``, dotted keys snake-cased), then every
scalar it holds must equal the warehouse's value, and every list must equal the child
table's rows for that parent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.pipeline.conftest import Harness

_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _lift_metrics(record: dict[str, Any]) -> dict[str, Any]:
    row = {k: v for k, v in record.items() if k != "metrics"}
    row.update(record.get("metrics") or {})
    return row


def _posts(record: dict[str, Any]) -> dict[str, Any]:
    row = _lift_metrics(record)
    internal = dict(row.pop("internal", None) or {})
    row["tag_ids"] = [t["id"] for t in internal.pop("tags", None) or []]
    if internal:
        row["internal"] = internal
    return row


def _profile_day(record: dict[str, Any]) -> dict[str, Any]:
    row = {k: v for k, v in record.items() if k not in ("metrics", "dimensions")}
    row.update({k: v for k, v in record["metrics"].items() if not isinstance(v, dict)})
    return row


def _topic(record: dict[str, Any]) -> dict[str, Any]:
    moment = datetime.fromtimestamp(record["availability_time"] / 1000, tz=UTC)
    return {**record, "availability_time": moment.isoformat()}


def _topic_message(record: dict[str, Any]) -> dict[str, Any]:
    row = _lift_metrics(record)
    row.update(row.pop("listening_metadata", None) or {})
    row["sentiment"] = str(row["sentiment"]).lower()
    # Not a documented listening message field, so it cannot be requested.
    row.pop("distribution_type", None)
    return row


def _topic_metric(record: dict[str, Any]) -> dict[str, Any]:
    row = _lift_metrics(record)
    dimensions = row.pop("dimensions")
    row["network"] = dimensions["network"]
    row["sentiment"] = str(dimensions["sentiment"]).lower()
    return row


@dataclass(frozen=True)
class Spec:
    """How one ground-truth file lands in the warehouse."""

    table: str
    key: tuple[str, ...]
    shape: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda r: dict(r))


SPECS: dict[str, Spec] = {
    "customers": Spec("customers", ("customer_id",)),
    "profiles": Spec("profiles", ("customer_profile_id",)),
    "groups": Spec("groups", ("group_id",)),
    "tags": Spec("tags", ("tag_id",)),
    "users": Spec("users", ("id",)),
    "topics": Spec("topics", ("id",), _topic),
    "profile_metrics": Spec(
        "profile_metrics_daily", ("customer_profile_id", "reporting_date"), _profile_day
    ),
    "posts": Spec("posts", ("guid",), _posts),
    "messages": Spec("messages", ("guid",), _posts),
    "cases": Spec("cases", ("case_id",)),
    "topic_messages": Spec("topic_messages", ("topic_id", "guid"), _topic_message),
    "topic_metrics": Spec(
        "topic_metrics_daily", ("topic_id", "metric_date", "network", "sentiment"), _topic_metric
    ),
}


def column(name: str) -> str:
    """A key as dlt's snake_case naming turns it into a column name."""
    return re.sub(r"[^a-z0-9_]", "_", name.lower())


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects become `a__b` columns, as dlt flattens them; lists stay lists."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = prefix + column(key)
        if isinstance(value, dict):
            flat.update(flatten(value, name + "__"))
        else:
            flat[name] = value
    return flat


def normal(value: Any) -> Any:
    """One spelling for equal values: UTC ISO times, ISO dates, rounded floats."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and _ISO_TIME.match(value):
        return normal(datetime.fromisoformat(value.replace("Z", "+00:00")))
    if isinstance(value, float):
        return round(value, 6)
    return value


def _key(row: dict[str, Any], key: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(str(normal(row[k])) for k in key)


def expected_rows(harness: Harness, name: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Ground truth of one entity, shaped and flattened, by warehouse key."""
    spec = SPECS[name]
    rows = [flatten(spec.shape(record)) for record in harness.truth(name)]
    by_key = {_key(row, spec.key): row for row in rows}
    assert len(by_key) == len(rows), f"{name}: the ground truth repeats a key"
    return by_key


def compare(
    harness: Harness,
    name: str,
    adjust: Callable[[dict[tuple[Any, ...], dict[str, Any]]], None] | None = None,
) -> list[str]:
    """Differences between the warehouse table and the ground truth of `name`.

    Args:
        harness: the sandbox and warehouse.
        name: the ground-truth entity (file name without `.ndjson`).
        adjust: changes the expected rows in place where the API itself differs from the
            export (e.g. tags scoped to the requested group).
    """
    spec = SPECS[name]
    expected = expected_rows(harness, name)
    if adjust is not None:
        adjust(expected)
    loaded = harness.table(spec.table)
    actual = {_key(row, spec.key): row for row in loaded}
    problems = []
    if len(actual) != len(loaded):
        problems.append(f"{spec.table}: {len(loaded) - len(actual)} duplicate keys")
    if set(actual) != set(expected):
        missing, extra = set(expected) - set(actual), set(actual) - set(expected)
        problems.append(f"{spec.table}: missing {sorted(missing)[:3]}, extra {sorted(extra)[:3]}")
    columns = set(loaded[0]) if loaded else set()
    for key in sorted(set(actual) & set(expected)):
        problems += _row_differences(spec.table, key, expected[key], actual[key], columns)
        if len(problems) > 20:
            break
    problems += _list_differences(harness, spec, expected, actual)
    return problems


def _row_differences(
    table: str, key: tuple[Any, ...], want: dict[str, Any], got: dict[str, Any], columns: set[str]
) -> list[str]:
    problems = []
    for name, value in want.items():
        if isinstance(value, list):
            continue
        if name not in columns:
            if value is not None:
                problems.append(f"{table}: column {name} is missing (value {value!r})")
            continue
        if normal(value) != normal(got[name]):
            problems.append(f"{table} {key} {name}: expected {value!r}, loaded {got[name]!r}")
    return problems


def _list_differences(
    harness: Harness,
    spec: Spec,
    expected: dict[tuple[Any, ...], dict[str, Any]],
    actual: dict[tuple[Any, ...], dict[str, Any]],
) -> list[str]:
    names = {n for row in expected.values() for n, v in row.items() if isinstance(v, list)}
    problems = []
    for name in sorted(names):
        children, scalar = _children(harness, f"{spec.table}__{name}")
        by_parent: dict[str, list[Any]] = {}
        for parent_id, value in children:
            by_parent.setdefault(parent_id, []).append(value)
        for key, row in expected.items():
            want = row.get(name) or []
            got = by_parent.get(actual[key]["_dlt_id"], []) if key in actual else []
            if scalar:
                same = sorted(map(str, map(normal, want))) == sorted(map(str, map(normal, got)))
            else:
                same = len(want) == len(got)
            if not same:
                problems.append(f"{spec.table} {key} {name}: expected {want!r}, loaded {got!r}")
                break
    return problems


def _children(harness: Harness, table: str) -> tuple[list[tuple[str, Any]], bool]:
    """Rows of a child table by parent; lists of scalars land in a `value` column."""
    columns = {
        r[0]
        for r in harness.query(
            "select column_name from information_schema.columns "
            f"where table_schema = 'sprout' and table_name = '{table}'"
        )
    }
    if not columns:
        return [], True
    scalar = "value" in columns
    value = "value" if scalar else "_dlt_list_idx"
    rows = harness.query(f"select _dlt_parent_id, {value} from sprout.{table}")
    return [(r[0], r[1]) for r in rows], scalar
