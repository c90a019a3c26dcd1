"""Every public entry point refuses a bad argument with its documented error, and writes nothing.

Hypothesis replaces one argument at a time with a value of the wrong type or out of range (see
``_catalogue.py``); the call must raise the :class:`funnelkit.FunnelError` subclass documented for
it, and the store must hold exactly what it held before, every field of every record compared.
Entry points that touch a store run on MemoryStore, SQLiteStore and SQLAlchemyStore on SQLite,
PostgreSQL and MariaDB; the others (values, definitions, policies, scoring, routing) once.  A census
then tries every fixed bad value of the catalogue on every backend and prints the figures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from _catalogue import (
    BACKENDS,
    ENTRIES,
    PURE_ENTRIES,
    STORE_ENTRIES,
    Entry,
    World,
    open_store,
    snapshot,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funnelkit import FunnelError
from funnelkit.stores import MemoryStore

if TYPE_CHECKING:
    from collections.abc import Iterator

# Each example runs two full snapshots, a dozen queries on a server: fewer examples per entry
# point than the profile's, over many entry points and backends.
STORE_EXAMPLES = max(8, settings.default.max_examples // 4)


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    """A world on each backend, shared by the module's tests: refused calls change nothing."""
    store, dispose = open_store(request.param, request, tmp_path_factory.mktemp(request.param))
    try:
        yield World(store)
    finally:
        dispose()


@pytest.fixture(scope="module")
def memory_world() -> World:
    """A world on MemoryStore, for the entry points that touch no store."""
    return World(MemoryStore())


def _with(entry: Entry, world: World, param: str, value: Any) -> dict[str, Any]:
    args = entry.valid(world)
    args[param] = value
    return args


@pytest.mark.parametrize("entry", STORE_ENTRIES, ids=lambda e: e.name)
@settings(max_examples=STORE_EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_store_entry_points_refuse_bad_arguments_and_write_nothing(
    world: World, entry: Entry, data: st.DataObject
) -> None:
    """A refused argument raises the documented error and leaves the whole store as it was."""
    param = data.draw(st.sampled_from(sorted(entry.kinds)), label="argument")
    value = data.draw(entry.kinds[param].refused(), label=param)
    before = snapshot(world.store)
    with pytest.raises(entry.accepted(param)):
        entry.call(world, _with(entry, world, param, value))
    assert snapshot(world.store) == before


@pytest.mark.parametrize("entry", PURE_ENTRIES, ids=lambda e: e.name)
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_other_entry_points_refuse_bad_arguments(
    memory_world: World, entry: Entry, data: st.DataObject
) -> None:
    """Values, definitions, policies, scoring and routing refuse with their documented error."""
    param = data.draw(st.sampled_from(sorted(entry.kinds)), label="argument")
    value = data.draw(entry.kinds[param].refused(), label=param)
    with pytest.raises(entry.accepted(param)):
        entry.call(memory_world, _with(entry, memory_world, param, value))


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_the_catalogue_s_valid_calls_succeed(entry: Entry) -> None:
    """Every entry point succeeds with its valid arguments: a refusal is due to the bad one."""
    world = World(MemoryStore())
    entry.call(world, entry.valid(world))


def _census(world: World, entries: list[Entry]) -> tuple[int, int, list[str]]:
    """Try every fixed refused value: (tried, typed, what went wrong)."""
    tried = typed = 0
    wrong: list[str] = []
    for entry in entries:
        for param, kind in sorted(entry.kinds.items()):
            for value in kind.refused_pool():
                tried += 1
                before = snapshot(world.store) if entry.store else None
                try:
                    entry.call(world, _with(entry, world, param, value))
                except entry.accepted(param):
                    typed += 1
                except FunnelError as exc:
                    wrong.append(f"{entry.name}({param}={value!r:.60}): {type(exc).__name__}")
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    wrong.append(f"{entry.name}({param}={value!r:.60}): untyped "
                                 f"{type(exc).__name__}: {exc!s:.100}")
                else:
                    wrong.append(f"{entry.name}({param}={value!r:.60}): accepted")
                if before is not None and snapshot(world.store) != before:
                    wrong.append(f"{entry.name}({param}={value!r:.60}): WROTE")
    return tried, typed, wrong


def test_census_of_bad_inputs(world: World, request: pytest.FixtureRequest) -> None:
    """Every fixed bad value of the catalogue, on each backend: all typed, none written."""
    backend = request.node.callspec.params["world"]
    entries = ENTRIES if backend == "memory" else STORE_ENTRIES
    tried, typed, wrong = _census(world, entries)
    wrote = sum(1 for line in wrong if line.endswith("WROTE"))
    print(f"[census] {backend}: {tried} bad inputs through {len(entries)} entry points, "  # noqa: T201
          f"{typed} with the documented error, {wrote} wrote anything")
    assert wrong == []
