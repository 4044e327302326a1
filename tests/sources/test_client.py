"""The HTTP client: exact requests, retries, 429 and 504 handling, paging, masking."""

from __future__ import annotations

import json
import logging
import pickle
import threading
import traceback
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from sources.sprout.client import (
    OverCap,
    Pacer,
    QuotaExhausted,
    RequestBudget,
    ScopeTooLarge,
    SproutApiError,
    SproutClient,
    TokenProvider,
)
from sources.sprout.pacing import BudgetExceeded

TOKEN = "api-token-for-client-tests-7c1e"
BASE_URL = "http://127.0.0.1:9"
POSTS = "/v1/1/analytics/posts"
FILTERS = ["customer_profile_id.eq(11, 12)", "created_time.in(2026-11-01..2026-11-30T23:59:59)"]

Handler = Callable[[httpx.Request], httpx.Response]


class FakeTime:
    """One clock for the pacer and a recorder for the client's retry sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.retry_sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def retry_sleep(self, seconds: float) -> None:
        self.retry_sleeps.append(seconds)


def make_client(
    handler: Handler,
    *,
    tokens: TokenProvider | None = None,
    budget: RequestBudget | None = None,
    max_retries: int = 6,
    max_in_flight: int = 4,
    fake: FakeTime | None = None,
) -> SproutClient:
    fake = fake or FakeTime()
    return SproutClient(
        BASE_URL,
        tokens or TokenProvider(access_token=TOKEN),
        Pacer(60, clock=fake, sleep=fake.sleep),
        budget,
        max_retries=max_retries,
        max_in_flight=max_in_flight,
        transport=httpx.MockTransport(handler),
        sleep=fake.retry_sleep,
    )


def scripted(*answers: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler that plays the answers in order (the last one repeats)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[min(len(seen), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, seen


def ok(payload: Any) -> httpx.Response:
    return httpx.Response(200, json=payload)


def test_get_sends_the_documented_headers_and_returns_the_body() -> None:
    handler, seen = scripted(ok({"data": [{"customer_id": 1, "name": "Acme"}]}))
    client = make_client(handler)

    assert client.get("/v1/metadata/client") == {"data": [{"customer_id": 1, "name": "Acme"}]}

    (request,) = seen
    assert (request.method, str(request.url)) == ("GET", f"{BASE_URL}/v1/metadata/client")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/json"
    assert client.stats.made == 1 and client.stats.by_status == {"200": 1}


def test_post_sends_the_json_body() -> None:
    handler, seen = scripted(ok([{"id": 5, "name": "topic"}]))
    client = make_client(handler)
    body = {"filters": FILTERS, "fields": ["guid", "created_time"], "limit": 100}

    assert client.post(POSTS, body) == [{"id": 5, "name": "topic"}]
    assert seen[0].method == "POST" and seen[0].url.path == POSTS
    assert json.loads(seen[0].content) == body


TRANSIENT = [
    httpx.Response(500, json={"error": "Internal error"}),
    httpx.Response(502, text="<html>Bad gateway</html>"),
    httpx.Response(503, json={"error": "Overloaded"}),
    httpx.Response(202, json={}),
    httpx.ConnectError("connection refused"),
    httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
    httpx.ReadTimeout("timed out"),
    httpx.Response(200, text='{"data": [{"guid": "1"'),
    httpx.Response(200, text="<html><body>Service error</body></html>"),
]
TRANSIENT_IDS = [
    "500",
    "502",
    "503",
    "202_not_ready",
    "connection_refused",
    "dropped_connection",
    "read_timeout",
    "truncated_body",
    "html_page",
]


@pytest.mark.parametrize("first", TRANSIENT, ids=TRANSIENT_IDS)
def test_transient_failures_are_retried_after_a_jittered_back_off(first: Any) -> None:
    handler, seen = scripted(first, ok({"data": []}))
    fake = FakeTime()
    client = make_client(handler, fake=fake)

    assert client.post(POSTS, {"filters": FILTERS}) == {"data": []}

    assert len(seen) == 2
    assert json.loads(seen[1].content) == {"filters": FILTERS}
    assert (client.stats.made, client.stats.retried) == (2, 1)
    assert len(fake.retry_sleeps) == 1 and 0.0 <= fake.retry_sleeps[0] <= 1.0


def test_retries_stop_at_max_retries_with_exponential_ceilings() -> None:
    handler, seen = scripted(httpx.Response(503, json={"error": "Service overloaded"}))
    fake = FakeTime()
    client = make_client(handler, max_retries=3, fake=fake)

    with pytest.raises(SproutApiError) as raised:
        client.get("/v1/1/metadata/customer")

    assert len(seen) == 4
    assert (client.stats.made, client.stats.retried) == (4, 3)
    assert all(0 <= s <= c for c, s in zip([1, 2, 4], fake.retry_sleeps, strict=True))
    assert raised.value.status == 503
    assert str(raised.value).startswith(
        "GET /v1/1/metadata/customer answered 503: Service overloaded (4 attempts); "
    )
    assert "rerun later" in str(raised.value)


def test_connection_failures_that_persist_say_no_answer_came() -> None:
    handler, _ = scripted(httpx.ConnectError("connection refused"))
    client = make_client(handler, max_retries=1)

    with pytest.raises(SproutApiError) as raised:
        client.get("/v1/metadata/client")

    assert raised.value.status == 0
    assert "GET /v1/metadata/client got no answer: ConnectError: connection refused" in str(
        raised.value
    )
    assert client.stats.by_status == {"no answer": 2}


def test_a_504_is_retried_once() -> None:
    handler, seen = scripted(httpx.Response(504), ok({"data": [{"guid": "1"}]}))
    client = make_client(handler)

    assert client.post(POSTS, {"filters": FILTERS}) == {"data": [{"guid": "1"}]}
    assert len(seen) == 2


def test_a_504_that_persists_raises_scope_too_large() -> None:
    handler, seen = scripted(httpx.Response(504, json={"error": "Gateway Timeout"}))
    client = make_client(handler)

    with pytest.raises(ScopeTooLarge) as raised:
        client.post(POSTS, {"filters": FILTERS})

    assert len(seen) == 2
    assert raised.value.status == 504 and raised.value.filters == FILTERS
    assert "split it into fewer profiles or a shorter period" in str(raised.value)


def test_a_429_waits_out_a_full_window_then_retries() -> None:
    handler, seen = scripted(httpx.Response(429, json={"error": "Too many requests"}), ok({}))
    fake = FakeTime()
    client = make_client(handler, fake=fake)

    assert client.get("/v1/metadata/client") == {}

    assert len(seen) == 2
    assert 60.0 <= fake.now <= 65.0
    assert fake.retry_sleeps == []
    assert (client.stats.throttled, client.stats.retried) == (1, 1)


def test_429s_that_persist_raise_quota_exhausted() -> None:
    handler, seen = scripted(httpx.Response(429, json={"error": "Rate limit exceeded"}))
    fake = FakeTime()
    client = make_client(handler, fake=fake)

    with pytest.raises(QuotaExhausted) as raised:
        client.post(POSTS, {"filters": FILTERS})

    assert len(seen) == 3
    assert fake.now >= 120.0
    message = str(raised.value)
    assert message.startswith(f"POST {POSTS} answered 429: Rate limit exceeded; ")
    assert "monthly request quota of the Sprout account looks exhausted" in message
    assert "what was loaded so far is kept" in message
    assert "rerun after " in message


REFUSALS = [
    (400, {"error": "Unknown metric: lifetime.nope"}, "Unknown metric: lifetime.nope", "body"),
    (
        403,
        {"error": "Forbidden customer_profile_id 99"},
        "Forbidden customer_profile_id 99",
        "customer_id",
    ),
    (404, {"code": 404, "message": "HTTP 404 Not Found"}, "HTTP 404 Not Found", "base_url"),
    (
        405,
        {"code": 405, "message": "HTTP 405 Method Not Allowed"},
        "HTTP 405 Method Not Allowed",
        "method",
    ),
    (415, {"error": "Unsupported media type"}, "Unsupported media type", "JSON"),
]


@pytest.mark.parametrize(
    ("status", "payload", "server_says", "hint_word"),
    REFUSALS,
    ids=["400_bad_request", "403_forbidden", "404_gateway_body", "405_gateway_body", "415"],
)
def test_refusals_fail_at_once_with_the_request_and_the_server_message(
    status: int, payload: dict[str, Any], server_says: str, hint_word: str
) -> None:
    handler, seen = scripted(httpx.Response(status, json=payload))
    client = make_client(handler)

    with pytest.raises(SproutApiError) as raised:
        client.post(POSTS, {"filters": FILTERS, "metrics": ["lifetime.nope"]})

    error = raised.value
    assert len(seen) == 1
    assert (error.status, error.method, error.path, error.message) == (
        status,
        "POST",
        POSTS,
        server_says,
    )
    assert str(error).startswith(f"POST {POSTS} answered {status}: {server_says}; ")
    assert hint_word in error.hint
    assert str(FILTERS) in str(error)


def test_a_server_echoing_the_token_sees_it_masked() -> None:
    handler, _ = scripted(httpx.Response(400, json={"error": f"Bad header Bearer {TOKEN}"}))
    client = make_client(handler)

    with pytest.raises(SproutApiError) as raised:
        client.get("/v1/metadata/client")

    assert str(raised.value).startswith(
        "GET /v1/metadata/client answered 400: Bad header Bearer ***;"
    )


class OAuthWorld:
    """A token endpoint that issues jwt-1, jwt-2, ... and an API that accepts some of them."""

    def __init__(self, accepted: set[str]) -> None:
        self.accepted = accepted
        self.issued = 0
        self.api_tokens: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/v1/token":
            form = parse_qs(request.content.decode())
            assert form["grant_type"] == ["client_credentials"]
            self.issued += 1
            return ok({"access_token": f"jwt-{self.issued}", "expires_in": 3600})
        token = request.headers["Authorization"].removeprefix("Bearer ")
        self.api_tokens.append(token)
        if token not in self.accepted:
            return httpx.Response(401, json={"error": "Invalid or expired token"})
        return ok({"data": []})

    def tokens(self) -> TokenProvider:
        return TokenProvider(
            client_id="client-1",
            client_secret="oauth-secret-for-client-tests",
            token_url=f"{BASE_URL}/oauth2/v1/token",
            http=httpx.Client(transport=httpx.MockTransport(self)),
        )


def test_a_401_renews_the_oauth_token_and_retries_once() -> None:
    world = OAuthWorld(accepted={"jwt-2"})
    client = make_client(world, tokens=world.tokens())

    assert client.get("/v1/metadata/client") == {"data": []}
    assert world.api_tokens == ["jwt-1", "jwt-2"]
    assert (client.stats.made, client.stats.retried) == (2, 1)


def test_a_second_401_names_the_oauth_settings() -> None:
    world = OAuthWorld(accepted=set())
    client = make_client(world, tokens=world.tokens())

    with pytest.raises(SproutApiError) as raised:
        client.get("/v1/metadata/client")

    assert world.api_tokens == ["jwt-1", "jwt-2"]
    assert raised.value.status == 401
    assert "`sources.sprout.client_id`, `sources.sprout.client_secret`" in str(raised.value)


def test_a_401_with_a_static_token_fails_at_once_naming_the_setting() -> None:
    handler, seen = scripted(httpx.Response(401, json={"error": "Unauthorized"}))
    client = make_client(handler)

    with pytest.raises(SproutApiError) as raised:
        client.get("/v1/metadata/client")

    assert len(seen) == 1
    assert str(raised.value).startswith("GET /v1/metadata/client answered 401: Unauthorized; ")
    assert "`sources.sprout.access_token`" in str(raised.value)


def test_every_attempt_is_spent_from_the_budget() -> None:
    handler, seen = scripted(httpx.Response(503), ok({}))
    counts: dict[str, int] = {}
    client = make_client(handler, budget=RequestBudget(2, counts))

    client.get("/v1/metadata/client")
    with pytest.raises(BudgetExceeded):
        client.get("/v1/metadata/client")

    assert len(seen) == 2
    assert sum(counts.values()) == 2


class PagedPosts:
    """``analytics/posts`` with page/total_pages paging over ``count`` posts."""

    def __init__(self, count: int, paging: str = "total_pages", cap: int = 10_000) -> None:
        self.guids = [f"g{number:06d}" for number in range(1, count + 1)]
        self.paging = paging
        self.cap = cap
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        with self._lock:
            self.bodies.append(body)
        limit = body.get("limit", 50)
        after = [f[len("guid.gt(") : -1] for f in body["filters"] if f.startswith("guid.gt(")]
        guids = [g for g in self.guids if not after or g > after[0]][: self.cap]
        total_pages = max(1, -(-len(guids) // limit))
        page = body.get("page", 1)
        if page > total_pages:
            return httpx.Response(400, json={"error": f"page {page} exceeds total_pages"})
        data = [{"guid": g} for g in guids[(page - 1) * limit : page * limit]]
        return ok({"data": data, **self._paging(page, total_pages)})

    def _paging(self, page: int, total_pages: int) -> dict[str, Any]:
        if self.paging == "total_pages":
            return {"paging": {"current_page": page, "total_pages": total_pages}}
        if self.paging == "current_page_only":
            return {"paging": {"current_page": page}}
        if self.paging == "empty":
            return {"paging": {}}
        return {}


def _guids(pages: list[list[dict[str, Any]]]) -> list[str]:
    return [row["guid"] for page in pages for row in page]


@pytest.mark.parametrize(
    "paging", ["total_pages", "current_page_only", "empty", "absent"], ids=lambda p: p
)
def test_pages_reads_every_page_whatever_the_paging_object(paging: str) -> None:
    api = PagedPosts(5, paging)
    client = make_client(api)

    pages = list(client.pages(POSTS, {"filters": FILTERS, "limit": 2}))

    assert _guids(pages) == ["g000001", "g000002", "g000003", "g000004", "g000005"]
    assert sorted(body["page"] for body in api.bodies) == [1, 2, 3]
    assert all(body["filters"] == FILTERS and body["limit"] == 2 for body in api.bodies)


def test_pages_stops_at_the_400_past_a_full_last_page() -> None:
    api = PagedPosts(4, "current_page_only")
    client = make_client(api)

    pages = list(client.pages(POSTS, {"filters": FILTERS, "limit": 2}))

    assert _guids(pages) == ["g000001", "g000002", "g000003", "g000004"]
    assert [body["page"] for body in api.bodies] == [1, 2, 3]


def test_pages_stops_when_the_endpoint_ignores_the_page() -> None:
    handler, seen = scripted(ok({"data": [{"n": 1}, {"n": 2}], "paging": {}}))
    client = make_client(handler)

    pages = list(client.pages("/v1/1/listening/topics/7/metrics", {"limit": 2}))

    assert pages == [[{"n": 1}, {"n": 2}]]
    assert len(seen) == 2


def test_pages_fetches_the_rest_concurrently_and_yields_in_order() -> None:
    page_four_asked = threading.Event()
    api = PagedPosts(8)

    def handler(request: httpx.Request) -> httpx.Response:
        page = json.loads(request.content)["page"]
        if page == 4:
            page_four_asked.set()
        if page == 2:
            # Page 2 answers only once page 4 is on its way: no concurrency, no answer.
            assert page_four_asked.wait(timeout=5)
        return api(request)

    client = make_client(handler)

    pages = list(client.pages(POSTS, {"filters": FILTERS, "limit": 2}))

    assert [[row["guid"] for row in page] for page in pages] == [
        ["g000001", "g000002"],
        ["g000003", "g000004"],
        ["g000005", "g000006"],
        ["g000007", "g000008"],
    ]


def test_cursor_pages_follows_next_cursor_until_paging_is_absent() -> None:
    handler, seen = scripted(
        ok({"data": [{"guid": "m1"}], "paging": {"next_cursor": "c2=="}}),
        ok({"data": [{"guid": "m2"}], "paging": {"next_cursor": "c3=="}}),
        ok({"data": [{"guid": "m3"}]}),
    )
    client = make_client(handler)
    body = {"filters": ["group_id.eq(5)"], "limit": 100}

    pages = list(client.cursor_pages("/v1/1/messages", body))

    assert _guids(pages) == ["m1", "m2", "m3"]
    assert [json.loads(r.content) for r in seen] == [
        body,
        {**body, "page_cursor": "c2=="},
        {**body, "page_cursor": "c3=="},
    ]


def test_guid_walk_loads_past_the_10000_cap(caplog: pytest.LogCaptureFixture) -> None:
    api = PagedPosts(10_230)
    client = make_client(api)
    body = {"filters": FILTERS, "fields": ["created_time"], "limit": 100}

    with caplog.at_level(logging.WARNING, logger="sources.sprout.client"):
        capped = _guids(list(client.pages(POSTS, body)))
    assert len(capped) == 10_000
    assert "reach the API's cap of 10000 results" in caplog.text

    api.bodies.clear()
    walked = _guids(list(client.guid_walk(POSTS, body)))

    assert walked == api.guids
    assert len(api.bodies) == 103
    assert api.bodies[0] == {
        "filters": FILTERS,
        "fields": ["created_time", "guid"],
        "limit": 100,
        "sort": ["guid:asc"],
    }
    assert api.bodies[1]["filters"] == ["guid.gt(g000100)", *FILTERS]
    assert api.bodies[-1]["filters"] == ["guid.gt(g010200)", *FILTERS]


@pytest.mark.parametrize(
    ("posts", "requests"), [(10_000, 1), (9_900, 99)], ids=["at-the-cap", "under-the-cap"]
)
def test_guid_walk_asked_to_stop_over_the_cap_stops_after_its_first_page(
    posts: int, requests: int
) -> None:
    api = PagedPosts(posts)
    client = make_client(api)
    body = {"filters": FILTERS, "limit": 100}

    if posts >= 10_000:
        with pytest.raises(OverCap):
            list(client.guid_walk(POSTS, body, stop_over_cap=True))
    else:
        assert _guids(list(client.guid_walk(POSTS, body, stop_over_cap=True))) == api.guids

    assert len(api.bodies) == requests


def test_guid_walk_resumes_from_a_guid_filter_in_the_body() -> None:
    api = PagedPosts(250)
    client = make_client(api)

    walked = _guids(list(client.guid_walk(POSTS, {"filters": ["guid.gt(g000200)", *FILTERS]})))

    assert walked == api.guids[200:]
    assert api.bodies[0]["filters"] == ["guid.gt(g000200)", *FILTERS]


def test_map_in_flight_keeps_order_and_bounds_concurrency() -> None:
    client = make_client(scripted(ok({}))[0], max_in_flight=3)
    running, most = [0], [0]
    lock = threading.Lock()

    def work(item: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        threading.Event().wait(0.01 * (item % 3))
        with lock:
            running[0] -= 1
        return item * 10

    assert list(client.map_in_flight(work, range(12))) == [i * 10 for i in range(12)]
    assert most[0] == 3


def test_the_token_appears_in_no_log_error_traceback_or_repr(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    handler, _ = scripted(
        httpx.ConnectError(f"refused while sending Authorization: Bearer {TOKEN}"),
        httpx.Response(503, json={"error": f"overloaded for token {TOKEN}"}),
        httpx.Response(403, json={"error": f"token {TOKEN} may not read customer 1"}),
    )
    client = make_client(handler)

    with pytest.raises(SproutApiError) as raised:
        client.post(POSTS, {"filters": FILTERS})

    error = raised.value
    texts = [
        caplog.text,
        str(error),
        repr(error),
        "".join(traceback.format_exception(error)),
        repr(pickle.loads(pickle.dumps(error))),
        repr(client),
        repr(client.stats),
        repr(client._tokens),
    ]
    assert all(TOKEN not in text for text in texts)
    assert "may not read customer 1" in str(error)
    assert "POST /v1/1/analytics/posts" in caplog.text
