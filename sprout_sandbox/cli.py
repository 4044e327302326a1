"""The ``sprout-elt sandbox`` commands: ``serve`` the API locally, ``export`` its truth.

Option values are read as text and checked here, so that a bad value ends in one line
naming the option rather than in argparse's usage text.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from datetime import date
from pathlib import Path
from typing import Any

from pipelines.errors import UserError
from sources.sprout.redact import register_secret
from sprout_sandbox._asgi import parse_iso
from sprout_sandbox.config import SandboxConfig, Scale
from sprout_sandbox.faults import parse_latency, parse_spec


def register(subparsers: Any) -> None:
    """Add the ``sandbox`` command group with ``serve`` and ``export``."""
    parser = subparsers.add_parser(
        "sandbox",
        help="serve a local imitation of the Sprout API, or export its ground truth",
        description="A local Sprout API sandbox generated from a seed, a scale and a clock.",
    )
    commands = parser.add_subparsers(dest="sandbox_command", metavar="SUBCOMMAND", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve the sandbox API over HTTP until interrupted",
        description="Serve the Sprout API sandbox. The default API token is sandbox-token; "
        "the OAuth client is sandbox-client / sandbox-secret.",
    )
    _add_world_options(serve)
    _add_serve_options(serve)
    serve.set_defaults(handler=_serve)
    export = commands.add_parser(
        "export",
        help="write every entity the sandbox would serve as NDJSON files",
        description="Write the sandbox's ground truth, one NDJSON file per entity.",
    )
    export.add_argument("--out", required=True, metavar="DIR", help="directory to write into")
    _add_world_options(export)
    export.set_defaults(handler=_export)


def _add_world_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", metavar="N", help="seed of the generated world (default 7)")
    parser.add_argument(
        "--now", metavar="ISO-TIMESTAMP", help="the sandbox clock (default: now, UTC)"
    )
    parser.add_argument(
        "--history-start",
        metavar="YYYY-MM-DD",
        help="first day of generated history (default: --days before the clock)",
    )
    defaults = Scale()
    for scale_field in dataclasses.fields(Scale):
        parser.add_argument(
            f"--{scale_field.name.replace('_', '-')}",
            dest=f"scale_{scale_field.name}",
            metavar="N",
            help=f"scale: {scale_field.name.replace('_', ' ')} "
            f"(default {getattr(defaults, scale_field.name)})",
        )


def _add_serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", default="8765", help="TCP port (default 8765)")
    parser.add_argument("--latency-ms", metavar="A-B", help="added latency per request, in ms")
    parser.add_argument(
        "--faults",
        metavar="SPEC",
        help="injected faults, e.g. 500=0.1,503=0.05,drop=0.02,latency=200-2000,seed=3",
    )
    parser.add_argument(
        "--token",
        action="append",
        metavar="TOKEN",
        help="accepted API token (repeatable); when given, only these tokens are accepted",
    )
    parser.add_argument(
        "--client",
        action="append",
        metavar="ID:SECRET",
        help="accepted OAuth client (repeatable); replaces sandbox-client:sandbox-secret",
    )
    parser.add_argument("--requests-per-minute", metavar="N", help="rate limit (default 60)")
    parser.add_argument("--monthly-quota", metavar="N", help="requests per month (default 250000)")
    parser.add_argument(
        "--token-ttl", metavar="SECONDS", help="OAuth access token lifetime (default 3600)"
    )
    parser.add_argument(
        "--max-scope-profile-days",
        metavar="N",
        help="analytics requests covering more profile-days answer 504 (default: no limit)",
    )


def _integer(args: argparse.Namespace, dest: str, minimum: int = 0) -> int | None:
    raw = getattr(args, dest, None)
    if raw is None:
        return None
    option = "--" + dest.removeprefix("scale_").replace("_", "-")
    try:
        value = int(raw)
    except ValueError:
        raise UserError(f"{option} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise UserError(f"{option} must be at least {minimum}, got {value}")
    return value


def _scale(args: argparse.Namespace) -> Scale:
    changes: dict[str, Any] = {}
    for scale_field in dataclasses.fields(Scale):
        raw = getattr(args, f"scale_{scale_field.name}", None)
        if raw is None:
            continue
        option = f"--{scale_field.name.replace('_', '-')}"
        try:
            value = float(raw) if scale_field.type in (float, "float") else int(raw)
        except ValueError:
            raise UserError(f"{option} must be a number, got {raw!r}") from None
        if value < 0:
            raise UserError(f"{option} must not be negative, got {raw}")
        changes[scale_field.name] = value
    return dataclasses.replace(Scale(), **changes)


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """Build a sandbox config from ``serve``/``export`` options.

    Raises:
        UserError: naming the first option whose value is not acceptable.
    """
    config = SandboxConfig(scale=_scale(args))
    seed = _integer(args, "seed")
    if seed is not None:
        config.seed = seed
    if args.now is not None:
        try:
            config.now = parse_iso(args.now)
        except ValueError:
            raise UserError(f"--now must be an ISO 8601 timestamp, got {args.now!r}") from None
    if args.history_start is not None:
        try:
            config.history_start = date.fromisoformat(args.history_start)
        except ValueError:
            raise UserError(
                f"--history-start must be a date YYYY-MM-DD, got {args.history_start!r}"
            ) from None
    if hasattr(args, "port"):
        _apply_serve_options(config, args)
    return config


def _apply_serve_options(config: SandboxConfig, args: argparse.Namespace) -> None:
    if args.token:
        for token in args.token:
            register_secret(token)
        config.tokens = {token: None for token in args.token}
    if args.client:
        config.oauth_clients = dict(_client(value) for value in args.client)
    for dest, attribute, minimum in (
        ("requests_per_minute", "requests_per_minute", 1),
        ("monthly_quota", "monthly_quota", 1),
        ("token_ttl", "token_ttl_seconds", 1),
        ("max_scope_profile_days", "max_scope_profile_days", 1),
    ):
        value = _integer(args, dest, minimum)
        if value is not None:
            setattr(config, attribute, value)
    if args.latency_ms is not None:
        try:
            config.latency_ms = parse_latency(args.latency_ms)
        except ValueError as exc:
            raise UserError(f"--latency-ms: {exc}") from None
    if args.faults is not None:
        try:
            parse_spec(args.faults)
        except ValueError as exc:
            raise UserError(f"--faults: {exc}") from None
        config.faults = args.faults


def _client(value: str) -> tuple[str, str]:
    client_id, sep, secret = value.partition(":")
    if not sep or not client_id or not secret:
        raise UserError("--client must be CLIENT_ID:CLIENT_SECRET")
    register_secret(secret)
    return client_id, secret


def _serve(args: argparse.Namespace) -> int:
    from sprout_sandbox.server import serve

    config = config_from_args(args)
    port = _integer(args, "port")
    if port is None or port > 65535:
        raise UserError(f"--port must be a TCP port from 0 to 65535, got {args.port!r}")
    try:
        serve(config, host=args.host, port=port)
    except OSError as exc:
        raise UserError(
            f"cannot listen on {args.host}:{port} ({exc.strerror or exc}): "
            "choose another --port or --host"
        ) from None
    return 0


def _export(args: argparse.Namespace) -> int:
    from sprout_sandbox.export import export_world

    config = config_from_args(args)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {args.out} is a file: give a directory")
    out.mkdir(parents=True, exist_ok=True)
    counts = export_world(config, out)
    width = max((len(name) for name in counts), default=0)
    for name, rows in counts.items():
        sys.stdout.write(f"{name:<{width}}  {rows:>9} rows\n")
    sys.stdout.write(f"wrote {len(counts)} files, {sum(counts.values())} rows, to {out}\n")
    return 0
