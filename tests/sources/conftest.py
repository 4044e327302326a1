"""A client that answers from a function, for testing resources without HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pendulum
import pytest

from sources.sprout import Account, Run
from sources.sprout.client import RequestStats
from sources.sprout.settings import SproutSettings

Answer = Callable[[str, str, dict[str, Any] | None], Any]


class FakeClient:
    """Records every request and answers it with `answer(method, path, body)`.

    Paging helpers return a single page: the answer's `data`. An answer that is an
    exception is raised, as the real client raises refusals.
    """

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.sent: list[tuple[str, str, dict[str, Any] | None]] = []
        self.stats = RequestStats()

    def _call(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        self.sent.append((method, path, body))
        result = self.answer(method, path, body)
        if isinstance(result, Exception):
            raise result
        return result

    def get(self, path: str) -> Any:
        return self._call("GET", path, None)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("POST", path, body)

    def _page(self, path: str, body: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        answer = self._call("POST", path, body)
        data = answer.get("data", []) if isinstance(answer, dict) else answer
        if data:
            yield data

    pages = cursor_pages = _page

    def guid_walk(
        self, path: str, body: dict[str, Any], limit: int = 100, *, stop_over_cap: bool = False
    ) -> Iterator[list[dict[str, Any]]]:
        return self._page(path, {**body, "sort": ["guid:asc"], "limit": limit})

    def map_in_flight(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        return (fn(item) for item in items)


PROFILES = [
    {"customer_profile_id": 11, "network_type": "twitter", "groups": [7]},
    {"customer_profile_id": 12, "network_type": "facebook", "groups": [7, 8]},
    {"customer_profile_id": 13, "network_type": "twitter", "groups": [8]},
]


def make_run(answer: Answer, end: str = "2026-03-01", **changes: Any) -> tuple[Run, FakeClient]:
    """A run over one customer (100) with `PROFILES`, answered by `answer`."""
    client = FakeClient(answer)
    config = SproutSettings(
        base_url="http://sprout.test",
        start_date=pendulum.Date(2026, 2, 1),
        end_date=pendulum.Date.fromisoformat(end),
        access_token="unused",
        **changes,
    )
    account = Account({"customer_id": 100}, client)  # type: ignore[arg-type]
    account._cache[""] = [dict(p, customer_id=100) for p in PROFILES]
    account._cache["topics"] = [{"id": "555", "customer_id": 100}]
    return Run(config, client, [account]), client  # type: ignore[arg-type]


@pytest.fixture
def nothing() -> Answer:
    """Answers every request with no data."""
    return lambda method, path, body: {"data": []}
