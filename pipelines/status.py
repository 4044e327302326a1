"""The `sprout-elt status` command: last runs, rows per table, cursors, requests this month.

Everything comes from the pipeline's state and the warehouse; no request reaches the API,
and no token is needed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

import dlt
import pendulum
from dlt.common.pipeline import SupportsPipeline

from pipelines.errors import UserError
from pipelines.pipeline import (
    add_destination_arguments,
    local_duckdb_file,
    make_pipeline,
    request_counts,
    source_state,
)
from sources.sprout import cursor_positions
from sources.sprout.redact import redact
from sources.sprout.settings import DEFAULT_MONTHLY_REQUEST_BUDGET

_LAST_LOADS = 5


def register(subparsers: Any) -> None:
    """Add the `status` command."""
    parser = subparsers.add_parser(
        "status",
        help="last runs, rows per table, cursor positions, requests used this month",
        description="Show what is loaded: last loads, rows per table, cursor positions and "
        "the requests used this month against `sources.sprout.monthly_request_budget`.",
    )
    add_destination_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Print the status of the pipeline for a destination and dataset."""
    database = local_duckdb_file(args.destination)
    if database is not None and not database.exists():
        # Opening the pipeline would create an empty file where the user expects none.
        sys.stdout.write(f"no warehouse at {database} yet (run `sprout-elt run`)\n")
        return 0
    pipeline = make_pipeline(args.destination, args.dataset)
    write_status(pipeline, sys.stdout)
    return 0


def write_status(pipeline: SupportsPipeline, out: TextIO) -> None:
    """Write the status report of `pipeline` to `out`."""
    state = source_state(pipeline)
    loads, rows = _warehouse(pipeline)
    out.write(f"pipeline {pipeline.pipeline_name}, dataset {pipeline.dataset_name}\n")
    _write_last_run(out, getattr(pipeline, "last_trace", None))
    _write_loads(out, loads)
    _write_rows(out, rows)
    _write_cursors(out, cursor_positions(state))
    _write_budget(out, request_counts(pipeline))


def _warehouse(pipeline: SupportsPipeline) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    """The last loads and the rows of every table, or nothing before the first load."""
    schema = _schema(pipeline)
    if schema is None:
        return [], {}
    tables = sorted(t for t in schema.data_table_names() if not t.startswith("_dlt"))
    try:
        with pipeline.sql_client() as client:  # type: ignore[attr-defined]
            loads = client.execute_sql(
                "select load_id, status, inserted_at from "
                f"{client.make_qualified_table_name('_dlt_loads')} "
                f"order by inserted_at desc limit {_LAST_LOADS}"
            )
            rows = {t: _count(client, t) for t in tables}
    except Exception as exc:
        raise UserError(
            f"cannot read the warehouse of dataset {pipeline.dataset_name!r} ({exc}): "
            "check --destination, --dataset and the destination's credentials"
        ) from None
    return list(loads or []), rows


def _schema(pipeline: SupportsPipeline) -> Any:
    schemas = getattr(pipeline, "schemas", {})
    return schemas.get(pipeline.default_schema_name) if pipeline.default_schema_name else None


def _count(client: Any, table: str) -> int:
    try:
        answer = client.execute_sql(
            f"select count(*) from {client.make_qualified_table_name(table)}"
        )
    except Exception:
        # A table declared in the schema but never loaded (e.g. an empty child table).
        return 0
    return int(answer[0][0]) if answer else 0


def _write_last_run(out: TextIO, trace: Any) -> None:
    """The last run on this machine, from dlt's trace: when, how long, how it ended."""
    if trace is None or trace.finished_at is None:
        return
    started = pendulum.instance(trace.started_at).in_timezone("UTC")
    seconds = (trace.finished_at - trace.started_at).total_seconds()
    failed = [step for step in trace.steps if step.step_exception]
    outcome = f"failed at {failed[0].step}: {failed[0].step_exception}" if failed else "ok"
    when = started.format("YYYY-MM-DD HH:mm:ss")
    out.write(f"last run: {when} UTC, {seconds:.1f} s, {redact(outcome.splitlines()[0])}\n")


def _write_loads(out: TextIO, loads: list[tuple[Any, ...]]) -> None:
    if not loads:
        out.write("last loads: none yet (run `sprout-elt run`)\n")
        return
    out.write("last loads:\n")
    for load_id, status, inserted_at in loads:
        when = pendulum.instance(inserted_at).in_timezone("UTC").format("YYYY-MM-DD HH:mm:ss")
        result = "loaded" if status == 0 else f"status {status}"
        out.write(f"  {load_id:<22} {when} UTC  {result}\n")


def _write_rows(out: TextIO, rows: dict[str, int]) -> None:
    if not rows:
        return
    out.write("rows per table:\n")
    for table, count in rows.items():
        out.write(f"  {table:<40} {count:>9}\n")


def _write_cursors(out: TextIO, positions: dict[str, Any]) -> None:
    if not positions:
        out.write("cursors: none yet\n")
        return
    out.write("cursors (last value loaded; each run re-reads its lookback window before it):\n")
    for name, value in sorted(positions.items()):
        out.write(f"  {name:<24} {_show(value)}\n")


def _show(value: Any) -> str:
    if hasattr(value, "hour"):
        return str(pendulum.instance(value).in_timezone("UTC").format("YYYY-MM-DD HH:mm:ss [UTC]"))
    return str(value)


def _write_budget(out: TextIO, counts: dict[str, int]) -> None:
    month = pendulum.now("UTC").format("YYYY-MM")
    budget = int(
        dlt.config.get("sources.sprout.monthly_request_budget", int)
        or DEFAULT_MONTHLY_REQUEST_BUDGET
    )
    used = counts.get(month, 0)
    out.write(
        f"requests in {month}: {used} of {budget} "
        f"(`sources.sprout.monthly_request_budget`), {max(0, budget - used)} left\n"
    )
