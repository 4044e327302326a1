"""Bad input, case by case: a clear one-line error, or absorbed as documented.

Three kinds of input can be bad: the configuration a user writes, the answers the API
sends, and the plan files given to `sprout-elt publish`. Answers the sandbox cannot
produce are made by a transport that forwards each request to the sandbox and rewrites
the answer of one endpoint on the way back, so the rest of the run is real.

A case that must fail checks that the command exits 1 with exactly one line on stderr
(for `publish`, one line per problem and a closing line), names what is wrong, shows no
traceback, and leaves no row of the failed run in the warehouse. A case that is
absorbed checks what landed, value by value where it matters.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

import pipelines.run
from sources.sprout import make_client
from sprout_sandbox.config import DEFAULT_TOKEN
from tests.pipeline.conftest import HISTORY_START, Harness, Result, harness_for, sandbox_config
from tests.reliability.scenarios import error_line_problems, shrink_waits
from tests.reliability.warehouse import row_count, snapshot

Rewrite = Callable[[dict[str, Any]], Any]
"""Turns a parsed answer into the bytes or object to send instead."""

POSTS_PATH = r"/analytics/posts$"
OTHER_TOKEN = "token-of-customer-100002"
CREATE_ENDPOINT = "POST /v1/{customer_id}/publishing/posts"


@dataclass(frozen=True)
class BadInput:
    """One bad input and what must come of it.

    Attributes:
        id: the case's name in test ids and in the chaos table.
        area: `configuration`, `api answer` or `publish file`.
        env: settings to set (None removes one).
        argv: extra `sprout-elt run` arguments.
        path: a regular expression of the request path whose answers are rewritten.
        rewrite: what the answers on `path` become.
        plan: content of a publish plan (str, or bytes for encodings), file name `plan`.
        plan_name: the plan's file name.
        error: words the one-line error must hold; None when the input is absorbed.
        check: for an absorbed input, what to verify in the warehouse (problems found).
    """

    id: str
    area: str
    env: dict[str, str | None] = field(default_factory=dict)
    argv: tuple[str, ...] = ()
    path: str = ""
    rewrite: Rewrite | None = None
    plan: str | bytes | None = None
    plan_name: str = "plan.csv"
    error: str | None = None
    check: Callable[[Harness], list[str]] | None = None


# Rewrites of API answers ---------------------------------------------------------------


def _with_posts(change: Callable[[list[dict[str, Any]]], list[Any]]) -> Rewrite:
    def rewrite(answer: dict[str, Any]) -> Any:
        if isinstance(answer.get("data"), list) and answer["data"]:
            return {**answer, "data": change(answer["data"])}
        return answer

    return rewrite


def _each_post(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Rewrite:
    return _with_posts(lambda posts: [change(dict(post)) for post in posts])


def _metrics(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Rewrite:
    return _each_post(lambda post: {**post, "metrics": change(dict(post.get("metrics") or {}))})


def _without(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda record: {k: v for k, v in record.items() if k != key}


def _raw(content: bytes) -> Rewrite:
    return lambda answer: content


HUGE_TEXT = "x" * 1_000_000
_POSTS_COLUMNS = (
    "select column_name from information_schema.columns "
    "where table_schema = 'sprout' and table_name = 'posts'"
)


class RewritingTransport(httpx.HTTPTransport):
    """Forwards to the sandbox; answers of `pattern` come back as `rewrite` makes them."""

    def __init__(self, pattern: str, rewrite: Rewrite) -> None:
        super().__init__()
        self._pattern = re.compile(pattern)
        self._rewrite = rewrite

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` on; rewrite a successful JSON answer of the chosen path."""
        response = super().handle_request(request)
        if not self._pattern.search(request.url.path) or response.status_code != 200:
            return response
        response.read()
        changed = self._rewrite(response.json())
        content = changed if isinstance(changed, bytes) else json.dumps(changed).encode()
        return httpx.Response(
            200, headers={"content-type": "application/json"}, content=content, request=request
        )


# Checks of absorbed answers -------------------------------------------------------------


def _posts_loaded_once(harness: Harness) -> list[str]:
    truth = len(harness.truth("posts"))
    loaded = harness.query("select count(*), count(distinct guid) from sprout.posts")[0]
    return [] if loaded == (truth, truth) else [f"posts: loaded {loaded}, expected {truth} once"]


def _column_holds(column: str, expected: Any) -> Callable[[Harness], list[str]]:
    def check(harness: Harness) -> list[str]:
        problems = _posts_loaded_once(harness)
        # dlt creates no column for a key that only ever held nulls.
        columns = {row[0] for row in harness.query(_POSTS_COLUMNS)}
        query = f"select {column} from sprout.posts" if column in columns else "select null"
        values = {row[0] for row in harness.query(query)}
        if values != {expected}:
            problems.append(f"posts.{column}: {sorted(map(str, values))[:3]}, expected {expected}")
        return problems

    return check


def _likes_as_numbers(harness: Harness) -> list[str]:
    # A new warehouse types the column by what arrives, text here; the numbers survive.
    problems = _posts_loaded_once(harness)
    want = {p["guid"]: p["metrics"].get("lifetime.likes") for p in harness.truth("posts")}
    got = dict(harness.query("select guid, cast(lifetime_likes as bigint) from sprout.posts"))
    wrong = [g for g, v in want.items() if v is not None and got.get(g) != v]
    if wrong:
        problems.append(f"posts.lifetime_likes differs for {len(wrong)} posts, e.g. {wrong[0]}")
    return problems


def _huge_text_kept(harness: Harness) -> list[str]:
    longest = harness.query("select max(length(text)) from sprout.posts")[0][0]
    return _posts_loaded_once(harness) + (
        [] if longest == len(HUGE_TEXT) else [f"the longest text has {longest} characters"]
    )


# The cases ------------------------------------------------------------------------------

_CONFIGURATION = [
    BadInput(
        "unknown-profile-metric",
        "configuration",
        env={"SOURCES__SPROUT__PROFILE_METRICS": '["impressions", "impresions"]'},
        error="`sources.sprout.profile_metrics` names unknown metrics ['impresions']",
    ),
    BadInput(
        "unknown-post-metric",
        "configuration",
        env={"SOURCES__SPROUT__POST_METRICS": '["lifetime.likes", "likes"]'},
        error="`sources.sprout.post_metrics` names unknown metrics ['likes']",
    ),
    BadInput(
        "no-such-day",
        "configuration",
        argv=("--start-date", "2026-02-30"),
        error="`sources.sprout.start_date` is '2026-02-30'",
    ),
    BadInput(
        "date-not-iso",
        "configuration",
        argv=("--end-date", "01/03/2026"),
        error="`sources.sprout.end_date` is '01/03/2026'",
    ),
    BadInput(
        "start-after-end",
        "configuration",
        argv=("--start-date", "2026-03-05", "--end-date", "2026-03-01"),
        error="`sources.sprout.start_date` 2026-03-05 is after the end date 2026-03-01",
    ),
    BadInput(
        "empty-token",
        "configuration",
        env={"SOURCES__SPROUT__ACCESS_TOKEN": ""},
        error="set `sources.sprout.access_token`",
    ),
    BadInput(
        "unknown-token",
        "configuration",
        env={"SOURCES__SPROUT__ACCESS_TOKEN": "not-a-token-of-this-account"},
        error="answered 401",
    ),
    BadInput(
        "token-of-another-customer",
        "configuration",
        env={
            "SOURCES__SPROUT__ACCESS_TOKEN": OTHER_TOKEN,
            "SOURCES__SPROUT__CUSTOMER_ID": "100001",
        },
        error="customer 100001 is not visible to this token (it sees [100002])",
    ),
    BadInput(
        "unknown-customer",
        "configuration",
        env={"SOURCES__SPROUT__CUSTOMER_ID": "999"},
        error="customer 999 is not visible to this token",
    ),
    BadInput(
        "customer-not-a-number",
        "configuration",
        env={"SOURCES__SPROUT__CUSTOMER_ID": "acme"},
        error="`sources.sprout.customer_id` is 'acme'",
    ),
    BadInput(
        "rate-zero",
        "configuration",
        env={"SOURCES__SPROUT__REQUESTS_PER_MINUTE": "0"},
        error="`sources.sprout.requests_per_minute`",
    ),
    BadInput(
        "negative-budget",
        "configuration",
        env={"SOURCES__SPROUT__MONTHLY_REQUEST_BUDGET": "-5"},
        error="`sources.sprout.monthly_request_budget`",
    ),
    BadInput(
        "negative-lookback",
        "configuration",
        env={"SOURCES__SPROUT__POSTS_LOOKBACK_DAYS": "-1"},
        error="`sources.sprout.posts_lookback_days`",
    ),
    BadInput(
        "base-url-not-http",
        "configuration",
        env={"SOURCES__SPROUT__BASE_URL": "ftp://api.example.com"},
        error="`sources.sprout.base_url`",
    ),
    BadInput(
        "base-url-unreachable",
        "configuration",
        env={"SOURCES__SPROUT__BASE_URL": "http://127.0.0.1:9"},
        error="got no answer",
    ),
    BadInput(
        "unknown-resource",
        "configuration",
        argv=("--resources", "posts,post"),
        error="--resources names unknown resource 'post'",
    ),
    BadInput(
        "oauth-wrong-secret",
        "configuration",
        env={
            "SOURCES__SPROUT__ACCESS_TOKEN": None,
            "SOURCES__SPROUT__CLIENT_ID": "sandbox-client",
            "SOURCES__SPROUT__CLIENT_SECRET": "not-the-secret-of-this-client",
            "SOURCES__SPROUT__TOKEN_URL": "{base_url}/oauth2/v1/token",
        },
        error="`sources.sprout.client_secret`",
    ),
]

_ANSWERS = [
    BadInput(
        "malformed-json",
        "api answer",
        path=POSTS_PATH,
        rewrite=_raw(b'{"data": [{"guid": "1",'),
        error="the answer is not valid JSON",
    ),
    BadInput(
        "html-under-200",
        "api answer",
        path=POSTS_PATH,
        rewrite=_raw(b"<html><body>Service maintenance</body></html>"),
        error="the answer is not valid JSON",
    ),
    BadInput(
        "empty-body",
        "api answer",
        path=POSTS_PATH,
        rewrite=_raw(b""),
        error="the answer is not valid JSON",
    ),
    BadInput(
        "not-utf-8",
        "api answer",
        path=POSTS_PATH,
        rewrite=_raw(b'{"data": [{"guid": "caf\xe9", "text": "\xff\xfe"}], "paging": {}}'),
        error="the answer is not valid JSON",
    ),
    BadInput(
        "missing-data",
        "api answer",
        path=POSTS_PATH,
        rewrite=lambda answer: {k: v for k, v in answer.items() if k != "data"},
        error="no `data` list",
    ),
    BadInput(
        "data-not-a-list",
        "api answer",
        path=POSTS_PATH,
        rewrite=lambda answer: {**answer, "data": {"guid": "1"}},
        error="no `data` list",
    ),
    BadInput(
        "metric-as-text",
        "api answer",
        path=POSTS_PATH,
        rewrite=_metrics(lambda m: {**m, "lifetime.likes": str(m.get("lifetime.likes"))}),
        check=_likes_as_numbers,
    ),
    BadInput(
        "unknown-field",
        "api answer",
        path=POSTS_PATH,
        rewrite=_each_post(lambda post: {**post, "surprise_field": "kept"}),
        check=_column_holds("surprise_field", "kept"),
    ),
    BadInput(
        "null-text",
        "api answer",
        path=POSTS_PATH,
        rewrite=_each_post(lambda post: {**post, "text": None}),
        check=_column_holds("text", None),
    ),
    BadInput(
        "null-metrics",
        "api answer",
        path=POSTS_PATH,
        rewrite=_each_post(lambda post: {**post, "metrics": None}),
        check=_column_holds("lifetime_likes", None),
    ),
    BadInput(
        "null-created-time",
        "api answer",
        path=POSTS_PATH,
        rewrite=_each_post(lambda post: {**post, "created_time": None}),
        error="created_time",
    ),
    BadInput(
        "null-guid",
        "api answer",
        path=POSTS_PATH,
        rewrite=_each_post(lambda post: {**post, "guid": None}),
        error="guid (marked as non-nullable primary key and must have values)",
    ),
    BadInput(
        "duplicate-rows-in-a-page",
        "api answer",
        path=POSTS_PATH,
        rewrite=_with_posts(lambda posts: [*posts, *posts[:3]]),
        check=_posts_loaded_once,
    ),
    BadInput(
        "metric-vanished",
        "api answer",
        path=POSTS_PATH,
        rewrite=_metrics(_without("lifetime.likes")),
        check=_column_holds("lifetime_likes", None),
    ),
    BadInput(
        "huge-text",
        "api answer",
        path=POSTS_PATH,
        rewrite=_with_posts(lambda posts: [{**posts[0], "text": HUGE_TEXT}, *posts[1:]]),
        check=_huge_text_kept,
    ),
]


def _plan(*rows: str) -> str:
    header = "client_key,group_id,customer_profile_ids,text,scheduled_times,media,tag_ids\n"
    return header + "".join(f"{row}\n" for row in rows)


_LATER = "2099-06-01T15:20:00Z"
_PUBLISH = [
    BadInput(
        "bad-csv-quoting",
        "publish file",
        plan=_plan(f'k1,200001,1000001,"Unclosed quote,{_LATER},,'),
        error="bad CSV quoting",
    ),
    BadInput(
        "missing-columns",
        "publish file",
        plan="client_key,customer_profile_ids,text\nk1,1000001,Hi\n",
        error="column `group_id`",
    ),
    BadInput(
        "text-as-photo",
        "publish file",
        plan=_plan(f"k1,200001,1000001,Hi,{_LATER},notes.jpg,"),
        error="not a photo or video",
    ),
    BadInput(
        "media-file-missing",
        "publish file",
        plan=_plan(f"k1,200001,1000001,Hi,{_LATER},missing.mp4,"),
        error="cannot be read",
    ),
    BadInput(
        "send-time-in-the-past",
        "publish file",
        plan=_plan("k1,200001,1000001,Hi,2020-01-01T10:00:00Z,,"),
        error="column `scheduled_times`",
    ),
    BadInput(
        "jsonl-not-json",
        "publish file",
        plan='{"client_key": "k1", "group_id": 200001,\n',
        plan_name="plan.jsonl",
        error="line 1",
    ),
    BadInput(
        "plan-not-utf-8",
        "publish file",
        plan=_plan(f"k1,200001,1000001,Caf\xe9,{_LATER},,").encode("latin-1"),
        error="UTF-8",
    ),
]

CASES = [*_CONFIGURATION, *_ANSWERS, *_PUBLISH]


# Running a case -------------------------------------------------------------------------


@contextlib.contextmanager
def _harness(tmp: Path) -> Iterator[Harness]:
    tokens: dict[str, tuple[int, ...] | None] = {DEFAULT_TOKEN: None, OTHER_TOKEN: (100002,)}
    with pytest.MonkeyPatch.context() as patch:
        shrink_waits(patch)
        with harness_for(sandbox_config(tokens=tokens), tmp, patch) as harness:
            yield harness


def _apply(patch: pytest.MonkeyPatch, case: BadInput) -> None:
    for name, value in case.env.items():
        if value is None:
            patch.delenv(name, raising=False)
        else:
            patch.setenv(name, value.replace("{base_url}", os.environ["SOURCES__SPROUT__BASE_URL"]))
    if case.rewrite is not None:
        transport = RewritingTransport(case.path, case.rewrite)
        patch.setattr(
            pipelines.run,
            "make_client",
            lambda config, counts: make_client(config, counts, transport=transport),
        )


def one_line_problems(result: Result, expected: str, command: str = "run") -> list[str]:
    """What is wrong with a failure's output: exit status, reason line, its words."""
    problems = error_line_problems(result, command)
    reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
    if expected not in reason:
        problems.append(f"the reason lacks {expected!r}: {reason[-400:]!r}")
    return problems


def _run_arguments(case: BadInput) -> tuple[str, ...]:
    # One chunk keeps a case short; the answer at fault is in it.
    resources = "posts" if case.area == "api answer" else "profiles,posts"
    argv = case.argv or ("--start-date", HISTORY_START.isoformat(), "--end-date", "2026-03-01")
    if "--resources" not in argv:
        argv = (*argv, "--resources", resources)
    return ("run", "--no-transform", *argv)


def _run_case(harness: Harness, case: BadInput) -> list[str]:
    result = harness.cli(*_run_arguments(case))
    if case.error is None:
        if result.status != 0:
            return [f"not absorbed: {result.stderr.strip()[-400:]}"]
        return case.check(harness) if case.check else []
    problems = one_line_problems(result, case.error)
    if harness.database.exists() and row_count(snapshot(harness.database)):
        problems.append("the failed run left rows in the warehouse")
    return problems


def _recovers(harness: Harness, case: BadInput) -> list[str]:
    """Once the API answers well again, the same run loads every post once."""
    result = harness.cli(*_run_arguments(case))
    if result.status != 0:
        return [f"the run after the bad answers failed: {result.stderr.strip()[-400:]}"]
    return _posts_loaded_once(harness)


def _publish_case(harness: Harness, case: BadInput) -> list[str]:
    plan = harness.tmp / case.plan_name
    if isinstance(case.plan, bytes):
        plan.write_bytes(case.plan)
    else:
        plan.write_text(case.plan or "", encoding="utf-8")
    (harness.tmp / "notes.jpg").write_text("this is text, not an image\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCES__SPROUT__CUSTOMER_ID", "100001")
        result = harness.cli("publish", str(plan))
    lines = result.stderr.strip().splitlines()
    problems = []
    if result.status != 1 or not lines or "Traceback" in result.stderr:
        problems.append(f"status {result.status}, stderr {result.stderr.strip()[-400:]!r}")
    elif not lines[-1].startswith("sprout-elt publish: "):
        problems.append(f"no closing line: {lines[-1]!r}")
    if case.error and case.error not in result.stderr:
        problems.append(f"stderr lacks {case.error!r}: {result.stderr.strip()[-400:]!r}")
    created = harness.state()["requests"]["by_endpoint"].get(CREATE_ENDPOINT, {})
    if created:
        problems.append(f"drafts were created: {created}")
    return problems


@dataclass
class BadInputOutcome:
    """How a case went.

    Attributes:
        problems: what differed from the expected outcome (none: as expected).
        lost: posts of the sandbox missing from the warehouse at the end (answer cases).
        duplicated: posts loaded more than once, or rows a refused run left behind.
    """

    problems: list[str]
    lost: int = 0
    duplicated: int = 0


def _posts_tally(harness: Harness) -> tuple[int, int]:
    truth = len(harness.truth("posts"))
    count, distinct = harness.query("select count(*), count(distinct guid) from sprout.posts")[0]
    return max(0, truth - distinct), count - distinct


def check_bad_input(
    case: BadInput, tmp: Path | None = None, recover: bool = True
) -> BadInputOutcome:
    """Run one case on a fresh sandbox and warehouse, and say how it went.

    Args:
        case: the bad input.
        tmp: the folder of the warehouse (a temporary one when None).
        recover: after a refused answer, run again with good answers and count the posts
            (`make chaos` does; the fast subset leaves it out to stay fast).
    """
    with contextlib.ExitStack() as stack:
        folder = tmp or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        harness = stack.enter_context(_harness(folder))
        with pytest.MonkeyPatch.context() as patch:
            _apply(patch, case)
            if case.area == "publish file":
                return BadInputOutcome(_publish_case(harness, case))
            problems = _run_case(harness, case)
        if case.area != "api answer":
            left = row_count(snapshot(harness.database)) if harness.database.exists() else 0
            return BadInputOutcome(problems, duplicated=left)
        if case.error is not None:
            if not recover:
                return BadInputOutcome(problems)
            problems += _recovers(harness, case)
        return BadInputOutcome(problems, *_posts_tally(harness))
    raise AssertionError("unreachable")
