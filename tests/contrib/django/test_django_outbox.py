"""DjangoStore's outbox capabilities with a pipeline: ``commit_claimed`` and ``purge_outbox``.

Outside a transaction, the pipeline writes a hooked move's rows already claimed and delivers them
from memory, with no claim; inside the host's ``transaction.atomic()`` (the pipeline itself or
its ``using`` view) the rows are written unclaimed and wait for the commit.  With
``outbox_retention``, delivered rows are purged.  (The shipped StoreContract checks both
capabilities row by row: ``test_django_contract.py``.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from _django_project import empty
from django.db import connections, transaction

from funnelkit import templates
from funnelkit.contrib.django import DjangoStore
from funnelkit.pipeline import Pipeline
from funnelkit.stores import Change, OutboxMessage
from funnelkit.testing import FrozenClock

if TYPE_CHECKING:
    from collections.abc import Iterator

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)


class Moves:
    """An after-hook that notes each move and whether it ran inside an atomic block."""

    def __init__(self, alias: str) -> None:
        self.seen: list[tuple[str, bool]] = []
        self.alias = alias

    def after_transition(self, transition: Any) -> None:
        self.seen.append((transition.event, connections[self.alias].in_atomic_block))


class Counted:
    """Counts the calls of one store method, then makes it."""

    def __init__(self, method: Any) -> None:
        self.method = method
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.method(*args, **kwargs)


@pytest.fixture(params=["default", "postgres"])
def alias(request: pytest.FixtureRequest) -> Iterator[str]:
    """SQLite (``default``) and PostgreSQL, emptied before and after."""
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        name = request.getfixturevalue("postgres_alias")
    else:
        request.getfixturevalue("django_project")
        name = "default"
    empty(name)
    yield name
    empty(name)


def _pipeline(alias: str, **options: Any) -> tuple[Pipeline, Moves]:
    """A pipeline on *alias* that delivers once a host's block commits, as get_pipeline()'s."""
    store = DjangoStore(alias)
    pipeline = Pipeline(templates.inbound(), store=store, clock=FrozenClock(AT), **options)
    store.deliver_on_commit = pipeline.deliver_pending
    return pipeline, pipeline.register(Moves(alias))


def test_a_move_outside_a_transaction_is_delivered_without_a_claim(
    alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows are written claimed, the hook runs after the commit, no claim transaction."""
    pipeline, moves = _pipeline(alias)
    store = pipeline.store
    claims = Counted(store.claim_outbox)
    monkeypatch.setattr(store, "claim_outbox", claims)
    pipeline.capture("acme")
    pipeline.fire("acme", "convert")
    assert moves.seen == [("convert", False)]
    assert claims.calls == 0
    (row,) = store.outbox(undelivered_only=False)
    assert (row.attempts, row.claimed_by, row.delivered_at) == (1, None, AT)


def test_a_move_inside_the_hosts_block_waits_for_its_commit(alias: str) -> None:
    """In transaction.atomic(), the pipeline's rows are written unclaimed and delivered after."""
    pipeline, moves = _pipeline(alias)
    pipeline.capture("acme")
    with pytest.raises(RuntimeError), transaction.atomic(using=alias):  # noqa: PT012
        pipeline.fire("acme", "convert")
        raise RuntimeError("the host fails")
    assert moves.seen == []
    assert pipeline.store.outbox(undelivered_only=False) == []
    with transaction.atomic(using=alias):
        pipeline.fire("acme", "convert")
        (row,) = pipeline.store.outbox()
        assert (row.attempts, row.claimed_by) == (0, None)  # nothing handed out yet
        assert moves.seen == []
    assert moves.seen == [("convert", False)]
    assert pipeline.store.outbox() == []


def test_the_joined_view_never_commits_claimed(
    alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pipeline.using() writes through commit, its rows waiting for the host's commit."""
    counted = Counted(DjangoStore.commit_claimed)

    def commit_claimed(self: DjangoStore, *args: Any, **kwargs: Any) -> Any:
        return counted(self, *args, **kwargs)

    monkeypatch.setattr(DjangoStore, "commit_claimed", commit_claimed)
    pipeline, moves = _pipeline(alias)
    pipeline.capture("acme")
    with transaction.atomic(using=alias):
        pipeline.using(alias).fire("acme", "convert")
        assert moves.seen == []
    assert counted.calls == 0
    assert moves.seen == [("convert", False)]
    pipeline.fire("acme", "qualify")
    assert counted.calls == 1


def test_outbox_retention_purges_delivered_rows(alias: str) -> None:
    """Pipeline(outbox_retention=...) works on DjangoStore: delivered rows do not pile up."""
    pipeline, moves = _pipeline(alias, outbox_retention=timedelta(0))
    pipeline.capture("acme")
    pipeline.fire("acme", "convert")
    pipeline.fire("acme", "qualify")
    assert [event for event, _ in moves.seen] == ["convert", "qualify"]
    assert pipeline.store.outbox(undelivered_only=False) == []


def test_claimed_rows_get_their_ids_without_returning(
    alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where INSERT ... RETURNING is missing (MySQL), the ids are read back by key."""
    features = connections[alias].features
    monkeypatch.setattr(type(features), "can_return_rows_from_bulk_insert", False)
    store = DjangoStore(alias)
    lead = templates.inbound().new_lead("acme", at=AT)
    messages = [OutboxMessage(key, "after_capture", {"lead_id": "acme"}, AT) for key in "ba"]
    until = AT + timedelta(minutes=5)
    ids = store.commit_claimed(Change(lead, None, outbox=messages), worker="w", until=until)
    rows = store.outbox()
    assert ids == [row.id for row in rows]
    assert [(row.key, row.claimed_by, row.claimed_until) for row in rows] == [
        ("b", "w", until), ("a", "w", until)]


def test_a_purge_inside_a_rolled_back_block_removes_nothing(alias: str) -> None:
    """purge_outbox is a write of the host's block: it rolls back with it."""
    pipeline, _ = _pipeline(alias)
    pipeline.capture("acme")
    pipeline.fire("acme", "convert")
    store = pipeline.store
    assert isinstance(store, DjangoStore)
    with pytest.raises(RuntimeError), transaction.atomic(using=alias):  # noqa: PT012
        assert store.purge_outbox(delivered_before=AT + timedelta(seconds=1)) == 1
        raise RuntimeError("the host fails")
    assert len(store.outbox(undelivered_only=False)) == 1
    assert store.purge_outbox(delivered_before=AT + timedelta(seconds=1)) == 1
    assert store.outbox(undelivered_only=False) == []
