"""Media uploads: simple upload, multipart submissions and link downloads.

Request bodies are streamed through a ``multipart/form-data`` parser that keeps only
the first bytes of the file (to identify it) and a byte count, so memory stays small
whatever the upload's size. The media type is sniffed from magic bytes, never taken
from the file name or the part's declared type.

Sandbox limitations:

- The sandbox has no internet access. A ``media_url`` is accepted when it is an
  http(s) URL whose file extension names a supported type; its content is not fetched
  but stands in as a file of that type with a size derived from the URL.
- Processing of a completed submission takes ``media_processing_min_seconds`` plus
  ``media_processing_seconds_per_mib`` per MiB, on the wall clock, and ``wait_until``
  is a wall-clock timestamp; expiry (24 hours) runs on the sandbox clock.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sprout_sandbox._asgi import iso_utc, sandbox_now
from sprout_sandbox.config import SandboxConfig
from sprout_sandbox.errors import ApiError, bad_request

MIB = 1024 * 1024
SIMPLE_UPLOAD_LIMIT = 50 * MIB
PART_SIZE = 5 * MIB
RETENTION = timedelta(hours=24)
MAX_PARTS = 10_000
_HEAD_BYTES = 64
_TEXT_FIELD_LIMIT = 8192

_EXTENSIONS = {
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "heic": "image/heic",
    "heif": "image/heif",
    "heifs": "image/heic-sequence",
    "avif": "image/avif",
    "avi": "video/x-msvideo",
    "mov": "video/quicktime",
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "mpg": "video/mpeg",
    "mpeg": "video/mpeg",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "srt": "application/x-subrip",
}
_FTYP_BRANDS = {
    b"qt  ": "video/quicktime",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"hevc": "image/heic-sequence",
    b"hevx": "image/heic-sequence",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"avif": "image/avif",
    b"avis": "image/avif",
}


def sniff(head: bytes) -> str | None:
    """The media type identified by the first bytes of a file, or None if unknown."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12], "video/mp4")
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "video/mpeg"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head else "video/x-matroska"
    if _looks_like_subrip(head):
        return "application/x-subrip"
    return None


def _looks_like_subrip(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    first_line = text.split(b"\n", 1)[0].strip()
    return first_line.isdigit() and b"-->" in text


def media_kind(mime: str) -> str:
    """How a post refers to media of this type: ``PHOTO``, ``VIDEO`` or ``SUBTITLE``."""
    if mime.startswith("image/"):
        return "PHOTO"
    if mime.startswith("video/"):
        return "VIDEO"
    return "SUBTITLE"


# --- streamed multipart/form-data -------------------------------------------------------


@dataclass
class _Part:
    name: str
    size: int = 0
    head: bytes = b""
    text: bytearray = field(default_factory=bytearray)


@dataclass
class MediaForm:
    """What an upload request carried: the file's size and first bytes, or a URL."""

    file_size: int | None = None
    head: bytes = b""
    media_url: str | None = None


class _FormReader:
    """Callbacks for python-multipart that keep only sizes, heads and short texts."""

    def __init__(self, file_field: str | None) -> None:
        self.file_field = file_field
        self.parts: list[_Part] = []
        self._header_name = b""
        self._header_value = b""
        self._current: _Part | None = None

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._begin,
            "on_header_field": self._field,
            "on_header_value": self._value,
            "on_header_end": self._header_end,
            "on_part_data": self._data,
        }

    def _begin(self) -> None:
        self._current = _Part(name="")
        self.parts.append(self._current)

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition" and self._current is not None:
            _, options = parse_options_header(self._header_value)
            self._current.name = options.get(b"name", b"").decode("utf-8", "replace")
        self._header_name, self._header_value = b"", b""

    def _data(self, data: bytes, start: int, end: int) -> None:
        part = self._current
        if part is None:
            return
        chunk = data[start:end]
        part.size += len(chunk)
        if len(part.head) < _HEAD_BYTES:
            part.head += chunk[: _HEAD_BYTES - len(part.head)]
        if part.name != self.file_field and len(part.text) < _TEXT_FIELD_LIMIT:
            part.text += chunk[: _TEXT_FIELD_LIMIT - len(part.text)]


async def read_form(request: Request, file_field: str | None = "media") -> MediaForm:
    """Stream a ``multipart/form-data`` body, keeping only what identifies the media.

    Args:
        request: the upload request.
        file_field: name of the file part; None takes the first part whatever its name
            (continuation parts need no ``media`` disposition).

    Raises:
        ApiError: 400 when the body is not multipart/form-data or is malformed.
    """
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise bad_request("Send the upload as multipart/form-data with a boundary.")
    reader = _FormReader(file_field)
    parser = MultipartParser(boundary, reader.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except Exception as exc:
        raise bad_request(f"The multipart/form-data body is malformed: {exc}.") from None
    return _form_of(reader, file_field)


def _form_of(reader: _FormReader, file_field: str | None) -> MediaForm:
    form = MediaForm()
    for part in reader.parts:
        is_file = part.name == file_field or (file_field is None and form.file_size is None)
        if is_file and part.name != "media_url":
            form.file_size, form.head = part.size, part.head
        elif part.name == "media_url":
            form.media_url = part.text.decode("utf-8", "replace").strip()
    return form


# --- link downloads ------------------------------------------------------------------


def link_media(url: str) -> tuple[str, int]:
    """The stand-in content of a ``media_url``: its media type and size in bytes.

    Raises:
        ApiError: 400 for a URL that is not http(s) or whose type cannot be identified.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise bad_request(f"media_url {url!r} must be an http:// or https:// URL.")
    extension = parts.path.rsplit("/", 1)[-1].rpartition(".")[2].lower()
    mime = _EXTENSIONS.get(extension) if "." in parts.path.rsplit("/", 1)[-1] else None
    if mime is None:
        raise bad_request(
            f"The media at {url} is not a supported media type (the sandbox identifies "
            "linked media by the file extension of the URL)."
        )
    seed = int.from_bytes(hashlib.sha256(url.encode()).digest()[:4], "big")
    low, high = (2 * MIB, 30 * MIB) if mime.startswith("video/") else (50_000, 2 * MIB)
    return mime, low + seed % (high - low)


# --- the store -------------------------------------------------------------------------


@dataclass
class _Media:
    customer_id: int
    mime: str
    size: int
    expires_at: datetime


@dataclass
class _Submission:
    submission_id: str
    customer_id: int
    mime: str
    expires_at: datetime
    parts: dict[int, int] = field(default_factory=dict)
    link_size: int | None = None
    ready_at: float | None = None
    wait_until: datetime | None = None
    media_id: str | None = None


class MediaStore:
    """Uploaded media and multipart submissions, in memory."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.lock = threading.Lock()
        self.media: dict[str, _Media] = {}
        self.submissions: dict[str, _Submission] = {}

    def add_media(self, customer_id: int, mime: str, size: int, expires_at: datetime) -> str:
        """Store a processed media file; return its ``media_id``."""
        media_id = str(uuid.uuid4())
        with self.lock:
            self.media[media_id] = _Media(customer_id, mime, size, expires_at)
        return media_id

    def kind_of(self, customer_id: int, media_id: str, now: datetime) -> str | None:
        """``PHOTO``/``VIDEO``/... of a usable media id of the customer, else None."""
        with self.lock:
            item = self.media.get(media_id)
        if item is None or item.customer_id != customer_id or now >= item.expires_at:
            return None
        return media_kind(item.mime)

    def count(self) -> int:
        """How many media files have been stored."""
        with self.lock:
            return len(self.media)

    def processing_seconds(self, size: int) -> float:
        """How long processing a file of ``size`` bytes takes, in wall-clock seconds."""
        per_mib = self.config.media_processing_seconds_per_mib
        return self.config.media_processing_min_seconds + per_mib * size / MIB


# --- endpoints -------------------------------------------------------------------------


def routes() -> list[BaseRoute]:
    """The four media endpoints."""
    base = "/v1/{customer_id:int}/media"
    return [
        Route(f"{base}/", simple_upload, methods=["POST"]),
        Route(f"{base}/submission", start_submission, methods=["POST"]),
        Route(f"{base}/submission/{{submission_id}}/part/{{part}}", upload_part, methods=["POST"]),
        Route(f"{base}/submission/{{submission_id}}", complete_submission, methods=["GET"]),
    ]


def _answer(item: dict[str, Any], status: int = 200) -> Response:
    return JSONResponse({"data": [item]}, status_code=status)


def _identify(
    form: MediaForm, limit: int, what: str, status: int = 400, advice: str = "."
) -> tuple[str, int]:
    if form.media_url is not None and form.file_size is None:
        return link_media(form.media_url)
    if form.file_size is None:
        raise bad_request("The form needs a `media` file part or a `media_url` text part.")
    if form.file_size == 0:
        raise bad_request("The `media` part is empty.")
    if form.file_size > limit:
        raise ApiError(
            status,
            f"The {what} is {form.file_size} bytes; the limit is {limit} bytes "
            f"({limit // MIB} MiB){advice}",
        )
    mime = sniff(form.head)
    if mime is None:
        raise bad_request(
            "The media content is not a supported media type (identified by its first bytes)."
        )
    return mime, form.file_size


async def simple_upload(request: Request) -> Response:
    """``POST /v1/<customer ID>/media/``: upload up to 50 MiB, or a link, in one request."""
    customer_id: int = request.path_params["customer_id"]
    form = await read_form(request)
    advice = ": upload larger files with POST /v1/<customer ID>/media/submission."
    mime, size = _identify(form, SIMPLE_UPLOAD_LIMIT, "file", status=413, advice=advice)
    store: MediaStore = request.app.state.media
    expires = sandbox_now(request.app.state.world) + RETENTION
    media_id = store.add_media(customer_id, mime, size, expires)
    return _answer({"media_id": media_id, "expiration_time": iso_utc(expires)})


async def start_submission(request: Request) -> Response:
    """``POST /v1/<customer ID>/media/submission``: part 1 of a file, or a link."""
    customer_id: int = request.path_params["customer_id"]
    form = await read_form(request)
    mime, size = _identify(form, PART_SIZE, "part 1")
    now = sandbox_now(request.app.state.world)
    submission = _Submission(str(uuid.uuid4()), customer_id, mime, now + RETENTION)
    if form.file_size is None:
        submission.link_size = size
    else:
        submission.parts[1] = size
    store: MediaStore = request.app.state.media
    with store.lock:
        store.submissions[submission.submission_id] = submission
    return _answer({"submission_id": submission.submission_id})


def _open_submission(request: Request) -> _Submission:
    """The submission of the path, refused when unknown, expired or already completed."""
    store: MediaStore = request.app.state.media
    submission_id = request.path_params["submission_id"]
    with store.lock:
        submission = store.submissions.get(submission_id)
    if submission is None or submission.customer_id != request.path_params["customer_id"]:
        raise ApiError(404, f"No media submission {submission_id} exists for this customer.")
    if sandbox_now(request.app.state.world) >= submission.expires_at:
        raise bad_request(
            f"Media submission {submission_id} expired at {iso_utc(submission.expires_at)}: "
            "start a new upload."
        )
    return submission


async def upload_part(request: Request) -> Response:
    """``POST .../media/submission/<id>/part/<n>``: parts 2, 3, ... in any order."""
    submission = _open_submission(request)
    raw = request.path_params["part"]
    if not raw.isdigit() or not 2 <= int(raw) <= MAX_PARTS:
        raise bad_request(f"Part number {raw!r} must be a whole number from 2 to {MAX_PARTS}.")
    form = await read_form(request, file_field=None)
    if submission.link_size is not None:
        raise bad_request("This submission downloads a media_url; it takes no parts.")
    if not form.file_size:
        raise bad_request(f"Part {raw} is empty: every part needs at least one byte.")
    if form.file_size > PART_SIZE:
        raise bad_request(f"Part {raw} is {form.file_size} bytes; parts are {PART_SIZE} bytes.")
    store: MediaStore = request.app.state.media
    with store.lock:
        _store_part(submission, int(raw), form.file_size)
    return Response(status_code=200)


def _store_part(submission: _Submission, number: int, size: int) -> None:
    if submission.ready_at is not None:
        raise bad_request("The submission was already completed; parts can no longer change.")
    parts = {**submission.parts, number: size}
    last = max(parts)
    short = [n for n, n_size in sorted(parts.items()) if n < last and n_size != PART_SIZE]
    if short:
        raise bad_request(
            f"Part {short[0]} is {parts[short[0]]} bytes but is not the last part: every part "
            f"except the last must be exactly {PART_SIZE} bytes."
        )
    submission.parts[number] = size


async def complete_submission(request: Request) -> Response:
    """``GET .../media/submission/<id>``: 202 with ``wait_until``, then the media id."""
    submission = _open_submission(request)
    store: MediaStore = request.app.state.media
    with store.lock:
        if submission.ready_at is None:
            size = _total_size(submission)
            seconds = store.processing_seconds(size)
            submission.ready_at = time.monotonic() + seconds
            submission.wait_until = datetime.now(UTC) + timedelta(seconds=seconds)
        ready = time.monotonic() >= submission.ready_at
    if not ready:
        assert submission.wait_until is not None
        wait_until = submission.wait_until.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return _answer({"submission_id": submission.submission_id, "wait_until": wait_until}, 202)
    if submission.media_id is None:
        submission.media_id = store.add_media(
            submission.customer_id, submission.mime, _total_size(submission), submission.expires_at
        )
    return _answer(
        {"media_id": submission.media_id, "expiration_time": iso_utc(submission.expires_at)}
    )


def _total_size(submission: _Submission) -> int:
    if submission.link_size is not None:
        return submission.link_size
    numbers = sorted(submission.parts)
    missing = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))
    if missing:
        raise bad_request(f"Part {missing[0]} was never uploaded: upload it, then complete.")
    return sum(submission.parts.values())
