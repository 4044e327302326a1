"""Request-body checks, field selection and paging shared by the read endpoints."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

from starlette.requests import Request

from sprout_sandbox.errors import bad_request

RESULT_CAP = 10_000
"""Most results any page-numbered query reaches (the API's performance guardrail)."""


async def json_body(request: Request, where: str) -> dict[str, Any]:
    """The request's JSON object; 400 when it is not valid JSON or not an object."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(
            f"the body of {where} is not valid JSON ({exc}); send a JSON object"
        ) from None
    if not isinstance(body, dict):
        raise bad_request(f"the body of {where} must be a JSON object, not {type(body).__name__}")
    return body


def str_list(body: dict[str, Any], key: str, where: str, required: bool = False) -> list[str]:
    """A list of strings from the body; 400 naming ``key`` if it is missing or mistyped."""
    value = body.get(key)
    if value is None:
        if required:
            raise bad_request(f"{where} needs `{key}`, a list of strings")
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(f"`{key}` of {where} must be a list of strings")
    if required and not value:
        raise bad_request(f"`{key}` of {where} must name at least one entry")
    return value


def integer(body: dict[str, Any], key: str, where: str, default: int, maximum: int) -> int:
    """A positive integer from the body, at most ``maximum``; 400 naming ``key`` otherwise."""
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"`{key}` of {where} must be an integer, got {value!r}")
    if not 1 <= value <= maximum:
        raise bad_request(f"`{key}` of {where} must be between 1 and {maximum}, got {value}")
    return value


def text(body: dict[str, Any], key: str, where: str, default: str) -> str:
    """A string from the body; 400 naming ``key`` if it is not one."""
    value = body.get(key, default)
    if not isinstance(value, str):
        raise bad_request(f"`{key}` of {where} must be a string, got {value!r}")
    return value


def sort_order(
    body: dict[str, Any], where: str, allowed: Sequence[str], default: str
) -> tuple[str, bool]:
    """The sort field and whether it descends, from ``["field:asc|desc"]``."""
    entries = str_list(body, "sort", where) or [default]
    field, _, direction = entries[0].partition(":")
    direction = direction or "asc"
    if field not in allowed or direction not in ("asc", "desc") or len(entries) > 1:
        raise bad_request(
            f"sort {entries!r} of {where} is not supported; use one of "
            + ", ".join(f"{f}:asc, {f}:desc" for f in allowed)
        )
    return field, direction == "desc"


def check_fields(requested: Iterable[str], known: frozenset[str], where: str) -> list[str]:
    """Requested field paths, each known to the endpoint (or a parent of a known one)."""
    paths = list(requested)
    for path in paths:
        if path not in known and not any(k.startswith(path + ".") for k in known):
            raise bad_request(f"unknown field {path!r} for {where}; see the Message Fields table")
    return paths


def project(record: dict[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """The parts of a nested record that the dotted ``paths`` select, in the same nesting.

    Lists of objects are selected element by element (``internal.tags.id`` gives
    ``{"internal": {"tags": [{"id": 1}]}}``). Paths absent from the record are skipped.
    """
    out: dict[str, Any] = {}
    # Deeper paths first: a shallower path then replaces the partial copy whole, so the
    # source record is never written to.
    for path in sorted(set(paths), key=lambda p: -p.count(".")):
        _copy(record, path.split("."), out)
    return out


def _copy(source: dict[str, Any], parts: list[str], target: dict[str, Any]) -> None:
    head, rest = parts[0], parts[1:]
    if head not in source:
        return
    value = source[head]
    if not rest:
        target[head] = value
    elif isinstance(value, dict):
        _copy(value, rest, target.setdefault(head, {}))
    elif isinstance(value, list):
        copies = target.setdefault(head, [{} for _ in value])
        for item, copy in zip(value, copies, strict=False):
            if isinstance(item, dict):
                _copy(item, rest, copy)


def page_numbers(total: int, page: int, limit: int, where: str) -> tuple[int, int]:
    """Offset of the page and the page count; 400 when ``page`` is past the last page."""
    reachable = min(total, RESULT_CAP)
    total_pages = max(1, math.ceil(reachable / limit))
    if page > total_pages:
        raise bad_request(
            f"page {page} of {where} is past the last page ({total_pages}); "
            "stop when current_page equals total_pages"
        )
    return (page - 1) * limit, total_pages


class Cursors:
    """Opaque, signed ``page_cursor`` values bound to the query that produced them."""

    def __init__(self, seed: int) -> None:
        self._key = hashlib.sha256(f"sprout-sandbox-cursor:{seed}".encode()).digest()

    def fingerprint(self, *parts: object) -> str:
        """A short digest of everything that defines a query except its page."""
        text = json.dumps(parts, sort_keys=True, default=str)
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()

    def make(self, query: str, position: list[Any]) -> str:
        """A cursor that resumes ``query`` after ``position``."""
        payload = json.dumps({"q": query, "p": position}, separators=(",", ":")).encode()
        signature = hmac.new(self._key, payload, hashlib.sha256).digest()[:12]
        return _b64(payload) + "." + _b64(signature)

    def read(self, cursor: str, query: str, where: str) -> list[Any]:
        """The position a cursor resumes from; 400 if tampered with or from another query."""
        problem = f"page_cursor of {where} is not valid for this request"
        try:
            payload_text, signature_text = cursor.split(".")
            payload = _unb64(payload_text)
            signature = _unb64(signature_text)
        except ValueError:
            raise bad_request(f"{problem}: it is malformed; start again without it") from None
        expected = hmac.new(self._key, payload, hashlib.sha256).digest()[:12]
        if not hmac.compare_digest(signature, expected):
            raise bad_request(f"{problem}: it was altered; use next_cursor exactly as returned")
        decoded = json.loads(payload)
        if decoded.get("q") != query:
            raise bad_request(
                f"{problem}: it belongs to a query with other filters or sort; "
                "send the same filters, sort and timezone as the first page"
            )
        position: list[Any] = decoded["p"]
        return position


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None
