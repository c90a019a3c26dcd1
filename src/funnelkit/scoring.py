"""Lead scoring: fit and engagement points, caps, half-life decay, temperature, win probability.

>>> from datetime import datetime, timedelta, timezone
>>> from funnelkit import Lead, Touchpoint
>>> from funnelkit.scoring import EngagementRule, FitRule, ScoringModel
>>> at = datetime(2026, 3, 31, tzinfo=timezone.utc)
>>> model = ScoringModel(fit=[FitRule("role in ('cto', 'ceo')", 25)],
...                      engagement=[EngagementRule(10, kind="demo_request")],
...                      half_life="30 days")
>>> lead = Lead("L1", "lead", created_at=at - timedelta(days=60), attributes={"role": "cto"})
>>> demo = Touchpoint("L1", "demo_request", "web", at - timedelta(days=30))
>>> score = model.score(lead, [demo], at=at)
>>> score.fit, score.engagement, score.total
(25.0, 5.0, 30.0)
>>> sum(entry.points for entry in score.ledger) == score.total
True
"""

from __future__ import annotations

from funnelkit._policy.scoring import (
    RESOLUTION,
    EngagementRule,
    FitRule,
    LedgerEntry,
    Score,
    ScoringModel,
    Temperature,
    decay_factor,
    parse_half_life,
)
from funnelkit._policy.winprob import Factor, WinProbability

__all__ = [
    "RESOLUTION",
    "EngagementRule",
    "Factor",
    "FitRule",
    "LedgerEntry",
    "Score",
    "ScoringModel",
    "Temperature",
    "WinProbability",
    "decay_factor",
    "parse_half_life",
]
