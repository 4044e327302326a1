"""Draft posts from a plan file: read, validate, upload media, create drafts exactly once.

A plan is a CSV or JSONL file with one post per row: ``client_key`` (the user's own
name for the row, unique in the file), ``group_id``, ``customer_profile_ids``,
``text``, ``scheduled_times`` (UTC ISO 8601), ``media`` (local paths, relative to the
plan file, or http(s) URLs) and ``tag_ids``. In CSV, list cells separate their items
with ``;``.

Every row is checked before any request, and every problem is reported at once by
line and column. Media is identified by its first bytes, never by its file name.

Exactly once. Each row's progress is written to the ``publish_ledger`` table of the
warehouse before and after every step that changes Sprout: ``validated``,
``media_uploaded`` (with the media ids), ``creating`` and ``created`` (with the
``publishing_post_id`` of every fanned-out draft). A ``created`` row is never sent
again, and a create is never repeated blindly: its answer may be lost after Sprout
acted on it (no answer, a cut-off body, a gateway error), or the process may die
between the answer and the record (the row stays ``creating``). Either way the draft
is looked up before the row is created anew.

The API lists no publishing posts, but their ids are sequential integers, and one
retrieval (``GET .../publishing/posts/<id>``) answers a draft's whole fan-out group.
So before each create the highest ``publishing_post_id`` known to the ledger is
recorded; after an unclear create the ids above it are read one by one (at most three
times the expected fan-out plus ten, stopping after five 404s in a row) and a group
with the same group, profiles, text and send times is adopted. When no id was known
(the customer's very first create), the row waits until the run's other rows are
created and the ids just below the lowest known one are searched the same way. Only
when nothing matches is the row created again; with no id at all to search from (a
plan of one row), it is reported and created only on request (``recreate_unclear``).
An answered 500 or 503, which the API documents as a temporary failure, counts as "not
created" when there is nothing to search from.

The limits of that search: a draft with the same content created by someone else in
the same minutes next to the recorded id would be adopted as this row's; when other
users of the account create many posts at the same time, the row's draft may lie
beyond the search window and be created a second time (the same holds if the ids turn
out to be shared by all of Sprout's customers rather than counted per customer, as the
reference's consecutive example ids suggest); and a draft that Sprout makes visible
only some time after an unclear answer can be missed by the immediate search.

Media files up to 50 MiB go in one request; larger ones in 5 MiB parts, parts 2..n
concurrently, each retried alone; the submission id and the parts done are recorded,
so an interrupted upload resumes on the next run while its submission (24 hours) has
not expired. Files are streamed from disk part by part. Uploads and creates go through
:meth:`SproutClient.send <sources.sprout.client.SproutClient.send>`, so they share the
run's pacer, budget, token and retries; a create is sent with ``repeat_unclear=False``.

Reliability tests can end the process at chosen points with the environment variable
``SPROUT_ELT_CRASH_AT`` (``after_create``, ``after_create:N`` for the Nth create of the
run, ``after_part:N`` after part N of a multipart upload is recorded): the process
exits with status 137 at once, without writing anything else.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dlt
import pendulum
from dlt.common.destination.exceptions import DestinationUndefinedEntity

from sources.sprout.client import SproutApiError, SproutClient

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
SIMPLE_UPLOAD_LIMIT = 50 * MIB
"""The simple upload takes files up to 50 MiB."""
PART_SIZE = 5 * MIB
"""Every multipart part but the last is exactly 5 MiB (5,242,880 bytes)."""
MAX_PARTS = 10_000
"""Assumed cap on the parts of one submission (undocumented); it bounds a file at
about 48.8 GiB."""
MAX_FILE_SIZE = MAX_PARTS * PART_SIZE
SUBMISSION_LIFETIME = timedelta(hours=24)
"""A multipart submission must be completed and used within 24 hours of its start."""
_EXPIRY_MARGIN = timedelta(minutes=30)
"""Media and submissions this close to expiry are uploaded again rather than used."""

LEDGER_TABLE = "publish_ledger"
REQUIRED_COLUMNS = ("client_key", "group_id", "customer_profile_ids", "scheduled_times")
OPTIONAL_COLUMNS = ("text", "media", "tag_ids")
LIST_SEPARATOR = ";"
CRASH_VARIABLE = "SPROUT_ELT_CRASH_AT"

_READ_CHUNK = 64 * 1024
_HEAD_BYTES = 32
_PROBE_SLACK = 10
_PROBE_GAP = 5
"""Consecutive 404s that end the search for an unrecorded draft."""
_DEFAULT_WAIT_SECONDS = 1.0
_MAX_POLLS = 1000
_CREATE_ATTEMPTS = 4
_ANSWERED_NOT_DONE = frozenset({500, 503})

# Photos and videos as posts refer to them; srt subtitles and other kinds cannot be
# attached to a post through the API.
PHOTO, VIDEO = "PHOTO", "VIDEO"
_FTYP_PHOTO_BRANDS = frozenset({b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis"})
_FTYP_QUICKTIME = b"qt  "
_URL_TYPES = {
    "jpg": ("image/jpeg", PHOTO),
    "jpeg": ("image/jpeg", PHOTO),
    "png": ("image/png", PHOTO),
    "gif": ("image/gif", PHOTO),
    "webp": ("image/webp", PHOTO),
    "heic": ("image/heic", PHOTO),
    "avif": ("image/avif", PHOTO),
    "mp4": ("video/mp4", VIDEO),
    "m4v": ("video/mp4", VIDEO),
    "mov": ("video/quicktime", VIDEO),
    "avi": ("video/x-msvideo", VIDEO),
    "mpg": ("video/mpeg", VIDEO),
    "mpeg": ("video/mpeg", VIDEO),
    "webm": ("video/webm", VIDEO),
    "mkv": ("video/x-matroska", VIDEO),
}


class PublishError(Exception):
    """A row could not be published; the message names the row and what to do."""


class UnclearAnswer(SproutApiError):  # noqa: N818 (an outcome, not a fault of the caller)
    """A create got no answer or a 5xx: the draft may or may not exist."""


# The plan ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a plan, located by line and column."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        if self.column:
            where += f", column `{self.column}`"
        return f"{where}: {self.message}"


@dataclass
class MediaItem:
    """A media reference of a row: a local file or a URL, as identified."""

    ref: str
    path: Path | None = None
    url: str | None = None
    size: int = 0
    mime: str = ""
    kind: str = ""

    @property
    def method(self) -> str:
        """``simple``, ``multipart`` or ``link``: how the file goes to Sprout."""
        if self.url is not None:
            return "link"
        return "simple" if self.size <= SIMPLE_UPLOAD_LIMIT else "multipart"

    @property
    def part_count(self) -> int:
        """How many 5 MiB parts a multipart upload of this file sends."""
        return max(1, -(-self.size // PART_SIZE))


@dataclass
class PlannedPost:
    """One row of the plan, parsed."""

    line: int
    client_key: str
    group_id: int | None = None
    customer_profile_ids: list[int] = field(default_factory=list)
    text: str | None = None
    scheduled_times: list[datetime] = field(default_factory=list)
    media: list[MediaItem] = field(default_factory=list)
    tag_ids: list[int] = field(default_factory=list)

    @property
    def fan_out(self) -> int:
        """Drafts the API creates for this row: profiles times send times."""
        return len(self.customer_profile_ids) * max(1, len(self.scheduled_times))

    @property
    def fingerprint(self) -> str:
        """A digest of what the row asks for, to notice a row changed after publishing.

        Media count by reference (path or URL as written), not by file content.
        """
        content = {
            "group_id": self.group_id,
            "customer_profile_ids": sorted(self.customer_profile_ids),
            "text": self.text or "",
            "scheduled_times": sorted(_iso(t) for t in self.scheduled_times),
            "media": [m.ref for m in self.media],
            "tag_ids": sorted(self.tag_ids),
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:32]

    def request_body(self, media: Sequence[dict[str, str]]) -> dict[str, Any]:
        """The Create Publishing Post body, given the uploaded media."""
        body: dict[str, Any] = {
            "group_id": self.group_id,
            "customer_profile_ids": self.customer_profile_ids,
            "is_draft": True,
        }
        if self.text:
            body["text"] = self.text
        if self.scheduled_times:
            times = [_iso(t) for t in self.scheduled_times]
            body["delivery"] = {"scheduled_times": times, "type": "SCHEDULED"}
        if media:
            body["media"] = list(media)
        if self.tag_ids:
            body["tag_ids"] = self.tag_ids
        return body


@dataclass
class Plan:
    """A parsed plan file: its rows and the problems found while reading it."""

    path: Path
    posts: list[PlannedPost]
    problems: list[Problem]


def read_plan(path: Path) -> Plan:
    """Read a CSV (``.csv``) or JSONL (any other name) plan; no file is inspected yet.

    Raises:
        OSError: the plan file itself cannot be read.
    """
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = Problem(0, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        return Plan(path, [], [problem])
    reader = _read_csv if path.suffix.lower() == ".csv" else _read_jsonl
    posts, problems = reader(text)
    problems.extend(_duplicate_keys(posts))
    return Plan(path, posts, problems)


def _read_csv(text: str) -> tuple[list[PlannedPost], list[Problem]]:
    problems: list[Problem] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as exc:
        return [], [Problem(1, "", f"bad CSV header ({exc})")]
    problems.extend(_header_problems(header))
    if any(p.column in REQUIRED_COLUMNS for p in problems):
        return [], problems
    posts: list[PlannedPost] = []
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(line, "", f"bad CSV quoting ({exc}); no later row was read"))
            break
        if any(cell.strip() for cell in cells):
            posts.append(_csv_row(line, header, cells, problems))
        line = reader.line_num + 1
    return posts, problems


def _header_problems(header: list[str]) -> list[Problem]:
    problems = [
        Problem(1, name, "required column is missing")
        for name in REQUIRED_COLUMNS
        if name not in header
    ]
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    problems += [
        Problem(1, name, f"unknown column; the columns are {', '.join(sorted(known))}")
        for name in header
        if name not in known
    ]
    return problems


def _csv_row(
    line: int, header: list[str], cells: list[str], problems: list[Problem]
) -> PlannedPost:
    if len(cells) != len(header):
        problems.append(
            Problem(line, "", f"{len(cells)} cells for {len(header)} columns: check the quoting")
        )
    values: dict[str, Any] = {}
    for name, cell in zip(header, cells, strict=False):
        cell = cell.strip()
        if name in ("customer_profile_ids", "scheduled_times", "media", "tag_ids"):
            values[name] = [item.strip() for item in cell.split(LIST_SEPARATOR) if item.strip()]
        else:
            values[name] = cell
    return _parse_row(line, values, problems)


def _read_jsonl(text: str) -> tuple[list[PlannedPost], list[Problem]]:
    posts: list[PlannedPost] = []
    problems: list[Problem] = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            values = json.loads(raw)
        except ValueError as exc:
            problems.append(Problem(line, "", f"not valid JSON ({exc})"))
            continue
        if not isinstance(values, dict):
            problems.append(Problem(line, "", "each line must be one JSON object"))
            continue
        known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
        problems += [Problem(line, name, "unknown key") for name in values if name not in known]
        problems += [
            Problem(line, name, "required key is missing")
            for name in REQUIRED_COLUMNS
            if name not in values
        ]
        posts.append(_parse_row(line, values, problems))
    return posts, problems


def _parse_row(line: int, values: dict[str, Any], problems: list[Problem]) -> PlannedPost:
    def report(column: str, message: str) -> None:
        problems.append(Problem(line, column, message))

    key = str(values.get("client_key") or "").strip()
    if "client_key" in values and not key:
        report("client_key", "empty: give every row a key of your choosing, unique in the file")
    post = PlannedPost(line, key)
    if "group_id" in values:
        post.group_id = _integer(values["group_id"], "group_id", report)
    if "customer_profile_ids" in values:
        post.customer_profile_ids = _integers(
            values["customer_profile_ids"], "customer_profile_ids", report
        )
        if not _list(values["customer_profile_ids"]):
            report("customer_profile_ids", "no profile: name at least one customer_profile_id")
    post.tag_ids = _integers(values.get("tag_ids") or [], "tag_ids", report)
    text = values.get("text")
    post.text = str(text) if text not in (None, "") else None
    post.scheduled_times = _times(values.get("scheduled_times") or [], report)
    post.media = [MediaItem(str(ref).strip()) for ref in _list(values.get("media") or [])]
    if not post.text and not post.media:
        report("text", "a post needs text or media")
    return post


def _list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [item.strip() for item in value.split(LIST_SEPARATOR) if item.strip()]
    return [value]


def _integer(value: Any, column: str, report: Callable[[str, str], None]) -> int | None:
    if isinstance(value, bool):
        value = None
    text = str(value).strip() if value is not None else ""
    if isinstance(value, int) or text.isdigit():
        return int(text)
    report(column, f"{value!r} is not an id (a whole number)" if text else "missing: give an id")
    return None


def _integers(value: Any, column: str, report: Callable[[str, str], None]) -> list[int]:
    numbers = [_integer(item, column, report) for item in _list(value)]
    return list(dict.fromkeys(n for n in numbers if n is not None))


def _times(value: Any, report: Callable[[str, str], None]) -> list[datetime]:
    times: list[datetime] = []
    for item in _list(value):
        try:
            moment = datetime.fromisoformat(str(item).strip().replace("Z", "+00:00"))
        except ValueError:
            report(
                "scheduled_times", f"{item!r} is not an ISO 8601 time, e.g. 2026-06-30T18:20:00Z"
            )
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        # The API rounds send times down to the minute; so does the plan, to compare.
        times.append(moment.astimezone(UTC).replace(second=0, microsecond=0))
    return list(dict.fromkeys(times))


def _duplicate_keys(posts: list[PlannedPost]) -> list[Problem]:
    first: dict[str, int] = {}
    problems = []
    for post in posts:
        if not post.client_key:
            continue
        if post.client_key in first:
            problems.append(
                Problem(
                    post.line,
                    "client_key",
                    f"{post.client_key!r} is already the key of line {first[post.client_key]}: "
                    "keys must be unique in the file",
                )
            )
        else:
            first[post.client_key] = post.line
    return problems


# Media: identified by content ----------------------------------------------------------


def sniff_media(head: bytes) -> tuple[str, str] | None:
    """The MIME type and post media type (``PHOTO``/``VIDEO``) of a file's first bytes.

    Returns None for content that cannot be attached to a post.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", PHOTO
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", PHOTO
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif", PHOTO
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"AVI "):
        return ("image/webp", PHOTO) if head[8:12] == b"WEBP" else ("video/x-msvideo", VIDEO)
    if head[4:8] == b"ftyp":
        return _iso_media(head[8:12])
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "video/mpeg", VIDEO
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return ("video/webm" if b"webm" in head else "video/x-matroska"), VIDEO
    return None


def _iso_media(brand: bytes) -> tuple[str, str]:
    """ISO base media files (``ftyp`` box): HEIF/AVIF stills, QuickTime, else MP4."""
    if brand in _FTYP_PHOTO_BRANDS:
        return ("image/avif" if brand.startswith(b"avi") else "image/heic"), PHOTO
    if brand == _FTYP_QUICKTIME:
        return "video/quicktime", VIDEO
    return "video/mp4", VIDEO


def inspect_media(item: MediaItem, base_dir: Path) -> str | None:
    """Identify ``item`` in place (path or URL, size, type); return a problem or None."""
    parts = urlsplit(item.ref)
    if parts.scheme in ("http", "https"):
        return _inspect_url(item, parts.path)
    if parts.scheme and len(parts.scheme) > 1:
        return f"{item.ref!r}: only http(s) URLs and local files can be used"
    path = Path(item.ref).expanduser()
    item.path = path if path.is_absolute() else base_dir / path
    try:
        with item.path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
            item.size = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        return f"{item.ref!r} cannot be read ({exc.strerror or exc})"
    identified = sniff_media(head)
    if item.size == 0:
        return f"{item.ref!r} is empty"
    if identified is None:
        return f"{item.ref!r} is not a photo or video Sprout accepts (judged by its content)"
    item.mime, item.kind = identified
    return _size_problem(item)


def _inspect_url(item: MediaItem, url_path: str) -> str | None:
    item.url = item.ref
    # Linked media is downloaded by Sprout, not here: its kind is read from the URL.
    extension = url_path.rsplit("/", 1)[-1].rpartition(".")[2].lower()
    known = _URL_TYPES.get(extension) if "." in url_path.rsplit("/", 1)[-1] else None
    if known is None:
        return (
            f"{item.ref!r}: the URL's file name does not say whether it is a photo or a "
            f"video; link to a file ending in one of {', '.join(sorted(_URL_TYPES))}"
        )
    item.mime, item.kind = known
    return None


def _size_problem(item: MediaItem) -> str | None:
    # Assumed, not documented: a photo over the simple upload's 50 MiB is beyond what
    # the networks take, so it is refused here rather than after a long upload.
    if item.kind == PHOTO and item.size > SIMPLE_UPLOAD_LIMIT:
        return f"{item.ref!r} is a photo of {_mib(item.size)}; photos may be at most 50 MiB"
    if item.size > MAX_FILE_SIZE:
        return (
            f"{item.ref!r} is {_mib(item.size)}; the most one upload takes is {_mib(MAX_FILE_SIZE)}"
        )
    return None


def _mib(size: int) -> str:
    return f"{size / MIB:.1f} MiB"


# Validation ----------------------------------------------------------------------------


def validate_plan(plan: Plan, now: datetime, done_keys: Iterable[str] = ()) -> list[Problem]:
    """Check every row that still has to go out: send times, media files, limits.

    Rows whose key is in ``done_keys`` (already created) are not checked again: their
    send times may have passed and their files may be gone.

    Returns:
        The plan's reading problems followed by these, in line order.
    """
    done = set(done_keys)
    problems = list(plan.problems)
    for post in plan.posts:
        found = [inspect_media(item, plan.path.parent) for item in post.media]
        if post.client_key in done:
            continue
        problems += [Problem(post.line, "media", problem) for problem in found if problem]
        for moment in post.scheduled_times:
            if moment <= now:
                problems.append(
                    Problem(
                        post.line,
                        "scheduled_times",
                        f"{_iso(moment)} is not in the future (now is {_iso(now)} UTC)",
                    )
                )
    return sorted(problems, key=lambda p: (p.line, p.column != "scheduled_times"))


@dataclass(frozen=True)
class AccountMetadata:
    """What the account holds that rows refer to: profiles with groups, groups, tags."""

    profile_groups: dict[int, frozenset[int]]
    group_ids: frozenset[int]
    tag_ids: frozenset[int]


def read_account(client: SproutClient, customer_id: int) -> AccountMetadata:
    """Read profiles, groups and tags of the customer (three requests)."""
    base = f"/v1/{customer_id}/metadata/customer"
    profiles = _data(client.get(base))
    return AccountMetadata(
        profile_groups={
            int(p["customer_profile_id"]): frozenset(int(g) for g in p.get("groups") or [])
            for p in profiles
        },
        group_ids=frozenset(int(g["group_id"]) for g in _data(client.get(f"{base}/groups"))),
        tag_ids=frozenset(int(t["tag_id"]) for t in _data(client.get(f"{base}/tags"))),
    )


def validate_against_account(
    posts: Iterable[PlannedPost], account: AccountMetadata, customer_id: int
) -> list[Problem]:
    """Check that groups, profiles and tags exist and that profiles are in the group."""
    problems = []
    for post in posts:
        if post.group_id not in account.group_ids:
            problems.append(
                Problem(
                    post.line, "group_id", f"{post.group_id} is no group of customer {customer_id}"
                )
            )
        for profile_id in post.customer_profile_ids:
            groups = account.profile_groups.get(profile_id)
            if groups is None:
                message = f"{profile_id} is no profile of customer {customer_id}"
            elif post.group_id not in groups:
                message = f"profile {profile_id} is not in group {post.group_id}"
            else:
                continue
            problems.append(Problem(post.line, "customer_profile_ids", message))
        unknown = [t for t in post.tag_ids if t not in account.tag_ids]
        if unknown:
            problems.append(
                Problem(post.line, "tag_ids", f"{unknown} are no tags of customer {customer_id}")
            )
    return problems


def describe_plan(posts: Iterable[PlannedPost], done: dict[str, LedgerEntry]) -> list[str]:
    """Lines that say what a run would upload and create, row by row."""
    lines = []
    drafts = requests = 0
    for post in posts:
        entry = done.get(post.client_key)
        if entry is not None and entry.state == CREATED:
            ids = ", ".join(str(i) for i in entry.publishing_post_ids)
            lines.append(f"line {post.line} {post.client_key}: already created ({ids}), skipped")
            continue
        times = max(1, len(post.scheduled_times))
        lines.append(
            f"line {post.line} {post.client_key}: group {post.group_id}, "
            f"{len(post.customer_profile_ids)} profiles x {times} send times = "
            f"{post.fan_out} drafts"
        )
        lines += [f"    {_describe_media(item)}" for item in post.media]
        drafts += post.fan_out
        requests += 2 + sum(_requests_for(item) for item in post.media)
    lines.append(f"total: {drafts} drafts, about {requests} requests")
    return lines


def _describe_media(item: MediaItem) -> str:
    if item.method == "link":
        return f"{item.ref} ({item.kind}): link download"
    upload = (
        "simple upload" if item.method == "simple" else f"multipart upload, {item.part_count} parts"
    )
    return f"{item.ref} ({item.mime}, {_mib(item.size)}): {upload}"


def _requests_for(item: MediaItem) -> int:
    return item.part_count + 1 if item.method == "multipart" else 1


# The ledger ----------------------------------------------------------------------------

VALIDATED, MEDIA_UPLOADED, CREATING, CREATED = "validated", "media_uploaded", "creating", "created"


@dataclass
class LedgerEntry:
    """The recorded progress of one row (one ``client_key`` of one customer)."""

    customer_id: int
    client_key: str
    state: str
    fingerprint: str
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def publishing_post_ids(self) -> list[int]:
        """The drafts created for the row."""
        return [int(i) for i in self.detail.get("publishing_post_ids", [])]


class Ledger:
    """The ``publish_ledger`` table, written through the destination's SQL client.

    Each write is its own committed transaction, so a process that dies keeps every
    step recorded before it. Calls are serialised. Used as a context manager, the ledger
    keeps one connection to the warehouse until :meth:`close`; otherwise every call
    opens and closes its own (on DuckDB a reopen costs tens of milliseconds).

    Args:
        pipeline: the dlt pipeline whose destination and dataset hold the table.
    """

    def __init__(self, pipeline: Any) -> None:
        self._pipeline = pipeline
        self._lock = threading.Lock()
        self._ready = False
        self._held = ExitStack()
        self._sql: Any = None

    def __enter__(self) -> Ledger:
        with self._lock:
            if self._sql is None:
                self._sql = self._held.enter_context(self._pipeline.sql_client())
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the kept connection, if any; later calls open their own."""
        with self._lock:
            self._sql = None
            self._held.close()

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        with self._lock:
            if self._sql is not None:
                yield self._sql
                return
            with self._pipeline.sql_client() as sql:
                yield sql

    def entries(self) -> list[LedgerEntry]:
        """Every recorded row; none when the warehouse or the table does not exist yet."""
        with self._connection() as sql:
            if not sql.has_dataset():
                return []
            table = sql.make_qualified_table_name(LEDGER_TABLE)
            try:
                rows = sql.execute_sql(
                    f"select customer_id, client_key, state, fingerprint, detail from {table}"
                )
            except Exception as exc:
                if _is_missing_table(exc):
                    return []
                raise
        return [
            LedgerEntry(int(r[0]), str(r[1]), str(r[2]), str(r[3]), json.loads(r[4] or "{}"))
            for r in rows or []
        ]

    def save(self, entry: LedgerEntry) -> None:
        """Record ``entry``, replacing what was recorded for its customer and key."""
        with self._connection() as sql:
            table = self._table(sql)
            with sql.begin_transaction():
                sql.execute_sql(
                    f"delete from {table} where customer_id = %s and client_key = %s",
                    entry.customer_id,
                    entry.client_key,
                )
                sql.execute_sql(
                    f"insert into {table} (customer_id, client_key, state, fingerprint, detail, "
                    "updated_at) values (%s, %s, %s, %s, %s, %s)",
                    entry.customer_id,
                    entry.client_key,
                    entry.state,
                    entry.fingerprint,
                    json.dumps(entry.detail, sort_keys=True),
                    _iso(datetime.now(UTC)),
                )

    def _table(self, sql: Any) -> str:
        table = sql.make_qualified_table_name(LEDGER_TABLE)
        if not self._ready:
            if not sql.has_dataset():
                sql.create_dataset()
            sql.execute_sql(
                f"create table if not exists {table} (customer_id bigint not null, "
                "client_key varchar not null, state varchar not null, fingerprint varchar not "
                "null, detail varchar not null, updated_at varchar not null)"
            )
            self._ready = True
        return table


def _is_missing_table(exc: Exception) -> bool:
    """dlt's "undefined relation", or a driver's own words for it."""
    if isinstance(exc, DestinationUndefinedEntity):
        return True
    text = str(exc).lower()
    return "does not exist" in text or "not found" in text or "no such table" in text


def recorded_publishing_post_ids(pipeline: Any) -> dict[int, list[int]]:
    """Every ``publishing_post_id`` the ledger recorded, by customer id.

    `sprout-elt run` passes them to :func:`publishing_posts` to refresh known drafts.
    """
    found: dict[int, list[int]] = {}
    for entry in Ledger(pipeline).entries():
        if entry.state == CREATED:
            found.setdefault(entry.customer_id, []).extend(entry.publishing_post_ids)
    return {customer: sorted(set(ids)) for customer, ids in found.items()}


def loaded_publishing_post_ids(pipeline: Any) -> set[int]:
    """Ids already in the ``publishing_posts`` table; none when it does not exist yet."""
    with pipeline.sql_client() as sql:
        if not sql.has_dataset():
            return set()
        table = sql.make_qualified_table_name("publishing_posts")
        try:
            rows = sql.execute_sql(f"select publishing_post_id from {table}")
        except Exception as exc:
            if _is_missing_table(exc):
                return set()
            raise
    return {int(row[0]) for row in rows or []}


# Uploads: multipart/form-data through the client's pacer, budget, token and retries --------


@dataclass
class _Form:
    """A multipart/form-data body that can be produced again for every attempt."""

    chunks: Callable[[], Iterator[bytes]]
    length: int
    content_type: str

    @property
    def headers(self) -> dict[str, str]:
        """``Content-Type`` with the boundary, and the length, so the body is not chunked."""
        return {"Content-Type": self.content_type, "Content-Length": str(self.length)}


def _file_form(path: Path, offset: int, length: int, filename: str, mime: str) -> _Form:
    boundary = secrets.token_hex(16)
    safe_name = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="media"; '
        f'filename="{safe_name}"\r\nContent-Type: {mime or "application/octet-stream"}\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunks() -> Iterator[bytes]:
        yield head
        with path.open("rb") as handle:
            handle.seek(offset)
            left = length
            while left:
                chunk = handle.read(min(_READ_CHUNK, left))
                if not chunk:
                    raise PublishError(f"{path} became shorter while it was uploaded: rerun")
                left -= len(chunk)
                yield chunk
        yield tail

    return _Form(
        chunks, len(head) + length + len(tail), f"multipart/form-data; boundary={boundary}"
    )


def _part_form(item: MediaItem, offset: int, length: int) -> _Form:
    """The form for ``length`` bytes of a local media file from ``offset``."""
    if item.path is None:
        raise ValueError(f"{item.ref} is not a local file")
    return _file_form(item.path, offset, length, item.path.name, item.mime)


def _url_form(url: str) -> _Form:
    boundary = secrets.token_hex(16)
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="media_url"\r\n\r\n'
        f"{url}\r\n--{boundary}--\r\n"
    ).encode()
    return _Form(lambda: iter([body]), len(body), f"multipart/form-data; boundary={boundary}")


def _post_form(client: SproutClient, path: str, form: _Form) -> Any:
    """POST ``form``; each attempt streams it anew, and a failed part is retried alone.

    Raises:
        SproutApiError: with a hint about the media when the API refused it.
    """
    try:
        return client.send("POST", path, content=form.chunks, headers=form.headers)
    except SproutApiError as exc:
        if exc.status < 400 or exc.status in (401, 403, 429):
            raise
        raise SproutApiError(
            exc.status, exc.method, exc.path, exc.message, hint=_media_hint(exc.status)
        ) from None


def _media_hint(status: int) -> str:
    if status == 413:
        return "the file is over the simple upload's 50 MiB: it must go in parts"
    if status in (400, 404):
        return "the media was refused; check the file, then rerun to upload it again"
    return "check `sources.sprout.base_url` and `sources.sprout.customer_id`"


def _create_once(client: SproutClient, path: str, body: dict[str, Any]) -> Any:
    """POST a create once; 429 and 401, after which nothing was created, are retried.

    Raises:
        UnclearAnswer: no answer, a 5xx or a cut-off body: the API may have acted.
        SproutApiError: a 4xx: nothing was created.
    """
    try:
        return client.send("POST", path, json=body, repeat_unclear=False)
    except SproutApiError as exc:
        if 400 <= exc.status < 500:
            raise
        raise UnclearAnswer(exc.status, exc.method, exc.path, exc.message) from None


def resolve_customer(client: SproutClient, configured: int | None) -> int:
    """The customer to publish for: `customer_id`, or the only one the token sees.

    Raises:
        PublishError: the configured customer is not visible, or the token sees several
            customers (or none) and none is configured.
    """
    visible = sorted(int(c["customer_id"]) for c in _data(client.get("/v1/metadata/client")))
    if configured is not None and configured in visible:
        return configured
    if configured is not None:
        raise PublishError(
            f"customer {configured} is not visible to this token (it sees {visible}): "
            "check `sources.sprout.customer_id`"
        )
    if len(visible) != 1:
        raise PublishError(
            f"the token sees customers {visible}: set `sources.sprout.customer_id` to the "
            "one that should own the drafts"
        )
    return visible[0]


# Publishing ----------------------------------------------------------------------------


@dataclass
class PublishResult:
    """What a run did."""

    created: dict[str, list[int]] = field(default_factory=dict)
    adopted: dict[str, list[int]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    unclear: list[str] = field(default_factory=list)
    media_uploaded: int = 0

    @property
    def post_ids(self) -> list[int]:
        """Ids of the drafts created or adopted in this run."""
        ids = [i for group in (*self.created.values(), *self.adopted.values()) for i in group]
        return sorted(ids)


class _Deferred(Exception):  # noqa: N818 (a signal, not an error)
    """The row's create is unclear and there is no id yet to search from."""


class _MediaSteps:
    """Uploads a row's media, recording media ids and multipart progress in its entry."""

    def __init__(
        self,
        client: SproutClient,
        customer_id: int,
        save: Callable[[LedgerEntry], None],
        crash: _CrashPoints,
        clock: Callable[[], datetime],
    ) -> None:
        self._client = client
        self._base = f"/v1/{customer_id}/media"
        self._save = save
        self._crash = crash
        self._clock = clock
        self.uploaded = 0

    def upload_all(self, post: PlannedPost, entry: LedgerEntry) -> list[dict[str, str]]:
        """Upload what has no usable media id yet; return the media list of the create."""
        recorded: list[dict[str, Any]] = entry.detail.setdefault("media", [])
        recorded.extend({} for _ in range(len(post.media) - len(recorded)))
        for item, record in zip(post.media, recorded, strict=False):
            if not self._usable(record):
                self._upload(item, record, entry)
        return [{"media_id": r["media_id"], "media_type": r["media_type"]} for r in recorded]

    def _usable(self, record: dict[str, Any]) -> bool:
        if not record.get("media_id"):
            return False
        expires = _parse_time(record.get("expiration_time"))
        return expires is None or expires - _EXPIRY_MARGIN > self._clock()

    def _upload(self, item: MediaItem, record: dict[str, Any], entry: LedgerEntry) -> None:
        record.pop("media_id", None)
        if item.method == "multipart":
            answer = self._multipart(item, record, entry)
        else:
            form = _url_form(item.url) if item.url else _part_form(item, 0, item.size)
            answer = _first(f"{self._base}/", _post_form(self._client, f"{self._base}/", form))
        record.update(
            media_id=str(answer["media_id"]),
            media_type=item.kind,
            expiration_time=answer.get("expiration_time"),
            ref=item.ref,
        )
        record.pop("submission", None)
        self._save(entry)
        self.uploaded += 1
        logger.info("uploaded %s (%s) as media %s", item.ref, item.method, record["media_id"])

    def _multipart(
        self, item: MediaItem, record: dict[str, Any], entry: LedgerEntry
    ) -> dict[str, Any]:
        submission = self._submission(item, record, entry)
        path = f"{self._base}/submission/{submission['submission_id']}"
        done = set(submission["parts_done"])

        def send_part(number: int) -> int:
            offset = (number - 1) * PART_SIZE
            form = _part_form(item, offset, min(PART_SIZE, item.size - offset))
            _post_form(self._client, f"{path}/part/{number}", form)
            return number

        try:
            todo = [n for n in range(2, item.part_count + 1) if n not in done]
            # Parts are recorded here, in order, not in the sending threads: the ledger's
            # connection then serves one thread only, and a part is recorded once it is sent.
            for number in self._client.map_in_flight(send_part, todo):
                submission["parts_done"].append(number)
                self._save(entry)
                self._crash.reached("after_part", number)
            return self._complete(path)
        except SproutApiError as exc:
            if 400 <= exc.status < 500 and exc.status != 429:
                # The submission expired, or the API lost a part: the next run starts over.
                record.pop("submission", None)
                self._save(entry)
            raise

    def _submission(
        self, item: MediaItem, record: dict[str, Any], entry: LedgerEntry
    ) -> dict[str, Any]:
        """The recorded submission if it can still be resumed, else a new one (part 1)."""
        submission = record.get("submission") or {}
        started = _parse_time(submission.get("started_at"))
        alive = started and started + SUBMISSION_LIFETIME - _EXPIRY_MARGIN > self._clock()
        if alive and submission.get("size") == item.size:
            logger.info(
                "%s: resuming submission %s with %d of %d parts sent",
                item.ref,
                submission["submission_id"],
                len(submission["parts_done"]),
                item.part_count,
            )
            return submission
        form = _part_form(item, 0, min(PART_SIZE, item.size))
        start = f"{self._base}/submission"
        answer = _first(start, _post_form(self._client, start, form))
        record["submission"] = {
            "submission_id": str(answer["submission_id"]),
            "started_at": _iso(self._clock()),
            "size": item.size,
            "parts_done": [1],
        }
        self._save(entry)
        self._crash.reached("after_part", 1)
        return record["submission"]

    def _complete(self, path: str) -> dict[str, Any]:
        for _ in range(_MAX_POLLS):
            # A 202 answers `wait_until` and no `media_id` until the media is ready.
            answer = _first(path, self._client.send("GET", path, accept_202=True))
            if "media_id" in answer:
                return answer
            # The API asks not to poll before wait_until; polling faster is throttled.
            wait_until = _parse_time(answer.get("wait_until"))
            delay = _DEFAULT_WAIT_SECONDS
            if wait_until is not None:
                delay = (wait_until - datetime.now(UTC)).total_seconds()
            time.sleep(max(0.0, delay))
        raise PublishError(f"GET {path} stayed 202 for {_MAX_POLLS} polls: rerun later")


class Publisher:
    """Publishes validated rows for one customer, recording every step in the ledger.

    Rows go one by one. A row whose create is unclear while no draft id is known yet
    (the customer's first create) waits until the other rows are done: their drafts
    are newer, so the missing one, if it exists, lies just below the lowest of them.

    Args:
        client: the run's client: retrievals, uploads and creates share its pacer,
            budget, token and retries.
        ledger: the ledger of the warehouse.
        customer_id: the customer that owns the drafts.
        recreate_unclear: create rows whose unclear draft cannot be searched for,
            accepting a possible duplicate.
        clock: the current UTC time; injectable for tests.
        sleep: how to wait before creating again; injectable for tests.
    """

    def __init__(
        self,
        client: SproutClient,
        ledger: Ledger,
        customer_id: int,
        *,
        recreate_unclear: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.customer_id = customer_id
        self.recreate_unclear = recreate_unclear
        self._entries = {e.client_key: e for e in ledger.entries() if e.customer_id == customer_id}
        self._known_ids = {i for e in self._entries.values() for i in e.publishing_post_ids}
        self._crash = _CrashPoints(os.environ.get(CRASH_VARIABLE, ""))
        self._sleep = sleep
        self._media = _MediaSteps(client, customer_id, self._save, self._crash, clock)
        self.result = PublishResult()

    def entry(self, key: str) -> LedgerEntry | None:
        """The recorded progress of a row of this customer."""
        return self._entries.get(key)

    def publish(self, posts: Iterable[PlannedPost]) -> PublishResult:
        """Publish each row; rows recorded as created are skipped, unclear ones settled last."""
        deferred = []
        for post in posts:
            try:
                self._publish_one(post)
            except _Deferred:
                deferred.append(post)
        for post in deferred:
            self._settle(post)
        self.result.media_uploaded = self._media.uploaded
        return self.result

    def _publish_one(self, post: PlannedPost) -> None:
        entry = self._entries.get(post.client_key)
        if entry is not None and entry.state == CREATED:
            self.result.skipped.append(post.client_key)
            return
        if entry is None or entry.fingerprint != post.fingerprint:
            if entry is not None and entry.state == CREATING:
                logger.warning(
                    "line %d (%s): the row changed after a create without answer; a draft of "
                    "the earlier content may exist in Sprout",
                    post.line,
                    post.client_key,
                )
            entry = LedgerEntry(self.customer_id, post.client_key, VALIDATED, post.fingerprint)
            self._save(entry)
        if entry.state == CREATING:
            if entry.detail.get("highest_known_id") is None:
                raise _Deferred
            if self._adopt(post, entry, entry.detail["highest_known_id"] + 1, 1):
                return
        self._create(post, entry)

    def _settle(self, post: PlannedPost) -> None:
        """A deferred row: search below the lowest known id, then create, or report it.

        Every id the ledger knows now came after the unclear create (none was known
        before it), so its draft, if any, lies just below the lowest of them.
        """
        entry = self._entries[post.client_key]
        searchable = bool(self._known_ids)
        if searchable and self._adopt(post, entry, min(self._known_ids) - 1, -1):
            return
        if searchable or self.recreate_unclear:
            entry.detail["highest_known_id"] = self._highest_id()
            try:
                self._create(post, entry)
                return
            except _Deferred:
                pass
        logger.warning(
            "line %d (%s): a create got no clear answer and its draft cannot be looked up; "
            "check Sprout's calendar, then rerun with --recreate-unclear if it is not there",
            post.line,
            post.client_key,
        )
        self.result.unclear.append(post.client_key)

    # finding drafts whose create got no recorded answer

    def _adopt(self, post: PlannedPost, entry: LedgerEntry, start: int, step: int) -> bool:
        """Search from ``start`` in ``step`` direction; record a matching draft as created."""
        found = self._search(post, start, step)
        if found is None:
            logger.info("line %d (%s): no earlier draft found", post.line, post.client_key)
            return False
        logger.info("line %d (%s): adopted drafts %s", post.line, post.client_key, found)
        self._record_created(entry, found)
        self.result.adopted[post.client_key] = found
        return True

    def _search(self, post: PlannedPost, start: int, step: int) -> list[int] | None:
        post_id, gap = start, 0
        for _ in range(3 * post.fan_out + _PROBE_SLACK):
            if gap >= _PROBE_GAP or post_id < 1:
                break
            group = self._retrieve(post_id)
            if not group:
                gap, post_id = gap + 1, post_id + step
                continue
            ids = sorted(_post_id(item) for item in group)
            if _matches(post, group):
                return ids
            # One retrieval answers the whole fan-out group: step past all of it.
            gap, post_id = 0, (ids[-1] + 1 if step > 0 else ids[0] - 1)
        return None

    def _retrieve(self, post_id: int) -> list[dict[str, Any]]:
        try:
            return _data(self.client.get(f"/v1/{self.customer_id}/publishing/posts/{post_id}"))
        except SproutApiError as exc:
            if exc.status == 404:
                return []
            raise

    # creates

    def _create(self, post: PlannedPost, entry: LedgerEntry) -> None:
        media = self._media.upload_all(post, entry)
        if entry.state == VALIDATED:
            entry.state = MEDIA_UPLOADED
            self._save(entry)
        if entry.state != CREATING:
            entry.state = CREATING
            entry.detail["highest_known_id"] = self._highest_id()
            self._save(entry)
        path = f"/v1/{self.customer_id}/publishing/posts"
        for attempt in range(1, _CREATE_ATTEMPTS + 1):
            try:
                answer = _create_once(self.client, path, post.request_body(media))
            except UnclearAnswer as exc:
                if self._after_unclear_create(post, entry, exc, attempt):
                    return
                continue
            except SproutApiError:
                if attempt == 1:
                    # Refused at the first try: nothing exists, so the row is not unclear.
                    entry.state = MEDIA_UPLOADED
                    self._save(entry)
                raise
            ids = sorted(_post_id(item) for item in _data(answer))
            self._crash.reached("after_create")
            self._record_created(entry, ids)
            self.result.created[post.client_key] = ids
            logger.info("line %d (%s): created drafts %s", post.line, post.client_key, ids)
            return

    def _after_unclear_create(
        self, post: PlannedPost, entry: LedgerEntry, exc: UnclearAnswer, attempt: int
    ) -> bool:
        """Adopt the draft of a create whose answer was lost; False to create again."""
        floor = entry.detail.get("highest_known_id")
        if floor is None and exc.status in _ANSWERED_NOT_DONE and attempt < _CREATE_ATTEMPTS:
            # Nothing to search from; the API documents 500 and 503 as temporary failures
            # to retry, so an answered 500/503 is taken as "not created".
            self._pause_before_create(post, exc, attempt)
            return False
        if floor is None:
            raise _Deferred
        if self._adopt(post, entry, floor + 1, 1):
            return True
        if attempt == _CREATE_ATTEMPTS:
            raise PublishError(
                f"line {post.line} ({post.client_key}): the create got no clear answer "
                f"{attempt} times ({exc.message}); rerun later: the draft is looked up first"
            ) from None
        self._pause_before_create(post, exc, attempt)
        return False

    def _pause_before_create(self, post: PlannedPost, exc: UnclearAnswer, attempt: int) -> None:
        delay = random.uniform(0, 2.0**attempt)
        logger.warning(
            "line %d (%s): create failed (%s), no draft found; creating again in %.1f s",
            post.line,
            post.client_key,
            exc.message,
            delay,
        )
        self._sleep(delay)

    def _record_created(self, entry: LedgerEntry, ids: list[int]) -> None:
        entry.state = CREATED
        entry.detail["publishing_post_ids"] = ids
        self._known_ids.update(ids)
        self._save(entry)

    def _highest_id(self) -> int | None:
        return max(self._known_ids, default=None)

    def _save(self, entry: LedgerEntry) -> None:
        self.ledger.save(entry)
        self._entries[entry.client_key] = entry


def _matches(post: PlannedPost, group: list[dict[str, Any]]) -> bool:
    """Whether a retrieved fan-out group is the draft ``post`` would have created."""
    times: list[str | None] = [_iso(t) for t in post.scheduled_times] or [None]
    expected = {(profile, moment) for profile in post.customer_profile_ids for moment in times}
    found = set()
    for item in group:
        publishing = (item.get("internal") or {}).get("publishing") or {}
        if publishing.get("group_id") != post.group_id:
            return False
        if (publishing.get("text") or None) != (post.text or None):
            return False
        deliveries = publishing.get("deliveries") or [{}]
        moment = _parse_time(deliveries[0].get("scheduled_time"))
        found.add((int(item.get("customer_profile_id", 0)), _iso(moment) if moment else None))
    return found == expected


class _CrashPoints:
    """Ends the process at a named point, for reliability tests (see the module doc)."""

    def __init__(self, spec: str) -> None:
        name, _, number = spec.strip().partition(":")
        self._name = name
        self._number = int(number) if number.isdigit() else 1
        self._seen = 0
        self._lock = threading.Lock()

    def reached(self, name: str, number: int | None = None) -> None:
        if name != self._name:
            return
        with self._lock:
            self._seen += 1
            hit = number == self._number if number is not None else self._seen == self._number
        if hit:
            logger.warning("%s=%s: ending the process now", CRASH_VARIABLE, name)
            logging.shutdown()
            os._exit(137)


# The warehouse table -------------------------------------------------------------------


@dlt.resource(
    name="publishing_posts",
    table_name="publishing_posts",
    primary_key="publishing_post_id",
    write_disposition="merge",
)
def publishing_posts(
    client: SproutClient, ids_by_customer: dict[int, list[int]]
) -> Iterator[list[dict[str, Any]]]:
    """Drafts by ``publishing_post_id``, one row per fanned-out post.

    Merges on the id because drafts are edited in Sprout after they are created. One
    retrieval answers a draft's whole fan-out group, so each group is read once. An id
    that answers 404 (the draft was deleted or published) keeps its last loaded row.
    """
    refreshed_at = pendulum.now("UTC")
    for customer_id, publishing_post_ids in ids_by_customer.items():
        yield from _drafts_of_customer(client, customer_id, publishing_post_ids, refreshed_at)


def _drafts_of_customer(
    client: SproutClient,
    customer_id: int,
    publishing_post_ids: Iterable[int],
    refreshed_at: pendulum.DateTime,
) -> Iterator[list[dict[str, Any]]]:
    seen: set[int] = set()
    for post_id in publishing_post_ids:
        if post_id in seen:
            continue
        try:
            group = _data(client.get(f"/v1/{customer_id}/publishing/posts/{post_id}"))
        except SproutApiError as exc:
            if exc.status != 404:
                raise
            logger.warning("publishing post %d no longer exists in Sprout (404)", post_id)
            seen.add(post_id)
            continue
        rows = [_draft_row(customer_id, item, refreshed_at) for item in group]
        seen.update(row["publishing_post_id"] for row in rows)
        seen.add(post_id)
        if rows:
            yield rows


def _draft_row(
    customer_id: int, item: dict[str, Any], refreshed_at: pendulum.DateTime
) -> dict[str, Any]:
    publishing = dict((item.get("internal") or {}).get("publishing") or {})
    deliveries = publishing.pop("deliveries", None) or [{}]
    if len(deliveries) > 1:
        logger.warning(
            "publishing post %s has %d deliveries; the first is kept",
            publishing.get("publishing_post_id"),
            len(deliveries),
        )
    delivery = deliveries[0]
    return {
        "publishing_post_id": int(publishing.pop("publishing_post_id")),
        "customer_id": customer_id,
        "customer_profile_id": int(item["customer_profile_id"]),
        "profile_guid": item.get("profile_guid"),
        "post_category": item.get("post_category"),
        "post_type": item.get("post_type"),
        "scheduled_time": _pendulum(delivery.get("scheduled_time")),
        "delivery_type": delivery.get("type"),
        "delivery_status": delivery.get("delivery_status"),
        "created_time": _pendulum(publishing.pop("created_time", None)),
        "updated_time": _pendulum(publishing.pop("updated_time", None)),
        **publishing,
        "refreshed_at": refreshed_at,
    }


# Small helpers -------------------------------------------------------------------------


def _data(answer: Any) -> list[dict[str, Any]]:
    if isinstance(answer, dict) and isinstance(answer.get("data"), list):
        return answer["data"]
    return answer if isinstance(answer, list) else []


def _first(path: str, answer: Any) -> dict[str, Any]:
    records = _data(answer)
    if not records:
        raise PublishError(
            f"{path} answered without `data`: rerun, and contact Sprout if it persists"
        )
    return records[0]


def _post_id(item: dict[str, Any]) -> int:
    return int(item["internal"]["publishing"]["publishing_post_id"])


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value).strip().replace("Z", "+00:00")
    # wait_until carries nanoseconds; Python parses at most microseconds.
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _pendulum(value: Any) -> pendulum.DateTime | None:
    moment = _parse_time(value)
    return pendulum.instance(moment).in_timezone("UTC") if moment else None
