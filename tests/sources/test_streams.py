"""Page streams read side by side: order, bounds, errors, early stops."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from sources.sprout.streams import interleave


def _counting(name: str, count: int, produced: list[str]) -> Callable[[], Iterator[str]]:
    def stream() -> Iterator[str]:
        for number in range(count):
            produced.append(f"{name}{number}")
            yield f"{name}{number}"

    return stream


def test_every_item_arrives_once_in_its_streams_order() -> None:
    produced: list[str] = []
    streams = [_counting(name, 50, produced) for name in "abc"]

    items = list(interleave(streams, width=2))

    assert sorted(items) == sorted(f"{n}{i}" for n in "abc" for i in range(50))
    for name in "abc":
        assert [i for i in items if i[0] == name] == [f"{name}{i}" for i in range(50)]


def test_no_more_than_width_streams_run_at_once() -> None:
    running, most = [0], [0]
    lock = threading.Lock()

    def stream() -> Iterator[int]:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        yield from range(5)
        with lock:
            running[0] -= 1

    assert len(list(interleave([stream] * 7, width=3))) == 35
    assert most[0] == 3


def test_a_slow_reader_holds_only_a_few_items_of_a_long_stream() -> None:
    produced: list[str] = []
    reader = interleave([_counting("a", 10_000, produced)], width=1, depth=2)

    first = [next(reader) for _ in range(3)]
    threading.Event().wait(0.3)

    assert first == ["a0", "a1", "a2"]
    # Three taken, two waiting, one blocked in the hand-over: the rest is not read.
    assert len(produced) <= 6
    reader.close()


def test_the_first_error_reaches_the_reader_and_stops_the_other_streams() -> None:
    produced: list[str] = []

    def failing() -> Iterator[str]:
        yield "x0"
        raise RuntimeError("page 2 failed")

    with pytest.raises(RuntimeError, match="page 2 failed"):
        list(interleave([failing, _counting("b", 100_000, produced)], width=2))

    assert len(produced) < 100_000
    assert not [t for t in threading.enumerate() if t.name == "sprout-stream"]


def test_closing_the_reader_early_ends_every_stream_thread() -> None:
    produced: list[str] = []
    reader = interleave([_counting(n, 100_000, produced) for n in "ab"], width=2)

    assert next(reader)[1:] == "0"
    reader.close()

    assert not [t for t in threading.enumerate() if t.name == "sprout-stream"]
    assert len(produced) < 20


def test_no_streams_give_no_items() -> None:
    assert list(interleave([], width=4)) == []
