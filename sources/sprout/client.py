"""HTTP for the Sprout API: auth header, pacing, request budget, retries and paging.

One :class:`SproutClient` serves a whole run. Every attempt, retries included, waits
for the shared :class:`~sources.sprout.pacing.Pacer` and is counted by the
:class:`~sources.sprout.pacing.RequestBudget`; answers are sorted into "retry" (202,
500, 502, 503, dropped connections, bodies that are not JSON), "wait a window" (429),
"renew the token" (401), "split the request" (a 504 that persists, where the caller can
split; otherwise it is retried) and "fail now" (the other 4xx). An answer whose page holds
no ``data`` list is an error, never an empty page. Tokens never reach an exception or a
log line: messages pass through :func:`~sources.sprout.redact.redact`, and httpx errors
are reported by their masked text, not chained. :meth:`SproutClient.send` takes the same
path for bodies that are not JSON (media uploads) and for requests that must not be
repeated blindly (creates).
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

import httpx
import orjson
import pendulum

from sources.sprout.auth import TokenError, TokenProvider
from sources.sprout.pacing import BudgetExceeded, Pacer, RequestBudget
from sources.sprout.redact import redact

__all__ = [
    "ANALYTICS_RESULT_CAP",
    "BudgetExceeded",
    "OverCap",
    "Pacer",
    "QuotaExhausted",
    "RequestBudget",
    "RequestStats",
    "ScopeTooLarge",
    "SproutApiError",
    "SproutClient",
    "TokenError",
    "TokenProvider",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

ANALYTICS_RESULT_CAP = 10_000
"""Page-based analytics results stop here; later results are silently cut off."""
_DEFAULT_PAGE_SIZE = 50
_RETRIED_STATUSES = frozenset({202, 500, 502, 503})
_QUOTA_WINDOWS = 3
_BACKOFF_BASE_SECONDS = 1.0
_BACKOFF_CAP_SECONDS = 60.0
_NO_ANSWER = "no answer"

_HINTS = {
    400: "correct the request body (metrics, fields, filters, dates) or the "
    "`sources.sprout` setting that produced it",
    401: "check `sources.sprout.access_token`, or for an OAuth client "
    "`sources.sprout.client_id`, `sources.sprout.client_secret` and `sources.sprout.token_url`",
    403: "the token may not read this customer, profile, group or topic: check "
    "`sources.sprout.customer_id` and the selected profiles, or the token's permissions",
    404: "no such endpoint: check `sources.sprout.base_url`",
    405: "the endpoint does not take this HTTP method: check `sources.sprout.base_url`",
    415: "the API wants JSON bodies and answers; check that no proxy rewrites the request",
}
_DEFAULT_HINT = "unexpected answer: check `sources.sprout.base_url`"


class SproutApiError(Exception):
    """The API refused a request, or kept failing after every retry.

    Attributes:
        status: the HTTP status, or 0 when no answer arrived.
        method: the HTTP method of the request.
        path: the request path relative to the base URL.
        message: what the server said (masked of secrets).
        hint: what to do about it.
        filters: the ``filters`` of the request body, if any.
    """

    def __init__(
        self,
        status: int,
        method: str,
        path: str,
        message: str,
        *,
        hint: str = "",
        filters: list[str] | None = None,
    ) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.message = redact(message)
        self.hint = redact(hint)
        self.filters = list(filters or [])
        super().__init__(self._text())

    def _text(self) -> str:
        answered = f"answered {self.status}" if self.status else "got no answer"
        text = f"{self.method} {self.path} {answered}: {self.message}"
        if self.hint:
            text += f"; {self.hint}"
        if self.filters:
            text += f" (request filters: {self.filters})"
        return redact(text)

    def __reduce__(self) -> tuple[Any, ...]:
        arguments = (self.status, self.method, self.path, self.message)
        return (_rebuild_error, (type(self), arguments, self.hint, self.filters))


def _rebuild_error(
    kind: type[SproutApiError], arguments: tuple[Any, ...], hint: str, filters: list[str]
) -> SproutApiError:
    return kind(*arguments, hint=hint, filters=filters)


class OverCap(Exception):  # noqa: N818 (a signal, not an error)
    """A posts query matches more results than numbered pages reach (the 10,000 cap)."""


class ScopeTooLarge(SproutApiError):  # noqa: N818 (name agreed with the source)
    """A 504 that persisted: ask again with fewer profiles or a shorter period."""


class QuotaExhausted(SproutApiError):  # noqa: N818 (name agreed with the source)
    """429 answers persisted over several windows: the monthly quota looks used up."""


@dataclass
class RequestStats:
    """What the client did in this run; every attempt counts, retries included.

    Attributes:
        made: attempts sent (or tried to send).
        retried: attempts that repeated an earlier one.
        throttled: 429 answers.
        by_status: attempts per HTTP status (``"no answer"`` for connection failures).
        seconds_waiting: time spent in the pacer and in retry back-off.
    """

    made: int = 0
    retried: int = 0
    throttled: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    seconds_waiting: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count_attempt(self, is_retry: bool, waited: float) -> None:
        """Count one attempt that waited ``waited`` seconds for the pacer."""
        with self._lock:
            self.made += 1
            self.retried += int(is_retry)
            self.seconds_waiting += waited

    def count_answer(self, status: str) -> None:
        """Count one answer by its status."""
        with self._lock:
            self.by_status[status] = self.by_status.get(status, 0) + 1
            self.throttled += int(status == "429")

    def count_wait(self, seconds: float) -> None:
        """Count time spent backing off before a retry."""
        with self._lock:
            self.seconds_waiting += seconds


@dataclass
class _Attempts:
    """The retry state of one logical request."""

    count: int = 0
    retries: int = 0
    gateway_timeouts: int = 0
    throttled_in_a_row: int = 0
    renewed_token: bool = False
    splittable: bool = True
    """Whether the caller can split the request when 504 persists."""
    repeat_unclear: bool = True
    """Whether a request whose outcome is unknown (no answer, 5xx, cut-off body) is resent."""
    accept_202: bool = False
    """Whether a 202 is the answer (a poll) rather than a reason to send again."""
    allow_empty: bool = False
    """Whether a 2xx without a body is an answer (None) rather than a cut-off one."""


@dataclass
class _Answer:
    response: httpx.Response | None
    problem: str
    token: str


class _Retry(Exception):  # noqa: N818 (a signal, not an error)
    """Internal signal: send the request again."""


class SproutClient:
    """Sends requests to the Sprout API at the shared pace and within the budget.

    Args:
        base_url: the API root, e.g. ``https://api.sproutsocial.com``.
        tokens: where the bearer token comes from.
        pacer: the run's pacer, shared with every other client and thread.
        budget: the monthly request budget, or None for no local limit.
        max_retries: retries of one request after 202, 5xx or a failed connection.
        timeout: seconds to wait for one answer.
        max_in_flight: requests of this client running at the same time.
        transport: an httpx transport (tests pass ``httpx.MockTransport``).
        sleep: blocks for the given seconds before a retry; injectable for tests.
        rng: random source for the back-off jitter.
    """

    def __init__(
        self,
        base_url: str,
        tokens: TokenProvider,
        pacer: Pacer,
        budget: RequestBudget | None = None,
        *,
        max_retries: int = 6,
        timeout: float = 120.0,
        max_in_flight: int = 4,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"base_url {base_url!r} is not an http(s) URL: check `sources.sprout.base_url`"
            )
        self.base_url = base_url.rstrip("/")
        self.stats = RequestStats()
        self._tokens = tokens
        self._pacer = pacer
        self._budget = budget
        self._max_retries = max_retries
        self._max_in_flight = max(1, max_in_flight)
        self._slots = threading.BoundedSemaphore(self._max_in_flight)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "Content-Type": "application/json"},
        )

    def __repr__(self) -> str:
        return f"SproutClient(base_url={self.base_url!r}, max_in_flight={self._max_in_flight})"

    def __enter__(self) -> SproutClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def get(self, path: str) -> Any:
        """GET ``path`` and return the parsed JSON answer (a dict, or a list for topics).

        Raises:
            SproutApiError: a 4xx, or a failure that outlasted the retries.
            ScopeTooLarge: a 504 that persisted.
            QuotaExhausted: 429s that persisted.
            BudgetExceeded: the monthly request budget is used up.
        """
        return self._request("GET", path, None, _Attempts(splittable=False))

    def post(self, path: str, body: dict[str, Any], *, splittable: bool = True) -> Any:
        """POST the JSON ``body`` to ``path`` and return the parsed JSON answer.

        Args:
            path: the request path relative to the base URL.
            body: the JSON body.
            splittable: the caller asks again with a smaller scope on :class:`ScopeTooLarge`;
                when False, a 504 is retried like a 503 instead.

        Raises:
            SproutApiError: as for :meth:`get`, and its subclasses.
            BudgetExceeded: the monthly request budget is used up.
        """
        return self._request("POST", path, body, _Attempts(splittable=splittable))

    def send(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        content: Callable[[], Iterable[bytes]] | None = None,
        headers: Mapping[str, str] | None = None,
        repeat_unclear: bool = True,
        accept_202: bool = False,
    ) -> Any:
        """Send any body at the shared pace, within the budget, with token renewal and retries.

        For what :meth:`get` and :meth:`post` cannot send: a streamed body (a multipart
        form, a part of a file), a request that must not be repeated blindly (a create),
        or a poll that answers 202. A 504 is retried like a 503.

        Example:
            ``client.send("POST", path, content=lambda: chunks(file), headers={"Content-Type":
            form_type, "Content-Length": str(size)})`` streams ``file`` at every attempt.

        Args:
            method: the HTTP method.
            path: the request path relative to the base URL.
            json: a JSON body.
            content: makes the body's chunks; called anew for every attempt, so that a retry
                sends the body from its start and a file is read as it goes, never held whole.
            headers: headers that add to or replace the client's JSON ones; with
                ``content``, give ``Content-Type`` and, to avoid a chunked body,
                ``Content-Length``.
            repeat_unclear: False for a request the API may have acted on without the
                answer arriving (a create): no answer, a 5xx or a 2xx with an unreadable body
                then raises :class:`SproutApiError` at once, with ``status`` 0, the 5xx or
                the 2xx; 429 and 401, which change nothing, are still retried.
            accept_202: return a 202's body as the answer instead of sending again.

        Returns:
            The parsed JSON answer, or None for an answer without a body.

        Raises:
            SproutApiError: a 4xx, a failure that outlasted the retries, or an unclear
                outcome under ``repeat_unclear=False``.
            QuotaExhausted: 429s that persisted.
            BudgetExceeded: the monthly request budget is used up.
        """
        attempts = _Attempts(
            splittable=False,
            repeat_unclear=repeat_unclear,
            accept_202=accept_202,
            allow_empty=True,
        )
        return self._request(method, path, json, attempts, content=content, headers=headers)

    def map_in_flight(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """Run ``fn`` on each item, up to ``max_in_flight`` at once, in input order.

        The first exception is raised where its result would have been yielded; the
        calls not yet started are cancelled.
        """
        lookahead = 2 * self._max_in_flight
        with ThreadPoolExecutor(self._max_in_flight, thread_name_prefix="sprout") as pool:
            pending: deque[Future[R]] = deque()
            try:
                for item in items:
                    pending.append(pool.submit(fn, item))
                    if len(pending) >= lookahead:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()

    def pages(
        self, path: str, body: dict[str, Any], *, splittable: bool = True
    ) -> Iterator[list[dict[str, Any]]]:
        """POST ``body`` page by page (``page``/``total_pages``) and yield each page's data.

        Page 1 comes first; when it states ``total_pages``, the other pages are fetched
        concurrently and yielded in order. When ``paging`` is ``{}``, absent, or holds
        only ``current_page``, pages are fetched one by one while they come back full.
        ``splittable`` is passed to :meth:`post`.
        """
        first = self.post(path, {**body, "page": 1}, splittable=splittable)
        data = _data(first, path)
        if data:
            yield data
        total = _paging(first).get("total_pages")
        if not isinstance(total, int):
            yield from self._pages_while_full(path, body, data, splittable)
            return
        self._warn_if_capped(path, total, body)
        if total > 1:
            yield from self.map_in_flight(
                lambda page: _data(
                    self.post(path, {**body, "page": page}, splittable=splittable), path
                ),
                range(2, total + 1),
            )
        logger.info("%s: paging ended after %d pages", path, max(total, 1))

    def cursor_pages(
        self, path: str, body: dict[str, Any], *, splittable: bool = True
    ) -> Iterator[list[dict[str, Any]]]:
        """POST ``body`` following ``paging.next_cursor`` (messages, cases); yield each page.

        Paging ends with the first answer that carries no ``next_cursor``. ``splittable``
        is passed to :meth:`post`.
        """
        request = dict(body)
        seen: set[str] = set()
        for page in itertools.count(1):
            answer = self.post(path, request, splittable=splittable)
            data = _data(answer, path)
            if data:
                yield data
            cursor = _paging(answer).get("next_cursor")
            if not cursor:
                logger.info("%s: paging ended after %d pages", path, page)
                return
            if cursor in seen:
                logger.warning("%s: the API repeated a page cursor; paging stops here", path)
                return
            seen.add(cursor)
            request = {**request, "page_cursor": cursor}

    def guid_walk(
        self, path: str, body: dict[str, Any], limit: int = 100, *, stop_over_cap: bool = False
    ) -> Iterator[list[dict[str, Any]]]:
        """Walk ``analytics/posts`` past the 10,000-result cap by ascending ``guid``.

        Each request sorts by ``guid:asc`` and adds ``guid.gt(<last guid seen>)`` to the
        body's filters; a ``guid.gt(...)`` already there is where the walk starts. The
        walk ends with an empty or short page.

        Raises:
            OverCap: with ``stop_over_cap``, when the first page shows the query reaches
                the cap: the caller splits it into queries that can be read side by side,
                where the walk would go one page at a time.
        """
        request = _walk_request(body, limit)
        filters = [f for f in request.get("filters", []) if not f.startswith("guid.gt(")]
        after = _walk_start(request.get("filters", []))
        for page in itertools.count(1):
            walk_filters = filters if after is None else [f"guid.gt({after})", *filters]
            answer = self.post(path, {**request, "filters": walk_filters})
            data = _data(answer, path)
            total = _paging(answer).get("total_pages") if page == 1 else None
            if stop_over_cap and isinstance(total, int) and total * limit >= ANALYTICS_RESULT_CAP:
                raise OverCap(f"{path}: {total} pages of {limit} reach the cap")
            if data:
                yield data
            if isinstance(total, int) and total * limit < ANALYTICS_RESULT_CAP:
                # Under the cap, numbered pages of the same query cost the same requests
                # (one fewer when the last page is full) and can be in flight at once.
                yield from self._numbered_pages(path, {**request, "filters": walk_filters}, total)
                return
            if len(data) < limit:
                logger.info("%s: guid walk ended after %d pages", path, page)
                return
            after = _last_guid(path, data)

    def _numbered_pages(
        self, path: str, body: dict[str, Any], total: int
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages 2 to ``total`` of ``body``, up to ``max_in_flight`` at once, in order."""
        return self.map_in_flight(
            lambda number: _data(self.post(path, {**body, "page": number}), path),
            range(2, total + 1),
        )

    def _pages_while_full(
        self, path: str, body: dict[str, Any], previous: list[dict[str, Any]], splittable: bool
    ) -> Iterator[list[dict[str, Any]]]:
        limit = int(body.get("limit", _DEFAULT_PAGE_SIZE))
        page = 1
        while previous and len(previous) >= limit:
            page += 1
            try:
                answer = self.post(path, {**body, "page": page}, splittable=splittable)
                data = _data(answer, path)
            except SproutApiError as exc:
                if exc.status != 400:
                    raise
                # Asking past the last page is a 400, and page 1 of the same body was
                # accepted, so this 400 marks the end.
                logger.info("%s: page %d is past the last page; paging ended", path, page)
                return
            if data == previous:
                logger.info(
                    "%s: page %d repeats page %d; the endpoint does not page", path, page, page - 1
                )
                return
            if data:
                yield data
            previous = data
        logger.info("%s: paging ended after %d pages", path, page)

    def _warn_if_capped(self, path: str, total_pages: int, body: dict[str, Any]) -> None:
        limit = int(body.get("limit", _DEFAULT_PAGE_SIZE))
        if total_pages * limit >= ANALYTICS_RESULT_CAP:
            logger.warning(
                "%s: %d pages of %d reach the API's cap of %d results; later results are "
                "cut off unless the query walks on by guid",
                path,
                total_pages,
                limit,
                ANALYTICS_RESULT_CAP,
            )

    def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        attempts: _Attempts,
        *,
        content: Callable[[], Iterable[bytes]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        while True:
            stream = content() if content is not None else None
            answer = self._send(method, path, body, attempts.count > 0, stream, headers)
            attempts.count += 1
            try:
                return self._judge(method, path, body, answer, attempts)
            except _Retry:
                continue

    def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        is_retry: bool,
        content: Iterable[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> _Answer:
        if self._budget is not None:
            self._budget.spend()
        with self._slots:
            waited = self._pacer.acquire()
            token = self._tokens.token()
            self.stats.count_attempt(is_retry, waited or 0.0)
            started = time.monotonic()
            try:
                response = self._http.request(
                    method,
                    path,
                    json=body,
                    content=content,
                    headers={**(headers or {}), "Authorization": f"Bearer {token}"},
                )
            except httpx.RequestError as exc:
                problem = redact(f"{type(exc).__name__}: {exc}")
                self.stats.count_answer(_NO_ANSWER)
                logger.debug("%s %s: %s", method, path, problem)
                return _Answer(None, problem, token)
        elapsed_ms = (time.monotonic() - started) * 1000
        self.stats.count_answer(str(response.status_code))
        logger.debug("%s %s -> %d in %.0f ms", method, path, response.status_code, elapsed_ms)
        return _Answer(response, "", token)

    def _judge(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        answer: _Answer,
        attempts: _Attempts,
    ) -> Any:
        response = answer.response
        if response is None:
            self._back_off(method, path, body, attempts, 0, answer.problem)
        status = response.status_code
        if status != 429:
            attempts.throttled_in_a_row = 0
        if 200 <= status < 300 and (status != 202 or attempts.accept_202):
            return self._parse(method, path, body, response, attempts)
        if status in _RETRIED_STATUSES:
            reason = "not ready yet (202)" if status == 202 else _server_message(response)
            self._back_off(method, path, body, attempts, status, reason)
        if status == 504:
            self._gateway_timeout(method, path, body, response, attempts)
        if status == 429:
            self._throttled(method, path, body, response, attempts)
        if status == 401:
            self._unauthorized(method, path, body, response, answer.token, attempts)
        raise SproutApiError(
            status,
            method,
            path,
            _server_message(response),
            hint=_HINTS.get(status, _DEFAULT_HINT),
            filters=_filters(body),
        )

    def _parse(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        response: httpx.Response,
        attempts: _Attempts,
    ) -> Any:
        if response.status_code == 204 or (attempts.allow_empty and not response.content):
            return None
        try:
            # orjson: a year of posts is gigabytes of JSON, parsed in half the time.
            return orjson.loads(response.content)
        except ValueError:
            # A truncated body or a proxy's HTML error page under a 200.
            reason = "the answer is not valid JSON (truncated, or an HTML error page)"
            self._back_off(method, path, body, attempts, response.status_code, reason)

    def _back_off(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        attempts: _Attempts,
        status: int,
        reason: str,
    ) -> NoReturn:
        """Sleep before a retry, or raise once ``max_retries`` retries are spent."""
        if not attempts.repeat_unclear:
            raise SproutApiError(
                status,
                method,
                path,
                reason,
                hint="the API may have acted on the request; look its outcome up before "
                "sending it again",
                filters=_filters(body),
            )
        if attempts.retries >= self._max_retries:
            raise SproutApiError(
                status,
                method,
                path,
                f"{reason} ({attempts.retries + 1} attempts)",
                hint="the API kept failing; what was loaded is kept, rerun later, and "
                "contact Sprout support if it persists",
                filters=_filters(body),
            )
        attempts.retries += 1
        ceiling = min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2 ** (attempts.retries - 1))
        delay = self._rng.uniform(0, ceiling)
        logger.warning(
            "%s %s: %s; retry %d of %d in %.1f s",
            method,
            path,
            reason,
            attempts.retries,
            self._max_retries,
            delay,
        )
        self.stats.count_wait(delay)
        self._sleep(delay)
        raise _Retry

    def _gateway_timeout(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        response: httpx.Response,
        attempts: _Attempts,
    ) -> NoReturn:
        attempts.gateway_timeouts += 1
        if not attempts.splittable:
            # Nothing smaller to ask for: the 504 can only be a slow moment of the API.
            self._back_off(method, path, body, attempts, 504, "gateway timeout (504)")
        if attempts.gateway_timeouts == 1 and attempts.retries < self._max_retries:
            self._back_off(method, path, body, attempts, 504, "gateway timeout (504)")
        logger.info("%s %s: 504 persisted; the request must be split", method, path)
        raise ScopeTooLarge(
            504,
            method,
            path,
            _server_message(response),
            hint="the request covers too much to answer in time: split it into fewer "
            "profiles or a shorter period",
            filters=_filters(body),
        )

    def _throttled(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        response: httpx.Response,
        attempts: _Attempts,
    ) -> NoReturn:
        attempts.throttled_in_a_row += 1
        if attempts.throttled_in_a_row >= _QUOTA_WINDOWS:
            resets = pendulum.now("UTC").start_of("month").add(months=1).to_date_string()
            raise QuotaExhausted(
                429,
                method,
                path,
                _server_message(response),
                hint=f"429 in {_QUOTA_WINDOWS} windows in a row: the monthly request quota "
                "of the Sprout account looks exhausted (other clients of the same account "
                f"count too); what was loaded so far is kept; rerun after {resets} (UTC), "
                "when the quota resets",
                filters=_filters(body),
            )
        logger.warning(
            "%s %s answered 429 (%s); no request starts for a minute",
            method,
            path,
            _server_message(response),
        )
        self._pacer.back_off()
        raise _Retry

    def _unauthorized(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        response: httpx.Response,
        token: str,
        attempts: _Attempts,
    ) -> None:
        if attempts.renewed_token:
            return
        try:
            self._tokens.invalidate(token)
        except TokenError as exc:
            raise SproutApiError(
                401, method, path, _server_message(response), hint=str(exc), filters=_filters(body)
            ) from None
        attempts.renewed_token = True
        logger.warning("%s %s answered 401; renewing the token and retrying once", method, path)
        raise _Retry


def _data(answer: Any, path: str) -> list[dict[str, Any]]:
    """The records of an answer: ``data`` of the envelope, a bare array, or none for a 204.

    Raises:
        SproutApiError: the answer holds no ``data`` list; taking it as empty would lose
            its records without a word.
    """
    if answer is None or isinstance(answer, list):
        return answer or []
    if isinstance(answer, dict) and isinstance(answer.get("data"), list):
        return answer["data"]
    raise SproutApiError(
        200,
        "POST",
        path,
        "the answer has no `data` list of records",
        hint="what was loaded is kept; rerun later, and contact Sprout support if it persists",
    )


def _paging(answer: Any) -> dict[str, Any]:
    if isinstance(answer, dict) and isinstance(answer.get("paging"), dict):
        return answer["paging"]
    return {}


def _filters(body: dict[str, Any] | None) -> list[str]:
    filters = (body or {}).get("filters")
    return [str(f) for f in filters] if isinstance(filters, list) else []


def _server_message(response: httpx.Response) -> str:
    """The server's own words: ``error`` of the API's envelope, or the gateway's ``message``."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("error", "message"):
            if body.get(key):
                return redact(str(body[key]))
    text = " ".join(response.text.split())[:200]
    return redact(text or response.reason_phrase or f"status {response.status_code}")


def _walk_request(body: dict[str, Any], limit: int) -> dict[str, Any]:
    request = {key: value for key, value in body.items() if key != "page"}
    request.update(sort=["guid:asc"], limit=limit)
    fields = request.get("fields")
    if isinstance(fields, list) and "guid" not in fields:
        request["fields"] = [*fields, "guid"]
    return request


def _walk_start(filters: list[str]) -> str | None:
    for item in filters:
        if item.startswith("guid.gt(") and item.endswith(")"):
            return item[len("guid.gt(") : -1]
    return None


def _last_guid(path: str, data: list[dict[str, Any]]) -> str:
    guid = data[-1].get("guid")
    if guid is None:
        raise ValueError(f"{path}: the answer has no `guid`, so the guid walk cannot go on")
    return str(guid)
