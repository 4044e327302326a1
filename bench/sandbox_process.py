"""A sandbox in its own process, so that serving and loading do not share one GIL."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import httpx

from sprout_sandbox.config import SandboxConfig, Scale
from sprout_sandbox.server import serve

_STARTUP_SECONDS = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def sandbox(options: dict[str, Any]) -> Iterator[str]:
    """Serve a sandbox in a child process; yield its base URL and stop it afterwards.

    Args:
        options: `seed`, `scale` (the fields of `Scale`), `now` and `history_start`
            (ISO text), `requests_per_minute`, `latency_ms` ([low, high]).
    """
    port = _free_port()
    command = [sys.executable, "-m", "bench.sandbox_process", str(port), json.dumps(options)]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, child)
        yield base_url
    finally:
        child.terminate()
        child.wait(timeout=30)


def _wait_ready(base_url: str, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _STARTUP_SECONDS
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"the bench sandbox exited with status {child.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(f"{base_url}/_sandbox/state", timeout=5).raise_for_status()
            return
        time.sleep(0.1)
    raise RuntimeError(f"the bench sandbox at {base_url} did not answer within a minute")


def sandbox_state(base_url: str) -> dict[str, Any]:
    """`GET /_sandbox/state`: request counts by status and endpoint, 429s refused."""
    answer: dict[str, Any] = httpx.get(f"{base_url}/_sandbox/state", timeout=30).json()
    return answer


def _config(options: dict[str, Any]) -> SandboxConfig:
    return SandboxConfig(
        seed=int(options["seed"]),
        scale=Scale(**options["scale"]),
        now=datetime.fromisoformat(options["now"]),
        history_start=date.fromisoformat(options["history_start"]),
        requests_per_minute=int(options["requests_per_minute"]),
        monthly_quota=10**9,
        latency_ms=(
            int(options.get("latency_ms", [0, 0])[0]),
            int(options.get("latency_ms", [0, 0])[1]),
        ),
    )


if __name__ == "__main__":
    serve(_config(json.loads(sys.argv[2])), port=int(sys.argv[1]))
