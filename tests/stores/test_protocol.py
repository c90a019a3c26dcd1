"""``Change``: what it accepts, refused when it is built, before any store sees it."""

from __future__ import annotations

import copy
import pickle
from datetime import UTC, datetime
from typing import Any

import pytest

from funnelkit import InvalidInput, templates
from funnelkit.stores import Change, MemoryStore

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_expected_owner_defaults_to_unchecked() -> None:
    """Without expected_owner the owner is not checked; its repr says so."""
    lead = templates.inbound().new_lead("L1", at=AT)
    change = Change(lead, 0)
    assert repr(change.expected_owner) == "<unchecked>"
    assert change != Change(lead, 0, expected_owner=None)
    assert Change(lead, 0, expected_owner="ana").expected_owner == "ana"


@pytest.mark.parametrize("bad", ["", 3, b"ana", ["ana"]])
def test_expected_owner_must_be_a_name_or_none(bad: Any) -> None:
    """An expected owner is a non-empty string or None; anything else is refused."""
    lead = templates.inbound().new_lead("L1", at=AT)
    with pytest.raises(InvalidInput, match="expected_owner"):
        Change(lead, 0, expected_owner=bad)


def test_a_new_lead_has_no_owner_to_check() -> None:
    """expected_owner with expected_version None (a new lead) is refused: nothing is stored."""
    lead = templates.inbound().new_lead("L1", at=AT, owner="ana")
    with pytest.raises(InvalidInput, match="new lead 'L1'.*leave it out"):
        Change(lead, None, expected_owner="ana")


def test_copies_and_pickles_keep_the_owner_unchecked() -> None:
    """A copied or unpickled Change still leaves the owner unchecked (one sentinel object)."""
    funnel = templates.inbound()
    lead = funnel.new_lead("L1", at=AT)
    store = MemoryStore()
    store.commit(Change(lead, None))
    moved = funnel.fire(lead.evolve(owner="ana"), "convert", at=AT)
    change = Change(moved.lead, 0, [moved.transition])
    for twin in (copy.copy(change), copy.deepcopy(change), pickle.loads(pickle.dumps(change))):
        assert twin == change
        assert twin.expected_owner is change.expected_owner
    store.commit(pickle.loads(pickle.dumps(change)))
    assert store.load("L1").owner == "ana"
