"""Hook specs: the moments a host can act on, each declared once as a documented function.

Implement a hook by giving an object a method of the same name and registering the object with
:meth:`funnelkit.pipeline.Pipeline.register`.  Implementations are called with keyword arguments
only and may take any subset of the spec's arguments; a name that looks like a hook (``before_``,
``after_``, ``on_``) but matches no spec, or an argument the spec does not pass, is refused at
registration with :class:`funnelkit.InvalidHook`.

The prefix says when a hook runs.  ``before_*`` hooks (``before_transition``, ``before_merge``,
``before_unmerge``) run inside the call, before the commit, and may veto it.  ``after_*`` hooks
are delivered from the outbox after the commit: their call is written to the outbox in the same
commit as the change, then delivered at least once, with ``key``, the row's idempotency key, for
hosts that must not act twice.

An after-hook may be ``async def``: ``await pipeline.adeliver_pending()`` delivers it (and the
plain ones), and the synchronous ``deliver_pending()`` refuses to run while it is registered, so
its rows are never acknowledged unrun.  Before-hooks must be plain ``def``: an ``async def`` one
(it could not veto in time) and a generator function (a call runs none of its body) are refused
at registration.

>>> from funnelkit import hooks
>>> hooks.AFTER_HOOKS  # doctest: +NORMALIZE_WHITESPACE
('after_transition', 'after_handoff', 'after_handoff_accepted', 'after_handoff_rejected',
 'after_sla_breach', 'after_stalled', 'after_merge', 'after_unmerge')

The after-hooks called ``on_handoff``, ``on_handoff_accepted``, ``on_handoff_rejected``,
``on_sla_breach`` and ``on_stalled`` before are ``after_*`` now (:data:`RENAMED_HOOKS`).  Until
the next release a plugin method with an old name is still registered, under the new hook, with a
``DeprecationWarning``, and outbox rows stored under an old name are delivered to the new hook.
"""

from __future__ import annotations

from typing import Any

from funnelkit._core.deprecation import warn_renamed
from funnelkit._core.errors import Veto
from funnelkit._pipeline.hooks import (
    AFTER_HOOKS,
    BEFORE_HOOKS,
    RENAMED_HOOKS,
    after_handoff,
    after_handoff_accepted,
    after_handoff_rejected,
    after_merge,
    after_sla_breach,
    after_stalled,
    after_transition,
    after_unmerge,
    before_merge,
    before_transition,
    before_unmerge,
)

__all__ = [
    "AFTER_HOOKS",
    "BEFORE_HOOKS",
    "RENAMED_HOOKS",
    "Veto",
    "after_handoff",
    "after_handoff_accepted",
    "after_handoff_rejected",
    "after_merge",
    "after_sla_breach",
    "after_stalled",
    "after_transition",
    "after_unmerge",
    "before_merge",
    "before_transition",
    "before_unmerge",
]


def __getattr__(name: str) -> Any:
    """The old names of the after-hook specs, for one release, with a DeprecationWarning."""
    new = RENAMED_HOOKS.get(name)
    if new is None:
        raise AttributeError(f"module 'funnelkit.hooks' has no attribute {name!r}")
    warn_renamed(f"funnelkit.hooks.{name}", f"funnelkit.hooks.{new}")
    return globals()[new]
