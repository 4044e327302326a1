"""Rate limit per rolling minute and monthly quota, both per customer."""

from __future__ import annotations

from sprout_sandbox.limits import Limiter
from tests.sandbox.platform_fixtures import AUTH, CUSTOMER, OTHER_CUSTOMER, stand_in_sandbox


def test_the_sixth_request_within_a_minute_gets_429() -> None:
    with stand_in_sandbox(requests_per_minute=5) as (_, client):
        statuses = [
            client.get(f"/v1/{CUSTOMER}/metadata/customer", headers=AUTH).status_code
            for _ in range(6)
        ]
        refused = client.get(f"/v1/{CUSTOMER}/metadata/customer", headers=AUTH)
        other = client.get(f"/v1/{OTHER_CUSTOMER}/metadata/customer", headers=AUTH)
        state = client.get("/_sandbox/state").json()
    assert statuses == [200, 200, 200, 200, 200, 429]
    assert refused.status_code == 429
    assert "at most 5 requests per minute" in refused.json()["error"]
    assert "retry-after" not in refused.headers
    assert other.status_code == 200
    assert state["rate_limited"] == 2
    assert state["requests"]["by_status"] == {"200": 6, "429": 2}
    assert state["quota"]["used"] == {str(CUSTOMER): 5, str(OTHER_CUSTOMER): 1}


def test_metadata_client_is_charged_to_every_customer_of_the_token() -> None:
    with stand_in_sandbox(requests_per_minute=2) as (_, client):
        assert client.get("/v1/metadata/client", headers=AUTH).status_code == 200
        assert client.get(f"/v1/{OTHER_CUSTOMER}/metadata/customer", headers=AUTH).is_success
        assert client.get("/v1/metadata/client", headers=AUTH).status_code == 429
        assert client.get(f"/v1/{CUSTOMER}/metadata/customer", headers=AUTH).is_success


def test_reset_clears_the_rate_window() -> None:
    with stand_in_sandbox(requests_per_minute=1) as (_, client):
        path = f"/v1/{CUSTOMER}/metadata/customer"
        assert client.get(path, headers=AUTH).status_code == 200
        assert client.get(path, headers=AUTH).status_code == 429
        client.post("/_sandbox/reset")
        assert client.get(path, headers=AUTH).status_code == 200


def test_the_window_rolls_over_after_sixty_seconds_of_wall_time() -> None:
    limiter = Limiter(requests_per_minute=2, monthly_quota=1000)
    assert limiter.admit([1], "2026-03", now=100.0) is None
    assert limiter.admit([1], "2026-03", now=130.0) is None
    assert limiter.admit([1], "2026-03", now=159.9) is not None
    assert limiter.admit([1], "2026-03", now=160.0) is None
    assert limiter.admit([1], "2026-03", now=189.9) is not None
    assert limiter.refused == 2


def test_monthly_quota_refuses_until_the_sandbox_clock_reaches_next_month() -> None:
    with stand_in_sandbox(monthly_quota=3) as (_, client):
        path = f"/v1/{CUSTOMER}/metadata/customer"
        statuses = [client.get(path, headers=AUTH).status_code for _ in range(4)]
        refused = client.get(path, headers=AUTH).json()
        client.post("/_sandbox/clock", json={"now": "2026-04-01T00:00:00Z"})
        after = client.get(path, headers=AUTH).status_code
        quota = client.get("/_sandbox/state").json()["quota"]
    assert statuses == [200, 200, 200, 429]
    assert refused == {
        "error": "Monthly quota exhausted for customer 1001: 3 requests in 2026-03 used. "
        "Wait for the next month."
    }
    assert after == 200
    assert quota == {"month": "2026-04", "limit": 3, "used": {"1001": 1}}


def test_refused_requests_do_not_use_quota() -> None:
    with stand_in_sandbox(requests_per_minute=1) as (_, client):
        for _ in range(3):
            client.get(f"/v1/{CUSTOMER}/metadata/customer", headers=AUTH)
        assert client.get("/_sandbox/state").json()["quota"]["used"] == {"1001": 1}
