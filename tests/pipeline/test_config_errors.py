"""Bad configuration fails before any data request, with one line naming the setting."""

from __future__ import annotations

import pytest

from tests.pipeline.conftest import Harness

CASES = [
    (
        {"SOURCES__SPROUT__PROFILE_METRICS": '["impressions", "impresions"]'},
        [],
        "`sources.sprout.profile_metrics` names unknown metrics ['impresions']",
        0,
    ),
    (
        {"SOURCES__SPROUT__POST_METRICS": '["lifetime.likes", "likes"]'},
        [],
        "`sources.sprout.post_metrics` names unknown metrics ['likes']",
        0,
    ),
    ({}, ["--start-date", "2026-02-30"], "`sources.sprout.start_date` is '2026-02-30'", 0),
    ({}, ["--end-date", "01/03/2026"], "`sources.sprout.end_date` is '01/03/2026'", 0),
    (
        {},
        ["--start-date", "2026-03-05", "--end-date", "2026-03-01"],
        "`sources.sprout.start_date` 2026-03-05 is after the end date 2026-03-01",
        0,
    ),
    (
        {"SOURCES__SPROUT__ACCESS_TOKEN": None},
        [],
        "no credentials: set `sources.sprout.access_token`",
        0,
    ),
    (
        {"SOURCES__SPROUT__REQUESTS_PER_MINUTE": "fast"},
        [],
        "`sources.sprout.requests_per_minute` is 'fast'",
        0,
    ),
    ({}, ["--resources", "posts,post"], "--resources names unknown resource 'post'", 0),
    (
        {"SOURCES__SPROUT__CUSTOMER_ID": "999"},
        [],
        "customer 999 is not visible to this token (it sees [100001, 100002]): check "
        "`sources.sprout.customer_id`",
        1,
    ),
]
IDS = [
    "unknown-profile-metric",
    "unknown-post-metric",
    "no-such-day",
    "not-iso",
    "start-after-end",
    "no-token",
    "rate-not-a-number",
    "unknown-resource",
    "customer-not-visible",
]


@pytest.mark.parametrize(("env", "argv", "message", "requests"), CASES, ids=IDS)
def test_bad_configuration_fails_before_any_data_request(
    harness: Harness,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str | None],
    argv: list[str],
    message: str,
    requests: int,
) -> None:
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name)
        else:
            monkeypatch.setenv(name, value)
    result = harness.cli("run", *argv)
    assert result.status == 1
    assert result.stderr.startswith("sprout-elt run: ")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr
    # Only the customer check may ask the API anything, and only `/v1/metadata/client`.
    assert harness.requests_made() == requests
    assert "sandbox-token" not in result.stderr
