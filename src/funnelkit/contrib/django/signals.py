"""Django signals sent for funnelkit's after-hooks, once the change behind them has committed.

``get_pipeline()`` registers a plugin that sends one of these for every after-hook (unless
``FUNNELKIT["SIGNALS"]`` is False).  They are delivered from the outbox: a receiver runs only for
a change that committed (after the host's ``transaction.atomic()`` block, never inside it), at
least once, so make receivers idempotent on ``key``.  A receiver that raises fails the delivery:
the outbox row is retried with backoff, and every receiver of that signal runs again.  The
sender is the :class:`~funnelkit.pipeline.Pipeline`; the keyword arguments are the hook's.

.. code-block:: python

    from django.dispatch import receiver
    from funnelkit.contrib.django.signals import after_transition

    @receiver(after_transition)
    def notify_sales(sender, *, lead, transition, key, **kwargs):
        if transition.target == "sql":
            Notification.objects.get_or_create(key=key, defaults={"lead_id": lead.id})

Each signal is named after the hook it mirrors, so the names follow the hooks' rule: an
``after_*`` name is sent from the outbox after the commit.  Before-hooks (``before_transition``,
which can veto a move) have no signal: a signal cannot say no.  Give them as
``FUNNELKIT["HOOKS"]`` instead.

The signals called ``on_handoff``, ``on_handoff_accepted``, ``on_handoff_rejected``,
``on_sla_breach`` and ``on_stalled`` before are ``after_*`` now, as their hooks are; the old names
are the same signals, importable with a ``DeprecationWarning`` until the next release.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

from funnelkit._core.deprecation import warn_renamed
from funnelkit._pipeline.hooks import RENAMED_HOOKS

__all__ = [
    "after_handoff", "after_handoff_accepted", "after_handoff_rejected", "after_sla_breach",
    "after_stalled", "after_transition",
]

after_transition = Signal()
"""A lead moved: ``lead`` (as moved), ``transition``, ``key``."""

after_handoff = Signal()
"""A move crossed teams and opened a pending handoff: ``handoff``, ``lead``, ``key``."""

after_handoff_accepted = Signal()
"""The receiving team accepted a handoff: ``handoff``, ``key``."""

after_handoff_rejected = Signal()
"""The receiving team rejected a handoff (the lead was recycled): ``handoff``, ``reason``,
``key``."""

after_sla_breach = Signal()
"""A pending handoff passed its due time (found by a sweep): ``handoff``, ``level`` (0 when it
expired, else the escalation level it reached), ``key``."""

after_stalled = Signal()
"""A lead stayed in a stage longer than its limit (found by a sweep): ``lead``, ``stage``,
``since``, ``key``."""


def __getattr__(name: str) -> Any:
    """The signals' old names (the same signals), for one release, with a DeprecationWarning."""
    new = RENAMED_HOOKS.get(name)
    if new is None:
        raise AttributeError(
            f"module 'funnelkit.contrib.django.signals' has no attribute {name!r}")
    warn_renamed(f"funnelkit.contrib.django.signals.{name}",
                 f"funnelkit.contrib.django.signals.{new}")
    return globals()[new]
