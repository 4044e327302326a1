"""The `sprout-elt publish FILE` command: draft posts with media from a CSV or JSONL plan.

The plan is checked in two rounds before anything changes in Sprout: first locally
(columns, ids, send times, media files by content and size), with no request at all;
then against the account (groups, profiles and tags exist, profiles belong to the
group), which reads three metadata endpoints. Every problem of a round is printed,
one line each, on stderr. Then each row is published exactly once (see
:mod:`sources.sprout.publishing`) and the drafts are loaded into `publishing_posts`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
from dlt.sources import DltResource, DltSource

from pipelines.errors import UserError
from pipelines.pipeline import add_destination_arguments, make_pipeline, sync_state
from sources.sprout import REQUESTS_STATE_KEY, make_client
from sources.sprout.client import SproutClient
from sources.sprout.publishing import (
    CREATED,
    Ledger,
    LedgerEntry,
    Plan,
    Problem,
    Publisher,
    PublishError,
    PublishResult,
    describe_plan,
    loaded_publishing_post_ids,
    publishing_posts,
    read_account,
    read_plan,
    resolve_customer,
    validate_against_account,
    validate_plan,
)
from sources.sprout.settings import ConfigError, load_settings


def register(subparsers: Any) -> None:
    """Add the `publish` command."""
    parser = subparsers.add_parser(
        "publish",
        help="create draft posts (with media) from a CSV or JSONL file",
        description="Create draft posts in Sprout from a CSV or JSONL plan, exactly once per "
        "client_key, and load them into the publishing_posts table. Columns: client_key, "
        "group_id, customer_profile_ids, text, scheduled_times (UTC ISO 8601), media (local "
        "paths or URLs), tag_ids; in CSV, list cells separate items with ';'.",
    )
    parser.add_argument("file", metavar="FILE", type=Path, help="the plan (.csv, or JSON lines)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="validate the plan and print what would be uploaded and created; send nothing",
    )
    parser.add_argument(
        "--recreate-unclear",
        action="store_true",
        help="create rows whose earlier create got no recorded answer and cannot be looked "
        "up, accepting a possible duplicate draft",
    )
    add_destination_arguments(parser)
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    plan = _read(args.file)
    pipeline = make_pipeline(args.destination, args.dataset)
    # One warehouse connection serves every ledger read and write of the command.
    with Ledger(pipeline) as ledger:
        created = {e.client_key: e for e in ledger.entries() if e.state == CREATED}
        problems = validate_plan(plan, datetime.now(UTC), _unchanged(plan, created))
        _stop_on([*problems, *_changed(plan, created)], plan, "nothing was sent")
        if args.dry_run:
            for line in describe_plan(plan.posts, created):
                print(line)
            return 0
        result = _publish(args, plan, pipeline, ledger)
    print(_summary(result, args.dataset))
    if result.unclear:
        raise UserError(
            f"rows {', '.join(result.unclear)} may already exist in Sprout but could not be "
            "looked up: check the publishing calendar, then rerun with --recreate-unclear "
            "to create them"
        )
    return 0


def _read(path: Path) -> Plan:
    try:
        return read_plan(path)
    except OSError as exc:
        raise UserError(f"cannot read the plan {path}: {exc.strerror or exc}") from None


def _unchanged(plan: Plan, created: dict[str, LedgerEntry]) -> set[str]:
    return {
        post.client_key
        for post in plan.posts
        if post.client_key in created and created[post.client_key].fingerprint == post.fingerprint
    }


def _changed(plan: Plan, created: dict[str, LedgerEntry]) -> list[Problem]:
    return [
        Problem(
            post.line,
            "client_key",
            f"{post.client_key!r} was already published (drafts "
            f"{created[post.client_key].publishing_post_ids}) with other content; give the "
            "changed row a new client_key to publish it as well",
        )
        for post in plan.posts
        if post.client_key in created and created[post.client_key].fingerprint != post.fingerprint
    ]


def _stop_on(problems: Sequence[Problem], plan: Plan, outcome: str) -> None:
    if not problems:
        return
    for problem in problems:
        sys.stderr.write(f"{plan.path}: {problem}\n")
    raise UserError(
        f"{len(problems)} problem(s) in {plan.path}, listed above; {outcome}: correct the "
        "rows and rerun"
    )


def _publish(args: argparse.Namespace, plan: Plan, pipeline: Any, ledger: Ledger) -> PublishResult:
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    counts = _request_counts(pipeline)
    with make_client(settings, counts) as client:
        try:
            customer_id = resolve_customer(client, settings.customer_id)
            publisher = Publisher(
                client, ledger, customer_id, recreate_unclear=args.recreate_unclear
            )
            todo = [p for p in plan.posts if _state(publisher.entry(p.client_key)) != CREATED]
            if todo:
                account = read_account(client, customer_id)
                found = validate_against_account(todo, account, customer_id)
                _stop_on(found, plan, "nothing was uploaded or created")
            try:
                return publisher.publish(plan.posts)
            finally:
                post_ids = _to_load(pipeline, publisher, plan)
                # The load opens a connection of its own; with both open it peaks higher.
                ledger.close()
                if post_ids:
                    _load(pipeline, _published_drafts(client, customer_id, post_ids, counts))
        except PublishError as exc:
            raise UserError(str(exc)) from None


def _load(pipeline: Any, source: DltSource) -> None:
    """Load ``source`` with its jobs one after another, with what earlier runs left pending.

    `pipeline.run` would load through a pool of up to 20 threads (and, with packages left
    pending by an interrupted run, load only those); for a few rows one thread is as
    fast, and on DuckDB every extra thread holds memory of its own (2 to 6 MiB measured).
    """
    sync_state(pipeline)
    pipeline.extract(source)
    pipeline.normalize()
    pipeline.load(workers=1)


def _state(entry: LedgerEntry | None) -> str | None:
    return entry.state if entry is not None else None


def _request_counts(pipeline: Any) -> dict[str, int]:
    state = pipeline.state.get("sources", {}).get("sprout", {})
    return dict(state.get(REQUESTS_STATE_KEY, {}))


@dlt.source(name="sprout", max_table_nesting=2)
def _published_drafts(
    client: SproutClient, customer_id: int, post_ids: list[int], counts: dict[str, int]
) -> Iterator[DltResource]:
    """The drafts of this run, under the `sprout` source so requests count in its budget."""
    dlt.current.source_state()[REQUESTS_STATE_KEY] = counts
    yield publishing_posts(client, {customer_id: post_ids})


def _to_load(pipeline: Any, publisher: Publisher, plan: Plan) -> list[int]:
    """This run's drafts, and drafts of the plan recorded earlier but never loaded.

    A run that died after a create recorded the draft in the ledger but never loaded it.
    """
    recorded = {
        post_id
        for post in plan.posts
        for post_id in getattr(publisher.entry(post.client_key), "publishing_post_ids", [])
    }
    unloaded = recorded - loaded_publishing_post_ids(pipeline) if recorded else set()
    return sorted(set(publisher.result.post_ids) | unloaded)


def _summary(result: PublishResult, dataset: str) -> str:
    drafts = sum(len(ids) for ids in result.created.values())
    parts = [f"{len(result.created)} rows created ({drafts} drafts)"]
    if result.adopted:
        parts.append(f"{len(result.adopted)} adopted from an unrecorded earlier create")
    parts.append(f"{len(result.skipped)} already created")
    parts.append(f"{result.media_uploaded} media uploaded")
    loaded = f"; drafts loaded into {dataset}.publishing_posts" if result.post_ids else ""
    return f"publish: {', '.join(parts)}{loaded}"
