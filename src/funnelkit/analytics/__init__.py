"""Funnel analytics: conversion, time in stage, outcomes, cohorts, handoffs and velocity.

Every figure counts leads still open at ``as_of`` as censored: never a drop-off, never a short
stay.  :class:`FunnelLog` computes in memory (standard library only); :mod:`funnelkit.analytics.sql`
computes the same statistics on a SQL engine (extra ``funnelkit[analytics-sql]``), with identical
results.

>>> from datetime import datetime, timezone
>>> from funnelkit import templates
>>> from funnelkit.analytics import FunnelLog
>>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
>>> log = FunnelLog(templates.inbound(), leads=[], transitions=[], as_of=at)
>>> log.conversion().steps[0].entered
0
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from funnelkit.analytics._analyses import Analyses, main_path
from funnelkit.analytics._attribution import MODELS, Attribution, Journey, attribute
from funnelkit.analytics._backtest import Backtest, Cell, backtest
from funnelkit.analytics._estimators import Survival
from funnelkit.analytics._log import FunnelLog
from funnelkit.analytics._markov import Forecast, MarkovModel, WhatIf, binomial
from funnelkit.analytics._results import (
    CohortRow,
    Cohorts,
    Conversion,
    HandoffsReport,
    PeriodCount,
    StepRow,
    TeamHandoffs,
    TimeToOutcome,
    Velocity,
)

if TYPE_CHECKING:
    from funnelkit.analytics import sql


def __getattr__(name: str) -> Any:
    if name == "sql":  # needs the analytics-sql extra: loaded on first use
        module = importlib.import_module("funnelkit.analytics.sql")
        globals()["sql"] = module
        return module
    raise AttributeError(f"module 'funnelkit.analytics' has no attribute {name!r}")


__all__ = [
    "MODELS",
    "Analyses",
    "Attribution",
    "Backtest",
    "Cell",
    "CohortRow",
    "Cohorts",
    "Conversion",
    "Forecast",
    "FunnelLog",
    "HandoffsReport",
    "Journey",
    "MarkovModel",
    "PeriodCount",
    "StepRow",
    "Survival",
    "TeamHandoffs",
    "TimeToOutcome",
    "Velocity",
    "WhatIf",
    "attribute",
    "backtest",
    "binomial",
    "main_path",
    "sql",
]
