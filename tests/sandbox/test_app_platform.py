"""Cross-cutting answers of the sandbox: headers, 404, 405, 415, errors, control endpoints."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.sandbox.platform_fixtures import AUTH, CUSTOMER, png, stand_in_sandbox

HEADERS = ("x-sprout-request-id", "x-sprout-api-version", "x-sprout-server-version")


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with stand_in_sandbox() as (_, client):
        yield client


def _assert_sprout_headers(response: httpx.Response) -> None:
    assert uuid.UUID(response.headers["x-sprout-request-id"]).version == 4
    assert response.headers["x-sprout-api-version"] == "1.1"
    assert response.headers["x-sprout-server-version"] == "1.1.3018"


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", f"/v1/{CUSTOMER}/metadata/customer", AUTH, 200),
        ("GET", f"/v1/{CUSTOMER}/metadata/customer", {}, 401),
        ("GET", "/v1/2/metadata/customer", AUTH, 403),
        ("GET", "/v1/nothing/here", AUTH, 404),
        ("DELETE", "/v1/metadata/client", AUTH, 405),
        ("GET", f"/v1/{CUSTOMER}/metadata/customer", {**AUTH, "Accept": "text/html"}, 415),
        ("POST", f"/v1/{CUSTOMER}/messages", AUTH, 400),
        ("POST", f"/v1/{CUSTOMER}/cases/filter", AUTH, 500),
        ("GET", "/_sandbox/state", {}, 200),
    ],
    ids=["ok", "401", "403", "404", "405", "415", "api-error", "500", "control"],
)
def test_every_response_carries_the_three_sprout_headers(
    client: httpx.Client, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    response = client.request(method, path, headers=headers, json={} if method == "POST" else None)
    assert response.status_code == status
    _assert_sprout_headers(response)


def test_request_ids_differ_between_requests(client: httpx.Client) -> None:
    first = client.get("/v1/metadata/client", headers=AUTH)
    second = client.get("/v1/metadata/client", headers=AUTH)
    assert first.headers["x-sprout-request-id"] != second.headers["x-sprout-request-id"]


@pytest.mark.parametrize(
    "path",
    ["/v1/1001/no/such/endpoint", "/v1/metadata/client/", "/v2/metadata/client"],
    ids=["unknown", "trailing-slash", "other-version"],
)
def test_unknown_path_gets_the_gateway_body(client: httpx.Client, path: str) -> None:
    response = client.get(path, headers=AUTH)
    assert response.status_code == 404
    assert response.json() == {"code": 404, "message": "HTTP 404 Not Found"}


def test_wrong_verb_is_405_with_allow(client: httpx.Client) -> None:
    response = client.post("/v1/metadata/client", headers=AUTH, json={})
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]
    assert "POST" in response.json()["error"]


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"Content-Type": "text/plain"}, b'{"filters": []}'),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"a=1"),
        ({"Content-Type": "application/json", "Accept": "text/csv"}, b"{}"),
    ],
    ids=["text-body", "form-body", "accept-csv"],
)
def test_non_json_requests_get_415(
    client: httpx.Client, headers: dict[str, str], body: bytes
) -> None:
    response = client.post(
        f"/v1/{CUSTOMER}/analytics/posts", headers={**AUTH, **headers}, content=body
    )
    assert response.status_code == 415
    assert "JSON" in response.json()["error"]


def test_json_accept_variants_are_served(client: httpx.Client) -> None:
    for accept in ("application/json", "*/*", "text/html, application/json;q=0.9"):
        response = client.post(
            f"/v1/{CUSTOMER}/analytics/posts",
            headers={**AUTH, "Accept": accept},
            json={"fields": ["guid"]},
        )
        assert response.status_code == 200, accept
        assert response.json()["data"][0]["echo"] == {"fields": ["guid"]}


def test_media_upload_takes_multipart_and_refuses_json(client: httpx.Client) -> None:
    path = f"/v1/{CUSTOMER}/media/"
    assert client.post(path, headers=AUTH, json={"media": "x"}).status_code == 415
    response = client.post(path, headers=AUTH, files={"media": ("a.png", png(), "image/png")})
    assert response.status_code == 200


def test_api_error_becomes_the_error_envelope(client: httpx.Client) -> None:
    response = client.post(f"/v1/{CUSTOMER}/messages", headers=AUTH, json={})
    assert response.status_code == 400
    assert response.json() == {"error": "filters: `foo` is not a known filter"}


def test_an_endpoint_bug_is_a_500_json_error(client: httpx.Client) -> None:
    response = client.post(f"/v1/{CUSTOMER}/cases/filter", headers=AUTH, json={})
    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error."}


def test_state_counts_requests_by_status_and_endpoint() -> None:
    with stand_in_sandbox() as (_, client):
        client.get("/v1/metadata/client", headers=AUTH)
        client.get("/v1/metadata/client")
        client.get(f"/v1/{CUSTOMER}/metadata/customer", headers=AUTH)
        client.get("/nowhere", headers=AUTH)
        state = client.get("/_sandbox/state").json()
    assert state["now"] == "2026-03-10T12:00:00Z"
    assert state["requests"]["total"] == 4
    assert state["requests"]["by_status"] == {"200": 2, "401": 1, "404": 1}
    assert state["requests"]["by_endpoint"] == {
        "GET /v1/metadata/client": {"200": 1, "401": 1},
        "GET /v1/{customer_id}/metadata/customer": {"200": 1},
        "GET (unknown path)": {"404": 1},
    }
    assert state["quota"] == {"month": "2026-03", "limit": 250000, "used": {"1001": 2, "2002": 1}}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"now": "2026-04-01T08:30:00Z"}, "2026-04-01T08:30:00Z"),
        ({"advance": "P1D"}, "2026-03-11T12:00:00Z"),
        ({"advance": "PT2H30M"}, "2026-03-10T14:30:00Z"),
        ({"advance": 90}, "2026-03-10T12:01:30Z"),
    ],
    ids=["now", "advance-day", "advance-hours", "advance-seconds"],
)
def test_clock_can_be_set_or_advanced(body: dict[str, object], expected: str) -> None:
    with stand_in_sandbox() as (sandbox, client):
        response = client.post("/_sandbox/clock", json=body)
        assert response.status_code == 200
        assert response.json() == {"now": expected}
        assert client.get("/_sandbox/state").json()["now"] == expected
        assert sandbox.world.now.strftime("%Y-%m-%dT%H:%M:%SZ") == expected


@pytest.mark.parametrize(
    "body",
    [{"now": "yesterday"}, {"advance": "one day"}, {}],
    ids=["bad-now", "bad-duration", "empty"],
)
def test_bad_clock_requests_are_400(client: httpx.Client, body: dict[str, str]) -> None:
    response = client.post("/_sandbox/clock", json=body)
    assert response.status_code == 400
    assert response.json()["error"]


def test_control_endpoints_need_no_token_and_reset_clears_counts() -> None:
    with stand_in_sandbox() as (_, client):
        client.get("/v1/metadata/client", headers=AUTH)
        assert client.get("/_sandbox/state").json()["requests"]["total"] == 1
        assert client.post("/_sandbox/reset").json() == {"reset": True}
        state = client.get("/_sandbox/state").json()
    assert state["requests"] == {"total": 0, "by_status": {}, "by_endpoint": {}}
    assert state["quota"]["used"] == {}
    assert state["rate_limited"] == 0
