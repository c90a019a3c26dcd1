"""Hook specs: the moments a host can act on, each declared once as a documented function.

Implement a hook by giving an object a method of the same name and registering the object with
:meth:`funnelkit.pipeline.Pipeline.register`.  Implementations are called with keyword arguments
only and may take any subset of the spec's arguments; a name that looks like a hook (``before_``,
``after_``, ``on_``) but matches no spec, or an argument the spec does not pass, is refused at
registration with :class:`funnelkit.InvalidHook`.

``before_transition`` runs inside the call and may veto it.  Every other hook is an *after* hook:
its call is written to the outbox in the same commit as the change, then delivered at least once,
with ``key``, the row's idempotency key, for hosts that must not act twice.

>>> from funnelkit import hooks
>>> hooks.AFTER_HOOKS  # doctest: +NORMALIZE_WHITESPACE
('after_transition', 'on_handoff', 'on_handoff_accepted', 'on_handoff_rejected',
 'on_sla_breach', 'on_stalled')
"""

from __future__ import annotations

from funnelkit._errors import Veto
from funnelkit._hooks import (
    AFTER_HOOKS,
    BEFORE_HOOKS,
    after_transition,
    before_transition,
    on_handoff,
    on_handoff_accepted,
    on_handoff_rejected,
    on_sla_breach,
    on_stalled,
)

__all__ = [
    "AFTER_HOOKS",
    "BEFORE_HOOKS",
    "Veto",
    "after_transition",
    "before_transition",
    "on_handoff",
    "on_handoff_accepted",
    "on_handoff_rejected",
    "on_sla_breach",
    "on_stalled",
]
