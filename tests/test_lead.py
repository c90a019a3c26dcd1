"""Leads, sources, attributes and the records of moves: values users cannot change in place."""

from __future__ import annotations

import copy
import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import Attributes, Decision, Fired, InvalidInput, Lead, Source, Transition

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)


def lead(**kwargs: Any) -> Lead:
    fields: dict[str, Any] = {"created_at": AT}
    fields.update(kwargs)
    return Lead("L1", "lead", **fields)


def test_lead_fields_and_defaults() -> None:
    """A lead built from fields has version 0 and its times default to created_at."""
    x = lead(attributes={"budget": 5}, source=Source.of("outbound"), owner="sdr-1")
    assert (x.id, x.stage, x.version, x.owner) == ("L1", "lead", 0, "sdr-1")
    assert x.attributes == {"budget": 5}
    assert type(x.attributes) is Attributes
    assert x.source == Source("outbound", "spear")
    assert x.created_at == x.stage_entered_at == x.updated_at == AT


def test_lead_is_immutable() -> None:
    """Assigning or deleting a field raises AttributeError; attributes are read-only too."""
    x = lead(attributes={"budget": 5})
    with pytest.raises(AttributeError, match="Lead is immutable: cannot set 'stage'"):
        x.stage = "mql"
    with pytest.raises(AttributeError, match="cannot delete"):
        del x.stage
    with pytest.raises(AttributeError):
        x.extra = 1
    with pytest.raises(TypeError, match="read-only"):
        x.attributes["budget"] = 1
    for name, args in (("pop", ("budget",)), ("update", ({"a": 1},)), ("clear", ()),
                       ("setdefault", ("a", 1)), ("popitem", ())):
        with pytest.raises(TypeError):
            getattr(x.attributes, name)(*args)
    with pytest.raises(TypeError):
        del x.attributes["budget"]
    assert x.attributes == {"budget": 5}


def test_lead_is_not_a_sequence() -> None:
    """The tuple underneath stays private: no iteration, indexing or len."""
    x = lead()
    with pytest.raises(TypeError, match="not a sequence"):
        iter(x)
    with pytest.raises(TypeError):
        x[0]  # noqa: B018
    with pytest.raises(TypeError):
        len(x)


def test_lead_equality_hash_and_copy() -> None:
    """Leads compare by every field, hash consistently, and copies are the same value."""
    a, b = lead(attributes={"x": [1]}), lead(attributes={"x": [1]})
    assert a == b
    assert hash(a) == hash(b)
    assert a != lead(owner="ana")
    assert a != lead(version=1)
    assert a != ("L1",)
    assert copy.copy(a) is a
    assert copy.deepcopy(a) is a
    assert len({a, b, lead(version=2)}) == 2


@given(
    attributes=st.dictionaries(
        st.text(min_size=1, max_size=8),
        st.one_of(st.none(), st.integers(), st.text(max_size=10), st.floats(allow_nan=False),
                  st.lists(st.integers(), max_size=3)),
        max_size=5,
    ),
    # NUL and lone surrogates: no store keeps them (refused, tested in tests/boundary)
    owner=st.one_of(st.none(), st.text(st.characters(exclude_characters="\x00",
                                                     exclude_categories=("Cs",)),
                                       min_size=1, max_size=10)),
    version=st.integers(0, 10**6),
)
def test_lead_pickles_to_an_equal_lead(
    attributes: dict[str, Any], owner: str | None, version: int
) -> None:
    """Leads cross process boundaries: pickling gives an equal lead with read-only attributes."""
    x = lead(attributes=attributes, owner=owner, version=version, source=Source.of("referral"))
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        y = pickle.loads(pickle.dumps(x, protocol=protocol))
        assert y == x
        assert type(y) is Lead
        assert type(y.attributes) is Attributes
        with pytest.raises(TypeError):
            y.attributes["new"] = 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"version": -1}, "version=-1"),
        ({"version": True}, "version=True"),
        ({"attributes": "x"}, "not a mapping"),
        ({"source": ("web", "net")}, "funnelkit.Source"),
        ({"owner": ""}, "owner=''"),
        ({"created_at": datetime(2026, 3, 2)}, "naive"),  # noqa: DTZ001
        ({"stage_entered_at": AT - timedelta(1)}, "times out of order"),
        ({"updated_at": AT - timedelta(1)}, "times out of order"),
    ],
)
def test_lead_constructor_checks_every_field(kwargs: dict[str, Any], match: str) -> None:
    """Stores rebuild leads with the constructor; each bad field raises InvalidInput."""
    with pytest.raises(InvalidInput, match=match):
        lead(**kwargs)
    with pytest.raises(InvalidInput, match="stage="):
        Lead("L1", "", created_at=AT)


def test_lead_rebuilt_from_stored_fields() -> None:
    """Every field can be given back to the constructor, as a store does."""
    later = AT + timedelta(days=2)
    x = Lead("L1", "sql", version=4, attributes={"a": 1}, source=Source("web", "net"),
             owner="ae", created_at=AT, stage_entered_at=later, updated_at=later)
    assert Lead(**{**x._asdict(), "id": "L1"}) == x


def test_evolve_changes_only_what_is_given() -> None:
    """evolve keeps stage and version, replaces the given fields and refuses going back in time."""
    x = lead(owner="a", attributes={"k": 1})
    y = x.evolve(owner="b", at=AT + timedelta(hours=1))
    assert (y.owner, y.attributes, y.stage, y.version) == ("b", {"k": 1}, "lead", 0)
    assert y.updated_at == AT + timedelta(hours=1)
    assert x.owner == "a"
    assert x.evolve(attributes={"k": 2}).attributes == {"k": 2}
    with pytest.raises(InvalidInput, match="before lead 'L1'"):
        y.evolve(owner="c", at=AT)


def test_attributes_hash_and_repr() -> None:
    """Attributes hash by content when hashable and show as Attributes({...})."""
    a = Attributes({"x": 1})
    assert hash(a) == hash(Attributes({"x": 1}))
    assert repr(a) == "Attributes({'x': 1})"
    assert copy.copy(a) is a


def test_source_kinds() -> None:
    """Source checks its channel and kind; Source.of fills in well-known kinds."""
    assert Source.of("referral").kind == "seed"
    assert Source.of("paid_search").kind == "net"
    assert Source.of("cold_call").kind == "spear"
    assert Source.of("trade_show").kind is None
    assert Source.of("referral", "net").kind == "net"
    with pytest.raises(InvalidInput, match="seed, net, spear"):
        Source("web", "rope")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="channel"):
        Source("")
    assert pickle.loads(pickle.dumps(Source("web", "net"))) == Source("web", "net")


def test_transition_record_checks_and_pickles() -> None:
    """Transition checks its fields and survives pickling, decision included."""
    d = Decision.deny("no", policy="p")
    t = Transition("L1", "lose", "sql", "lost", AT, reason="no budget", decision=d, version=3)
    assert pickle.loads(pickle.dumps(t)) == t
    assert hash(t) == hash(Transition("L1", "lose", "sql", "lost", AT, reason="no budget",
                                      decision=d, version=3))
    with pytest.raises(AttributeError):
        t.reason = "x"
    for kwargs, match in (
        ({"version": 0}, "version=0"),
        ({"decision": "yes"}, "decision="),
        ({"reason": 1}, "reason=1"),
        ({"actor": 2}, "actor=2"),
    ):
        fields: dict[str, Any] = {"version": 1}
        fields.update(kwargs)
        with pytest.raises(InvalidInput, match=match):
            Transition("L1", "e", "a", "b", AT, **fields)
    with pytest.raises(InvalidInput, match="naive"):
        Transition("L1", "e", "a", "b", datetime(2026, 1, 1), version=1)  # noqa: DTZ001


def test_fired_holds_a_lead_and_a_transition() -> None:
    """Fired takes exactly a Lead and a Transition; it is a value too."""
    t = Transition("L1", "qualify", "lead", "mql", AT, version=1)
    o = Fired(lead(), t, ("marketing", "sales"))
    assert o.team_change == ("marketing", "sales")
    assert o.lead == lead()
    assert o == Fired(lead(), t, ("marketing", "sales"))
    assert hash(o) == hash(
        Fired(lead(), t, ("marketing", "sales"))
    )
    assert pickle.loads(pickle.dumps(o)) == o
    with pytest.raises(InvalidInput):
        Fired(t, lead())  # type: ignore[arg-type]
    assert "Fired(lead=Lead(id='L1'" in repr(o)


def test_attributes_cannot_be_refilled_through_init() -> None:
    """Calling __init__ again on lead attributes changes nothing (the shared empty one included)."""
    lead = Lead("L1", "lead", created_at=AT, attributes={"budget": 1})
    lead.attributes.__init__({"budget": 999})  # type: ignore[misc]
    assert lead.attributes == {"budget": 1}
    empty = Lead("L2", "lead", created_at=AT).attributes
    empty.__init__({"x": 1})  # type: ignore[misc]
    assert Lead("L3", "lead", created_at=AT).attributes == {}


def test_evolve_can_clear_owner_and_source() -> None:
    """evolve keeps what is left out, and owner=None / source=None clear the field."""
    from funnelkit import Source  # noqa: PLC0415

    lead = Lead("L1", "lead", created_at=AT, owner="sdr-1", source=Source("referral", "seed"))
    kept = lead.evolve(attributes={"a": 1})
    assert (kept.owner, kept.source) == ("sdr-1", Source("referral", "seed"))
    cleared = lead.evolve(owner=None, source=None)
    assert (cleared.owner, cleared.source) == (None, None)
