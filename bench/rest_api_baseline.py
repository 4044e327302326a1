"""The same endpoints through a plain dlt `rest_api` configuration, for comparison.

Minimal but fair: the same customer, profiles and groups, the same time window,
fields, metrics and page sizes (100 a page), sorted the same way; dlt's defaults for
everything else (one request at a time, JSON items, dlt's default loader format).
Posts page by number, which is complete only below the API's 10,000-result cap, so
the comparison runs over a window that stays under it. Listening messages are left out:
their answers carry no page count, which `rest_api`'s page paginator needs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import dlt
import pendulum
from dlt.sources.rest_api import rest_api_source

from sources.sprout import settings

_ROWS = ("posts", "messages")
"""The top-level tables both runs load, whose rows are compared."""


def _window(start: pendulum.Date, end: pendulum.Date) -> str:
    last = end.add(days=1)
    return f"{start.isoformat()}T00:00:00...{last.isoformat()}T00:00:00"


def rest_api_config(
    base_url: str, account: dict[str, Any], start: pendulum.Date, end: pendulum.Date
) -> dict[str, Any]:
    """A `rest_api` configuration of analytics/posts and messages.

    Args:
        base_url: the API root.
        account: `customer_id`, `profile_ids`, `groups` (group id -> profile ids) and
            `post_metrics` of the one customer.
        start: first day of the window.
        end: last day of the window.
    """
    customer, window = account["customer_id"], _window(start, end)
    profiles = ", ".join(str(p) for p in account["profile_ids"])
    resources: list[dict[str, Any]] = [
        _resource(
            "posts",
            f"v1/{customer}/analytics/posts",
            {
                "filters": [f"customer_profile_id.eq({profiles})", f"created_time.in({window})"],
                "fields": list(settings.POST_FIELDS),
                "metrics": account["post_metrics"],
                "timezone": "UTC",
                "sort": ["guid:asc"],
                "limit": settings.POSTS_PAGE_SIZE,
            },
            {"type": "page_number", "base_page": 1, "page_body_path": "page",
             "total_path": "paging.total_pages"},
        ),
    ]  # fmt: skip
    for group, members in sorted(account["groups"].items()):
        body = {
            "filters": [
                f"group_id.eq({group})",
                f"customer_profile_id.eq({', '.join(str(p) for p in members)})",
                f"created_time.in({window})",
            ],
            "fields": list(settings.MESSAGE_FIELDS),
            "limit": settings.MESSAGES_PAGE_SIZE,
            "sort": ["created_time:asc"],
            "timezone": "UTC",
        }
        resources.append(_resource(f"messages_{group}", f"v1/{customer}/messages", body,
                                   _cursor(), table="messages"))  # fmt: skip
    return {
        "client": {"base_url": base_url, "auth": {"type": "bearer", "token": "sandbox-token"}},
        "resources": resources,
    }


def _cursor() -> dict[str, Any]:
    return {
        "type": "cursor",
        "cursor_path": "paging.next_cursor",
        "cursor_body_path": "page_cursor",
    }


def _resource(
    name: str, path: str, body: dict[str, Any], paginator: dict[str, Any], table: str | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "table_name": table or name,
        "primary_key": "guid",
        "write_disposition": "merge",
        "endpoint": {
            "path": path,
            "method": "POST",
            "json": body,
            "paginator": paginator,
            "data_selector": "data",
        },
    }


def run_rest_api(folder: Path, config: dict[str, Any]) -> tuple[int, float]:
    """Load the configuration into a fresh DuckDB file; top-level rows and seconds."""
    pipeline = dlt.pipeline(
        pipeline_name="sprout_rest_api",
        destination=dlt.destinations.duckdb(credentials=str(folder / "rest_api.duckdb")),
        dataset_name="sprout",
        pipelines_dir=str(folder / "pipelines"),
    )
    began = time.monotonic()
    pipeline.run(rest_api_source(config))  # type: ignore[arg-type]
    seconds = time.monotonic() - began
    normalized = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    counts = normalized.row_counts if normalized else {}
    return sum(counts.get(table, 0) for table in _ROWS), seconds
