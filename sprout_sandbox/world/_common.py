"""Seeded randomness and time helpers shared by the generators of the world."""

from __future__ import annotations

import gc
import hashlib
import math
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import TypeVar
from zoneinfo import ZoneInfo

EPOCH_DAY = date(1970, 1, 1)
T = TypeVar("T")

FIRST_NAMES = ("Ana", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jon")
LAST_NAMES = ("Alvarez", "Brooks", "Chen", "Diaz", "Evans", "Fischer", "Gupta", "Hall", "Ito")
WORDS = (
    "blue", "red", "green", "car", "coffee", "launch", "summer", "sale", "team", "city",
    "morning", "new", "product", "review", "support", "thanks", "question", "price",
    "delivery", "event", "weekend", "fresh", "local", "brew", "travel", "music", "story",
)  # fmt: skip
HASHTAGS = ("brand", "summer", "launch", "coffee", "travel", "deal", "community", "news")
LANGUAGES = ("en", "en", "en", "es", "fr", "de", "pt", "un")


@contextmanager
def bulk() -> Iterator[None]:
    """Pause the cyclic garbage collector while generating many records at once.

    Generated records hold no reference cycles, but the collector still rescans the
    growing caches on every pass, which doubles the time a year of a topic takes.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def rng(seed: int, *parts: object) -> random.Random:
    """A random generator that depends only on the seed and the given parts.

    Python's ``hash()`` is salted per process, so a stable digest is used instead.
    """
    text = "|".join([str(seed), *(str(p) for p in parts)])
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def day_number(day: date) -> int:
    """Days since 1970-01-01, the stable number a day is keyed and named by."""
    return (day - EPOCH_DAY).days


def day_of(number: int) -> date:
    """The date of a day number."""
    return EPOCH_DAY + timedelta(days=number)


@cache
def zone(name: str) -> ZoneInfo:
    """A cached time zone."""
    return ZoneInfo(name)


def iso_z(moment: datetime) -> str:
    """UTC ISO 8601 with a ``Z``, as the API writes timestamps."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_epoch(seconds: float) -> datetime:
    """An aware UTC datetime from epoch seconds."""
    return datetime.fromtimestamp(seconds, UTC)


def local_midnight(day: date, tz: str) -> datetime:
    """Midnight that starts ``day`` in time zone ``tz``, as an aware datetime."""
    return datetime(day.year, day.month, day.day, tzinfo=zone(tz))


def poisson(r: random.Random, mean: float) -> int:
    """A Poisson count (Knuth for small means, a rounded normal for large ones)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(r.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= r.random()
        if p <= limit:
            return k
        k += 1


def pick(r: random.Random, options: Sequence[T]) -> T:
    """One of ``options``; quicker than ``Random.choice`` for the bulk of generation."""
    return options[int(r.random() * len(options))]


def sentence(r: random.Random, words: int) -> str:
    """A short sentence from the sandbox vocabulary."""
    picked = [r.choice(WORDS) for _ in range(words)]
    return " ".join(picked).capitalize() + "."


def person(r: random.Random) -> tuple[str, str]:
    """A first and last name."""
    return r.choice(FIRST_NAMES), r.choice(LAST_NAMES)


def split_total(r: random.Random, total: int, labels: tuple[str, ...]) -> dict[str, int]:
    """Split ``total`` over ``labels`` with random weights so the parts sum to it exactly."""
    weights = [r.random() + 0.05 for _ in labels]
    scale = total / sum(weights)
    parts = [int(w * scale) for w in weights]
    for i in range(total - sum(parts)):
        parts[i % len(parts)] += 1
    return dict(zip(labels, parts, strict=True))
