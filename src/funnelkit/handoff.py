"""Handoffs: a lead changing hands between teams, with an SLA and a status.

A move whose source and target stages belong to different teams creates a :class:`Handoff`
(unless the target is a lost stage): marketing hands a qualified lead to sales, the SDR hands it
to the closer, sales hands the customer to success.  The receiving team accepts it
(:meth:`funnelkit.pipeline.Pipeline.accept_handoff`, or implicitly by moving the lead on) or
rejects it with a reason (:meth:`~funnelkit.pipeline.Pipeline.reject_handoff`, the feedback to
the sending team); ``sweep`` expires it when its SLA runs out.

>>> from funnelkit.handoff import HANDOFF_STATUSES
>>> HANDOFF_STATUSES
('pending', 'accepted', 'rejected', 'expired')
"""

from __future__ import annotations

from funnelkit._core.handoff import HANDOFF_STATUSES, Handoff, HandoffStatus, handoff_id

__all__ = ["HANDOFF_STATUSES", "Handoff", "HandoffStatus", "handoff_id"]
