"""A seeded, realistic funnel history written through a real Pipeline into any store.

Leads arrive over 100 days and keep arriving until ``AS_OF``; they move through the inbound
template with exponential stays, get nurtured and recycled, disqualified, won; handoffs are
accepted, rejected with reasons, left pending or expire at the final sweep.  Used by the tests
that compare the two engines and by the examples of the analytics docs.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from funnelkit import Funnel, HandoffClosed, Pipeline, Source, templates

T0 = datetime(2026, 1, 1, tzinfo=UTC)
AS_OF = T0 + timedelta(days=120)
CHANNELS = ("referral", "paid_search", "organic_search", "social", "cold_email", "trade_show")
OWNERS = ("ana", "bo", "cy", None)
REASONS = ("no budget", "wrong persona", "duplicate")
_WEIGHTS = {"nurture": 0.12, "disqualify": 0.1, "recycle": 1.0, "advocate": 0.3}


def funnel() -> Funnel:
    return templates.inbound()


def fill(store: Any, *, leads: int = 300, seed: int = 7, as_of: datetime = AS_OF) -> Pipeline:
    """Write *leads* seeded journeys into *store* through a Pipeline; returns the pipeline."""
    rng = random.Random(seed)
    pipeline = Pipeline(funnel(), store=store)
    f = pipeline.funnel
    pending: list[tuple[datetime, str, str]] = []  # (when, handoff id, decision)
    for i in range(leads):
        at = T0 + timedelta(seconds=rng.randrange(0, int((as_of - T0).total_seconds())))
        lead_id = f"L{i:05d}"
        channel = rng.choice(CHANNELS)
        pipeline.capture(lead_id, at=at, source=Source.of(channel), owner=rng.choice(OWNERS),
                         attributes={"amount": rng.choice([1000, 2500, 5000, None])})
        stage = f.initial
        for _ in range(12):
            events = f.events_from(stage)
            if not events:
                break
            weights = [_WEIGHTS.get(e, 1.0) for e in events]
            event = rng.choices(events, weights)[0]
            at += timedelta(seconds=int(rng.expovariate(1 / (5 * 86400))) + 1)
            if at > as_of:
                break
            reason = {"disqualify": "not a fit", "recycle": "ready again"}.get(event)
            outcome = pipeline.fire(lead_id, event, at=at, reason=reason)
            stage = outcome.lead.stage
            if outcome.team_change is not None:
                for h in pipeline.handoffs(lead_id=lead_id, status="pending"):
                    delay = timedelta(hours=rng.expovariate(1 / 6))
                    pending.append((at + delay, h.id, rng.choice(["accept", "accept", "reject",
                                                                  "leave"])))
    pending.sort()
    for when, handoff_id, decision in pending:
        if when > as_of or decision == "leave":
            continue
        try:
            if decision == "accept":
                pipeline.accept_handoff(handoff_id, by="rep", at=when)
            else:
                pipeline.reject_handoff(handoff_id, by="rep", reason=rng.choice(REASONS), at=when)
        except (HandoffClosed, Exception):  # the lead moved on meanwhile: leave the handoff
            continue
    pipeline.sweep(as_of)
    return pipeline
