"""Publish a plan with an in-memory ledger and print the process's memory, as JSON.

Run as ``python -m tests.publish.measure_upload PLAN CUSTOMER_ID`` with `sources.sprout`
configured in the environment. The ledger is kept in memory so that the figure shows
what uploading costs, not the warehouse connection.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from sources.sprout.publishing import (
    Ledger,
    LedgerEntry,
    Publisher,
    make_clients,
    read_plan,
    validate_plan,
)
from sources.sprout.settings import load_settings


class MemoryLedger(Ledger):
    """A ledger that keeps its entries in a dictionary."""

    def __init__(self) -> None:
        super().__init__(pipeline=None)
        self.saved: dict[str, LedgerEntry] = {}

    def entries(self) -> list[LedgerEntry]:
        return list(self.saved.values())

    def save(self, entry: LedgerEntry) -> None:
        self.saved[entry.client_key] = entry


def _kib(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]


def main() -> None:
    plan = read_plan(Path(sys.argv[1]))
    problems = validate_plan(plan, datetime.now(UTC))
    if problems:
        raise SystemExit(f"invalid plan: {[str(p) for p in problems]}")
    client, uploader = make_clients(load_settings(), {})
    rss_before = _kib("VmRSS")
    result = Publisher(client, uploader, MemoryLedger(), int(sys.argv[2])).publish(plan.posts)
    print(
        json.dumps(
            {"rss_before_kib": rss_before, "peak_kib": _kib("VmHWM"), "created": result.created}
        )
    )


if __name__ == "__main__":
    main()
