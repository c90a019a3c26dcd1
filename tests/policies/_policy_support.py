"""Helpers shared by the policy tests: a fixed time, lead and context builders, simple policies,
and Hypothesis strategies for rule trees."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from funnelkit import Context, Decision, Lead, Touchpoint
from funnelkit._policy.rules import (
    Arith,
    BoolOp,
    Call,
    Compare,
    Const,
    Name,
    Node,
    Not,
    Pow,
    Seq,
    Unary,
)

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)


def lead(attributes: dict[str, Any] | None = None, **kwargs: Any) -> Lead:
    """A lead in stage 'lead' created at AT with the given attributes."""
    return Lead("L1", "lead", created_at=kwargs.pop("created_at", AT), attributes=attributes, **kwargs)


def context(
    touchpoints: list[Touchpoint] | tuple[Touchpoint, ...] = (), *, score: Any = None, at: datetime = AT
) -> Context:
    """A context at AT (or *at*)."""
    return Context(at, touchpoints=touchpoints, score=score)


def constant(allowed: bool, name: str = "const") -> Any:
    """A plain-function policy that always answers *allowed*, with one criterion."""

    def policy(lead: Lead, context: Context) -> Decision:
        if allowed:
            return Decision.allow(policy=name)
        return Decision(False, reasons=[f"{name} says no"], policy=name)

    policy.__qualname__ = name
    return policy


#: Strategy: a policy that always allows or always refuses.
constant_policies = st.builds(constant, st.booleans(), st.sampled_from(["p", "q", "r"]))


names = st.sampled_from(["budget", "role", "employees", "x", "stage"])
consts = st.one_of(
    st.integers(0, 10**6),
    st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=8),
    st.booleans(),
)


def trees(depth: int = 3) -> st.SearchStrategy[Node]:
    """Random parse trees within the limits."""
    leaf = st.one_of(st.builds(Const, consts), st.builds(Name, names))
    if depth == 0:
        return leaf
    sub = trees(depth - 1)
    rest_arith = st.lists(st.tuples(st.sampled_from(["+", "-"]), sub), min_size=1, max_size=3)
    rest_term = st.lists(st.tuples(st.sampled_from(["*", "/", "//", "%"]), sub), min_size=1, max_size=3)
    compare_ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in"])
    return st.one_of(
        leaf,
        st.builds(Arith, st.just("sum"), sub, rest_arith.map(tuple)),
        st.builds(Arith, st.just("term"), sub, rest_term.map(tuple)),
        st.builds(Compare, sub, st.lists(st.tuples(compare_ops, sub), min_size=1, max_size=2).map(tuple)),
        st.builds(BoolOp, st.sampled_from(["and", "or"]), st.lists(sub, min_size=2, max_size=3).map(tuple)),
        st.builds(Not, sub),
        st.builds(Unary, st.sampled_from(["-", "+"]), sub),
        st.builds(Pow, sub, st.builds(Const, st.integers(0, 8))),
        st.builds(Seq, st.sampled_from(["tuple", "list"]), st.lists(sub, max_size=3).map(tuple)),
        st.builds(Call, st.just("max"), st.lists(sub, min_size=1, max_size=2).map(tuple)),
        st.builds(Call, st.just("has"), st.tuples(st.builds(Const, names))),
        st.builds(Call, st.just("count"), st.just(()),
                  st.tuples(st.tuples(st.just("kind"), st.builds(Const, names)))),
    )
