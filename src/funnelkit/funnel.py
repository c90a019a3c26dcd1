"""Funnel definitions and the pure core: ``funnelkit.funnel``.

The same names are re-exported from :mod:`funnelkit` itself; this module groups the definition
layer for readers who import by layer.

>>> from funnelkit.funnel import Funnel, Stage
>>> Funnel.builder("mini").stage("lead", "marketing").stage(
...     "won", "sales", outcome="won").move("win", "lead", "won").build().stages[0] == Stage(
...     "lead", "marketing")
True
"""

from __future__ import annotations

from funnelkit._core.lead import Attributes, Lead, Outcome, Source, SourceKind, Transition
from funnelkit._definition.funnel import Funnel, FunnelBuilder, Move, Replayed, Stage, StageOutcome

__all__ = [
    "Attributes",
    "Funnel",
    "FunnelBuilder",
    "Lead",
    "Move",
    "Outcome",
    "Replayed",
    "Source",
    "SourceKind",
    "Stage",
    "StageOutcome",
    "Transition",
]
