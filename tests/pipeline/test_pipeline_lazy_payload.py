"""Outbox payloads kept as the hook arguments: encoded only where a store writes them."""

from __future__ import annotations

import json
import pickle
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from _pipeline_support import FRIDAY_2PM, Clock

from funnelkit import Decision, InvalidInput, Lead, Transition, Verdict, templates
from funnelkit._core.codec import LazyPayload
from funnelkit._pipeline import hooks
from funnelkit._pipeline.pipeline import Pipeline
from funnelkit.stores import Change, MemoryStore, OutboxMessage, SQLiteStore, Store

if TYPE_CHECKING:
    from pathlib import Path

FUNNEL = templates.inbound()


class Crm:
    """An after_transition hook that records what it is given."""

    def __init__(self) -> None:
        self.calls: list[tuple[Lead, Transition]] = []

    def after_transition(self, lead: Lead, transition: Transition) -> None:
        self.calls.append((lead, transition))


def _moved() -> tuple[Lead, Transition]:
    lead = FUNNEL.new_lead("L1", attributes={"country": "DE"}, at=FRIDAY_2PM)
    fired = FUNNEL.fire(lead, "convert", at=FRIDAY_2PM)
    return fired.lead, fired.transition


def test_a_lazy_payload_reads_as_the_encoded_payload() -> None:
    """Every read (items, equality, repr, JSON, pickle) sees what encode() gives."""
    lead, transition = _moved()
    arguments = {"lead": lead, "transition": transition}
    payload = hooks.payload("after_transition", arguments)
    encoded = hooks.encode("after_transition", arguments)
    assert payload == encoded
    assert dict(payload) == encoded
    assert payload["lead"]["attributes"] == {"country": "DE"}
    assert repr(payload) == repr(encoded)
    assert json.loads(json.dumps(dict(payload))) == encoded
    assert pickle.loads(pickle.dumps(payload)) == encoded  # a copy elsewhere is plain data
    assert payload.arguments is arguments
    assert hooks.decode("after_transition", payload) == arguments


def test_an_outbox_message_keeps_a_lazy_payload_and_copies_others() -> None:
    """OutboxMessage keeps the read-only LazyPayload itself; a plain mapping is copied."""
    lead, transition = _moved()
    payload = hooks.payload("after_transition", {"lead": lead, "transition": transition})
    assert OutboxMessage("k", "after_transition", payload, FRIDAY_2PM).payload is payload
    given = {"n": 1}
    copied = OutboxMessage("k", "after_transition", given, FRIDAY_2PM).payload
    assert copied == given
    assert copied is not given


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A MemoryStore, and a SQLiteStore file."""
    if request.param == "memory":
        return MemoryStore()
    return SQLiteStore(str(tmp_path / "funnel.db"))


def _bad_payload_change(bad: dict[str, Any]) -> Change:
    lead = FUNNEL.new_lead("L1", at=FRIDAY_2PM)
    return Change(lead, None, outbox=[
        OutboxMessage("k1", "after_transition", hooks.payload("after_transition", bad),
                      FRIDAY_2PM)])


def test_a_payload_that_cannot_be_stored_is_refused_at_the_commit(store: Store) -> None:
    """Values the change itself does not hold are checked: nothing is written."""
    lead, transition = _moved()
    bad_lead = FUNNEL.new_lead("L9", attributes={"score": float("nan")}, at=FRIDAY_2PM)
    bad_transition = Transition(
        transition.lead_id, transition.event, transition.source, transition.target,
        transition.at, version=transition.version,
        decision=Decision.allow(criteria=[Verdict("x", "met", float("inf"))]))
    for bad in ({"lead": bad_lead, "transition": transition},
                {"lead": lead, "transition": bad_transition}):
        with pytest.raises(InvalidInput, match="finite"):
            store.commit(_bad_payload_change(bad))
        assert list(store.leads()) == []
        assert store.outbox(undelivered_only=False) == []


def test_memory_rows_keep_the_arguments_and_another_pipeline_delivers_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A row its pipeline left (no hook there) is delivered by another pipeline on the same
    MemoryStore with the very records committed: nothing encoded, nothing decoded."""
    store = MemoryStore()
    writer = Pipeline(FUNNEL, store=store, clock=Clock(), outbox="after_transition")
    writer.capture("L1")
    outcome = writer.fire("L1", "convert")
    (row,) = store.outbox()
    assert isinstance(row.payload, LazyPayload)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("encoded or decoded")

    monkeypatch.setattr("funnelkit._pipeline.hooks.decode", refuse)
    monkeypatch.setattr(LazyPayload, "encoded", refuse)
    reader = Pipeline(FUNNEL, store=store, clock=Clock())
    crm = reader.register(Crm())
    assert reader.deliver_pending(now=FRIDAY_2PM + timedelta(minutes=1)).delivered == 1
    ((lead, transition),) = crm.calls
    assert lead is outcome.lead
    assert transition is outcome.transition
    assert store.outbox() == []


def test_sqlite_rows_are_written_encoded_and_decoded_when_read(tmp_path: Path) -> None:
    """A SQL store writes the encoded payload; a pipeline reading the row decodes it."""
    store = SQLiteStore(str(tmp_path / "funnel.db"))
    writer = Pipeline(FUNNEL, store=store, clock=Clock(), outbox="after_transition")
    writer.capture("L1", attributes={"country": "DE"})
    outcome = writer.fire("L1", "convert")
    (row,) = store.outbox()
    assert type(row.payload) is dict
    assert row.payload == hooks.encode("after_transition", {"lead": outcome.lead,
                                                            "transition": outcome.transition})
    reader = Pipeline(FUNNEL, store=store, clock=Clock())
    crm = reader.register(Crm())
    assert reader.deliver_pending(now=FRIDAY_2PM + timedelta(minutes=1)).delivered == 1
    assert crm.calls == [(outcome.lead, outcome.transition)]
    store.close()
