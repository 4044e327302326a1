"""The `sprout-elt publish` command."""

from __future__ import annotations

import argparse
from typing import Any

from pipelines.errors import UserError


def register(subparsers: Any) -> None:
    """Add the `publish` command."""
    parser = subparsers.add_parser("publish", help="not available yet")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    raise UserError("`sprout-elt publish` is not available in this version yet")
