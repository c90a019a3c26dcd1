"""funnelkit: embeddable sales and marketing funnel modelling.

A lead state machine with stages owned by marketing, sales and success; pluggable qualification
policies; handoffs with SLAs; analytics; and a kit for unit-testing a sales process.

>>> from datetime import datetime, timezone
>>> import funnelkit
>>> funnel = funnelkit.templates.inbound()
>>> lead = funnel.new_lead("L1", at=datetime(2026, 3, 2, 9, tzinfo=timezone.utc))
>>> lead.stage
'subscriber'
"""

from __future__ import annotations

from funnelkit import templates
from funnelkit._decision import Context, Decision, Policy, Verdict
from funnelkit._errors import (
    AlreadyExists,
    ConcurrencyError,
    FunnelError,
    HandoffClosed,
    InvalidFunnel,
    InvalidHook,
    InvalidInput,
    InvalidPolicy,
    MissingExtra,
    NotFound,
    PolicyRefused,
    ReasonRequired,
    RuleSyntaxError,
    StorageError,
    TransitionNotAllowed,
    UnknownEvent,
    Veto,
)
from funnelkit._funnel import Funnel, FunnelBuilder, Move, Replayed, Stage
from funnelkit._lead import Attributes, Lead, Outcome, Source, Transition
from funnelkit._time import Duration, parse_duration
from funnelkit._touchpoint import Touchpoint

__version__ = "0.1.0.dev0"

__all__ = [
    "AlreadyExists",
    "Attributes",
    "ConcurrencyError",
    "Context",
    "Decision",
    "Duration",
    "Funnel",
    "FunnelBuilder",
    "FunnelError",
    "HandoffClosed",
    "InvalidFunnel",
    "InvalidHook",
    "InvalidInput",
    "InvalidPolicy",
    "Lead",
    "MissingExtra",
    "Move",
    "NotFound",
    "Outcome",
    "Policy",
    "PolicyRefused",
    "ReasonRequired",
    "Replayed",
    "RuleSyntaxError",
    "Source",
    "Stage",
    "StorageError",
    "Touchpoint",
    "Transition",
    "TransitionNotAllowed",
    "UnknownEvent",
    "Verdict",
    "Veto",
    "parse_duration",
    "templates",
]
