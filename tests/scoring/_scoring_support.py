"""The reference the scoring tests compare with: each fit rule run by the general interpreter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from funnelkit._policy.rules import NameTable, compile_rule, holds

if TYPE_CHECKING:
    from funnelkit import Lead
    from funnelkit.scoring import LedgerEntry, ScoringModel


def general_fit_entries(model: ScoringModel, lead: Lead, context: Any = None) -> list[LedgerEntry]:
    """The fit ledger entries of the rules *lead* meets, each rule compiled without specialised
    shapes and run on its own: no value table, no shared closures."""
    table = NameTable()
    rules = [compile_rule(r._tree, table, text=r.when, specialise=False) for r in model.fit]
    env = table.freeze()(lead.attributes, lead, context, None)
    return [entry for clauses, entry in zip(rules, model._plan.fit_entries, strict=True)
            if holds(clauses, env, context)]
