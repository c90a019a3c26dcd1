"""Hook specs: the moments a host can act on, each declared once as a documented function.

Implement a hook by giving an object a method of the same name and registering the object with
:meth:`funnelkit.pipeline.Pipeline.register`.  Implementations are called with keyword arguments
only and may take any subset of the spec's arguments; a name that looks like a hook (``before_``,
``after_``, ``on_``) but matches no spec, or an argument the spec does not pass, is refused at
registration with :class:`funnelkit.InvalidHook`.

``before_transition``, ``before_merge`` and ``before_unmerge`` run inside the call and may veto
it.  Every other hook is an *after* hook:
its call is written to the outbox in the same commit as the change, then delivered at least once,
with ``key``, the row's idempotency key, for hosts that must not act twice.

An after-hook may be ``async def``: ``await pipeline.adeliver_pending()`` delivers it (and the
plain ones), and the synchronous ``deliver_pending()`` refuses to run while it is registered, so
its rows are never acknowledged unrun.  Before-hooks must be plain ``def``: an ``async def`` one
(it could not veto in time) and a generator function (a call runs none of its body) are refused
at registration.

>>> from funnelkit import hooks
>>> hooks.AFTER_HOOKS  # doctest: +NORMALIZE_WHITESPACE
('after_transition', 'on_handoff', 'on_handoff_accepted', 'on_handoff_rejected',
 'on_sla_breach', 'on_stalled', 'after_merge', 'after_unmerge')
"""

from __future__ import annotations

from funnelkit._core.errors import Veto
from funnelkit._pipeline.hooks import (
    AFTER_HOOKS,
    BEFORE_HOOKS,
    after_merge,
    after_transition,
    after_unmerge,
    before_merge,
    before_transition,
    before_unmerge,
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
    "after_merge",
    "after_transition",
    "after_unmerge",
    "before_merge",
    "before_transition",
    "before_unmerge",
    "on_handoff",
    "on_handoff_accepted",
    "on_handoff_rejected",
    "on_sla_breach",
    "on_stalled",
]
