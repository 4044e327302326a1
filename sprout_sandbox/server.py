"""Serving the sandbox over HTTP with uvicorn: in a background thread, or blocking."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette

from sprout_sandbox.app import create_app
from sprout_sandbox.config import DEFAULT_TOKEN, SandboxConfig

logger = logging.getLogger(__name__)

_STARTUP_TIMEOUT_SECONDS = 10.0
_DROPPED_ON_PURPOSE = "ASGI callable returned without completing response."


class _QuietDrops(logging.Filter):
    """Hide uvicorn's complaint about responses that the ``drop`` fault cuts on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _DROPPED_ON_PURPOSE


def _quiet_drops() -> None:
    target = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in target.filters):
        target.addFilter(_QuietDrops())


@dataclass
class RunningSandbox:
    """A sandbox serving in the background."""

    base_url: str
    """e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
    app: Starlette
    config: SandboxConfig

    @property
    def world(self) -> Any:
        """The world the sandbox serves (``app.state.world``)."""
        return self.app.state.world

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint of this sandbox."""
        return f"{self.base_url}/oauth2/v1/token"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Naming the protocol lets asyncio set TCP_NODELAY on accepted connections; without
    # it, headers and body written separately wait out the client's delayed ACK (40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _server(app: Starlette, access_log: bool) -> uvicorn.Server:
    _quiet_drops()
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,
        access_log=access_log,
        timeout_graceful_shutdown=2,
    )
    return uvicorn.Server(config)


@contextmanager
def run_sandbox(
    config: SandboxConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    world: Any = None,
    app: Starlette | None = None,
) -> Iterator[RunningSandbox]:
    """Serve a sandbox in a background thread for the duration of a ``with`` block.

    Args:
        config: the sandbox's settings.
        host: interface to bind; loopback by default.
        port: TCP port; 0 picks a free one (read it from ``base_url``).
        world: an already built world to serve (built from ``config`` when omitted).
        app: an already built app to serve (from :func:`create_app`), e.g. with
            stand-in endpoints; ``world`` is then ignored.

    Yields:
        The running sandbox, accepting connections, with ``base_url``, ``app`` and
        ``world``.

    Raises:
        RuntimeError: when the server does not start within ten seconds.
    """
    app = app if app is not None else create_app(config, world)
    sock = _bind(host, port)
    server = _server(app, access_log=False)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="sprout-sandbox", daemon=True
    )
    thread.start()
    try:
        _wait_started(server, thread)
        bound_port = sock.getsockname()[1]
        shown_host = f"[{host}]" if ":" in host else host
        yield RunningSandbox(f"http://{shown_host}:{bound_port}", app, config)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + _STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox server did not start: see the log above")
        time.sleep(0.005)


def serve(config: SandboxConfig, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve a sandbox in the foreground until interrupted (Ctrl-C).

    Args:
        config: the sandbox's settings.
        host: interface to bind.
        port: TCP port.
    """
    app = create_app(config)
    sock = _bind(host, port)
    server = _server(app, access_log=True)
    shown_host = f"[{host}]" if ":" in host else host
    base_url = f"http://{shown_host}:{sock.getsockname()[1]}"
    logger.info("Sprout API sandbox serving on %s", base_url)
    if DEFAULT_TOKEN in config.tokens:
        logger.info("Accepted API token: %s (the default sandbox token)", DEFAULT_TOKEN)
    else:
        logger.info("Accepting the %d API token(s) given on the command line", len(config.tokens))
    logger.info("OAuth token endpoint: %s/oauth2/v1/token", base_url)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
