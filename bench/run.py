"""`make bench`: how close the pipeline comes to the limits of the API and of DuckDB.

Prints a table and writes `bench/results.json`. `--scale small` (the default of `make
bench`) runs in a few minutes on two cores; `--scale default` is the issue's scale.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pendulum

from bench.minimum import minimum_requests
from bench.runs import AnswerStore, RecordingTransport, Warehouse, open_warehouse, run_sprout
from bench.sandbox_process import sandbox, sandbox_state
from bench.windows import run_windows
from pipelines.pipeline import source_state
from sources.sprout import cursor_positions, load_settings, settings
from sources.sprout.client import ANALYTICS_RESULT_CAP as RESULT_CAP

RESULTS = Path(__file__).resolve().parent / "results.json"
CLOCK = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RATE_SPEEDUP = 4
"""The rate run scales the API's 60 requests a minute and 0.5-2 s latency by this factor:
the ratio of latency to request interval, which decides how many requests must be in
flight, stays the same, and the run takes a quarter of the time."""
RATE_REQUESTS = 150
ANSWERS = "answers.sqlite"


@dataclass(frozen=True)
class BenchScale:
    """A world size: one customer's profiles, days of history, daily rates."""

    profiles: int
    days: int
    posts_per_day: float
    topics: int

    def sandbox(self, **changes: Any) -> dict[str, Any]:
        """Options of :func:`bench.sandbox_process.sandbox` for this scale."""
        options: dict[str, Any] = {
            "seed": 7,
            "scale": {
                "customers": 1,
                "profiles": self.profiles,
                "days": self.days,
                "posts_per_day": self.posts_per_day,
                "topics": self.topics,
            },
            "now": CLOCK.isoformat(),
            "history_start": self.first_day.isoformat(),
            "requests_per_minute": 10**6,
        }
        return {**options, **changes}

    @property
    def first_day(self) -> pendulum.Date:
        """The sandbox's first day of history, where a backfill starts."""
        day = (CLOCK - timedelta(days=self.days)).date()
        return pendulum.Date(day.year, day.month, day.day)


SCALES = {
    "small": BenchScale(profiles=10, days=30, posts_per_day=20.0, topics=5),
    "medium": BenchScale(profiles=20, days=120, posts_per_day=20.0, topics=5),
    "default": BenchScale(profiles=100, days=365, posts_per_day=20.0, topics=5),
}


# 1 and 4: requests against the minimum, then the marts on the same warehouse ---------


def measure_requests(scale: BenchScale, folder: Path) -> dict[str, Any]:
    """A backfill and a daily incremental run: requests made against the minimum."""
    end = pendulum.Date(CLOCK.year, CLOCK.month, CLOCK.day)
    with sandbox(scale.sandbox()) as base_url:
        warehouse = Warehouse(folder / "requests", base_url)
        store = AnswerStore(folder / ANSWERS)
        backfill = _efficiency(warehouse, scale.first_day, end, RecordingTransport(store))
        store.close()
        marts = measure_marts(warehouse)
        httpx.post(f"{base_url}/_sandbox/clock", json={"advance": "P1D"}).raise_for_status()
        incremental = _efficiency(warehouse, scale.first_day, end.add(days=1), RecordingTransport())
        throttled = int(sandbox_state(base_url)["rate_limited"])
    return {
        "backfill": backfill,
        "incremental": incremental,
        "marts": marts,
        "throttled": throttled,
    }


def _efficiency(
    warehouse: Warehouse, start: pendulum.Date, end: pendulum.Date, recorder: RecordingTransport
) -> dict[str, Any]:
    positions = cursor_positions(source_state(warehouse.pipeline()))
    before = sandbox_state(warehouse.base_url)["requests"]["by_endpoint"]
    summary, seconds = run_sprout(warehouse, start, end, recorder)
    after = sandbox_state(warehouse.base_url)["requests"]["by_endpoint"]
    with warehouse.environment():
        config = load_settings(start_date=start.isoformat(), end_date=end.isoformat())
    minimum = minimum_requests(run_windows(warehouse.database, config, positions))
    made = len(recorder.starts)
    return {
        "requests": made,
        "minimum": sum(minimum.values()),
        "ratio": made / sum(minimum.values()),
        "minimum_by_resource": minimum,
        "made_by_endpoint": _endpoint_counts(before, after),
        "chunks": summary.chunks,
        "seconds": seconds,
    }


def _endpoint_counts(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    def total(counts: dict[str, Any], endpoint: str) -> int:
        return sum(int(n) for n in (counts.get(endpoint) or {}).values())

    made = {e: total(after, e) - total(before, e) for e in after}
    return {endpoint: count for endpoint, count in sorted(made.items()) if count}


def measure_marts(warehouse: Warehouse) -> dict[str, Any]:
    """Seconds to build every mart, against one scan of every column of the raw tables."""
    from transforms.runner import build_marts

    with open_warehouse(warehouse.database) as db:
        tables = [
            name
            for (name,) in db.execute(
                "select table_name from information_schema.tables where table_schema = "
                "'sprout' and table_type = 'BASE TABLE' and table_name not like '_dlt%'"
            ).fetchall()
        ]
        began = time.monotonic()
        for name in tables:
            db.execute(f"select count(*), bit_xor(hash(columns(*))) from sprout.{name}").fetchall()
        scan = time.monotonic() - began
    with warehouse.environment():
        pipeline = warehouse.pipeline()
        began = time.monotonic()
        built = build_marts(pipeline)
        build = time.monotonic() - began
    return {
        "raw_tables": len(tables),
        "scan_seconds": scan,
        "build_seconds": build,
        "ratio": build / scan,
        "mart_rows": built,
    }


# 2: the rate under latency ------------------------------------------------------------


def measure_rate(scale: BenchScale, folder: Path) -> dict[str, Any]:
    """Requests a minute achieved with latency and a rate limit, scaled by `RATE_SPEEDUP`."""
    rpm = 60 * RATE_SPEEDUP
    latency = [500 // RATE_SPEEDUP, 2000 // RATE_SPEEDUP]
    options = scale.sandbox(requests_per_minute=rpm, latency_ms=latency)
    end = pendulum.Date(CLOCK.year, CLOCK.month, CLOCK.day)
    with sandbox(options) as base_url:
        warehouse = Warehouse(folder / "rate", base_url, requests_per_minute=rpm)
        recorder = RecordingTransport()
        first = max(scale.first_day, end.subtract(days=_rate_days(scale) - 1))
        run_sprout(warehouse, first, end, recorder, resources="posts,messages,topic_messages")
        throttled = int(sandbox_state(base_url)["rate_limited"])
    starts = recorder.starts
    minutes = (starts[-1] - starts[0]) / 60
    achieved = (len(starts) - 1) / minutes
    return {
        "requests_per_minute_limit": rpm,
        "latency_ms": latency,
        "requests": len(starts),
        "achieved_per_minute": achieved,
        "ratio": achieved / rpm,
        "throttled": throttled,
        "longest_pauses_seconds": sorted(
            (round(b - a, 3) for a, b in itertools.pairwise(starts)), reverse=True
        )[:5],
    }


def _rate_days(scale: BenchScale) -> int:
    """Days of posts, messages and topic messages that take about `RATE_REQUESTS` requests,
    or enough days for the posts query to pass the 10,000-result cap when the scale
    has them: that query is read in parts side by side, the way a large account's is."""
    per_day = scale.profiles * scale.posts_per_day / 100 + scale.topics * 40 / 100 + 1
    past_cap = math.ceil(
        (RESULT_CAP + settings.POSTS_PAGE_SIZE) / (scale.profiles * scale.posts_per_day)
    )
    days = max(int(RATE_REQUESTS / per_day), past_cap if past_cap <= scale.days else 0)
    return max(1, min(scale.days, days))


# 3: local cost ------------------------------------------------------------------------


def measure_local(scale: BenchScale, folder: Path) -> dict[str, Any]:
    """Replay the backfill's answers into a fresh warehouse in a child process, then
    load the same rows with DuckDB's `read_json` (the floor)."""
    end = pendulum.Date(CLOCK.year, CLOCK.month, CLOCK.day)
    target = folder / "local"
    command = [
        sys.executable, "-m", "bench.local", str(folder / ANSWERS), str(target),
        scale.first_day.isoformat(), end.isoformat(),
    ]  # fmt: skip
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    (folder / "local.log").write_text(done.stderr)  # the replay's warnings, kept to read
    done.check_returncode()
    replay = json.loads(done.stdout.strip().splitlines()[-1])
    floor = _read_json_floor(target / "sprout.duckdb", folder / "ndjson")
    pipeline_rate = replay["rows"] / replay["seconds"]
    floor_rate = floor["rows"] / floor["seconds"]
    return {
        "rows": replay["rows"],
        "seconds": replay["seconds"],
        "rows_per_second": pipeline_rate,
        "read_json_rows": floor["rows"],
        "read_json_seconds": floor["seconds"],
        "read_json_rows_per_second": floor_rate,
        "ratio_to_floor": pipeline_rate / floor_rate,
        "peak_mib": replay["peak_mib"],
    }


def _read_json_floor(database: Path, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    with open_warehouse(database) as db:
        tables = [
            name
            for (name,) in db.execute(
                "select table_name from information_schema.tables where table_schema = "
                "'sprout' and table_name not like '_dlt%'"
            ).fetchall()
        ]
        rows = 0
        for name in tables:
            counted = db.execute(f"select count(*) from sprout.{name}").fetchall()
            rows += int(counted[0][0])
            db.execute(f"copy sprout.{name} to '{out / name}.ndjson' (format json)")
    with duckdb.connect(str(out / "floor.duckdb")) as db:
        began = time.monotonic()
        for name in tables:
            db.execute(f"create table {name} as select * from read_json('{out / name}.ndjson')")
        seconds = time.monotonic() - began
    return {"rows": rows, "seconds": seconds}


# The report ---------------------------------------------------------------------------

TARGETS = {
    "request efficiency, backfill": ("<=", 1.02),
    "request efficiency, incremental": ("<=", 1.02),
    "rate used under latency": (">=", 0.95),
    "429 answers provoked": ("<=", 0),
    "local load / read_json floor": (">=", 0.25),
    "local load / plain rest_api": (">=", 3.0),
    "peak memory, MB": ("<", 500),
    "marts / one raw scan": ("<=", 20),
}


def figures(results: dict[str, Any]) -> dict[str, float | None]:
    """The headline figure of each target, from the results."""
    requests, rate, local = results["requests"], results.get("rate"), results.get("local")
    return {
        "request efficiency, backfill": requests["backfill"]["ratio"],
        "request efficiency, incremental": requests["incremental"]["ratio"],
        "rate used under latency": rate["ratio"] if rate else None,
        "429 answers provoked": requests["throttled"] + (rate["throttled"] if rate else 0),
        "local load / read_json floor": local["ratio_to_floor"] if local else None,
        "local load / plain rest_api": (results.get("rest_api") or {}).get("ratio"),
        # The unit: 500 MB is 477 MiB.
        "peak memory, MB": local["peak_mib"] * 2**20 / 10**6 if local else None,
        "marts / one raw scan": requests["marts"]["ratio"],
    }


def write_table(values: dict[str, float | None], out: Any) -> None:
    """Print one line per target: figure, target, and whether it holds."""
    out.write(f"{'measurement':<34} {'figure':>9}  {'target':<8} holds\n")
    for name, value in values.items():
        sign, bound = TARGETS[name]
        if value is None:
            out.write(f"{name:<34} {'-':>9}  {sign} {bound:<5} not measured\n")
            continue
        holds = {"<=": value <= bound, ">=": value >= bound, "<": value < bound}[sign]
        out.write(f"{name:<34} {value:>9.3f}  {sign} {bound:<5} {'yes' if holds else 'NO'}\n")


def main(argv: list[str] | None = None) -> int:
    """Run every measurement at the chosen scale; print the table, write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--skip", default="", help="comma-separated: rate, local, rest_api")
    parser.add_argument("--workdir", help="keep the warehouses and recordings in this folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    scale = SCALES[args.scale]
    skipped = {s.strip() for s in args.skip.split(",") if s.strip()}
    results: dict[str, Any] = {"scale": args.scale, **asdict(scale)}
    with tempfile.TemporaryDirectory(prefix="sprout-bench-") as tmp:
        folder = Path(args.workdir or tmp)
        results["requests"] = measure_requests(scale, folder)
        if "local" not in skipped:
            results["local"] = measure_local(scale, folder)
        if "rest_api" not in skipped:
            results["rest_api"] = measure_rest_api(scale, folder)
        if "rate" not in skipped:
            results["rate"] = measure_rate(scale, folder)
    results["figures"] = figures(results)
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n", "utf-8")
    write_table(results["figures"], sys.stdout)
    sys.stdout.write(f"details: {RESULTS}\n")
    return 0


def measure_rest_api(scale: BenchScale, folder: Path) -> dict[str, Any]:
    """Rows a second of this pipeline and of a plain `rest_api` configuration, on the
    same endpoints and window, against the same sandbox without latency or limit."""
    from bench.rest_api_baseline import run_rest_api

    end = pendulum.Date(CLOCK.year, CLOCK.month, CLOCK.day)
    days = min(scale.days, int(9_000 / (scale.profiles * scale.posts_per_day)))
    start = end.subtract(days=days - 1)
    with sandbox(scale.sandbox()) as base_url:
        config = _rest_api_config(base_url, start, end)
        rest_rows, rest_seconds = run_rest_api(folder / "rest_api", config)
        warehouse = Warehouse(folder / "compared", base_url)
        summary, seconds = run_sprout(warehouse, start, end, resources="posts,messages")
    rows = sum(summary.rows.get(t, 0) for t in ("posts", "messages"))
    return {
        "days": days,
        "rows": rows,
        "seconds": seconds,
        "rest_api_rows": rest_rows,
        "rest_api_seconds": rest_seconds,
        "ratio": (rows / seconds) / (rest_rows / rest_seconds),
    }


def _rest_api_config(base_url: str, start: pendulum.Date, end: pendulum.Date) -> dict[str, Any]:
    from bench.rest_api_baseline import rest_api_config
    from sources.sprout import catalogue

    headers = {"Authorization": "Bearer sandbox-token"}
    customers = httpx.get(f"{base_url}/v1/metadata/client", headers=headers).json()["data"]
    customer = int(customers[0]["customer_id"])
    meta = f"{base_url}/v1/{customer}/metadata/customer"
    profiles = httpx.get(meta, headers=headers).json()["data"]
    groups: dict[int, list[int]] = {}
    for profile in profiles:
        if profile.get("groups"):
            groups.setdefault(int(profile["groups"][0]), []).append(profile["customer_profile_id"])
    metrics: dict[str, None] = {}
    for network_type in sorted({str(p["network_type"]) for p in profiles}):
        for metric in catalogue.post_metrics(catalogue.network_by_type(network_type)):
            if metric.retired_on is None or end.isoformat() < metric.retired_on:
                metrics[metric.key] = None
    account = {
        "customer_id": customer,
        "profile_ids": sorted(int(p["customer_profile_id"]) for p in profiles),
        "groups": {g: sorted(ids) for g, ids in groups.items()},
        "post_metrics": list(metrics),
    }
    return rest_api_config(base_url, account, start, end)


if __name__ == "__main__":
    raise SystemExit(main())
