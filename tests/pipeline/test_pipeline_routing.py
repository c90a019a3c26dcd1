"""Routing: who gets a handoff; seeded, reproducible, with a dry-run plan."""

from __future__ import annotations

from collections import Counter

import pytest
from _pipeline_support import FRIDAY_2PM, Clock, sales_funnel

from funnelkit import InvalidInput, Lead, routing
from funnelkit.pipeline import Pipeline
from funnelkit.stores import MemoryStore


def _leads(n: int, **attributes: object) -> list[Lead]:
    return [Lead(f"L{i}", "sql", created_at=FRIDAY_2PM, attributes=attributes) for i in range(n)]


def test_round_robin_takes_turns_and_plan_does_not_advance() -> None:
    """round_robin cycles through people; plan() shows the next turns without using them."""
    router = routing.round_robin(["ann", "bob"])
    leads = _leads(3)
    planned = router.plan(leads)
    assert planned == {"L0": "ann", "L1": "bob", "L2": "ann"}
    assert router.plan(leads) == planned
    assert [router.choose(lead, team="sales", workload={}) for lead in leads] == list(planned.values())
    assert router.plan(leads[:1]) == {"L0": "bob"}


def test_weighted_is_reproducible_and_follows_the_weights() -> None:
    """weighted(seed=) gives the same person for the same lead every time, in proportion to weights."""
    router = routing.weighted({"ann": 3, "bob": 1}, seed=42)
    leads = _leads(2000)
    plan = router.plan(leads)
    assert plan == routing.weighted({"ann": 3, "bob": 1}, seed=42).plan(reversed(leads))
    counts = Counter(plan.values())
    assert 0.7 < counts["ann"] / len(leads) < 0.8
    assert routing.weighted({"ann": 3, "bob": 1}, seed=43).plan(leads) != plan
    assert routing.weighted({"ann": 1, "bob": 0}, seed=1).plan(leads[:50]) == {lead.id: "ann" for lead in leads[:50]}


def test_least_loaded_fills_the_emptiest_and_respects_capacity() -> None:
    """least_loaded picks the person with the fewest open handoffs below capacity, else None."""
    router = routing.least_loaded({"ann": 2, "bob": 2})
    assert router.plan(_leads(5), workload={"ann": 1}) == {"L0": "bob", "L1": "ann", "L2": "bob", "L3": None, "L4": None}
    assert router.choose(_leads(1)[0], team="sales", workload={"ann": 0, "bob": 0}) == "ann"


def test_territory_routes_by_attributes() -> None:
    """territory picks the first rule whose condition matches (value, collection, range, callable)."""
    dach, big, rest = routing.round_robin(["dana"]), routing.round_robin(["enzo"]), routing.round_robin(["finn"])
    router = routing.territory([
        ({"country": {"DE", "AT", "CH"}}, dach),
        ({"employees": range(1000, 10**9), "segment": "enterprise"}, big),
        (lambda lead: lead.attributes.get("vip") is True, routing.round_robin(["gus"])),
    ], default=rest)
    leads = [
        Lead("de", "sql", created_at=FRIDAY_2PM, attributes={"country": "DE", "employees": 5000}),
        Lead("big", "sql", created_at=FRIDAY_2PM, attributes={"employees": 5000, "segment": "enterprise"}),
        Lead("small", "sql", created_at=FRIDAY_2PM, attributes={"employees": 50, "segment": "enterprise"}),
        Lead("vip", "sql", created_at=FRIDAY_2PM, attributes={"vip": True}),
    ]
    assert router.plan(leads) == {"de": "dana", "big": "enzo", "small": "finn", "vip": "gus"}
    assert routing.territory([({"country": "FR"}, dach)]).plan(leads[:1]) == {"de": None}


def test_by_team_routes_each_receiving_team() -> None:
    """by_team uses the receiving team's router; teams without one stay unassigned."""
    router = routing.by_team({"sdr": routing.round_robin(["sara"])})
    lead = _leads(1)[0]
    assert router.choose(lead, team="sdr", workload={}) == "sara"
    assert router.choose(lead, team="ae", workload={}) is None


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: routing.round_robin([]), "no people"),
        (lambda: routing.round_robin("ann"), "not one string"),
        (lambda: routing.round_robin(["ann", "ann"]), "once"),
        (lambda: routing.weighted({}), "no people"),
        (lambda: routing.weighted({"ann": 0}), "every weight is zero"),
        (lambda: routing.weighted({"ann": -1}), ">= 0"),
        (lambda: routing.least_loaded({}), "no people"),
        (lambda: routing.least_loaded({"ann": 0}), ">= 1"),
        (lambda: routing.territory([]), "no rules and no default"),
        (lambda: routing.territory([({"a": 1}, "ann")]), "not a router"),
    ],
    ids=["rr-empty", "rr-string", "rr-dup", "w-empty", "w-zero", "w-negative", "ll-empty", "ll-zero",
         "t-empty", "t-bad-router"],
)
def test_bad_routers_are_refused(build: object, fragment: str) -> None:
    """A router with no people or bad parameters raises InvalidInput when it is built."""
    with pytest.raises(InvalidInput, match=fragment):
        build()  # type: ignore[operator]


def test_pipeline_assigns_handoffs_and_owner_through_the_router() -> None:
    """A pipeline's router picks the handoff's assignee, who also becomes the lead's owner."""
    clock = Clock()
    pipeline = Pipeline(sales_funnel(), store=MemoryStore(), clock=clock,
                        router=routing.by_team({"sdr": routing.least_loaded({"ann": 1, "bob": 1})}))
    for lead_id in ("A", "B", "C"):
        pipeline.capture(lead_id)
        pipeline.fire(lead_id, "qualify")
        pipeline.fire(lead_id, "hand_to_sales")
    assignees = {h.lead_id: h.assignee for h in pipeline.handoffs()}
    assert assignees == {"A": "ann", "B": "bob", "C": None}
    assert pipeline.get("A").owner == "ann"
    assert pipeline.get("C").owner is None


def test_reprs_are_readable() -> None:
    """Routers show how they were built."""
    assert repr(routing.round_robin(["ann"])) == "round_robin(['ann'])"
    assert repr(routing.weighted({"ann": 2}, seed=3)) == "weighted({'ann': 2}, seed=3)"
    assert repr(routing.least_loaded({"ann": 2})) == "least_loaded({'ann': 2})"
