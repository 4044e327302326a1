"""Tokens: a static API token, OAuth client credentials and refresh tokens, renewed in time."""

from __future__ import annotations

import threading
import time
from urllib.parse import parse_qs

import httpx
import pytest

from sources.sprout.auth import SPROUT_TOKEN_URL, TokenError, TokenProvider
from sources.sprout.redact import redact

TOKEN_URL = "http://127.0.0.1:9/oauth2/v1/token"
CLIENT_SECRET = "client-secret-for-auth-tests"


class TokenServer:
    """An OAuth token endpoint behind httpx.MockTransport that records each form."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.forms: list[dict[str, str]] = []
        self._answers = list(answers)
        self._issued = 0
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = {key: values[0] for key, values in parse_qs(request.content.decode()).items()}
        with self._lock:
            self.forms.append(form)
            if self._answers:
                return self._answers.pop(0)
            self._issued += 1
            issued = self._issued
        return httpx.Response(
            200,
            json={"access_token": f"jwt-{issued:04d}", "token_type": "Bearer", "expires_in": 300},
        )

    def http(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _oauth(server: TokenServer, clock: Clock | None = None, **extra: str) -> TokenProvider:
    return TokenProvider(
        client_id="client-1",
        client_secret=CLIENT_SECRET,
        token_url=TOKEN_URL,
        http=server.http(),
        clock=clock or Clock(),
        sleep=lambda _: None,
        **extra,
    )


def test_static_token_is_returned_and_cannot_be_renewed() -> None:
    tokens = TokenProvider(access_token="static-token-for-auth-tests")

    assert tokens.token() == "static-token-for-auth-tests"
    assert not tokens.renewable
    with pytest.raises(TokenError, match=r"`sources\.sprout\.access_token`"):
        tokens.invalidate()
    assert "static-token-for-auth-tests" not in repr(tokens)
    assert redact("Bearer static-token-for-auth-tests") == "Bearer ***"


def test_no_credentials_names_the_settings() -> None:
    with pytest.raises(TokenError) as raised:
        TokenProvider(client_id="client-1")

    assert "`sources.sprout.access_token`" in str(raised.value)
    assert "`sources.sprout.client_secret`" in str(raised.value)


def test_client_credentials_grant_sends_the_documented_form() -> None:
    server = TokenServer()
    tokens = _oauth(server)

    assert tokens.token() == "jwt-0001"
    assert server.forms == [
        {
            "grant_type": "client_credentials",
            "client_id": "client-1",
            "client_secret": CLIENT_SECRET,
            "scope": "organization_id",
        }
    ]
    assert redact("jwt-0001 and " + CLIENT_SECRET) == "*** and ***"
    assert CLIENT_SECRET not in repr(tokens)


def test_default_token_url_is_sprouts_authorization_server() -> None:
    tokens = TokenProvider(client_id="client-1", client_secret=CLIENT_SECRET)

    assert tokens.token_url == SPROUT_TOKEN_URL
    assert SPROUT_TOKEN_URL.startswith("https://identity.sproutsocial.com/oauth2/")


def test_token_is_renewed_a_minute_before_it_expires() -> None:
    server = TokenServer()
    clock = Clock()
    tokens = _oauth(server, clock)

    first = tokens.token()
    clock.now = 239.0
    still = tokens.token()
    clock.now = 240.0
    renewed = tokens.token()

    assert (first, still, renewed) == ("jwt-0001", "jwt-0001", "jwt-0002")
    assert len(server.forms) == 2


def test_refresh_token_grant_uses_the_rotated_refresh_token() -> None:
    server = TokenServer(
        httpx.Response(
            200, json={"access_token": "jwt-a", "expires_in": 300, "refresh_token": "refresh-two"}
        ),
        httpx.Response(200, json={"access_token": "jwt-b", "expires_in": 300}),
    )
    tokens = _oauth(server, refresh_token="refresh-one")

    tokens.token()
    tokens.invalidate()
    assert tokens.token() == "jwt-b"

    assert [form["grant_type"] for form in server.forms] == ["refresh_token", "refresh_token"]
    assert [form["refresh_token"] for form in server.forms] == ["refresh-one", "refresh-two"]
    assert "scope" not in server.forms[0]
    assert redact("refresh-one refresh-two") == "*** ***"


def test_a_burst_of_401s_renews_the_token_once() -> None:
    server = TokenServer()
    tokens = _oauth(server)
    rejected = tokens.token()

    tokens.invalidate(rejected)
    renewed = tokens.token()
    tokens.invalidate(rejected)  # a second thread reporting the same old token

    assert tokens.token() == renewed == "jwt-0002"
    assert len(server.forms) == 2


def test_threads_asking_at_once_cause_one_fetch() -> None:
    server = TokenServer()

    def slow(request: httpx.Request) -> httpx.Response:
        time.sleep(0.05)
        return server(request)

    tokens = TokenProvider(
        client_id="client-1",
        client_secret=CLIENT_SECRET,
        token_url=TOKEN_URL,
        http=httpx.Client(transport=httpx.MockTransport(slow)),
    )
    seen: list[str] = []
    workers = [threading.Thread(target=lambda: seen.append(tokens.token())) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert seen == ["jwt-0001"] * 8
    assert len(server.forms) == 1


def test_refused_credentials_name_the_settings_and_hide_the_secret() -> None:
    server = TokenServer(
        httpx.Response(
            401,
            json={
                "error": "invalid_client",
                "error_description": f"Client authentication failed for {CLIENT_SECRET}",
            },
        )
    )
    tokens = _oauth(server)

    with pytest.raises(TokenError) as raised:
        tokens.token()

    message = str(raised.value)
    assert "refused the client_credentials grant (401: invalid_client" in message
    assert "`sources.sprout.client_id` and `sources.sprout.client_secret`" in message
    assert CLIENT_SECRET not in message and CLIENT_SECRET not in repr(raised.value)


def test_token_endpoint_outage_is_retried_then_reported() -> None:
    server = TokenServer(httpx.Response(503), httpx.Response(502))
    tokens = _oauth(server)
    assert tokens.token() == "jwt-0001"
    assert len(server.forms) == 3

    down = TokenServer(*[httpx.Response(503)] * 4)
    with pytest.raises(TokenError, match=r"failed 4 times \(status 503\)"):
        _oauth(down).token()
