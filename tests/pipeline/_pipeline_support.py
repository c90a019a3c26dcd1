"""Helpers shared by the pipeline tests: a settable clock, a funnel, a recording hook object."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from funnelkit import Decision, Funnel, Lead

if TYPE_CHECKING:
    from funnelkit._core.decision import Context

FRIDAY_2PM = datetime(2026, 3, 6, 14, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = FRIDAY_2PM) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> datetime:
        self.current += timedelta(**kwargs)
        return self.current


def score_at_least(threshold: float) -> Any:
    """A policy reading Context.score (a number from the test scorer)."""

    def policy(lead: Lead, context: Context) -> Decision:
        score = context.score or 0
        if score >= threshold:
            return Decision.allow(score=score, policy=f"score>={threshold}")
        return Decision.deny(f"score {score} under {threshold}", score=score, policy=f"score>={threshold}")

    return policy


class PointsScorer:
    """Scores a lead as the sum of its touchpoints' points (a stand-in for a ScoringModel)."""

    def score(self, lead: Lead, touchpoints: Any, *, at: datetime) -> float:
        return float(sum(tp.points or 0 for tp in touchpoints if tp.at <= at))


def sales_funnel(**policies: Any) -> Funnel:
    """Marketing warms leads to MQL (auto), hands them to the SDR (4 business hours), who hands
    them to the closer (1 business day); sales can send leads back to marketing's nurture."""
    return (
        Funnel.builder("sales")
        .stage("lead", "marketing")
        .stage("mql", "marketing")
        .stage("sql", "sdr")
        .stage("opportunity", "ae")
        .stage("nurture", "marketing", stall_after="30 days", stall_event="recycle")
        .stage("won", "ae", outcome="won")
        .stage("lost", "ae", outcome="lost")
        .move("qualify", "lead", "mql", policy=policies.get("qualify"), auto="qualify" in policies)
        .move("hand_to_sales", "mql", "sql", sla="4 business hours")
        .move("hand_to_closer", "sql", "opportunity", sla="1 business days")
        .move("win", "opportunity", "won")
        .move("lose", "*", "lost", requires_reason=True)
        .move("nurture", "*", "nurture")
        .move("recycle", "nurture", "lead", backward=True)
        .build()
    )


class Recorder:
    """Records every after-hook call (with its key)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def after_transition(self, lead: Lead, transition: Any, key: str) -> None:
        self.calls.append(("after_transition", (transition.lead_id, transition.event, transition.version, key)))

    def after_handoff(self, handoff: Any, lead: Lead) -> None:
        self.calls.append(("after_handoff", handoff.id))

    def after_handoff_accepted(self, handoff: Any) -> None:
        self.calls.append(("after_handoff_accepted", handoff.id))

    def after_handoff_rejected(self, handoff: Any, reason: str) -> None:
        self.calls.append(("after_handoff_rejected", (handoff.id, reason)))

    def after_sla_breach(self, handoff: Any) -> None:
        self.calls.append(("after_sla_breach", handoff.id))

    def after_stalled(self, lead: Lead, stage: str, since: datetime) -> None:
        self.calls.append(("after_stalled", (lead.id, stage)))

    def named(self, hook: str) -> list[Any]:
        return [args for name, args in self.calls if name == hook]
