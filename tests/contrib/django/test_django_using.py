"""``Pipeline.using`` on Django: the same rules as on SQLAlchemy, in ``transaction.atomic()``.

The view joins the host's atomic block (by alias or connection), refuses to write outside one or
in a failed one, never retries a conflict, and has its after-hooks delivered by
``transaction.on_commit``, never for a block that rolled back.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from _django_project import empty
from django.db import DatabaseError, connections, transaction

from funnelkit import ConcurrencyError, HostTransactionError, InvalidInput, templates
from funnelkit.contrib.django import DjangoStore
from funnelkit.pipeline import Pipeline
from funnelkit.testing import FrozenClock

if TYPE_CHECKING:
    from collections.abc import Iterator

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)


class Moves:
    def __init__(self) -> None:
        self.seen: list[tuple[str, bool]] = []
        self.alias = "default"

    def after_transition(self, transition: Any) -> None:
        self.seen.append((transition.event, connections[self.alias].in_atomic_block))


@pytest.fixture(params=["default", "postgres"])
def alias(request: pytest.FixtureRequest) -> Iterator[str]:
    """SQLite (``default``) and PostgreSQL, each with the host's table ``companies``."""
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        name = request.getfixturevalue("postgres_alias")
    else:
        request.getfixturevalue("django_project")
        name = "default"
    empty(name)
    with connections[name].cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS companies (name TEXT PRIMARY KEY)")
        cursor.execute("DELETE FROM companies")
    yield name
    empty(name)


def _companies(alias: str) -> list[str]:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT name FROM companies ORDER BY name")
        return [name for (name,) in cursor.fetchall()]


def _pipeline(alias: str) -> tuple[Pipeline, Moves]:
    pipeline = Pipeline(templates.inbound(), store=DjangoStore(alias), clock=FrozenClock(AT))
    moves = pipeline.register(Moves())
    moves.alias = alias
    return pipeline, moves


def _insert(alias: str, name: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute("INSERT INTO companies (name) VALUES (%s)", [name])


def test_the_view_commits_and_rolls_back_with_the_host(alias: str) -> None:
    """By alias or by connection, the view's writes are the host block's: both or neither."""
    pipeline, moves = _pipeline(alias)

    def view_fails() -> None:
        with transaction.atomic(using=alias):
            _insert(alias, "Acme")
            view = pipeline.using(alias)
            view.capture("acme")
            view.fire("acme", "convert")
            raise RuntimeError("the host fails after both writes")

    with pytest.raises(RuntimeError):
        view_fails()
    assert _companies(alias) == []
    assert list(pipeline.store.leads()) == []
    assert pipeline.store.outbox(undelivered_only=False) == []
    assert moves.seen == []
    with transaction.atomic(using=alias):
        _insert(alias, "Acme")
        view = pipeline.using(connections[alias])
        view.capture("acme")
        view.fire("acme", "convert")
        assert moves.seen == []  # not inside the block
    assert _companies(alias) == ["Acme"]
    assert pipeline.get("acme").stage == "lead"
    # transaction.on_commit delivered, with the view's pipeline, outside the block:
    assert moves.seen == [("convert", False)]
    assert pipeline.store.outbox() == []


def test_the_view_writes_only_inside_an_atomic_block(alias: str) -> None:
    """Outside transaction.atomic() there is nothing to join: HostTransactionError, no write."""
    pipeline, _ = _pipeline(alias)
    view = pipeline.using(alias)
    with pytest.raises(HostTransactionError, match=r"inside `with transaction\.atomic"):
        view.capture("acme")
    assert list(pipeline.store.leads()) == []
    pipeline.capture("acme")  # the pipeline itself still commits on its own
    assert view.get("acme").stage == "subscriber"  # and the view reads outside a block


def test_a_failed_block_is_refused(alias: str) -> None:
    """A block that must roll back refuses the view's writes with HostTransactionError."""
    pipeline, _ = _pipeline(alias)
    with transaction.atomic(using=alias):
        try:
            with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
                cursor.execute("INSERT INTO companies (name) VALUES (NULL)")  # NOT NULL key
        except DatabaseError:
            pass  # the inner block rolled back to its savepoint: the outer is fine
        pipeline.using(alias).capture("fine")
        transaction.set_rollback(True, using=alias)
        with pytest.raises(HostTransactionError, match="leave the atomic block"):
            pipeline.using(alias).capture("acme")
    assert list(pipeline.store.leads()) == []


def test_bad_hosts_are_refused(alias: str) -> None:
    """An alias that does not exist, or a host that is no alias nor connection: InvalidInput."""
    pipeline, _ = _pipeline(alias)
    with pytest.raises(InvalidInput, match="not a database alias of this Django project"):
        pipeline.using("replica")
    for bad in (42, object()):
        with pytest.raises(InvalidInput, match="neither a database alias nor a Django"):
            pipeline.using(bad)
    with pytest.raises(InvalidInput, match="deliver_on_commit"):
        pipeline.store.join(alias, deliver_on_commit=42)  # type: ignore[attr-defined]


@pytest.mark.postgres
def test_a_conflict_is_raised_at_once(postgres_alias: str) -> None:
    """Another connection moves the lead during the view's move: ConcurrencyError, no retry."""
    alias = postgres_alias
    empty(alias)
    pipeline, _ = _pipeline(alias)
    pipeline.capture("acme")
    calls: list[str] = []

    class Interloper:
        def before_transition(self, lead: Any, transition: Any) -> None:
            calls.append(transition.event)
            if len(calls) == 1:  # another request moves the lead first, and commits
                other = threading.Thread(target=pipeline.fire, args=("acme", "convert"))
                other.start()
                other.join()

    interloper = pipeline.register(Interloper())
    try:
        with transaction.atomic(using=alias):
            with pytest.raises(ConcurrencyError, match="roll it back and run the whole unit of work again"):
                pipeline.using(alias).fire("acme", "convert")
            assert calls == ["convert", "convert"]  # ours once (no retry), the other's once
    finally:
        pipeline.unregister(interloper)
        empty(alias)
