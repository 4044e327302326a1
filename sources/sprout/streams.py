"""Several page streams read side by side, with a bounded number of pages held at once."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_PUT_POLL_SECONDS = 0.2


class _Done:
    """Marks the end of one stream in the shared queue."""


class _Failed:
    """Carries a stream's error to the reading thread."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def interleave(
    streams: Iterable[Callable[[], Iterator[T]]], width: int, depth: int = 2
) -> Iterator[T]:
    """Items of every stream, up to `width` streams running at once in threads.

    Each stream's items arrive in its own order; streams mix in the order their items
    are ready. At most `width * depth` items wait to be taken, so a stream of a million
    rows read in pages holds a few pages, not the million. The first error of any
    stream is raised here, and closing this iterator (or an error) stops the others at
    their next item.

    Args:
        streams: functions that open one stream each, called in a worker thread.
        width: how many streams run at once.
        depth: items each running stream may have waiting.
    """
    pending = list(streams)
    if not pending:
        return
    ready: queue.Queue[object] = queue.Queue(maxsize=max(1, width * depth))
    stop = threading.Event()
    slots = threading.Semaphore(max(1, width))
    threads = [
        threading.Thread(
            target=_pump, args=(opener, ready, stop, slots), name="sprout-stream", daemon=True
        )
        for opener in pending
    ]
    for thread in threads:
        thread.start()
    try:
        yield from _drain(ready, len(threads))
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def _drain(ready: queue.Queue[object], streams: int) -> Iterator[T]:
    running = streams
    while running:
        item = ready.get()
        if isinstance(item, _Done):
            running -= 1
        elif isinstance(item, _Failed):
            raise item.error
        else:
            yield item  # type: ignore[misc]


def _pump(
    opener: Callable[[], Iterator[T]],
    ready: queue.Queue[object],
    stop: threading.Event,
    slots: threading.Semaphore,
) -> None:
    """Run one stream into `ready` once a slot is free, until it ends or `stop` is set."""
    while not slots.acquire(timeout=_PUT_POLL_SECONDS):
        if stop.is_set():
            return
    try:
        for item in opener():
            if not _put(ready, item, stop):
                return
        _put(ready, _Done(), stop)
    except BaseException as exc:
        _put(ready, _Failed(exc), stop)
    finally:
        slots.release()


def _put(ready: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    """Queue `item`, waiting for room; False if the reader stopped meanwhile."""
    while not stop.is_set():
        try:
            ready.put(item, timeout=_PUT_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False
