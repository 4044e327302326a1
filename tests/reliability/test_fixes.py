"""Regressions of what the reliability suite found, each pinned where it is cheapest."""

from __future__ import annotations

import fcntl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dlt
import httpx
import pytest

from pipelines.run import _remove_replayed_rows
from sources.sprout import pacing
from sources.sprout.client import ScopeTooLarge, SproutApiError
from sources.sprout.pacing import Pacer
from tests.reliability.scenarios import error_line_problems, workspace
from tests.sources.test_client import make_client, ok, scripted

POSTS = "/v1/100001/analytics/posts"
GATEWAY_TIMEOUT = httpx.Response(504, json={"error": "Gateway Timeout"})


def test_the_pacer_takes_its_jitter_setting_when_it_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The jitter was bound when the module loaded, so shrinking it changed nothing.
    monkeypatch.setattr(pacing, "_WINDOW_SECONDS", 1.0)
    monkeypatch.setattr(pacing, "_BACK_OFF_JITTER_SECONDS", 0.0)
    now, slept = [100.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(6000, clock=lambda: now[0], sleep=sleep)
    pacer.back_off()
    pacer.acquire()

    assert slept == [pytest.approx(1.0)]


@pytest.mark.parametrize(
    ("method", "call"),
    [
        ("GET", lambda client: client.get("/v1/100001/metadata/customer/groups")),
        ("POST", lambda client: client.post(POSTS, {"filters": []}, splittable=False)),
    ],
    ids=["metadata-get", "post-that-cannot-be-split"],
)
def test_a_504_on_a_request_that_cannot_be_split_is_retried(method: str, call: object) -> None:
    # Two 504s in a row used to end the run although nothing smaller could be asked.
    handler, seen = scripted(GATEWAY_TIMEOUT, GATEWAY_TIMEOUT, GATEWAY_TIMEOUT, ok({"data": []}))
    client = make_client(handler)

    assert call(client) == {"data": []}  # type: ignore[operator]
    assert [r.method for r in seen] == [method] * 4


def test_a_504_that_outlasts_the_retries_of_an_unsplittable_request_is_an_api_error() -> None:
    handler, seen = scripted(GATEWAY_TIMEOUT)
    client = make_client(handler, max_retries=3)

    with pytest.raises(SproutApiError) as raised:
        client.post(POSTS, {"filters": []}, splittable=False)

    assert not isinstance(raised.value, ScopeTooLarge)
    assert len(seen) == 4 and "4 attempts" in str(raised.value)


@pytest.mark.parametrize(
    "answer",
    [{"paging": {"current_page": 1}}, {"data": {"guid": "1"}}, {"data": None}],
    ids=["no-data", "data-not-a-list", "data-null"],
)
def test_a_page_without_a_data_list_is_an_error_not_an_empty_page(answer: object) -> None:
    # It was read as an empty page: the run went on and its records were never loaded.
    client = make_client(scripted(ok(answer))[0])

    with pytest.raises(SproutApiError) as raised:
        list(client.pages(POSTS, {"limit": 50}))

    assert f"POST {POSTS} answered 200: the answer has no `data` list" in str(raised.value)


def test_a_second_run_on_the_same_pipeline_directory_refuses(tmp_path: Path) -> None:
    with workspace(tmp_path) as harness:
        folder = tmp_path / "dlt" / "pipelines" / "sprout"
        folder.parent.mkdir(parents=True)
        with (folder.parent / "sprout.run.lock").open("a+") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            held.write("4242\n")
            held.flush()
            result = harness.cli("run", "--resources", "profiles")
        assert error_line_problems(result) == []
        assert (
            f"another sprout-elt run (pid 4242) is using the pipeline directory {folder}: "
            "wait for it to finish, then run again"
        ) in result.stderr
        assert harness.requests_made() == 0
        # Once the other run is gone, the lock is free again.
        assert harness.cli("run", "--resources", "profiles", "--end-date", "2026-03-01").status == 0


def test_a_duckdb_file_held_by_another_process_is_named_in_one_line(tmp_path: Path) -> None:
    with workspace(tmp_path) as harness:
        holder = subprocess.Popen(
            [sys.executable, "-c", _HOLD_DUCKDB, str(harness.database)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            result = harness.cli("run", "--resources", "profiles", "--end-date", "2026-03-01")
        finally:
            holder.kill()
            holder.wait()
    assert error_line_problems(result) == []
    assert (
        f"the DuckDB file {harness.database} is in use by another process (pid {holder.pid})"
    ) in result.stderr


_HOLD_DUCKDB = (
    "import sys, time, duckdb\n"
    "connection = duckdb.connect(sys.argv[1])\n"
    "print('held', flush=True)\n"
    "time.sleep(60)\n"
)


def test_rows_a_resumed_load_wrote_twice_are_kept_once(tmp_path: Path) -> None:
    # A load job killed between the warehouse's commit and dlt's record runs again on
    # resume; dlt leaves the root table of a table chain with both copies.
    pipeline = dlt.pipeline(
        "replayed",
        destination=dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb")),
        dataset_name="sprout",
        pipelines_dir=str(tmp_path / "pipelines"),
    )

    @dlt.resource(primary_key="case_id", write_disposition="merge")
    def cases() -> Iterator[list[dict[str, object]]]:
        yield [{"case_id": 1, "tags": ["a", "b"]}, {"case_id": 2, "tags": ["c"]}]

    pipeline.run(cases())
    with pipeline.sql_client() as client:
        client.execute_sql("insert into sprout.cases select * from sprout.cases")

    _remove_replayed_rows(pipeline)

    with pipeline.sql_client() as client:
        assert client.execute_sql("select case_id from sprout.cases order by 1") == [(1,), (2,)]
        assert client.execute_sql("select count(*) from sprout.cases__tags") == [(3,)]
