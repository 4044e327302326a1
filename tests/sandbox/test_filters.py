"""The filter grammar: parsing, typing and matching of ``field.op(args)``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from sprout_sandbox import filters as flt
from sprout_sandbox.errors import ApiError

SPECS = {
    "created_time": flt.FieldSpec("time"),
    "reporting_period": flt.FieldSpec("date"),
    "customer_profile_id": flt.FieldSpec("int", frozenset({"eq"}), max_values=3),
    "network": flt.FieldSpec("upper", frozenset({"eq", "neq"})),
    "likes": flt.FieldSpec("num"),
    "guid": flt.FieldSpec("str"),
    "text": flt.FieldSpec("text"),
    "explicit_label": flt.FieldSpec("bool"),
    "hashtags": flt.FieldSpec("str"),
}


def bound(text: str, tz: str = "UTC") -> flt.BoundFilter:
    (one,) = flt.bind(flt.parse([text]), SPECS, tz, "a test endpoint")
    return one


def epoch(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> float:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("network.eq(TWITTER,INSTAGRAM)", "INSTAGRAM", True),
        ("network.eq(twitter, instagram)", "INSTAGRAM", True),
        ("network.eq(TWITTER)", "FACEBOOK", False),
        ("network.neq(FACEBOOK)", "FACEBOOK", False),
        ("network.neq(FACEBOOK)", "TWITTER", True),
        ("hashtags.eq(summer)", ["launch", "summer"], True),
        ("hashtags.eq(winter)", ["launch", "summer"], False),
        ("hashtags.neq(summer)", ["launch", "summer"], False),
        ("likes.gt(10)", 11, True),
        ("likes.gt(10)", 10, False),
        ("likes.gte(10)", 10, True),
        ("likes.lt(5)", 5, False),
        ("likes.lte(5)", 5, True),
        ("likes.in(1..5)", 5, True),
        ("likes.in(1...5)", 5, False),
        ("likes.in(1...5)", 1, True),
        ("guid.gt(fb:102)", "fb:103", True),
        ("guid.gt(fb:102)", "fb:102", False),
        ("explicit_label.exists(true)", False, True),
        ("explicit_label.exists(false)", None, True),
        ("explicit_label.exists(false)", False, False),
        ("hashtags.exists(false)", [], True),
        ("explicit_label.eq(false)", False, True),
        ("text.match(blue car)", "A blue and red car", True),
        ("text.match(blue car)", "A blue bike", False),
        ("text.match(blue OR red)", "Red shoes", True),
        ("text.match(blue OR red)", "Green shoes", False),
        ('text.match("the blue car")', "Look at the blue car", True),
        ('text.match("the blue car")', "the car is blue", False),
        ("text.match(“the blue car”)", "THE BLUE CAR!", True),
        ("text.match(coffee blue OR red)", "coffee in red", True),
        ("text.match(coffee blue OR red)", "tea in red", False),
        ("text.match(car)", "cartoon", False),
    ],
    ids=lambda v: str(v),
)
def test_each_operator_matches_as_documented(text: str, value: Any, expected: bool) -> None:
    assert bound(text).matches(value) is expected


@pytest.mark.parametrize(
    ("text", "tz", "inside", "outside"),
    [
        (
            "created_time.in(2022-06-09..2022-06-10)",
            "UTC",
            epoch(2022, 6, 10),  # a date is midnight, and .. includes it
            epoch(2022, 6, 10, 0, 0, 1),
        ),
        (
            "created_time.in(2022-06-09...2022-06-10)",
            "UTC",
            epoch(2022, 6, 9, 23, 59, 59),
            epoch(2022, 6, 10),
        ),
        (
            "created_time.in(2023-05-01…2023-06-01T23:59:59)",
            "UTC",
            epoch(2023, 6, 1, 23, 59, 58),
            epoch(2023, 6, 1, 23, 59, 59),
        ),
        (
            "created_time.gte(2022-06-09T00:00:00)",
            "America/Chicago",
            epoch(2022, 6, 9, 5),  # Chicago midnight is 05:00 UTC in June
            epoch(2022, 6, 9, 4, 59, 59),
        ),
        (
            "created_time.lt(2022-06-09T00:00:00Z)",
            "America/Chicago",
            epoch(2022, 6, 8, 23, 59, 59),
            epoch(2022, 6, 9),
        ),
    ],
    ids=["date-inclusive", "date-exclusive", "unicode-ellipsis", "naive-in-tz", "explicit-utc"],
)
def test_dates_and_times(text: str, tz: str, inside: float, outside: float) -> None:
    f = bound(text, tz)
    assert f.matches(inside)
    assert not f.matches(outside)


def test_reporting_period_compares_dates() -> None:
    f = bound("reporting_period.in(2018-08-01...2018-10-01)")
    assert (f.low, f.high, f.high_inclusive) == (date(2018, 8, 1), date(2018, 10, 1), False)


def test_two_filters_in_one_entry_are_either_or() -> None:
    filters = flt.bind(
        flt.parse(["explicit_label.exists(false), explicit_label.eq(false)"]),
        SPECS,
        "UTC",
        "a test endpoint",
    )
    assert [(f.field, f.op) for f in filters] == [
        ("explicit_label", "exists"),
        ("explicit_label", "eq"),
    ]
    assert flt.passes(filters, lambda field: False)
    assert flt.passes(filters, lambda field: None)
    assert not flt.passes(filters, lambda field: True)


def test_separate_entries_must_all_pass() -> None:
    filters = flt.bind(
        flt.parse(["likes.gt(1)", "network.eq(TWITTER)"]), SPECS, "UTC", "a test endpoint"
    )
    record = {"likes": 5, "network": "FACEBOOK"}
    assert not flt.passes(filters, record.__getitem__)
    record["network"] = "TWITTER"
    assert flt.passes(filters, record.__getitem__)


def test_dotted_fields_parse() -> None:
    (f,) = flt.parse(["from.guid.eq(ytpr:1234)"])
    assert (f.field, f.op, f.argument) == ("from.guid", "eq", "ytpr:1234")


def test_time_bounds_take_the_narrowest_window() -> None:
    filters = flt.bind(
        flt.parse(["created_time.in(2022-01-01...2022-02-01)", "created_time.gte(2022-01-10)"]),
        SPECS,
        "UTC",
        "a test endpoint",
    )
    assert flt.time_bounds(filters, "created_time") == (epoch(2022, 1, 10), epoch(2022, 2, 1))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("likes > 10", "is not of the form field.op(arguments)"),
        ("likes.gt(10", "lacks its closing parenthesis"),
        ("shares.gt(10)", "unknown filter 'shares'"),
        ("customer_profile_id.gt(10)", "customer_profile_id does not take gt"),
        ("customer_profile_id.eq(1,2,3,4)", "at most 3"),
        ("customer_profile_id.eq(abc)", "'abc' is not a valid int value"),
        ("created_time.in(2022-13-01..2022-12-01)", "is not a valid time value"),
        ("likes.in(5)", "in needs a range"),
        ("explicit_label.exists(maybe)", "expected true or false"),
        ("text.match()", "match needs at least one term"),
        ("likes.gt(1,2)", "gt takes exactly one value"),
    ],
    ids=[
        "not-a-filter",
        "unclosed",
        "unknown-field",
        "wrong-operator",
        "too-many-values",
        "bad-int",
        "bad-date",
        "range-without-dots",
        "bad-boolean",
        "empty-match",
        "two-values-for-gt",
    ],
)
def test_malformed_filters_are_400_naming_the_problem(text: str, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        flt.bind(flt.parse([text]), SPECS, "UTC", "a test endpoint")
    assert caught.value.status == 400
    assert message in caught.value.message


def test_unknown_timezone_is_400() -> None:
    with pytest.raises(ApiError, match="Mars/Olympus"):
        flt.bind(flt.parse(["likes.gt(1)"]), SPECS, "Mars/Olympus", "a test endpoint")
