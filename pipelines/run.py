"""The `sprout-elt run` command."""

from __future__ import annotations

import argparse
from typing import Any

from pipelines.errors import UserError


def register(subparsers: Any) -> None:
    """Add the `run` command."""
    parser = subparsers.add_parser("run", help="not available yet")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    raise UserError("`sprout-elt run` is not available in this version yet")
