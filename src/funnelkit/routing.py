"""Routing: who receives a handoff.

Give :class:`funnelkit.pipeline.Pipeline` a ``router`` and every handoff it creates gets an
assignee.  Routers are seeded and reproducible, and ``router.plan(leads)`` is a dry run returning
the assignment without applying it.

>>> from funnelkit import routing
>>> routing.round_robin(["ann", "bob"])
round_robin(['ann', 'bob'])
"""

from __future__ import annotations

from funnelkit._pipeline.routing import (
    Router,
    by_team,
    least_loaded,
    round_robin,
    territory,
    weighted,
)

__all__ = ["Router", "by_team", "least_loaded", "round_robin", "territory", "weighted"]
