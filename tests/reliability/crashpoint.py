"""`sprout-elt` that kills itself with SIGKILL at a chosen point of a run.

    python -m tests.reliability.crashpoint POINT run --start-date ... [sprout-elt arguments]

POINT is `STEP:N`, the N-th time the run reaches that step:

- `extract:N`: the N-th answer of the API has arrived (during extraction);
- `normalize:N`: the N-th normalize step starts (a chunk is extracted, not normalized);
- `load:N`: the N-th load job has written its table file (a package is half loaded);
- `loaded:N`: the N-th load step has finished (between chunks);
- `transform:N`: the N-th model of the marts is built, inside their transaction.

The command itself is the real one (`pipelines.cli.main`); only these points are
watched, so what the kill leaves behind is what a power cut would.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from dlt.load.load import Load
from dlt.pipeline.pipeline import Pipeline

import transforms.runner
from pipelines.cli import main
from sources.sprout.client import SproutClient

STEPS = ("extract", "normalize", "load", "loaded", "transform")


class _Counter:
    def __init__(self, target: int) -> None:
        self._target = target
        self._seen = 0
        self._lock = threading.Lock()

    def tick(self) -> None:
        with self._lock:
            self._seen += 1
            if self._seen == self._target:
                os.kill(os.getpid(), signal.SIGKILL)


def _after(original: Callable[..., Any], counter: _Counter) -> Callable[..., Any]:
    def watched(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        counter.tick()
        return result

    return watched


def _before(original: Callable[..., Any], counter: _Counter) -> Callable[..., Any]:
    def watched(*args: Any, **kwargs: Any) -> Any:
        counter.tick()
        return original(*args, **kwargs)

    return watched


def arm(point: str) -> None:
    """Watch the step named by `point` (`STEP:N`) and SIGKILL the process there.

    Raises:
        ValueError: `point` names no known step or its count is not a positive integer.
    """
    step, _, count = point.partition(":")
    if step not in STEPS or not count.isdigit() or int(count) < 1:
        raise ValueError(f"crash point {point!r} is not STEP:N with STEP one of {STEPS}")
    counter = _Counter(int(count))
    if step == "extract":
        setattr(SproutClient, "_send", _after(SproutClient._send, counter))  # noqa: B010
    elif step == "normalize":
        setattr(Pipeline, "normalize", _before(Pipeline.normalize, counter))  # noqa: B010
    elif step == "load":
        wrapped = staticmethod(_after(Load.w_run_job, counter))
        Load.w_run_job = wrapped  # type: ignore[method-assign]
    elif step == "loaded":
        setattr(Pipeline, "load", _after(Pipeline.load, counter))  # noqa: B010
    else:
        create = _after(transforms.runner._create, counter)
        setattr(transforms.runner, "_create", create)  # noqa: B010


if __name__ == "__main__":
    arm(sys.argv[1])
    sys.exit(main(sys.argv[2:]))
