"""The ``sprout-elt sandbox`` commands."""

from __future__ import annotations

import argparse
from typing import Any

from pipelines.errors import UserError


def register(subparsers: Any) -> None:
    """Add the ``sandbox`` command group."""
    parser = subparsers.add_parser("sandbox", help="not available yet")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    raise UserError("`sprout-elt sandbox` is not available in this version yet")
