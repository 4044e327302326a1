"""Bearer tokens and the OAuth 2.0 authorization server of the sandbox."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sprout_sandbox.auth import pkce_challenge
from tests.sandbox.platform_fixtures import (
    AUTH,
    CUSTOMER,
    OTHER_CUSTOMER,
    RunningSandbox,
    stand_in_sandbox,
)

CLIENT = {"client_id": "sandbox-client", "client_secret": "sandbox-secret"}
REDIRECT = "http://127.0.0.1:9/callback"


@pytest.fixture
def sandbox() -> Iterator[tuple[RunningSandbox, httpx.Client]]:
    with stand_in_sandbox(
        token_ttl_seconds=600, tokens={"sandbox-token": None, "acme-only": (CUSTOMER,)}
    ) as running:
        yield running


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _client_credentials(client: httpx.Client, **extra: str) -> httpx.Response:
    form = {**CLIENT, "grant_type": "client_credentials", "scope": "organization_id", **extra}
    return client.post("/oauth2/v1/token", data=form)


def _authorization_code(client: httpx.Client, verifier: str, state: str = "xyz") -> str:
    response = client.get(
        "/oauth2/v1/authorize",
        params={
            "response_type": "code",
            "client_id": "sandbox-client",
            "redirect_uri": REDIRECT,
            "state": state,
            "scope": "openid offline_access",
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
        },
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == [state]
    return query["code"][0]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Missing Authorization header"),
        ({"Authorization": "Basic abc"}, "must be `Bearer <token>`"),
        (_bearer("not-a-token"), "not valid"),
    ],
    ids=["missing", "not-bearer", "unknown-token"],
)
def test_requests_without_a_valid_token_get_401(
    sandbox: tuple[RunningSandbox, httpx.Client], headers: dict[str, str], message: str
) -> None:
    _, client = sandbox
    response = client.get("/v1/metadata/client", headers=headers)
    assert response.status_code == 401
    assert message in response.json()["error"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_token_reads_only_its_customers(sandbox: tuple[RunningSandbox, httpx.Client]) -> None:
    _, client = sandbox
    listing = client.get("/v1/metadata/client", headers=_bearer("acme-only")).json()
    assert [row["customer_id"] for row in listing["data"]] == [CUSTOMER]
    own = client.get(f"/v1/{CUSTOMER}/metadata/customer", headers=_bearer("acme-only"))
    assert own.status_code == 200
    other = client.get(f"/v1/{OTHER_CUSTOMER}/metadata/customer", headers=_bearer("acme-only"))
    assert other.status_code == 403
    assert other.json() == {"code": 403, "message": "HTTP 403 Forbidden"}


def test_an_unknown_customer_in_the_path_is_403(
    sandbox: tuple[RunningSandbox, httpx.Client],
) -> None:
    _, client = sandbox
    assert client.get("/v1/5/metadata/customer", headers=AUTH).status_code == 403


def test_client_credentials_token_works_until_the_sandbox_clock_passes_its_expiry(
    sandbox: tuple[RunningSandbox, httpx.Client],
) -> None:
    _, client = sandbox
    answer = _client_credentials(client).json()
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == 600
    assert answer["scope"] == "organization_id"
    assert "refresh_token" not in answer
    _, claims, _ = answer["access_token"].split(".")
    assert json.loads(base64.urlsafe_b64decode(claims + "=="))["exp"] == 1773144000 + 600
    token = _bearer(answer["access_token"])
    assert client.get("/v1/metadata/client", headers=token).status_code == 200
    client.post("/_sandbox/clock", json={"advance": 599})
    assert client.get("/v1/metadata/client", headers=token).status_code == 200
    client.post("/_sandbox/clock", json={"advance": 1})
    expired = client.get("/v1/metadata/client", headers=token)
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]


def test_client_credentials_accepts_basic_authentication(
    sandbox: tuple[RunningSandbox, httpx.Client],
) -> None:
    _, client = sandbox
    basic = base64.b64encode(b"sandbox-client:sandbox-secret").decode()
    response = client.post(
        "/oauth2/v1/token",
        headers={"Authorization": f"Basic {basic}"},
        data={"grant_type": "client_credentials", "scope": "organization_id"},
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        (
            {**CLIENT, "client_secret": "wrong", "grant_type": "client_credentials"},
            401,
            "invalid_client",
        ),
        (
            {"client_id": "nobody", "client_secret": "x", "grant_type": "client_credentials"},
            401,
            "invalid_client",
        ),
        ({**CLIENT, "grant_type": "client_credentials", "scope": "openid"}, 400, "invalid_scope"),
        ({**CLIENT, "grant_type": "password"}, 400, "unsupported_grant_type"),
        ({**CLIENT, "grant_type": "refresh_token", "refresh_token": "nope"}, 400, "invalid_grant"),
        ({**CLIENT, "grant_type": "authorization_code", "code": "nope"}, 400, "invalid_grant"),
    ],
    ids=["bad-secret", "unknown-client", "bad-scope", "password-grant", "bad-refresh", "bad-code"],
)
def test_token_endpoint_errors_have_the_rfc_6749_shape(
    sandbox: tuple[RunningSandbox, httpx.Client], form: dict[str, str], status: int, error: str
) -> None:
    _, client = sandbox
    response = client.post("/oauth2/v1/token", data=form)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert "sandbox-secret" not in response.text


def test_token_endpoint_wants_a_form_body(sandbox: tuple[RunningSandbox, httpx.Client]) -> None:
    _, client = sandbox
    response = client.post("/oauth2/v1/token", json={**CLIENT, "grant_type": "client_credentials"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_authorization_code_with_pkce_then_refresh(
    sandbox: tuple[RunningSandbox, httpx.Client],
) -> None:
    _, client = sandbox
    verifier = secrets.token_urlsafe(48)
    code = _authorization_code(client, verifier)
    exchange = {
        "grant_type": "authorization_code",
        "client_id": "sandbox-client",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    first = client.post("/oauth2/v1/token", data=exchange).json()
    assert set(first) == {"token_type", "expires_in", "access_token", "scope", "refresh_token"}
    assert client.get("/v1/metadata/client", headers=_bearer(first["access_token"])).is_success
    assert client.post("/oauth2/v1/token", data=exchange).json()["error"] == "invalid_grant"

    client.post("/_sandbox/clock", json={"advance": "PT1H"})
    assert (
        client.get("/v1/metadata/client", headers=_bearer(first["access_token"])).status_code == 401
    )
    refresh = {**CLIENT, "grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    second = client.post("/oauth2/v1/token", data=refresh).json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert client.get("/v1/metadata/client", headers=_bearer(second["access_token"])).is_success
    reused = client.post("/oauth2/v1/token", data=refresh)
    assert reused.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_verifier": "a-different-verifier-of-enough-length-0123456789"}, "invalid_grant"),
        ({"code_verifier": ""}, "invalid_request"),
        ({"redirect_uri": "http://127.0.0.1:9/elsewhere"}, "invalid_grant"),
    ],
    ids=["wrong-verifier", "missing-verifier", "other-redirect"],
)
def test_authorization_code_exchange_failures(
    sandbox: tuple[RunningSandbox, httpx.Client], change: dict[str, str], error: str
) -> None:
    _, client = sandbox
    verifier = secrets.token_urlsafe(48)
    code = _authorization_code(client, verifier)
    exchange = {
        "grant_type": "authorization_code",
        "client_id": "sandbox-client",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        **change,
    }
    response = client.post("/oauth2/v1/token", data=exchange)
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_authorize_refuses_plain_pkce_through_the_redirect(
    sandbox: tuple[RunningSandbox, httpx.Client],
) -> None:
    _, client = sandbox
    response = client.get(
        "/oauth2/v1/authorize",
        params={
            "response_type": "code",
            "client_id": "sandbox-client",
            "redirect_uri": REDIRECT,
            "code_challenge": "abc",
            "code_challenge_method": "plain",
            "state": "s1",
        },
    )
    assert response.status_code == 302
    assert parse_qs(urlsplit(response.headers["location"]).query) == {
        "error": ["invalid_request"],
        "state": ["s1"],
    }


def test_pkce_challenge_is_the_rfc_7636_example() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert hashlib.sha256(verifier.encode()).digest()


def test_authorization_server_metadata(sandbox: tuple[RunningSandbox, httpx.Client]) -> None:
    running, client = sandbox
    document = client.get("/oauth2/.well-known/oauth-authorization-server").json()
    assert document["issuer"] == f"{running.base_url}/oauth2"
    assert document["token_endpoint"] == running.token_url
    assert document["authorization_endpoint"] == f"{running.base_url}/oauth2/v1/authorize"
    assert set(document["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
    }
    assert document["code_challenge_methods_supported"] == ["S256"]
