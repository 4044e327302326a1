"""Injected faults: the spec grammar, their frequencies, and what a client sees."""

from __future__ import annotations

import json
import time
from collections import Counter

import httpx
import pytest

from sprout_sandbox.faults import FAULT_KINDS, FaultInjector, FaultSpec, parse_spec
from tests.sandbox.platform_fixtures import AUTH, CUSTOMER, stand_in_sandbox

FULL_SPEC = "500=0.1,503=0.05,504=0.02,202=0.05,429=0.02,drop=0.02,truncate=0.02,html=0.02,seed=3"


def test_spec_grammar() -> None:
    spec = parse_spec(FULL_SPEC + ",latency=200-2000,oauth=1")
    assert spec.probabilities == {
        "500": 0.1,
        "503": 0.05,
        "504": 0.02,
        "202": 0.05,
        "429": 0.02,
        "drop": 0.02,
        "truncate": 0.02,
        "html": 0.02,
    }
    assert spec.latency_ms == (200, 2000)
    assert spec.seed == 3
    assert spec.include_oauth
    assert parse_spec("") == FaultSpec()
    assert parse_spec("latency=300").latency_ms == (300, 300)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("500", "is not key=value"),
        ("418=0.1", "unknown fault kind '418'"),
        ("500=high", "is not a probability"),
        ("500=1.5", "is not a probability"),
        ("500=0.6,503=0.6", "add up to more than 1"),
        ("latency=2000-200", "0 <= A <= B"),
        ("latency=fast", "is not A-B"),
        ("seed=x", "is not an integer"),
    ],
    ids=["no-value", "unknown-kind", "not-number", "above-one", "sum", "range", "latency", "seed"],
)
def test_bad_specs_name_the_item(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_spec(text)


def test_each_kind_appears_with_its_probability_over_many_requests() -> None:
    injector = FaultInjector(parse_spec(FULL_SPEC))
    draws = 20_000
    seen = Counter(injector.draw()[0] for _ in range(draws))
    expected = parse_spec(FULL_SPEC).probabilities
    for kind in FAULT_KINDS:
        share = seen[kind] / draws
        assert abs(share - expected[kind]) < 0.01, (kind, share)
    assert injector.injected == Counter({k: n for k, n in seen.items() if k is not None})


def test_the_same_seed_gives_the_same_faults_in_the_same_order() -> None:
    first = FaultInjector(parse_spec(FULL_SPEC + ",latency=10-50"))
    second = FaultInjector(parse_spec(FULL_SPEC + ",latency=10-50"))
    other = FaultInjector(parse_spec(FULL_SPEC.replace("seed=3", "seed=4")))
    sequence = [first.draw() for _ in range(300)]
    assert sequence == [second.draw() for _ in range(300)]
    assert [kind for kind, _ in sequence] != [other.draw()[0] for _ in range(300)]
    assert all(0.010 <= delay <= 0.050 for _, delay in sequence)


@pytest.mark.parametrize("status", ["500", "503", "504", "202", "429"], ids=lambda s: s)
def test_status_faults_answer_json_errors_with_sprout_headers(status: str) -> None:
    with stand_in_sandbox(faults=f"{status}=1") as (_, client):
        response = client.get(f"/v1/{CUSTOMER}/metadata/customer", headers=AUTH)
        state = client.get("/_sandbox/state").json()
    assert response.status_code == int(status)
    assert set(response.json()) == {"error"}
    assert response.headers["x-sprout-api-version"] == "1.1"
    assert state["faults"]["injected"] == {status: 1}


def test_html_fault_is_an_html_page_a_json_parse_fails_on() -> None:
    with stand_in_sandbox(faults="html=1,seed=1") as (_, client):
        responses = [client.get("/v1/metadata/client", headers=AUTH) for _ in range(10)]
    assert {r.status_code for r in responses} == {502, 503}
    for response in responses:
        assert response.headers["content-type"] == "text/html"
        assert response.text.startswith("<html>")
        with pytest.raises(json.JSONDecodeError):
            response.json()


def test_truncate_fault_sends_a_cut_json_body() -> None:
    with stand_in_sandbox(faults="truncate=1") as (_, client):
        response = client.get(f"/v1/{CUSTOMER}/metadata/customer", headers=AUTH)
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.text.startswith('{"data":[')
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_drop_fault_breaks_the_connection_mid_body() -> None:
    with stand_in_sandbox(faults="drop=1") as (_, client):
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(f"/v1/{CUSTOMER}/metadata/customer", headers=AUTH)
        # The server goes on serving new connections.
        client.post("/_sandbox/faults", json={"spec": ""})
        assert client.get(f"/v1/{CUSTOMER}/metadata/customer", headers=AUTH).status_code == 200


def test_faults_spare_control_and_oauth_endpoints_unless_asked() -> None:
    form = {
        "grant_type": "client_credentials",
        "scope": "organization_id",
        "client_id": "sandbox-client",
        "client_secret": "sandbox-secret",
    }
    with stand_in_sandbox(faults="500=1") as (_, client):
        assert client.get("/_sandbox/state").status_code == 200
        assert client.post("/oauth2/v1/token", data=form).status_code == 200
        client.post("/_sandbox/faults", json={"spec": "500=1,oauth=1"})
        assert client.post("/oauth2/v1/token", data=form).status_code == 500


def test_faults_are_set_at_runtime_and_mix_as_configured() -> None:
    with stand_in_sandbox() as (_, client):
        answer = client.post("/_sandbox/faults", json={"spec": "500=0.3,503=0.2,seed=9"})
        assert answer.json() == {"spec": "500=0.3,503=0.2,seed=9", "targeted": []}
        statuses = Counter(
            client.get("/v1/metadata/client", headers=AUTH).status_code for _ in range(200)
        )
        injected = client.get("/_sandbox/state").json()["faults"]["injected"]
        bad = client.post("/_sandbox/faults", json={"spec": "500=2"})
    expected = FaultInjector(parse_spec("500=0.3,503=0.2,seed=9"))
    kinds = Counter(expected.draw()[0] for _ in range(200))
    assert statuses == Counter({200: kinds[None], 500: kinds["500"], 503: kinds["503"]})
    assert injected == {"500": kinds["500"], "503": kinds["503"]}
    assert 40 <= kinds["500"] <= 80
    assert bad.status_code == 400
    assert "500=2" in bad.json()["error"]


def test_latency_delays_requests() -> None:
    with stand_in_sandbox(latency_ms=(120, 120)) as (_, client):
        started = time.monotonic()
        client.get("/v1/metadata/client", headers=AUTH)
        elapsed = time.monotonic() - started
        control_started = time.monotonic()
        client.get("/_sandbox/state")
        control_elapsed = time.monotonic() - control_started
    assert elapsed >= 0.12
    assert control_elapsed < 0.1


def _outcome(client: httpx.Client) -> str:
    """What a client sees: a status, or the way the body is broken."""
    try:
        response = client.get(f"/v1/{CUSTOMER}/metadata/customer", headers=AUTH)
    except httpx.RemoteProtocolError:
        return "drop"
    if response.headers["content-type"] == "text/html":
        return "html"
    try:
        response.json()
    except json.JSONDecodeError:
        return "truncate"
    return str(response.status_code)


def test_every_kind_reaches_the_client_as_the_seeded_sequence_says() -> None:
    requests = 400
    predicted = FaultInjector(parse_spec(FULL_SPEC))
    expected = Counter(predicted.draw()[0] or "200" for _ in range(requests))
    with stand_in_sandbox(faults=FULL_SPEC) as (_, client):
        seen = Counter(_outcome(client) for _ in range(requests))
        injected = client.get("/_sandbox/state").json()["faults"]["injected"]
    assert seen == expected
    assert set(seen) == {"200", *FAULT_KINDS}
    assert injected == {kind: expected[kind] for kind in sorted(FAULT_KINDS)}


def test_a_targeted_fault_fails_only_the_matching_requests() -> None:
    target = {"fault": "503", "path": "/metadata/customer$", "method": "GET", "times": 2}
    with stand_in_sandbox() as (_, client):
        answer = client.post("/_sandbox/faults", json={"target": target})
        assert answer.json()["targeted"] == [
            {"fault": "503", "path": "/metadata/customer$", "method": "GET", "times": 2}
        ]
        other = client.get("/v1/metadata/client", headers=AUTH).status_code
        hits = [
            client.get(f"/v1/{CUSTOMER}/metadata/customer", headers=AUTH).status_code
            for _ in range(3)
        ]
        state = client.get("/_sandbox/state").json()["faults"]
    assert other == 200
    assert hits == [503, 503, 200]
    assert state["injected"] == {"503": 2}
    assert state["targeted"] == []


def test_a_dropped_answer_after_the_draft_was_created() -> None:
    target = {"fault": "drop", "path": "/publishing/posts$", "method": "POST"}
    body = {
        "group_id": CUSTOMER * 10,
        "customer_profile_ids": [CUSTOMER * 100 + 1],
        "is_draft": True,
        "text": "Created, but the answer never arrives",
    }
    with stand_in_sandbox() as (_, client):
        client.post("/_sandbox/faults", json={"target": target})
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(f"/v1/{CUSTOMER}/publishing/posts", headers=AUTH, json=body)
        created = client.get("/_sandbox/publishing/posts").json()["data"]
    assert [p["internal"]["publishing"]["text"] for p in created] == [body["text"]]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ({"fault": "teapot", "path": "x"}, "is not one of"),
        ({"fault": "500", "path": "("}, "is not a regular expression"),
        ({"fault": "500", "path": "x", "times": 0}, "must be at least 1"),
        ({"fault": "500"}, "target must be"),
    ],
    ids=["kind", "pattern", "times", "no-path"],
)
def test_bad_targets_are_400(target: dict[str, object], message: str) -> None:
    with stand_in_sandbox() as (_, client):
        response = client.post("/_sandbox/faults", json={"target": target})
    assert response.status_code == 400
    assert message in response.json()["error"]
