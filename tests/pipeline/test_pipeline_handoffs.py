"""Handoff values: pending, then accepted, rejected (with a reason) or expired, exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from _pipeline_support import FRIDAY_2PM

from funnelkit import HandoffClosed, InvalidInput, ReasonRequired
from funnelkit.handoff import HANDOFF_STATUSES, Handoff, handoff_id


def _pending() -> Handoff:
    return Handoff(handoff_id("L1", 2), "L1", "marketing", "sales", created_at=FRIDAY_2PM,
                   event="hand_to_sales", version=2, due_at=FRIDAY_2PM + timedelta(hours=4))


def test_a_pending_handoff_closes_one_way_only() -> None:
    """accept, reject and expire each close a pending handoff; a closed one refuses all three."""
    later = FRIDAY_2PM + timedelta(hours=1)
    accepted = _pending().accept(by="ann", at=later)
    rejected = _pending().reject(by="ann", reason="no budget", at=later)
    expired = _pending().expire(at=later)
    assert [h.status for h in (accepted, rejected, expired)] == ["accepted", "rejected", "expired"]
    assert (rejected.reason, rejected.resolved_by, rejected.resolved_at) == ("no budget", "ann", later)
    for closed in (accepted, rejected, expired):
        assert not closed.is_pending
        with pytest.raises(HandoffClosed, match=f"is {closed.status} already"):
            closed.accept(by="bob", at=later)
        with pytest.raises(HandoffClosed):
            closed.reject(by="bob", reason="x", at=later)
        with pytest.raises(HandoffClosed):
            closed.expire(at=later)
    assert set(HANDOFF_STATUSES) == {"pending", "accepted", "rejected", "expired"}


def test_reject_needs_a_reason_and_time_moves_forward() -> None:
    """A rejection needs a reason; closing before the handoff was created is refused."""
    with pytest.raises(ReasonRequired):
        _pending().reject(by="ann", reason="", at=FRIDAY_2PM)
    with pytest.raises(InvalidInput, match="before handoff"):
        _pending().accept(by="ann", at=FRIDAY_2PM - timedelta(seconds=1))


def test_overdue_only_while_pending_and_after_the_due_time() -> None:
    """is_overdue is true strictly after due_at, and only for a pending handoff."""
    handoff = _pending()
    due = FRIDAY_2PM + timedelta(hours=4)
    assert not handoff.is_overdue(due)
    assert handoff.is_overdue(due + timedelta(seconds=1))
    assert not handoff.accept(by="ann", at=due).is_overdue(due + timedelta(days=1))
    no_sla = Handoff("L1:1", "L1", "a", "b", created_at=FRIDAY_2PM, event="e", version=1)
    assert not no_sla.is_overdue(FRIDAY_2PM + timedelta(days=365))


def test_disqualifying_a_lead_with_a_pending_handoff_rejects_it() -> None:
    """A move to a lost stage turns the pending handoff down (rejected, with the move's reason)."""
    from datetime import UTC, datetime  # noqa: PLC0415

    from funnelkit import Pipeline, templates  # noqa: PLC0415
    from funnelkit.stores import MemoryStore  # noqa: PLC0415

    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    rejected: list[tuple[str, str]] = []

    class Feedback:
        def after_handoff_rejected(self, handoff, reason):
            rejected.append((handoff.id, reason))

    pipeline = Pipeline(templates.inbound(), store=MemoryStore())
    pipeline.register(Feedback())
    pipeline.capture("L1", at=at)
    for event in ("convert", "qualify", "hand_to_sales"):
        pipeline.fire("L1", event, at=at)
    (handoff,) = pipeline.handoffs(status="pending")
    pipeline.fire("L1", "disqualify", actor="sdr-1", reason="no budget", at=at)
    closed = pipeline.handoff(handoff.id)
    assert (closed.status, closed.reason, closed.resolved_by) == ("rejected", "no budget", "sdr-1")
    assert rejected == [(handoff.id, "no budget")]
    assert pipeline.handoffs(status="accepted") == []
