"""The ``sprout-elt demo`` command: the whole path on a local sandbox, in one go.

It starts a sandbox, runs the pipeline from it into ``sprout.duckdb`` in the working
directory, builds the marts, prints what landed and stops the sandbox. The sandbox
lifts the API's rate limit so that the demo takes seconds; the summary says how long
the same requests would take at the real limit.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pendulum

from pipelines.errors import UserError
from pipelines.pipeline import DEFAULT_DATASET, make_pipeline
from pipelines.run import run_pipeline, select_resources
from sources.sprout import load_settings
from sprout_sandbox.config import DEFAULT_TOKEN, SandboxConfig, Scale
from sprout_sandbox.server import run_sandbox
from transforms.summary import summary_lines

DEMO_DATABASE = "sprout.duckdb"
DEMO_DAYS = 60
DEMO_REQUESTS_PER_MINUTE = 30_000
REAL_REQUESTS_PER_MINUTE = 60


def register(subparsers: Any) -> None:
    """Add the ``demo`` command."""
    parser = subparsers.add_parser(
        "demo",
        help="start a sandbox, load it into sprout.duckdb, build the marts, print a summary",
        description="Run the whole pipeline against a local sandbox into "
        f"{DEMO_DATABASE} in the working directory.",
    )
    parser.add_argument("--seed", type=int, default=7, help="sandbox seed (default: 7)")
    parser.add_argument(
        "--days", type=int, default=DEMO_DAYS, help=f"days of history (default: {DEMO_DAYS})"
    )
    parser.add_argument(
        "--replace",
        action="store_true",
        help=f"overwrite an existing {DEMO_DATABASE} in the working directory",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the demo and print its summary."""
    if args.days < 1:
        raise UserError(f"--days must be at least 1, not {args.days}")
    database = Path.cwd() / DEMO_DATABASE
    _make_room(database, replace=args.replace)
    now = pendulum.now("UTC").replace(microsecond=0)
    history_start = now.date() - timedelta(days=args.days)
    config = SandboxConfig(
        seed=args.seed,
        scale=Scale(days=args.days),
        now=now,
        history_start=history_start,
        requests_per_minute=DEMO_REQUESTS_PER_MINUTE,
    )
    with run_sandbox(config) as sandbox, tempfile.TemporaryDirectory() as state_dir:
        sys.stdout.write(f"sandbox serving at {sandbox.base_url} (seed {args.seed})\n")
        made = _load(sandbox.base_url, history_start, state_dir)
    minutes = made / REAL_REQUESTS_PER_MINUTE
    sys.stdout.write(
        f"\nThe demo lifted the rate limit; at the API's {REAL_REQUESTS_PER_MINUTE} requests "
        f"a minute these {made} requests take {minutes:.0f} minutes.\n"
        f"Query the warehouse: duckdb {DEMO_DATABASE} "
        f'"select * from {DEFAULT_DATASET}.{DEFAULT_DATASET}.daily_profile_performance limit 5"\n'
    )
    return 0


def _make_room(database: Path, *, replace: bool) -> None:
    if not database.exists():
        return
    if not replace:
        raise UserError(
            f"{database} already exists: pass --replace to overwrite it with the demo's "
            "warehouse, or run the demo in another directory"
        )
    database.unlink()
    Path(f"{database}.wal").unlink(missing_ok=True)


def _load(base_url: str, history_start: date, state_dir: str) -> int:
    """Run the pipeline from the sandbox and print its summary; returns requests made."""
    settings = load_settings(
        base_url=base_url,
        access_token=DEFAULT_TOKEN,
        requests_per_minute=DEMO_REQUESTS_PER_MINUTE,
        start_date=history_start.isoformat(),
    )
    pipeline = make_pipeline(pipelines_dir=state_dir)
    summary = run_pipeline(pipeline, settings, select_resources(None))
    summary.write(sys.stdout)
    sys.stdout.write("\nWhat landed:\n")
    for line in summary_lines(pipeline):
        sys.stdout.write(f"  {line}\n")
    return summary.requests_made
