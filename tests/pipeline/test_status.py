"""`sprout-elt status`, and what a run leaves behind in dlt's files."""

from __future__ import annotations

import pendulum
import pytest

from tests.pipeline.conftest import Harness


def test_status_shows_loads_rows_cursors_and_requests_this_month(harness: Harness) -> None:
    before = harness.cli("status")
    assert before.status == 0, before.stderr
    assert before.stdout == f"no warehouse at {harness.database} yet (run `sprout-elt run`)\n"
    assert not harness.database.exists()
    assert harness.run().status == 0
    made = harness.requests_made()
    status = harness.cli("status")
    assert status.status == 0, status.stderr
    lines = status.stdout.splitlines()
    posts = harness.query("select count(*) from sprout.posts")[0][0]
    assert any(line.split() == ["posts", str(posts)] for line in lines)
    assert any(line.split()[:2] == ["profile_analytics", "2026-03-01"] for line in lines)
    assert any(line.split()[0] == "posts" and line.endswith("UTC") for line in lines)
    month = pendulum.now("UTC").format("YYYY-MM")
    assert f"requests in {month}: {made} of 250000" in status.stdout
    assert sum(line.endswith(" loaded") for line in lines) == 1
    assert any(line.startswith("last run: ") and line.endswith(" s, ok") for line in lines)


@pytest.mark.parametrize("oauth", [False, True], ids=["api-token", "oauth-client"])
def test_no_secret_is_in_any_file_dlt_keeps(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, oauth: bool
) -> None:
    secret = "sandbox-token"
    if oauth:
        secret = "sandbox-secret"
        monkeypatch.delenv("SOURCES__SPROUT__ACCESS_TOKEN")
        monkeypatch.setenv("SOURCES__SPROUT__CLIENT_ID", "sandbox-client")
        monkeypatch.setenv("SOURCES__SPROUT__CLIENT_SECRET", secret)
        monkeypatch.setenv("SOURCES__SPROUT__TOKEN_URL", harness.sandbox.token_url)
    result = harness.run("--resources", "profiles,posts")
    assert result.status == 0, result.stderr
    assert harness.query("select count(*) from sprout.posts")[0][0] == len(harness.truth("posts"))
    leaked = [
        str(path)
        for path in (harness.tmp / "dlt").rglob("*")
        if path.is_file() and secret.encode() in path.read_bytes()
    ]
    assert leaked == []
    assert secret not in result.stdout + result.stderr
