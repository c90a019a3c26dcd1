"""Fast immutable value records for the hot path.

Measured on this project's machine class: building a 9-field ``attrs`` frozen instance costs about
1.7 us (frozen ``__init__`` goes through ``object.__setattr__`` once per field), a slotted mutable
one 0.37 us, and a ``tuple`` subclass built with ``tuple.__new__`` 0.30 us.  ``fire`` builds three
values per move, so the values it builds (``Lead``, ``Transition``, ``Fired``, ``Decision``,
``Verdict``, ``Context``) are tuple records: immutable by construction, fields read through C-level
getters, equal only to records of the same class.  They do not behave as sequences (no iteration,
indexing or ``len``), so the tuple underneath stays an implementation detail.  Everything that is
not built per move uses ``attrs``.
"""

from __future__ import annotations

from operator import itemgetter
from types import MethodType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, NoReturn, Self, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

try:  # CPython's C-level field getter, the one ``collections.namedtuple`` uses.
    from collections import _tuplegetter  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - other interpreters
    def _tuplegetter(index: int, doc: str) -> Any:
        return property(itemgetter(index), doc=doc)

T_co = TypeVar("T_co", covariant=True)
R = TypeVar("R", bound="Record")

_tuple_new = tuple.__new__
_tuple_iter = tuple.__iter__


class Field(Generic[T_co]):
    """Typing stand-in for a read-only record field (the runtime object is a C getter)."""

    def __get__(self, obj: object, owner: Any = None) -> T_co:  # pragma: no cover - typing only
        raise NotImplementedError


def field(index: int, doc: str) -> Any:
    """A read-only field reading slot *index* of the record."""
    return _tuplegetter(index, doc)


def maker(cls: type[R]) -> Callable[[tuple[Any, ...]], R]:
    """The one unchecked constructor of the record type *cls*.

    ``maker(Lead)((id, stage, ...))`` builds a value from its fields, in order, that were checked
    already (by the record's public constructor, or by the code that computed them), at the cost
    of ``tuple.__new__``: the bound method runs no Python frame.  Each record module binds one per
    type beside the class (``make_lead``, ``make_transition``, ``make_decision`` ...), and no
    other code builds a record without its checks.
    """
    return MethodType(tuple.__new__, cls)


def _rebuild(cls: type[Record], values: tuple[Any, ...]) -> Record:
    return _tuple_new(cls, values)


class Record(tuple):  # type: ignore[type-arg]
    """Base of the hot-path value classes.  Subclasses set ``_fields`` and declare ``field``s."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(
            f"{type(self).__name__} is immutable: cannot set {name!r}; build a new value instead"
        )

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            # A plain tuple would compare its items with ours: answer for it.
            return False if isinstance(other, tuple) else NotImplemented
        return tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        if type(other) is not type(self):
            return True if isinstance(other, tuple) else NotImplemented
        return tuple.__ne__(self, other)

    def __hash__(self) -> int:
        return hash((type(self).__name__, *_tuple_iter(self)))

    # A record is a value with named fields, not a sequence: keep the tuple underneath private.
    def _not_a_sequence(self, *_: object) -> NoReturn:
        raise TypeError(
            f"{type(self).__name__} is not a sequence; read its fields by name "
            f"({', '.join(self._fields)})"
        )

    __iter__ = _not_a_sequence
    __getitem__ = _not_a_sequence
    __len__ = _not_a_sequence
    __contains__ = _not_a_sequence
    __add__ = _not_a_sequence
    __mul__ = _not_a_sequence
    __rmul__ = _not_a_sequence
    count = _not_a_sequence
    index = _not_a_sequence

    def __bool__(self) -> bool:
        return True

    def __lt__(self, other: object) -> bool:
        return NotImplemented

    __le__ = __gt__ = __ge__ = __lt__

    def __reduce__(self) -> tuple[Callable[..., Record], tuple[type[Record], tuple[Any, ...]]]:
        return (_rebuild, (type(self), tuple(_tuple_iter(self))))

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{name}={value!r}" for name, value in zip(self._fields, _tuple_iter(self), strict=True)
        )
        return f"{type(self).__name__}({parts})"

    def _asdict(self) -> dict[str, Any]:
        return dict(zip(self._fields, _tuple_iter(self), strict=True))
