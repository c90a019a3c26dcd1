"""Qualification policies: combinators, ready frameworks, the rule language, discovery.

A policy is any callable ``policy(lead, context) -> Decision``.  This module ships the ones
sales teams already use and the pieces to build your own:

>>> from datetime import datetime, timezone
>>> from funnelkit import Context, Lead
>>> from funnelkit import policies
>>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
>>> lead = Lead("L1", "lead", created_at=at,
...             attributes={"budget": 25_000, "authority": "cfo", "need": "yes", "timeline": "Q3"})
>>> mql = policies.all_of(policies.bant(min_budget=10_000), "budget <= 1_000_000")
>>> mql(lead, Context(at)).allowed
True
"""

from __future__ import annotations

from funnelkit._core.decision import Context, Decision, Policy, Verdict
from funnelkit._policy.policies import (
    ENTRY_POINT_GROUP,
    FRAMEWORKS,
    AllOf,
    AnyOf,
    Checklist,
    FitEngagementGrid,
    Framework,
    KOfN,
    Not,
    Rule,
    ScoreAtLeast,
    all_of,
    anum,
    any_of,
    available,
    bant,
    champ,
    checklist,
    fit_engagement_grid,
    from_name,
    gpctba,
    judge,
    k_of_n,
    meddic,
    meddpicc,
    not_,
    rule,
    score_at_least,
)

# Deprecated (now from_name), kept for one release and out of __all__: an explicit re-export.
from funnelkit._policy.policies import load as load  # noqa: PLC0414
from funnelkit._policy.rules import FUNCTIONS, LIMITS, NAMES

__all__ = [
    "ENTRY_POINT_GROUP",
    "FRAMEWORKS",
    "FUNCTIONS",
    "LIMITS",
    "NAMES",
    "AllOf",
    "AnyOf",
    "Checklist",
    "Context",
    "Decision",
    "FitEngagementGrid",
    "Framework",
    "KOfN",
    "Not",
    "Policy",
    "Rule",
    "ScoreAtLeast",
    "Verdict",
    "all_of",
    "anum",
    "any_of",
    "available",
    "bant",
    "champ",
    "checklist",
    "fit_engagement_grid",
    "from_name",
    "gpctba",
    "judge",
    "k_of_n",
    "meddic",
    "meddpicc",
    "not_",
    "rule",
    "score_at_least",
]
