"""Entry point of the ``sprout-elt`` command.

Each command lives in its own module with a ``register(subparsers)`` function that adds
its parser and sets ``handler`` (a callable taking the parsed arguments and returning
the exit status). This module only wires them together and turns failures into one
line on stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib import import_module

from sources.sprout.redact import install_log_redaction, redact

# Modules that contribute commands, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "pipelines.run",
    "pipelines.transform",
    "pipelines.status",
    "pipelines.demo",
    "pipelines.publish",
    "sprout_sandbox.cli",
)

logger = logging.getLogger("sprout_elt")


def build_parser() -> argparse.ArgumentParser:
    """The complete argument parser, with every command registered."""
    parser = argparse.ArgumentParser(
        prog="sprout-elt",
        description="Extract the Sprout Social API into a warehouse, build marts, "
        "publish drafts, and serve a local API sandbox.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        import_module(name).register(subparsers)
    return parser


def _configure_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    # httpx logs every request at INFO; the client logs what matters itself.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)
    install_log_redaction()


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sprout-elt`` with ``argv`` and return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.debug)
    try:
        status: int = args.handler(args)
    except KeyboardInterrupt:
        sys.stderr.write("sprout-elt: interrupted\n")
        return 130
    except Exception as exc:
        if args.debug:
            logger.exception("sprout-elt %s failed", args.command)
        reason = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))
        sys.stderr.write(f"sprout-elt {args.command}: {reason}\n")
        return int(getattr(exc, "exit_code", 1))
    return status
