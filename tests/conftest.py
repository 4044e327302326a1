"""Fixtures for the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sources.sprout.redact import forget_secrets


@pytest.fixture(autouse=True)
def _independent_secrets() -> Iterator[None]:
    """Each test masks only the secrets it registered itself, whatever ran before it."""
    forget_secrets()
    yield
    forget_secrets()
