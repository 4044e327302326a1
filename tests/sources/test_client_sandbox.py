"""The client over real HTTP against the local sandbox: pace held, no 429, real errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sources.sprout.client import Pacer, SproutApiError, SproutClient, TokenProvider
from sprout_sandbox.app import create_app
from sprout_sandbox.config import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TOKEN,
    SandboxConfig,
    Scale,
)
from sprout_sandbox.server import RunningSandbox, run_sandbox

SMALL = Scale(customers=1, profiles=3, days=3, topics=1)
CLIENTS = {"data": [{"customer_id": 1, "name": "Stand-in customer"}]}


async def _clients(request: Request) -> Response:
    return JSONResponse(CLIENTS)


def _serve(config: SandboxConfig) -> AbstractContextManager[RunningSandbox]:
    """Serve the sandbox's real platform (OAuth, tokens, limits, gateway 404) around a stand-in.

    The read endpoint is a stand-in so that these tests depend on the HTTP layers only.
    """
    return run_sandbox(
        config, app=create_app(config, routes=[Route("/v1/metadata/client", _clients)])
    )


class RecordingTransport(httpx.HTTPTransport):
    """A real HTTP transport that notes when each request leaves."""

    def __init__(self) -> None:
        super().__init__()
        self.started: list[float] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.started.append(time.monotonic())
        return super().handle_request(request)


def _state(sandbox: RunningSandbox) -> dict:
    return httpx.get(f"{sandbox.base_url}/_sandbox/state").json()


def test_a_paced_burst_from_four_threads_provokes_no_429() -> None:
    config = SandboxConfig(scale=SMALL, requests_per_minute=600, latency_ms=(100, 250))
    transport = RecordingTransport()
    with _serve(config) as sandbox:
        client = SproutClient(
            sandbox.base_url,
            TokenProvider(access_token=DEFAULT_TOKEN),
            Pacer(600),
            transport=transport,
        )
        answers: list[object] = []

        def five_requests() -> None:
            for _ in range(5):
                answers.append(client.get("/v1/metadata/client"))

        workers = [threading.Thread(target=five_requests) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        client.close()
        state = _state(sandbox)

    assert answers == [CLIENTS] * 20
    assert state["rate_limited"] == 0
    assert state["requests"]["by_status"] == {"200": 20}
    assert client.stats.by_status == {"200": 20} and client.stats.throttled == 0
    starts = sorted(transport.started)
    achieved_per_minute = (len(starts) - 1) / (starts[-1] - starts[0]) * 60
    # 600 a minute less the pacer's slack: answers of 100-250 ms do not slow the pace.
    assert 560 <= achieved_per_minute <= 600, achieved_per_minute


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with _serve(SandboxConfig(scale=SMALL, requests_per_minute=600)) as running:
        yield running


def test_oauth_client_credentials_against_the_sandbox(sandbox: RunningSandbox) -> None:
    tokens = TokenProvider(
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        token_url=sandbox.token_url,
    )
    with SproutClient(sandbox.base_url, tokens, Pacer(600)) as client:
        customers = client.get("/v1/metadata/client")

    assert customers == CLIENTS
    assert tokens.token().count(".") == 2  # a JWT-shaped token was issued


def test_the_sandbox_gateway_404_and_a_wrong_token_read_as_users_expect(
    sandbox: RunningSandbox,
) -> None:
    with (
        SproutClient(
            sandbox.base_url, TokenProvider(access_token=DEFAULT_TOKEN), Pacer(600)
        ) as client,
        pytest.raises(SproutApiError) as not_found,
    ):
        client.get("/v1/no/such/endpoint")
    with (
        SproutClient(
            sandbox.base_url, TokenProvider(access_token="wrong-token-for-sandbox"), Pacer(600)
        ) as client,
        pytest.raises(SproutApiError) as refused,
    ):
        client.get("/v1/metadata/client")

    assert not_found.value.status == 404
    assert str(not_found.value).startswith("GET /v1/no/such/endpoint answered 404: ")
    assert refused.value.status == 401
    assert "`sources.sprout.access_token`" in str(refused.value)
    assert "wrong-token-for-sandbox" not in str(refused.value)


def test_a_token_expired_on_the_server_is_renewed_after_its_401(
    sandbox: RunningSandbox,
) -> None:
    tokens = TokenProvider(
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        token_url=sandbox.token_url,
    )
    with SproutClient(sandbox.base_url, tokens, Pacer(600)) as client:
        client.get("/v1/metadata/client")
        first = tokens.token()
        # The sandbox clock jumps two hours: the token expires there, not on our clock.
        httpx.post(f"{sandbox.base_url}/_sandbox/clock", json={"advance": "PT2H"})
        assert client.get("/v1/metadata/client") == CLIENTS
        statuses = dict(client.stats.by_status)

    assert tokens.token() != first
    assert statuses == {"200": 2, "401": 1}
    assert client.stats.retried == 1
