"""Consistency checks shared by the reliability tests."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from funnelkit import Funnel
    from funnelkit.stores import Store


@dataclass
class Report:
    """What a consistency check found."""

    leads: int = 0
    transitions: int = 0
    duplicates: int = 0
    gaps: int = 0
    stage_mismatches: int = 0
    version_mismatches: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_consistency(store: Store, funnel: Funnel) -> Report:
    """Every lead's history is contiguous and replays to its stored stage and version."""
    report = Report()
    stream = [t for _, t in store.transitions()]
    pairs = Counter((t.lead_id, t.version) for t in stream)
    report.duplicates = sum(n - 1 for n in pairs.values() if n > 1)
    if report.duplicates:
        report.problems.append(f"{report.duplicates} duplicate (lead, version) transitions")
    report.transitions = len(stream)
    replayed = funnel.replay(stream)
    for lead in store.leads():
        report.leads += 1
        history = store.history(lead.id)
        if [t.version for t in history] != list(range(1, len(history) + 1)):
            report.gaps += 1
            report.problems.append(f"lead {lead.id}: versions {[t.version for t in history]}")
        if lead.version != len(history):
            report.version_mismatches += 1
            report.problems.append(f"lead {lead.id}: version {lead.version}, {len(history)} moves")
        if lead.stage not in {s.name for s in funnel.stages}:
            report.problems.append(
                f"lead {lead.id}: stored stage {lead.stage!r} is not a stage of funnel {funnel.name!r}")
        if history:
            r = replayed[lead.id]
            if r.problems:
                report.problems.extend(f"lead {lead.id}: {p}" for p in r.problems)
            if r.stage != lead.stage:
                report.stage_mismatches += 1
                report.problems.append(f"lead {lead.id}: stored {lead.stage!r}, replay {r.stage!r}")
    return report


def summary(label: str, **figures: Any) -> str:
    """One printable line of figures."""
    return f"[{label}] " + ", ".join(f"{k}={v}" for k, v in figures.items())
