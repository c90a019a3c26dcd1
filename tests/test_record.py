"""The hot-path tuple records: immutable values with named fields, never sequences."""

from __future__ import annotations

import copy
import pickle

import pytest

from funnelkit._core.record import Field, Record, field


class Point(Record):
    """A two-field record for the tests."""

    __slots__ = ()
    _fields = ("x", "y")
    x: Field[int] = field(0, "x")
    y: Field[int] = field(1, "y")


class Other(Record):
    """Another record with the same layout."""

    __slots__ = ()
    _fields = ("x", "y")
    x: Field[int] = field(0, "x")
    y: Field[int] = field(1, "y")


def make(cls: type[Record], *values: int) -> Record:
    return tuple.__new__(cls, values)


def test_fields_read_by_name() -> None:
    """Fields are read by name and _asdict maps them."""
    p = make(Point, 1, 2)
    assert (p.x, p.y) == (1, 2)  # type: ignore[attr-defined]
    assert p._asdict() == {"x": 1, "y": 2}
    assert repr(p) == "Point(x=1, y=2)"


def test_records_are_immutable() -> None:
    """Setting or deleting any attribute raises AttributeError with a helpful message."""
    p = make(Point, 1, 2)
    with pytest.raises(AttributeError, match="Point is immutable: cannot set 'x'"):
        p.x = 3
    with pytest.raises(AttributeError, match="cannot delete 'y'"):
        del p.y  # type: ignore[attr-defined]


def test_equal_only_to_the_same_class() -> None:
    """Records equal records of the same class with equal fields, never tuples or look-alikes."""
    assert make(Point, 1, 2) == make(Point, 1, 2)
    assert make(Point, 1, 2) != make(Point, 2, 1)
    assert make(Point, 1, 2) != make(Other, 1, 2)
    assert make(Point, 1, 2) != (1, 2)
    assert (1, 2) != make(Point, 1, 2)  # noqa: SIM300 - the reflected comparison is the point
    assert not make(Point, 1, 2) == (1, 2)  # noqa: SIM201
    assert hash(make(Point, 1, 2)) == hash(make(Point, 1, 2))
    with pytest.raises(TypeError):
        assert make(Point, 1, 2) < make(Point, 2, 2)


@pytest.mark.parametrize(
    "use",
    [iter, len, lambda p: p[0], lambda p: 1 in p, lambda p: p + p, lambda p: p * 2,
     lambda p: 2 * p, lambda p: p.count(1), lambda p: p.index(1)],
)
def test_not_a_sequence(use: object) -> None:
    """Sequence operations raise TypeError naming the fields to read instead."""
    with pytest.raises(TypeError, match="read its fields by name \\(x, y\\)"):
        use(make(Point, 1, 2))  # type: ignore[operator]


def test_always_true_and_copy_is_identity() -> None:
    """A record is truthy; copy and deepcopy return the same immutable value."""
    p = make(Point, 0, 0)
    assert bool(p)
    assert copy.copy(p) is p
    assert copy.deepcopy(p) is p


def test_pickle_round_trip() -> None:
    """Records pickle to an equal record of the same class."""
    p = make(Point, 1, 2)
    q = pickle.loads(pickle.dumps(p))
    assert q == p
    assert type(q) is Point
