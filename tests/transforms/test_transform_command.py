"""`sprout-elt transform`, tried as a new user would: after a load, and before any."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.pipeline import make_pipeline
from tests.transforms import raw_rows


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DuckDB file and dlt state of its own, as `sprout-elt` would find them."""
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "warehouse.duckdb"))
    return tmp_path


def test_transform_prints_rows_per_mart_and_a_summary(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw_rows.load(make_pipeline("duckdb", "sprout"), raw_rows.all_tables())
    assert main(["transform"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:4] == [
        "daily_inbox_activity: 2 rows",
        "daily_profile_performance: 12 rows",
        "daily_topic_sentiment: 6 rows",
        "post_performance: 9 rows",
    ]
    assert out[4:8] == [
        "Top 3 posts by engagements:",
        "        76 YOUTUBE    Acme on YouTube 2026-03-01 yt:1",
        "        65 FACEBOOK   Acme on Facebook 2026-03-01 fb:1",
        "        50 TIKTOK     Acme on TikTok 2026-03-01 tt:1",
    ]
    assert "       +22 TWITTER    Acme on X (2026-03-01 to 2026-03-02, peak 1012)" in out
    assert out[-2:] == [
        "  Brand 2026-03-02    n/a (3 messages)",
        "  Brand 2026-03-01 +0.58 (27 messages)",
    ]


def test_transform_before_any_load_says_what_to_do(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["transform", "--dataset", "nothing_here"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "sprout-elt transform: dataset 'nothing_here' does not exist on the destination: "
        "load data first with `sprout-elt run`, or check --destination/--dataset\n"
    )
