"""`SproutClient.send`, which carries uploads and creates: exact requests over a mock API."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from sources.sprout.client import (
    Pacer,
    RequestBudget,
    SproutApiError,
    SproutClient,
    TokenProvider,
)

PATH = "/v1/100001/media/submission/s-1/part/2"
FORM_HEADERS = {"Content-Type": "multipart/form-data; boundary=b", "Content-Length": "10"}


class FakeTime:
    """A clock that moves only when something sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _client(
    answers: list[Callable[[httpx.Request], httpx.Response]],
) -> tuple[SproutClient, list[httpx.Request], dict[str, int]]:
    """A client whose API gives ``answers`` in turn; the requests it saw; the month counts."""
    seen: list[httpx.Request] = []
    counts: dict[str, int] = {}

    def handle(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return answers[len(seen) - 1](request)

    time = FakeTime()
    client = SproutClient(
        "https://api.example.test",
        TokenProvider(access_token="send-test-token"),
        Pacer(60, clock=time.clock, sleep=time.sleep, jitter_seconds=0),
        RequestBudget(1000, counts),
        transport=httpx.MockTransport(handle),
        sleep=time.sleep,
    )
    return client, seen, counts


def _status(code: int, body: bytes = b"") -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(code, content=body, request=request)


def _lost(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadError("connection closed before the answer", request=request)


def test_a_streamed_body_is_made_anew_for_every_attempt() -> None:
    client, seen, counts = _client([_status(503), _status(200)])
    made = 0

    def chunks() -> Iterator[bytes]:
        nonlocal made
        made += 1
        yield b"part-"
        yield b"bytes"

    assert client.send("POST", PATH, content=chunks, headers=FORM_HEADERS) is None

    assert made == 2
    assert [(r.method, r.url.path, r.content) for r in seen] == [("POST", PATH, b"part-bytes")] * 2
    assert all(r.headers["Content-Type"] == FORM_HEADERS["Content-Type"] for r in seen)
    assert all(r.headers["Content-Length"] == "10" for r in seen)
    assert all("Transfer-Encoding" not in r.headers for r in seen)
    assert all(r.headers["Authorization"] == "Bearer send-test-token" for r in seen)
    assert (client.stats.made, client.stats.retried) == (2, 1)
    assert client.stats.by_status == {"503": 1, "200": 1}
    assert sum(counts.values()) == 2


@pytest.mark.parametrize(
    ("answer", "status"),
    [(_lost, 0), (_status(503), 503), (_status(504), 504), (_status(200, b'{"data": ['), 200)],
    ids=["no-answer", "503", "504", "cut-off-body"],
)
def test_a_create_whose_outcome_is_unclear_is_sent_once(
    answer: Callable[[httpx.Request], httpx.Response], status: int
) -> None:
    client, seen, _ = _client([answer, _status(200, b'{"data": []}')])

    with pytest.raises(SproutApiError) as raised:
        client.send("POST", "/v1/100001/publishing/posts", json={"text": "x"}, repeat_unclear=False)

    assert raised.value.status == status
    assert "look its outcome up" in str(raised.value)
    assert len(seen) == 1
    assert seen[0].content == b'{"text":"x"}'


def test_a_create_answered_429_is_sent_again_after_the_window() -> None:
    created = b'{"data": [{"id": 1}]}'
    client, seen, _ = _client([_status(429, b'{"error": "slow down"}'), _status(200, created)])

    answer = client.send("POST", "/v1/100001/publishing/posts", json={}, repeat_unclear=False)

    assert answer == {"data": [{"id": 1}]}
    assert len(seen) == 2
    assert client.stats.throttled == 1
    assert client.stats.seconds_waiting >= 60


def test_a_poll_takes_a_202_as_its_answer() -> None:
    waiting = b'{"data": [{"submission_id": "s-1", "wait_until": "2026-01-01T00:00:00Z"}]}'
    client, seen, _ = _client([_status(202, waiting)])

    answer = client.send("GET", "/v1/100001/media/submission/s-1", accept_202=True)

    assert answer["data"][0]["wait_until"] == "2026-01-01T00:00:00Z"
    assert len(seen) == 1
