"""The `sprout-elt transform` command: rebuild the marts from what is loaded."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pipelines.errors import UserError
from pipelines.pipeline import add_destination_arguments, make_pipeline
from transforms.runner import TransformError, build_marts
from transforms.summary import summary_lines


def register(subparsers: Any) -> None:
    """Add the `transform` command."""
    parser = subparsers.add_parser(
        "transform",
        help="rebuild the marts from the raw tables already loaded",
        description="Rebuild the staging views and the mart tables from the raw tables "
        "in the dataset. The previous marts stay in place if any model fails.",
    )
    add_destination_arguments(parser)
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    pipeline = make_pipeline(args.destination, args.dataset)
    try:
        counts = build_marts(pipeline)
    except TransformError as exc:
        raise UserError(str(exc)) from exc
    for name, rows in counts.items():
        sys.stdout.write(f"{name}: {rows} rows\n")
    for line in summary_lines(pipeline):
        sys.stdout.write(line + "\n")
    return 0
