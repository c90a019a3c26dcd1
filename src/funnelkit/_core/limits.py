"""What funnelkit takes: the documented limits, and the checks every entry point shares.

One input boundary: each public entry point checks its arguments with these functions before it
does any work, and refuses anything outside them with the error the pure core raises for the same
mistake (:class:`~funnelkit.InvalidInput`, or :class:`~funnelkit.InvalidFunnel` /
:class:`~funnelkit.InvalidPolicy` while building).  The limits are what every store can keep
alike (MemoryStore, SQLite, PostgreSQL and MariaDB/MySQL), what the calendar arithmetic can
compute, and what keeps recursion and evaluation cost bounded.  ``docs/architecture.md``
("Limits") lists them for users.

The checks are written for the hot path: the common case (a plain ASCII ``str``) costs a type
test and a few C-level string methods, and only the rare case pays for a regular expression.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from funnelkit._core.errors import InvalidInput

__all__ = [
    "MAX_DATA_DEPTH",
    "MAX_DATA_SIZE",
    "MAX_DEFINITION_DEPTH",
    "MAX_DERIVED_TIME",
    "MAX_DURATION",
    "MAX_INT",
    "MAX_KEY_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_POLICY_DATA_DEPTH",
    "MAX_POLICY_DEPTH",
    "MAX_TEXT_LENGTH",
    "MAX_TIME",
    "MAX_VERSION",
    "MIN_TIME",
    "check_count",
    "check_name",
    "check_text",
    "is_name",
    "items_of",
    "name_problem",
    "nests_deeper",
    "text_problem",
]

MAX_NAME_LENGTH: Final = 200
"""Ids and names (lead ids, stages, events, teams, owners, actors, channels...): characters."""

MAX_KEY_LENGTH: Final = 255
"""Handoff ids and outbox keys, which funnelkit derives from a lead id: characters (the SQL
stores' ``VARCHAR(255)``; a 200-character lead id leaves room for the version and hook name)."""

MAX_TEXT_LENGTH: Final = 10_000
"""Free text kept in its own column (reasons, delivery errors): characters."""

MAX_VERSION: Final = 2**31 - 1
"""Versions and counts kept in the SQL stores' ``INTEGER`` columns."""

MIN_TIME: Final = datetime(1000, 1, 1, tzinfo=UTC)
"""The earliest time funnelkit takes."""

MAX_TIME: Final = datetime(9000, 1, 1, tzinfo=UTC)
"""Times must be earlier than this: any time plus any duration funnelkit allows (at most
:data:`MAX_DURATION`, or that much calendar time for a business duration) stays far inside
``datetime``'s range, so no derived time (an SLA's due time, an outbox lease or retry, a sweep's
horizon) can overflow."""

MAX_DURATION: Final = timedelta(days=3650)
"""The longest duration (SLA, ``stall_after``, lease, backoff, half-life): ten years; a business
duration must also fit in ten years of its calendar's time."""

MAX_DERIVED_TIME: Final = MAX_TIME + 2 * MAX_DURATION
"""Times funnelkit derives from a time it took (a due time, a retry, a lease's end) may run past
:data:`MAX_TIME` by a duration: they must be earlier than this."""

MAX_DATA_DEPTH: Final = 32
"""How deep attribute, evidence and payload values nest (dicts, lists, tuples)."""

MAX_DATA_SIZE: Final = 1 << 20
"""The default limit on a lead's attributes (and a touchpoint's data), as the JSON text the SQL
stores write: 1 MiB.  Every store takes ``max_data_size=`` to raise (or lower) it."""

MAX_INT: Final = 10**100
"""Integers in stored data lie strictly between -MAX_INT and MAX_INT (101 digits or fewer)."""

MAX_POLICY_DEPTH: Final = 16
"""How deep combinators nest policies (``all_of(any_of(not_(...)))``), in code or in data."""

MAX_POLICY_DATA_DEPTH: Final = 3 * MAX_POLICY_DEPTH + 8
"""How deep a policy's data form may nest: each nested policy is three levels of data
(``{"use": ..., "params": {"policies": [...]}}``), and a scoring model inside the innermost one a
few more.  Deeper data (or data that holds itself) cannot be a policy."""

MAX_DEFINITION_DEPTH: Final = 64
"""How deep a funnel definition's data form nests (policy data included)."""

_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(value: str, limit: int = MAX_TEXT_LENGTH) -> str | None:
    r"""Why the string *value* cannot be stored by every backend, or None when it can.

    >>> text_problem("ok"), text_problem("a\x00b")
    (None, 'contains a NUL character (PostgreSQL cannot store it)')
    """
    if len(value) > limit:
        return f"is {len(value):,} characters long; the limit is {limit:,}"
    if "\x00" in value:
        return "contains a NUL character (PostgreSQL cannot store it)"
    if not value.isascii() and _SURROGATE.search(value) is not None:
        return "contains a lone surrogate, which is not Unicode text (no database can store it)"
    return None


def name_problem(value: object, limit: int = MAX_NAME_LENGTH) -> str | None:
    """Why *value* is not an id or name funnelkit can store everywhere, or None when it is.

    >>> name_problem("L1") is None, name_problem(""), name_problem(5)
    (True, 'must not be empty', 'is int, not a string')
    """
    if not isinstance(value, str):
        return f"is {type(value).__name__}, not a string"
    if not value:
        return "must not be empty"
    return text_problem(value, limit)


def is_name(value: object, limit: int = MAX_NAME_LENGTH) -> bool:
    r"""True for an id or name every store can keep: a non-empty str within the limits.

    The hot-path form of :func:`name_problem`.

    >>> is_name("L1"), is_name("L1\x00"), is_name("\udc80"), is_name("x" * 201)
    (True, False, False, False)
    """
    if type(value) is str:
        return (0 < len(value) <= limit and "\x00" not in value
                and (value.isascii() or _SURROGATE.search(value) is None))
    return isinstance(value, str) and name_problem(value, limit) is None


def check_name(
    value: object, what: str, *, optional: bool = False, limit: int = MAX_NAME_LENGTH,
    error: type[Exception] = InvalidInput,
) -> None:
    r"""Raise *error* naming *what* unless *value* is an id or name (or None when *optional*).

    >>> check_name("sdr-1", "owner")
    >>> check_name("a\udc80", "owner")
    Traceback (most recent call last):
    ...
    funnelkit.InvalidInput: owner='a\udc80' contains a lone surrogate, which is not Unicode text (no database can store it); give a non-empty string of at most 200 characters
    """  # noqa: E501 - a doctest's output is one line
    if type(value) is str and 0 < len(value) <= limit and value.isascii() and (
            "\x00" not in value):
        return  # the usual case, in line: this runs for every id of every value built
    if optional and value is None:
        return
    if is_name(value, limit):
        return
    problem = name_problem(value, limit)
    what_else = " (or None)" if optional else ""
    raise error(f"{what}={_short(value)} {problem}; give a non-empty string of at most "
                f"{limit:,} characters{what_else}")


def check_text(value: object, what: str, *, optional: bool = True) -> None:
    """Raise InvalidInput naming *what* unless *value* is free text every store can keep.

    >>> check_text("no budget", "reason")
    >>> check_text(None, "reason")
    """
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise InvalidInput(f"{what}={_short(value)} must be a string"
                           f"{' or None' if optional else ''}")
    problem = text_problem(value)
    if problem is not None:
        raise InvalidInput(f"{what}={_short(value)} {problem}")


def check_count(value: object, what: str, *, minimum: int = 0, limit: int = MAX_VERSION) -> int:
    """Return *value* if it is an int (not a bool) from *minimum* to *limit*, else raise.

    >>> check_count(3, "version")
    3
    """
    if type(value) is not int or not minimum <= value <= limit:
        raise InvalidInput(f"{what}={_short(value)} must be an int from {minimum} to {limit:,}")
    return value


def items_of(value: object, what: str, error: type[Exception] = InvalidInput) -> tuple[Any, ...]:
    """*value* as a tuple, if it is a collection of items: not a string, bytes or a mapping.

    Raises *error* naming *what* otherwise (a lone string is the usual slip: ``"ann"`` where
    ``["ann"]`` was meant).

    >>> items_of(["a", "b"], "people"), items_of(frozenset(), "people")
    (('a', 'b'), ())
    """
    if type(value) is tuple:
        return value
    if isinstance(value, str | bytes | bytearray | Mapping) or not isinstance(value, Iterable):
        raise error(f"{what}={_short(value)} must be a list or tuple")
    return tuple(value)


def nests_deeper(value: object, limit: int) -> bool:
    """True when *value* nests dicts, lists and tuples more than *limit* levels deep.

    Iterative, so it answers for any depth (a structure that contains itself is infinitely deep)
    without recursion; it stops looking as soon as it knows.

    >>> nests_deeper({"a": [1, {"b": 2}]}, 3), nests_deeper({"a": [1, {"b": 2}]}, 2)
    (False, True)
    """
    stack: list[tuple[object, int]] = [(value, 1)]
    leaves = _LEAVES
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is dict:
            children: Iterable[object] = item.values()  # type: ignore[attr-defined]
        elif kind is list or kind is tuple:
            children = item  # type: ignore[assignment]
        elif isinstance(item, Mapping):
            children = list(item.values())
        elif isinstance(item, list | tuple):
            children = list(item)
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if type(child) not in leaves)
    return False


# Values that hold nothing: skipped by one set lookup (the ABC checks above cost ten times more).
_LEAVES: Final = frozenset({str, int, float, bool, type(None), bytes, Decimal, datetime, date})


def _short(value: object) -> str:
    """A repr for a message, cut short: a refused value may be megabytes long."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a host object whose repr fails is still named
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= 80 else f"{text[:60]}...({len(text):,} characters)"
