"""What a run needed from the API, read back from the warehouse it loaded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pendulum

from bench.minimum import Window, week_counts
from bench.runs import open_warehouse
from sources.sprout import CURSORS, SproutSettings, resume_start

_MESSAGES_BY_GROUP = (
    "select group_id, count(*) from sprout.messages where customer_id = ? "
    "and {column} >= ? and {column} < ? group by 1"
)


def run_windows(database: Path, config: SproutSettings, positions: dict[str, Any]) -> list[Window]:
    """One :class:`Window` per customer: the rows of each resource a run had to read.

    Args:
        database: the DuckDB file after the run.
        config: settings of the run (start and end dates, lookback days).
        positions: cursor positions before the run (empty for a first run).
    """
    starts = {name: resume_start(config, name, positions.get(name)) for name in CURSORS}
    with open_warehouse(database) as db:
        found = db.execute("select customer_id from sprout.customers").fetchall()
        readers = [_Reader(db, int(c), config, starts) for (c,) in sorted(found)]
        return [reader.window(positions) for reader in readers]


@dataclass
class _Reader:
    db: duckdb.DuckDBPyConnection
    customer: int
    config: SproutSettings
    starts: dict[str, pendulum.DateTime]

    def window(self, positions: dict[str, Any]) -> Window:
        window = Window(
            profile_days=self._profile_days(),
            posts=self._grouped(
                "select customer_profile_id, count(*) from sprout.posts where customer_id = ? "
                "and created_time >= ? and created_time < ? group by 1",
                self.starts["posts"],
            ),
            messages=self._grouped(
                _MESSAGES_BY_GROUP.format(column="created_time"), self.starts["messages"]
            ),
            case_weeks=self._case_weeks(),
            topic_messages=self._topic_messages(),
            topic_metric_days=self._topic_metric_days(),
        )
        if "message_actions" in positions:
            window.message_actions = self._actions(positions["message_actions"], window.messages)
        return window

    def _topic_metric_days(self) -> int:
        return (self.config.end_date - self.starts["topic_metrics_daily"].date()).days + 1

    def _grouped(self, sql: str, start: pendulum.DateTime) -> dict[Any, int]:
        rows = self.db.execute(sql, [self.customer, start, self.config.end_at]).fetchall()
        return {key: int(count) for key, count in rows}

    def _profile_days(self) -> dict[int, list[date]]:
        days: dict[int, list[date]] = {}
        for profile_id, day in self.db.execute(
            "select customer_profile_id, reporting_date from sprout.profile_metrics_daily "
            "where customer_id = ? and reporting_date >= ? and reporting_date <= ?",
            [self.customer, self.starts["profile_analytics"].date(), self.config.end_date],
        ).fetchall():
            days.setdefault(int(profile_id), []).append(day)
        return days

    def _actions(self, read_until: Any, groups: dict[Any, int]) -> dict[Any, int]:
        lookback = self.config.lookback_days["message_actions"]
        since = max(read_until.subtract(days=lookback), self.config.start_at)
        acted = self._grouped(_MESSAGES_BY_GROUP.format(column="action_last_update_time"), since)
        return {group: acted.get(group, 0) for group in groups}

    def _case_weeks(self) -> list[int]:
        times = self.db.execute(
            "select latest_activity_time from sprout.cases where customer_id = ?", [self.customer]
        ).fetchall()
        moments = [pendulum.instance(t).in_timezone("UTC") for (t,) in times]
        return week_counts(moments, self.starts["cases"], self.config.end_at)

    def _topic_messages(self) -> dict[str, int]:
        topics = self.db.execute(
            "select id from sprout.topics where customer_id = ?", [self.customer]
        ).fetchall()
        found = self._grouped(
            "select topic_id, count(*) from sprout.topic_messages where customer_id = ? "
            "and created_time >= ? and created_time < ? group by 1",
            self.starts["topic_messages"],
        )
        return {str(t): found.get(str(t), 0) for (t,) in topics}
