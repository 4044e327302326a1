"""Listening topic messages, generated per topic and UTC day.

Topic metrics are never generated on their own: the API aggregates these messages,
so the messages and metrics endpoints always agree.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from sources.sprout.catalogue import LISTENING_NETWORKS
from sprout_sandbox.world import _common as c

if TYPE_CHECKING:
    from sprout_sandbox.world import World

_AUTHORS = 150
T = TypeVar("T")
_PLACES = (
    ("Chicago", "Illinois", "US"),
    ("Austin", "Texas", "US"),
    ("London", "England", "GB"),
    ("Toronto", "Ontario", "CA"),
    ("Berlin", "Berlin", "DE"),
)
_SOURCES = (
    ("The Daily Brew", "https://dailybrew.example.com"),
    ("City Wire", "https://citywire.example.com"),
)
_EMOTICONS = ("😀", "🔥", "☕", "👍")
_SENTIMENT_RAW = {"positive": (0.3, 1.0), "neutral": (-0.3, 0.3), "negative": (-1.0, -0.3)}


class ListeningGenerator:
    """Messages of every listening topic."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.day_messages = lru_cache(maxsize=4_000)(self._day_messages)
        self._author = lru_cache(maxsize=20_000)(self._make_author)

    def messages(self, topic_id: str, day: int) -> list[dict[str, Any]]:
        """A topic's messages of a UTC day published by the clock, oldest first."""
        now = self.world.now_epoch
        return [m for m in self.day_messages(topic_id, day) if m["_epoch"] <= now]

    def _day_messages(self, topic_id: str, day: int) -> tuple[dict[str, Any], ...]:
        if day < c.day_number(self.world.start_date):
            return ()
        r = c.rng(self.world.seed, "listening", topic_id, day)
        count = min(9999, c.poisson(r, self.world.scale.topic_messages_per_day))
        times = sorted(day * 86_400 + r.randrange(0, 86_400) for _ in range(count))
        topic = self.world.topic(topic_id) or {"theme_groups": []}
        themes = [t["id"] for g in topic["theme_groups"] for t in g["themes"]]
        # One generator per topic-day: messages of a day are only ever made together.
        prefix = f"{topic_id[-4:]}{day:05d}"
        return tuple(
            self._message(r, prefix, day, n, epoch, themes) for n, epoch in enumerate(times)
        )

    def _message(
        self, r: Any, prefix: str, day: int, n: int, epoch: int, themes: list[str]
    ) -> dict[str, Any]:
        # Draws use r.random() directly: a topic-year has tens of thousands of messages.
        guid = f"{prefix}{n:04d}"
        draws = [r.random() for _ in range(14)]
        network = _nth(LISTENING_NETWORKS, draws[0])
        author = self._author(prefix[:4], int(draws[1] * _AUTHORS))
        sentiment = _nth(_SENTIMENT_WEIGHTED, draws[2])
        low, high = _SENTIMENT_RAW.get(sentiment, (0.0, 0.0))
        words, text, title, hashtags, keywords, related = _nth(_phrases(), draws[3])
        explicit = draws[4] < 0.05
        likes, replies, shares = int(draws[5] * 500), int(draws[6] * 40), int(draws[7] * 30)
        media = _nth(("PHOTO", "VIDEO", None, None), draws[8])
        city, province, country = _nth(_PLACES, draws[9])
        source_name, source_url = _nth(_SOURCES, draws[10])
        return {
            "_epoch": epoch,
            "guid": guid,
            "created_time": _iso_in_day(day, epoch),
            "network": network,
            "content_category": media or "TEXT",
            "text": text,
            "title": title,
            "perma_link": f"https://{network.lower()}.example.com/p/{guid}",
            "profile_guid": author["guid"],
            "from": author,
            "hashtags": list(hashtags),
            "visual_media": [
                {"media_url": f"https://media.example.com/l/{guid}.jpg", "media_type": media}
            ]
            if media
            else [],
            "listening_metadata": {
                "sentiment": sentiment,
                "language": _nth(c.LANGUAGES, draws[11]),
                "explicit_label": explicit,
            },
            "sentiment_raw": round(low + (high - low) * draws[12], 3),
            "location": {"city": city, "province": province, "country": country},
            "source": {"name": source_name, "url": source_url},
            "parent_message_id": f"{prefix}{n - 1:04d}" if n and draws[13] < 0.2 else None,
            "explicit_probability": round(0.6 + draws[4] * 8 if explicit else draws[4] / 5, 3),
            "mentions": [f"@{words[0]}"] if draws[13] > 0.7 else [],
            "emoticons": [_nth(_EMOTICONS, draws[12])] if draws[6] < 0.3 else [],
            "keywords": list(keywords),
            "related_words": list(related),
            "document": {
                "theme_ids": [_nth(themes, draws[10])] if themes and draws[9] < 0.5 else []
            },
            "distribution_type": _nth(("ORIGINAL", "ORIGINAL", "REPLY", "SHARE"), draws[7]),
            "_metrics": {
                "likes": likes,
                "replies": replies,
                "shares_count": shares,
                "engagements": likes + replies + shares,
                "impressions": author["followers_count"],
            },
        }

    def _make_author(self, topic_key: str, k: int) -> dict[str, Any]:
        r = c.rng(self.world.seed, "author", topic_key, k)
        first, last = c.person(r)
        handle = f"{first.lower()}_{last.lower()}{k}"
        return {
            "guid": f"lpr:{topic_key}{k:04d}",
            "name": f"{first} {last}",
            "profile_picture": f"https://media.example.com/avatars/{handle}.jpg",
            "screen_name": handle,
            "profile_url": f"https://social.example.com/{handle}",
            "followers_count": int(r.lognormvariate(7, 1.5)),
        }


_SENTIMENT_WEIGHTED = ("positive",) * 4 + ("neutral",) * 5 + ("negative",) * 2 + ("unclassified",)


def _nth(options: Sequence[T], draw: float) -> T:
    return options[int(draw * len(options))]


@cache
def _phrases() -> tuple[tuple[Any, ...], ...]:
    """A fixed pool of texts to draw from: words, text, title, hashtags, keywords,
    related words."""
    r = random.Random(20_221_130)
    pool = []
    for _ in range(256):
        words = tuple(c.pick(r, c.WORDS) for _ in range(r.randrange(4, 16)))
        hashtags = tuple(sorted({c.pick(r, c.HASHTAGS) for _ in range(r.randrange(0, 3))}))
        text = " ".join(words).capitalize() + "".join(f" #{h}" for h in hashtags)
        title = " ".join(words[:3]).title()
        pool.append((words, text, title, hashtags, sorted(set(words[:3])), sorted(set(words[3:5]))))
    return tuple(pool)


def _iso_in_day(day: int, epoch: int) -> str:
    hours, rest = divmod(epoch - day * 86_400, 3600)
    return f"{_day_text(day)}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


@lru_cache(maxsize=4096)
def _day_text(day: int) -> str:
    return c.day_of(day).isoformat()


def message_metrics(message: dict[str, Any]) -> dict[str, float]:
    """Every topic metric of one message; a topic's metrics are sums of these,
    except ``authors_count``, which counts distinct authors."""
    sentiment = message["listening_metadata"]["sentiment"]
    values = dict(message["_metrics"])
    values["messages_count"] = 1
    values["from.followers_count"] = message["from"]["followers_count"]
    values["authors_count"] = 1
    for name in ("positive", "neutral", "negative"):
        values[f"{name}_sentiments_count"] = int(sentiment == name)
    return {k: float(v) for k, v in values.items()}
