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

from typing import Any

from funnelkit._core.deprecation import warn_renamed
from funnelkit._core.lead import Attributes, Fired, Lead, Source, SourceKind, Transition
from funnelkit._definition.funnel import Funnel, FunnelBuilder, Move, Replayed, Stage, StageOutcome

__all__ = [
    "Attributes",
    "Fired",
    "Funnel",
    "FunnelBuilder",
    "Lead",
    "Move",
    "Replayed",
    "Source",
    "SourceKind",
    "Stage",
    "StageOutcome",
    "Transition",
]


# Names kept for one release, each with the name that replaces it.
_DEPRECATED: dict[str, str] = {"Outcome": "Fired"}


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED:
        new = _DEPRECATED[name]
        warn_renamed(f"funnelkit.funnel.{name}", f"funnelkit.funnel.{new}")
        return globals()[new]
    raise AttributeError(f"module 'funnelkit.funnel' has no attribute {name!r}")
