"""Helpers shared by the policy tests: a fixed time, lead and context builders, simple policies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from funnelkit import Context, Decision, Lead, Touchpoint

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
