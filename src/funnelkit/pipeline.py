"""The pipeline: a funnel at work, with a store, hooks, handoffs, SLAs, routing and a clock.

:class:`Pipeline` is the imperative shell around the pure :meth:`funnelkit.Funnel.fire`: it loads
the lead, fires the move, lets ``before_transition`` hooks veto it, commits the lead, its
transitions, handoffs and outbox rows in one atomic store write guarded by the lead's version,
then delivers the after-hooks from the outbox.

>>> from datetime import datetime, timezone
>>> from funnelkit import templates
>>> from funnelkit.pipeline import Pipeline
>>> from funnelkit.stores import MemoryStore
>>> pipeline = Pipeline(templates.inbound(), store=MemoryStore())
>>> lead = pipeline.capture("L1", at=datetime(2026, 3, 2, 9, tzinfo=timezone.utc))
>>> pipeline.fire("L1", "convert", at=datetime(2026, 3, 2, 10, tzinfo=timezone.utc)).lead.stage
'lead'
>>> [t.event for t in pipeline.history("L1")]
['convert']
"""

from __future__ import annotations

from funnelkit._core.errors import Veto
from funnelkit._pipeline.calendar import BusinessCalendar
from funnelkit._pipeline.pipeline import Clock, Delivery, Pipeline, Scorer, SweepReport, SystemClock
from funnelkit._pipeline.replay import Mismatch, ReplayReport

__all__ = [
    "BusinessCalendar",
    "Clock",
    "Delivery",
    "Mismatch",
    "Pipeline",
    "ReplayReport",
    "Scorer",
    "SweepReport",
    "SystemClock",
    "Veto",
]
