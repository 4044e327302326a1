"""The filter grammar of the Sprout API: ``field.op(args)``.

Operators: ``eq`` and ``neq`` (comma lists), ``in`` with ``..`` (end inclusive) or
``...`` (end exclusive), ``gt``, ``gte``, ``lt``, ``lte``, ``exists(true|false)`` and
``match`` (terms, quoted phrases, ``OR``). Parsing gives untyped :class:`Filter`
objects; :func:`bind` checks them against the fields an endpoint documents and
converts their arguments, giving :class:`BoundFilter` objects that test values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sprout_sandbox.errors import bad_request

OPERATORS = ("eq", "neq", "in", "gt", "gte", "lt", "lte", "exists", "match")

# One filter starts wherever a dotted name is followed by ".op(". A single string
# may hold several filters (the listening docs send
# "explicit_label.exists(false), explicit_label.eq(false)" as one array item).
_START = re.compile(r"([A-Za-z_][\w.]*?)\.(" + "|".join(OPERATORS) + r")\(")
_QUOTES = str.maketrans({"“": '"', "”": '"'})


@dataclass(frozen=True)
class Filter:
    """One parsed filter, arguments still text."""

    field: str
    op: str
    argument: str
    text: str
    group: int = 0
    """Index of the ``filters`` entry it came from; filters sharing one entry are ORed."""


@dataclass(frozen=True)
class FieldSpec:
    """How an endpoint filters on one field.

    ``kind`` is one of ``int``, ``str``, ``upper`` (case-insensitive names),
    ``time`` (datetimes, compared as epoch seconds), ``date``, ``num``, ``bool``,
    ``text`` (searchable with ``match``).
    """

    kind: str
    ops: frozenset[str] = frozenset(OPERATORS)
    max_values: int | None = None


@dataclass
class BoundFilter:
    """A filter checked against its field and with typed arguments."""

    field: str
    op: str
    kind: str
    values: tuple[Any, ...] = ()
    low: Any = None
    high: Any = None
    high_inclusive: bool = True
    clauses: tuple[tuple[str, ...], ...] = ()
    group: int = 0
    alone: bool = True
    """Whether it is the only filter of its ``filters`` entry (so it narrows on its own)."""

    def matches(self, value: Any) -> bool:
        """Whether a record's value passes this filter (lists pass if any element does)."""
        if self.op == "exists":
            return _present(value) == self.values[0]
        if self.op == "match":
            return _text_matches(value, self.clauses)
        items = value if isinstance(value, list | tuple) else [value]
        items = [self._normalise(v) for v in items if v is not None]
        if self.op == "neq":
            return not any(v in self.values for v in items)
        return any(self._one(v) for v in items)

    def _normalise(self, value: Any) -> Any:
        if self.kind == "upper":
            return str(value).upper()
        if self.kind == "str":
            return str(value)
        return value

    def _one(self, v: Any) -> bool:
        op = self.op
        if op == "eq":
            return v in self.values
        if op == "in":
            return v >= self.low and (v <= self.high if self.high_inclusive else v < self.high)
        bound = self.values[0]
        if op == "gt":
            return bool(v > bound)
        if op == "gte":
            return bool(v >= bound)
        if op == "lt":
            return bool(v < bound)
        return bool(v <= bound)


def parse(texts: Iterable[str]) -> list[Filter]:
    """Parse the ``filters`` array of a request.

    Raises:
        ApiError: 400 naming the filter that does not follow ``field.op(args)``.
    """
    parsed: list[Filter] = []
    for index, text in enumerate(texts):
        parsed.extend(_split(text, index))
    return parsed


def _split(text: str, group: int) -> list[Filter]:
    starts = [m for m in _START.finditer(text) if _at_boundary(text, m.start())]
    if not starts or text[: starts[0].start()].strip():
        raise bad_request(
            f"filter {text!r} is not of the form field.op(arguments); "
            f"operators are {', '.join(OPERATORS)}"
        )
    found = []
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        chunk = text[match.start() : end].strip().rstrip(",").strip()
        if not chunk.endswith(")"):
            raise bad_request(f"filter {chunk!r} in {text!r} lacks its closing parenthesis")
        argument = chunk[len(match.group(0)) : -1]
        found.append(Filter(match.group(1), match.group(2), argument.strip(), chunk, group))
    return found


def _at_boundary(text: str, index: int) -> bool:
    # A new filter starts the string or follows a closing parenthesis and a separator.
    before = text[:index].rstrip().rstrip(",").rstrip()
    return not before or before.endswith(")")


def bind(
    filters: Iterable[Filter],
    specs: Mapping[str, FieldSpec],
    tz: str,
    where: str,
) -> list[BoundFilter]:
    """Check filters against an endpoint's documented fields and type their arguments.

    Args:
        filters: parsed filters.
        specs: the filter fields the endpoint documents.
        tz: time zone for date-times written without an offset.
        where: the endpoint, for error messages (e.g. ``analytics/posts``).

    Raises:
        ApiError: 400 naming an unknown field, an operator the field does not take
            or an argument that does not parse.
    """
    zone = _zone(tz)
    parsed = list(filters)
    bound = [_bind_one(f, specs, zone, where) for f in parsed]
    for b in bound:
        b.alone = sum(1 for other in bound if other.group == b.group) == 1
    return bound


def passes(filters: Iterable[BoundFilter], value_of: Callable[[str], Any]) -> bool:
    """Whether a record passes every ``filters`` entry (any filter of a shared entry).

    The listening docs send ``"explicit_label.exists(false), explicit_label.eq(false)"``
    as one entry, meaning a message that is not labelled explicit: either filter will do.
    """
    groups: dict[int, bool] = {}
    for f in filters:
        if not groups.get(f.group, False):
            groups[f.group] = f.matches(value_of(f.field))
    return all(groups.values())


def _bind_one(f: Filter, specs: Mapping[str, FieldSpec], zone: ZoneInfo, where: str) -> BoundFilter:
    spec = specs.get(f.field)
    if spec is None:
        raise bad_request(
            f"unknown filter {f.field!r} in {f.text!r} for {where}; "
            f"use one of: {', '.join(sorted(specs))}"
        )
    if f.op not in spec.ops:
        raise bad_request(
            f"filter {f.text!r}: {f.field} does not take {f.op} for {where}; "
            f"use one of: {', '.join(sorted(spec.ops))}"
        )
    bound = BoundFilter(f.field, f.op, spec.kind, group=f.group)
    if f.op == "exists":
        bound.values = (_boolean(f.argument, f),)
    elif f.op == "match":
        bound.clauses = _clauses(f)
    elif f.op == "in":
        bound.low, bound.high, bound.high_inclusive = _range(f, spec.kind, zone)
    else:
        bound.values = _values(f, spec, zone)
    return bound


def _values(f: Filter, spec: FieldSpec, zone: ZoneInfo) -> tuple[Any, ...]:
    parts = [p.strip() for p in f.argument.split(",") if p.strip()]
    if not parts:
        raise bad_request(f"filter {f.text!r} needs at least one value")
    if f.op not in ("eq", "neq") and len(parts) != 1:
        raise bad_request(f"filter {f.text!r}: {f.op} takes exactly one value")
    if spec.max_values is not None and len(parts) > spec.max_values:
        raise bad_request(
            f"filter {f.field} names {len(parts)} values; at most {spec.max_values} "
            "are allowed per request, split it into several requests"
        )
    return tuple(convert(p, spec.kind, zone, f) for p in parts)


def _range(f: Filter, kind: str, zone: ZoneInfo) -> tuple[Any, Any, bool]:
    argument = f.argument.replace("…", "...")
    if "..." in argument:
        low, high, inclusive = *argument.split("...", 1), False
    elif ".." in argument:
        low, high, inclusive = *argument.split("..", 1), True
    else:
        raise bad_request(
            f"filter {f.text!r}: in needs a range start..end (end inclusive) "
            "or start...end (end exclusive)"
        )
    return convert(low.strip(), kind, zone, f), convert(high.strip(), kind, zone, f), inclusive


def convert(text: str, kind: str, zone: ZoneInfo, f: Filter) -> Any:
    """Convert one argument to the field's type; 400 naming the filter if it cannot."""
    try:
        if kind == "int":
            return int(text)
        if kind == "num":
            return float(text)
        if kind == "time":
            return parse_time(text, zone).timestamp()
        if kind == "date":
            return date.fromisoformat(text[:10])
        if kind == "bool":
            return _boolean(text, f)
        if kind == "upper":
            return text.upper()
        return text
    except ValueError:
        raise bad_request(f"filter {f.text!r}: {text!r} is not a valid {kind} value") from None


def parse_time(text: str, zone: ZoneInfo) -> datetime:
    """A date or date-time; a date means midnight, naive times are read in ``zone``."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _boolean(text: str, f: Filter) -> bool:
    lowered = text.strip().lower()
    if lowered not in ("true", "false"):
        raise bad_request(f"filter {f.text!r}: expected true or false, got {text!r}")
    return lowered == "true"


def _clauses(f: Filter) -> tuple[tuple[str, ...], ...]:
    """Terms all required; ``OR`` joins the terms on either side into one clause."""
    tokens = re.findall(r'"([^"]*)"|(\S+)', f.argument.translate(_QUOTES))
    terms = [quoted or bare for quoted, bare in tokens]
    clauses: list[list[str]] = []
    joining = False
    for term in terms:
        if term == "OR" and clauses:
            joining = True
        elif joining:
            clauses[-1].append(term.lower())
            joining = False
        elif term.strip():
            clauses.append([term.lower()])
    if not clauses:
        raise bad_request(f"filter {f.text!r}: match needs at least one term")
    return tuple(tuple(c) for c in clauses)


def _text_matches(value: Any, clauses: tuple[tuple[str, ...], ...]) -> bool:
    if value is None:
        return False
    text = " ".join(value) if isinstance(value, list) else str(value)
    lowered = text.lower()
    return all(any(_has_term(lowered, term) for term in clause) for clause in clauses)


def _has_term(text: str, term: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(term) + r"(?!\w)", text) is not None


def _present(value: Any) -> bool:
    return value is not None and value != [] and value != ""


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        raise bad_request(
            f"timezone {name!r} is not an ICANN time zone name, e.g. America/Chicago"
        ) from None


def time_bounds(filters: Iterable[BoundFilter], field_name: str) -> tuple[float, float]:
    """The widest epoch-second window the filters on a time field allow (inclusive)."""
    low, high = float("-inf"), float("inf")
    for f in filters:
        if f.field != field_name or not f.alone:
            continue
        if f.op == "in":
            low, high = max(low, f.low), min(high, f.high)
        elif f.op in ("gt", "gte"):
            low = max(low, f.values[0])
        elif f.op in ("lt", "lte"):
            high = min(high, f.values[0])
        elif f.op == "eq":
            low, high = max(low, min(f.values)), min(high, max(f.values))
    return low, high
