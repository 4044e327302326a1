"""``sprout-elt sandbox serve`` and ``sprout-elt sandbox export``, tried as a new user would."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from pipelines.cli import main
from sprout_sandbox import server
from sprout_sandbox.config import SandboxConfig, Scale


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[tuple[SandboxConfig, str, int]]:
    calls: list[tuple[SandboxConfig, str, int]] = []
    monkeypatch.setattr(
        server, "serve", lambda config, host, port: calls.append((config, host, port))
    )
    return calls


def test_serve_defaults(served: list[tuple[SandboxConfig, str, int]]) -> None:
    assert main(["sandbox", "serve"]) == 0
    ((config, host, port),) = served
    assert (host, port) == ("127.0.0.1", 8765)
    assert config.tokens == {"sandbox-token": None}
    assert config.oauth_clients == {"sandbox-client": "sandbox-secret"}
    assert config.scale == Scale()
    assert config.faults == ""


def test_serve_options_build_the_config(served: list[tuple[SandboxConfig, str, int]]) -> None:
    status = main(
        [
            "sandbox",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "9000",
            "--seed",
            "3",
            "--customers",
            "1",
            "--profiles",
            "20",
            "--days",
            "365",
            "--posts-per-day",
            "1.5",
            "--topics",
            "4",
            "--topic-messages-per-day",
            "10",
            "--now",
            "2026-06-01T08:00:00Z",
            "--history-start",
            "2025-06-01",
            "--latency-ms",
            "10-50",
            "--faults",
            "500=0.1,seed=2",
            "--token",
            "tok-one-1234",
            "--token",
            "tok-two-5678",
            "--client",
            "app:s3cret-value",
            "--requests-per-minute",
            "120",
            "--monthly-quota",
            "1000",
            "--token-ttl",
            "60",
        ]
    )
    assert status == 0
    ((config, host, port),) = served
    assert (host, port) == ("0.0.0.0", 9000)
    assert config.seed == 3
    assert config.scale == Scale(
        customers=1, profiles=20, days=365, posts_per_day=1.5, topics=4, topic_messages_per_day=10
    )
    assert config.now == datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    assert config.history_start == date(2025, 6, 1)
    assert config.latency_ms == (10, 50)
    assert config.faults == "500=0.1,seed=2"
    assert config.tokens == {"tok-one-1234": None, "tok-two-5678": None}
    assert config.oauth_clients == {"app": "s3cret-value"}
    assert (config.requests_per_minute, config.monthly_quota, config.token_ttl_seconds) == (
        120,
        1000,
        60,
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "http"], "sprout-elt sandbox: --port must be a whole number, got 'http'"),
        (["--port", "70000"], "--port must be a TCP port from 0 to 65535"),
        (["--seed", "-1"], "--seed must be at least 0, got -1"),
        (["--profiles", "many"], "--profiles must be a number, got 'many'"),
        (["--now", "tomorrow"], "--now must be an ISO 8601 timestamp, got 'tomorrow'"),
        (["--latency-ms", "fast"], "--latency-ms: latency 'fast' is not A-B"),
        (["--faults", "500=2"], "--faults: fault 500=2 is not a probability"),
        (["--client", "no-secret"], "--client must be CLIENT_ID:CLIENT_SECRET"),
        (["--requests-per-minute", "0"], "--requests-per-minute must be at least 1"),
    ],
    ids=["port-word", "port-range", "seed", "scale", "now", "latency", "faults", "client", "rpm"],
)
def test_bad_values_end_in_one_line_naming_the_option(
    served: list[Any], capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["sandbox", "serve", *argv]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert message in err
    assert served == []


def test_serve_logs_the_url_and_default_token_but_never_given_tokens(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(server.uvicorn.Server, "run", lambda self, sockets=None: None)
    with caplog.at_level(logging.INFO, logger="sprout_sandbox.server"):
        assert main(["sandbox", "serve", "--port", "0"]) == 0
        default_log = caplog.text
        caplog.clear()
        assert main(["sandbox", "serve", "--port", "0", "--token", "my-private-token"]) == 0
        given_log = caplog.text
    assert "Sprout API sandbox serving on http://127.0.0.1:" in default_log
    assert "sandbox-token" in default_log
    assert "my-private-token" not in given_log
    assert "Accepting the 1 API token(s) given on the command line" in given_log


def test_export_prints_rows_per_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[tuple[SandboxConfig, Path]] = []

    def fake_export(config: SandboxConfig, out_dir: Path) -> dict[str, int]:
        seen.append((config, out_dir))
        return {"customers.ndjson": 2, "profiles.ndjson": 18}

    import sprout_sandbox.export

    monkeypatch.setattr(sprout_sandbox.export, "export_world", fake_export)
    out = tmp_path / "truth"
    assert main(["sandbox", "export", "--out", str(out), "--seed", "5", "--days", "30"]) == 0
    ((config, out_dir),) = seen
    assert (config.seed, config.scale.days, out_dir) == (5, 30, out)
    assert out.is_dir()
    assert capsys.readouterr().out.splitlines() == [
        "customers.ndjson          2 rows",
        "profiles.ndjson          18 rows",
        f"wrote 2 files, 20 rows, to {out}",
    ]


def test_export_refuses_a_file_as_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    assert main(["sandbox", "export", "--out", str(target)]) == 1
    assert "--out" in capsys.readouterr().err


def test_export_has_no_serve_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sandbox", "export", "--out", "x", "--port", "1"])
    assert "unrecognized arguments: --port" in capsys.readouterr().err
