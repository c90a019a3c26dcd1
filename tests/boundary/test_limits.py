"""Each finding of issue 12, on every backend where a store is involved: now a typed refusal.

Times at the edge of the calendar, durations of billions of hours, data and definitions nested a
thousand levels, values some backend cannot store, ids that are not Unicode, and a rule whose
string growth had no bound.  Each refusal is the documented ``FunnelError`` and writes nothing.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from _catalogue import BACKENDS, open_store, snapshot

from funnelkit import (
    BusinessCalendar,
    Context,
    Funnel,
    InvalidFunnel,
    InvalidInput,
    InvalidPolicy,
    Lead,
    NotFound,
    policies,
    templates,
)
from funnelkit._core.limits import MAX_DURATION, MAX_TIME, MIN_TIME
from funnelkit.pipeline import Pipeline
from funnelkit.policies import LIMITS

if TYPE_CHECKING:
    from collections.abc import Iterator

    from funnelkit.stores import Store

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Store]:
    """A new, empty store of each kind."""
    made, dispose = open_store(request.param, request, tmp_path)
    try:
        yield made
    finally:
        dispose()


class Hooks:
    """After-hooks for every kind of outbox row; one of them fails, so it is retried."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def after_transition(self, transition: Any) -> None:
        self.calls.append(transition.event)

    def after_handoff(self, handoff: Any) -> None:
        raise RuntimeError("the CRM is down")


# -- times at the edge of the calendar ---------------------------------------------------------


def test_a_move_at_the_end_of_the_calendar_is_refused_before_anything_is_written(
    store: Store,
) -> None:
    """A fire at 9999-12-31 with an after-hook: InvalidInput, no move, no outbox row."""
    pipeline = Pipeline(templates.inbound(), store=store)
    pipeline.register(Hooks())
    pipeline.capture("L1", at=T0)
    before = snapshot(store)
    for at in (datetime(9999, 12, 31, 23, 59, tzinfo=UTC), datetime.max.replace(tzinfo=UTC),
               MAX_TIME):
        with pytest.raises(InvalidInput, match="outside the times funnelkit takes"):
            pipeline.fire("L1", "convert", at=at)
        with pytest.raises(InvalidInput, match="outside the times funnelkit takes"):
            pipeline.deliver_pending(now=at)
        with pytest.raises(InvalidInput, match="outside the times funnelkit takes"):
            pipeline.sweep(now=at)
    assert snapshot(store) == before


def test_the_latest_time_works_end_to_end(store: Store) -> None:
    """Just before MAX_TIME, with the longest SLA, lease and backoff: every derived time fits."""
    longest = f"{MAX_DURATION.days} days"
    funnel = (Funnel.builder("edge").stage("lead", "marketing").stage("sql", "sales")
              .stage("won", "sales", outcome="won")
              .move("hand", "lead", "sql", sla=longest).move("win", "sql", "won").build())
    pipeline = Pipeline(funnel, store=store, lease=MAX_DURATION, backoff=MAX_DURATION,
                        max_backoff=MAX_DURATION)
    hooks = pipeline.register(Hooks())
    last = MAX_TIME - timedelta(microseconds=1)
    pipeline.capture("L1", at=last)
    outcome = pipeline.fire("L1", "hand", at=last)  # after_handoff fails: retried 10 years later
    (handoff,) = pipeline.handoffs()
    assert handoff.due_at == last + MAX_DURATION
    assert hooks.calls == ["hand"]
    (failed,) = store.outbox()
    assert failed.hook == "after_handoff"
    assert failed.next_attempt_at == last + MAX_DURATION
    assert outcome.lead.stage == "sql"


def test_durations_of_billions_of_hours_are_refused_when_built() -> None:
    """SLAs and stall_after beyond ten years fail the funnel's build, not its first use."""
    for sla in ("999999999 hours", "4000 days", timedelta(days=10**6)):
        with pytest.raises(InvalidFunnel, match="ten years"):
            (Funnel.builder("f").stage("a", "x").stage("b", "y", outcome="won")
             .move("go", "a", "b", sla=sla).build())
    with pytest.raises(InvalidFunnel, match="ten years"):
        (Funnel.builder("f").stage("a", "x", stall_after="99999999 days", stall_event="go")
         .stage("b", "y", outcome="won").move("go", "a", "b").build())


def test_a_business_sla_longer_than_ten_years_of_its_calendar_is_refused_by_the_pipeline(
) -> None:
    """3000 business hours fit the default calendar, not one working hour a week."""
    funnel = (Funnel.builder("f").stage("a", "x").stage("b", "y", outcome="won")
              .move("go", "a", "b", sla="3000 business hours").build())
    Pipeline(funnel, store=templates_store())
    sparse = BusinessCalendar(working_days=[0], working_hours=(9, 10))
    with pytest.raises(InvalidInput, match="ten years"):
        Pipeline(funnel, store=templates_store(), calendar=sparse)
    with pytest.raises(InvalidInput, match="ten years"):
        sparse.add(T0, "3000 business hours")


def templates_store() -> Store:
    from funnelkit.stores import MemoryStore  # noqa: PLC0415 - a one-line helper

    return MemoryStore()


def test_the_first_time_is_taken_and_earlier_ones_are_refused() -> None:
    """MIN_TIME is a valid capture time; a second earlier, and year 1, are not."""
    funnel = templates.inbound()
    assert funnel.new_lead("L1", at=MIN_TIME).created_at == MIN_TIME
    for at in (MIN_TIME - timedelta(seconds=1), datetime.min.replace(tzinfo=UTC)):
        with pytest.raises(InvalidInput, match="outside the times"):
            funnel.new_lead("L1", at=at)


# -- depth ---------------------------------------------------------------------------------------


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"a": value}
    return value


def test_attributes_nested_hundreds_of_levels_are_refused(store: Store) -> None:
    """Attributes nested 500 levels (or holding themselves): InvalidInput, nothing written."""
    pipeline = Pipeline(templates.inbound(), store=store)
    holding: dict[str, Any] = {}
    holding["self"] = holding
    for attributes in (_nested(500), holding, {"a": [_nested(40)]}):
        with pytest.raises(InvalidInput, match="nest"):
            pipeline.capture("L1", at=T0, attributes=attributes)
        with pytest.raises(InvalidInput, match="nest"):
            Lead("L1", "lead", created_at=T0, attributes=attributes)
    pipeline.capture("L1", at=T0, attributes=_nested(31))  # 32 levels with the mapping itself
    assert pipeline.get("L1").attributes == _nested(31)


@pytest.mark.parametrize(("factory", "levels"), [(policies.all_of, 166), (policies.not_, 249)])
def test_policies_nested_hundreds_of_levels_are_refused(factory: Any, levels: int) -> None:
    """Combinators nest at most 16 deep, in code and in data; deeper is InvalidPolicy."""
    policy: Any = "a > 0"
    for _ in range(16):
        policy = factory(policy)
    assert policy(Lead("L1", "x", created_at=T0, attributes={"a": 1}), Context(T0)).allowed in (
        True, False)
    with pytest.raises(InvalidPolicy, match="nest"):
        factory(policy)
    data: Any = "a > 0"
    name = "all_of" if factory is policies.all_of else "not"
    for _ in range(levels):
        data = ({"use": name, "params": {"policies": [data]}} if name == "all_of"
                else {"use": name, "params": {"policy": data}})
    with pytest.raises(InvalidPolicy, match="nests deeper"):
        policies.from_name(name, **data["params"])
    definition = templates.temperature().to_dict()
    definition["moves"][0]["policy"] = data
    with pytest.raises(InvalidFunnel, match="nests deeper"):
        Funnel.from_dict(definition)


def test_policy_data_that_holds_itself_is_refused() -> None:
    """A policy mapping that contains itself is refused, wherever it is given."""
    data: dict[str, Any] = {"use": "not", "params": {}}
    data["params"]["policy"] = data
    with pytest.raises(InvalidPolicy, match="holds itself"):
        policies.from_name("not", policy=data)
    definition = templates.temperature().to_dict()
    definition["moves"][0]["policy"] = data
    with pytest.raises(InvalidFunnel, match="holds itself"):
        Funnel.from_dict(definition)
    with pytest.raises(InvalidPolicy, match="holds itself"):
        Funnel.builder("f").move("go", "a", "b", policy=data)


@pytest.mark.parametrize("levels", [100, 1000, 100_000])
def test_definitions_nested_a_thousand_levels_are_refused(levels: int) -> None:
    """JSON and TOML definitions nested far too deep are InvalidFunnel, not RecursionError."""
    with pytest.raises(InvalidFunnel, match="nests deeper"):
        Funnel.from_json('{"name": ' + "[" * levels + "]" * levels + "}")
    with pytest.raises(InvalidFunnel, match="nests deeper"):
        Funnel.from_toml("name = " + "[" * levels + "]" * levels)
    with pytest.raises(InvalidFunnel, match="nests deeper"):
        Funnel.from_dict(json.loads('{"name": ' + "[" * 99 + "]" * 99 + "}"))


# -- values every backend stores alike -----------------------------------------------------------


def test_non_finite_decimals_are_refused_like_non_finite_floats(store: Store) -> None:
    """Decimal NaN, sNaN and Infinity are refused as float NaN is, on every backend."""
    pipeline = Pipeline(templates.inbound(), store=store)
    for value in (float("nan"), Decimal("NaN"), Decimal("sNaN"), Decimal("-Infinity")):
        with pytest.raises(InvalidInput, match="finite"):
            pipeline.capture("L1", at=T0, attributes={"x": value})
    assert list(store.leads()) == []
    pipeline.capture("L1", at=T0, attributes={"x": Decimal("1E+999")})
    assert store.load("L1").attributes["x"] == Decimal("1E+999")


@pytest.mark.parametrize("bad", ["\udc80", "L\ud800", "a\x00b", "x" * 201, ""])
def test_ids_no_backend_can_store_are_refused_alike(store: Store, bad: str) -> None:
    """The same InvalidInput on every backend for a new id; NotFound when one is looked up."""
    pipeline = Pipeline(templates.inbound(), store=store)
    with pytest.raises(InvalidInput):
        pipeline.capture(bad, at=T0)
    pipeline.capture("L1", at=T0)
    with pytest.raises(InvalidInput):
        pipeline.assign("L1", bad)
    with pytest.raises(InvalidInput):
        pipeline.fire("L1", "convert", actor=bad, at=T0)
    if bad:
        with pytest.raises(NotFound):
            pipeline.get(bad)
        with pytest.raises(NotFound):
            pipeline.fire(bad, "convert")
        assert list(store.leads(stage=bad)) == []
        assert pipeline.handoffs(team=bad, assignee=bad, lead_id=bad) == []
    assert [lead.id for lead in store.leads()] == ["L1"]


def test_text_no_backend_can_store_is_refused_alike(store: Store) -> None:
    """Reasons with a NUL or a lone surrogate, or over 10,000 characters: InvalidInput."""
    pipeline = Pipeline(templates.inbound(), store=store)
    pipeline.capture("L1", at=T0)
    before = snapshot(store)
    for reason in ("a\x00b", "no \udc80", "x" * 10_001):
        with pytest.raises(InvalidInput):
            pipeline.fire("L1", "disqualify", reason=reason, at=T0)
    assert snapshot(store) == before


# -- a rule that ran for minutes -----------------------------------------------------------------


@pytest.mark.parametrize("size", [1_000, 100_000])
def test_string_growth_in_a_rule_is_bounded(size: int) -> None:
    """990 concatenations of a 100 KB attribute are decided (unknown) in well under a second."""
    text = "x==" + "+".join(["x"] * 990)  # 1,982 characters
    assert len(text) <= LIMITS["max_length"]
    policy = policies.rule(text)
    lead = Lead("L1", "lead", created_at=T0, attributes={"x": "y" * size})
    start = time.perf_counter()
    decision = policy(lead, Context(T0))
    elapsed = time.perf_counter() - start
    assert not decision.allowed
    assert decision.criteria[0].status == "unknown"
    assert "the limit is 10,000" in decision.reasons[0]
    assert elapsed < 0.5
    short = Lead("L1", "lead", created_at=T0, attributes={"x": "ab"})
    assert policies.rule("x + x + x == 'ababab'")(short, Context(T0)).allowed


def test_products_in_a_rule_are_bounded() -> None:
    """Multiplying big integers again and again stops at 4096 bits: unknown, not minutes."""
    text = "x<" + "*".join(["x"] * 600)
    decision = policies.rule(text)(Lead("L1", "lead", created_at=T0,
                                        attributes={"x": 10**90}), Context(T0))
    assert decision.criteria[0].status == "unknown"
    assert "too large" in decision.reasons[0]
