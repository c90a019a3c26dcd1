"""Replay a store: rebuild every lead from its transitions and compare with what is stored."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from funnelkit._core.errors import InvalidInput

if TYPE_CHECKING:
    from funnelkit._definition.funnel import Funnel
    from funnelkit.stores._protocol import Store

__all__ = ["Mismatch", "ReplayReport", "replay_store"]


@attrs.frozen
class Mismatch:
    """One lead whose stored state disagrees with the replay of its history.

    ``stored_*`` is what the store holds (None for transitions of a lead the store does not
    have), ``replayed_*`` what its transitions add up to, ``problems`` every rule the history
    breaks.
    """

    lead_id: str
    stored_stage: str | None
    stored_version: int | None
    replayed_stage: str
    replayed_version: int
    problems: tuple[str, ...] = ()


@attrs.frozen
class ReplayReport:
    """What :meth:`funnelkit.Pipeline.verify_history` found: how much it checked, every mismatch.

    >>> ReplayReport(leads=2, transitions=5).ok
    True
    """

    leads: int
    transitions: int
    mismatches: tuple[Mismatch, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every stored lead equals the replay of its history."""
        return not self.mismatches


def replay_store(funnel: Funnel, store: Store) -> ReplayReport:
    """Rebuild every lead of *store* from its transitions under *funnel* and compare.

    A lead with no transitions must be in the initial stage at version 0; every other lead's
    stored stage and version must be what its history replays to, and the history must follow
    the funnel's moves without gaps.
    """
    from funnelkit._definition.funnel import Funnel  # noqa: PLC0415 - avoids an import cycle

    if not isinstance(funnel, Funnel):
        raise InvalidInput(f"funnel={funnel!r} is not a funnelkit.Funnel")
    transitions = [t for _, t in store.transitions()]
    replayed = funnel.replay(transitions)
    mismatches: list[Mismatch] = []
    seen: set[str] = set()
    leads = 0
    for lead in store.leads():
        leads += 1
        seen.add(lead.id)
        result = replayed.get(lead.id)
        if result is None:
            if (lead.stage, lead.version) != (funnel.initial, 0):
                mismatches.append(Mismatch(
                    lead.id, lead.stage, lead.version, funnel.initial, 0,
                    (f"no transitions, yet stored at {lead.stage!r} version {lead.version}",),
                ))
            continue
        problems = list(result.problems)
        if (lead.stage, lead.version) != (result.stage, result.version):
            problems.append(
                f"stored at {lead.stage!r} version {lead.version}, history replays to "
                f"{result.stage!r} version {result.version}"
            )
        if problems:
            mismatches.append(Mismatch(lead.id, lead.stage, lead.version, result.stage,
                                       result.version, tuple(problems)))
    for lead_id, result in replayed.items():
        if lead_id not in seen:
            mismatches.append(Mismatch(
                lead_id, None, None, result.stage, result.version,
                ("transitions for a lead the store does not have", *result.problems),
            ))
    return ReplayReport(leads=leads, transitions=len(transitions), mismatches=tuple(mismatches))
