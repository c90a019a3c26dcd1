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

import importlib
from typing import TYPE_CHECKING, Any

from funnelkit._core.decision import Context, Decision, Policy, Verdict
from funnelkit._core.errors import (
    AlreadyExists,
    ConcurrencyError,
    FunnelError,
    HandoffClosed,
    HostTransactionError,
    InvalidEscalation,
    InvalidFunnel,
    InvalidHook,
    InvalidInput,
    InvalidPolicy,
    LeadMerged,
    MergeRefused,
    MissingExtra,
    NotFound,
    PolicyFailed,
    PolicyRefused,
    ReasonRequired,
    RuleSyntaxError,
    StorageError,
    TransitionNotAllowed,
    UnknownEvent,
    UnmergeConflict,
    Veto,
)
from funnelkit._core.lead import Attributes, Fired, Lead, Source, Transition
from funnelkit._core.reserved import RESERVED_EVENTS
from funnelkit._core.time import Duration, parse_duration
from funnelkit._core.touchpoint import Touchpoint
from funnelkit._definition.funnel import Funnel, FunnelBuilder, Move, Replayed, Stage

if TYPE_CHECKING:
    from funnelkit import (
        funnel,
        handoff,
        hooks,
        pipeline,
        policies,
        routing,
        scoring,
        stores,
        templates,
    )
    from funnelkit._core.handoff import Handoff
    from funnelkit._pipeline.calendar import BusinessCalendar
    from funnelkit._pipeline.escalation import Escalation
    from funnelkit._pipeline.pipeline import Pipeline

__version__ = "0.1.0.dev0"

# The pipeline, policy and storage layers load on first use, so `import funnelkit` (and the
# pytest plugin, which lives in the package) costs only the core.
_LAZY: dict[str, tuple[str, str | None]] = {
    "BusinessCalendar": ("funnelkit._pipeline.calendar", "BusinessCalendar"),
    "Handoff": ("funnelkit._core.handoff", "Handoff"),
    "Escalation": ("funnelkit._pipeline.escalation", "Escalation"),
    "Pipeline": ("funnelkit._pipeline.pipeline", "Pipeline"),
    "funnel": ("funnelkit.funnel", None),
    "handoff": ("funnelkit.handoff", None),
    "hooks": ("funnelkit.hooks", None),
    "pipeline": ("funnelkit.pipeline", None),
    "policies": ("funnelkit.policies", None),
    "routing": ("funnelkit.routing", None),
    "scoring": ("funnelkit.scoring", None),
    "stores": ("funnelkit.stores", None),
    "templates": ("funnelkit.templates", None),
}


# Names kept for one release, each with the name that replaces it (docs/architecture.md, Names).
_DEPRECATED: dict[str, str] = {"Outcome": "Fired"}


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED:
        from funnelkit._core.deprecation import warn_renamed  # noqa: PLC0415 - only the old names need it

        new = _DEPRECATED[name]
        warn_renamed(f"funnelkit.{name}", f"funnelkit.{new}")
        return globals()[new]
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'funnelkit' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


# Sorted as plain strings (tests/test_docs.py checks it), not by ruff's case groups.
__all__ = [  # noqa: RUF022
    "AlreadyExists",
    "Attributes",
    "BusinessCalendar",
    "ConcurrencyError",
    "Context",
    "Decision",
    "Duration",
    "Escalation",
    "Fired",
    "Funnel",
    "FunnelBuilder",
    "FunnelError",
    "Handoff",
    "HandoffClosed",
    "HostTransactionError",
    "InvalidEscalation",
    "InvalidFunnel",
    "InvalidHook",
    "InvalidInput",
    "InvalidPolicy",
    "Lead",
    "LeadMerged",
    "MergeRefused",
    "MissingExtra",
    "Move",
    "NotFound",
    "Pipeline",
    "Policy",
    "PolicyFailed",
    "PolicyRefused",
    "RESERVED_EVENTS",
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
    "UnmergeConflict",
    "Verdict",
    "Veto",
    "funnel",
    "handoff",
    "hooks",
    "parse_duration",
    "pipeline",
    "policies",
    "routing",
    "scoring",
    "stores",
    "templates",
]
