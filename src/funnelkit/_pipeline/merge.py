"""Merging duplicate leads and undoing a merge: the logic behind ``Pipeline.merge``/``unmerge``.

Everything is decided here, once, on two loaded leads; the store only writes what it is given
(``commit_merge``: both leads' changes, the touchpoints it moves, the merge record) in one
transaction guarded by both leads' versions and owners.  A merge is never retried: it is a
decision taken on what its caller saw, so a concurrent change of either lead raises
:class:`~funnelkit.ConcurrencyError` with nothing written (load, look again, decide again).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from funnelkit._core.errors import (
    InvalidInput,
    LeadMerged,
    MergeRefused,
    NotFound,
    ReasonRequired,
    UnmergeConflict,
)
from funnelkit._core.lead import Lead, Transition
from funnelkit._core.limits import MAX_VERSION, _short, check_name, check_text
from funnelkit._core.reserved import MERGE_EVENT, MERGED_STAGE, UNMERGE_EVENT
from funnelkit._core.time import require_aware
from funnelkit.dedupe._merge_policy import MergePolicy
from funnelkit.stores._protocol import Change, MergeRecord

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from funnelkit._core.handoff import Handoff
    from funnelkit._definition.funnel import Funnel
    from funnelkit._pipeline.pipeline import Pipeline
    from funnelkit.stores._protocol import Store

__all__ = ["furthest_stage", "merge", "merged_error", "unmerge"]

_MISSING: Any = object()
_DEFAULT_POLICY = MergePolicy()


# -- which stage the survivor keeps ------------------------------------------------------------


def _rank(funnel: Funnel, stage: str) -> tuple[int, int]:
    """How far along *stage* is: won, then the main path, then other open stages, then lost.

    Along :attr:`Funnel.main_path <funnelkit.Funnel.main_path>`, and among won stages, later
    is further.
    """
    on_path = funnel.main_path
    for index, candidate in enumerate(funnel.stages):
        if candidate.name != stage:
            continue
        if candidate.outcome == "won":
            return (3, index)
        if candidate.outcome == "lost":
            return (0, index)
        return (2, index) if stage in on_path else (1, index)
    return (-1, 0)  # pragma: no cover - callers pass stages of the funnel


def furthest_stage(funnel: Funnel, survivor: str, duplicate: str) -> str:
    """The stage a merge keeps by default: the furthest along the funnel, the survivor's on a tie.

    A won stage is further than any open one, an open one on the main path (the open stages
    defined before the first won stage) further than one off it (a nurture stage), any open
    stage further than a lost one; within each, the one defined later is further.

    >>> from funnelkit import templates
    >>> funnel = templates.inbound()
    >>> furthest_stage(funnel, "mql", "sql"), furthest_stage(funnel, "nurture", "lead")
    ('sql', 'lead')
    >>> furthest_stage(funnel, "disqualified", "subscriber")
    'subscriber'
    """
    return duplicate if _rank(funnel, duplicate) > _rank(funnel, survivor) else survivor


# -- shared checks ------------------------------------------------------------------------------


def _check_id(value: object, what: str) -> None:
    if not isinstance(value, str):
        raise InvalidInput(f"{what}={_short(value)} must be a lead id (a string)")


def _check_reason(reason: object, doing: str) -> None:
    if not isinstance(reason, str) or not reason.strip():
        raise ReasonRequired(
            f"{doing} needs reason='...': say why (it is kept on the merge record and on the "
            f"moves it makes, for whoever reads the history later)")
    check_text(reason, "reason")


def _commit_merge(store: Store) -> Callable[[Change, Change, MergeRecord], MergeRecord]:
    commit = getattr(store, "commit_merge", None)
    if commit is None or getattr(store, "merges", None) is None:
        raise MergeRefused(
            f"store {store!r} cannot merge leads: it has no commit_merge and merges methods "
            f"(optional parts of the Store protocol); use a store funnelkit ships or add them "
            f"(see the storage docs)")
    return commit  # type: ignore[no-any-return]


def _active_merge(store: Store, duplicate_id: str) -> MergeRecord | None:
    merges = getattr(store, "merges", None)
    if merges is None:
        return None
    found = [m for m in merges(lead_id=duplicate_id, active_only=True)
             if m.duplicate_id == duplicate_id]
    return found[-1] if found else None


def merged_error(store: Store, lead: Lead, doing: str) -> LeadMerged:
    """The error for *doing* something to *lead*, which was merged: it names the survivor."""
    record = _active_merge(store, lead.id)
    if record is None:
        return LeadMerged(
            f"lead {lead.id!r} is merged (stage {MERGED_STAGE!r}) but the store has no merge "
            f"record for it, so {doing} is refused; the store was changed by hand: fix it",
            lead_id=lead.id, survivor_id=None)
    chain, seen = [record.survivor_id], {lead.id}
    while len(chain) < 16:  # a merged survivor is followed, a few steps at most in practice
        onward = _active_merge(store, chain[-1])
        if onward is None or onward.survivor_id in seen:
            break
        seen.add(chain[-1])
        chain.append(onward.survivor_id)
    via = "" if len(chain) == 1 else f" (itself merged into {' then '.join(map(repr, chain[1:]))})"
    return LeadMerged(
        f"lead {lead.id!r} was merged into {record.survivor_id!r}{via} by {record.actor!r} at "
        f"{record.at.isoformat()}, so {doing} is refused: use the survivor {chain[-1]!r}, or "
        f"unmerge {lead.id!r} first (pipeline.unmerge)",
        lead_id=lead.id, survivor_id=record.survivor_id)


def _time(at: datetime | None, pipeline: Pipeline, leads: tuple[Lead, ...]) -> datetime:
    last = max(lead.updated_at for lead in leads)
    if at is None:
        return pipeline._now(last)
    if at < last:
        raise InvalidInput(
            f"at={at.isoformat()} is before the last change of the leads ({last.isoformat()}); "
            f"a merge happens after what it merges")
    return at


def _worn_out(lead: Lead) -> None:
    if lead.version >= MAX_VERSION:
        raise InvalidInput(f"lead {lead.id!r} has made {lead.version:,} moves, the most a lead "
                           f"can make; a merge or an unmerge would need one more")


def _moved(lead: Lead, stage: str, at: datetime, *, event: str, actor: str, reason: str,
           **fields: Any) -> tuple[Lead, tuple[Transition, ...]]:
    """*lead* with *fields* changed at *at*, and the record of it in its history.

    The record is a move to *stage* by *event*, or one that stays in its stage when *stage* is
    the lead's own: the audit log has every change (see :mod:`funnelkit._core.reserved`).
    """
    _worn_out(lead)
    moves = stage != lead.stage
    version = lead.version + 1
    values = {"attributes": lead.attributes, "source": lead.source, "owner": lead.owner, **fields}
    new = Lead(lead.id, stage, version=version, created_at=lead.created_at,
               stage_entered_at=at if moves else lead.stage_entered_at, updated_at=at, **values)
    return new, (Transition(lead.id, event, lead.stage, stage, at, actor=actor, reason=reason,
                            version=version),)


# -- merge --------------------------------------------------------------------------------------


def merge(
    pipeline: Pipeline, survivor_id: str, duplicate_id: str, *, actor: str, reason: str,
    at: datetime | None, stage: str | None, merge_policy: MergePolicy | None,
) -> MergeRecord:
    """:meth:`funnelkit.Pipeline.merge` (documented there)."""
    _check_id(survivor_id, "survivor_id")
    _check_id(duplicate_id, "duplicate_id")
    check_name(actor, "actor")
    _check_reason(reason, f"merging {_short(duplicate_id)} into {_short(survivor_id)}")
    if at is not None:
        require_aware(at, "at")
    funnel = pipeline.funnel
    stages = [s.name for s in funnel.stages]
    if stage is not None and stage not in stages:
        raise InvalidInput(f"stage={_short(stage)} is not a stage of funnel {funnel.name!r}; "
                           f"name one of {', '.join(stages)}, or None for the furthest")
    if merge_policy is not None and not isinstance(merge_policy, MergePolicy):
        raise InvalidInput(f"merge_policy={_short(merge_policy)} must be a "
                           f"funnelkit.dedupe.MergePolicy or None (the survivor's values win)")
    if survivor_id == duplicate_id:
        raise MergeRefused(f"cannot merge lead {survivor_id!r} with itself; give the ids of two "
                           f"leads that are one person")
    store = pipeline.store
    commit_merge = _commit_merge(store)
    survivor, duplicate = store.load(survivor_id), store.load(duplicate_id)
    for lead, role in ((survivor, "survivor"), (duplicate, "duplicate")):
        if lead.stage == MERGED_STAGE:
            raise merged_error(store, lead, f"merging it (as the {role})")
        if lead.stage not in stages:
            raise MergeRefused(
                f"lead {lead.id!r} is in stage {lead.stage!r}, which funnel {funnel.name!r} does "
                f"not have: it belongs to another funnel (or an older definition of this one); "
                f"merge leads of one funnel, with a pipeline of that funnel")
    _worn_out(duplicate)
    when = _time(at, pipeline, (survivor, duplicate))
    kept = furthest_stage(funnel, survivor.stage, duplicate.stage) if stage is None else stage
    attributes = (merge_policy or _DEFAULT_POLICY).merge(survivor, duplicate)
    merged, moves = _moved(
        survivor, kept, when, event=MERGE_EVENT, actor=actor, reason=reason,
        attributes=attributes,
        owner=survivor.owner if survivor.owner is not None else duplicate.owner,
        source=survivor.source if survivor.source is not None else duplicate.source)
    closed, (closing,) = _moved(duplicate, MERGED_STAGE, when, event=MERGE_EVENT, actor=actor,
                                reason=reason)
    handoffs = [attrs.evolve(h, lead_id=survivor.id)
                for h in store.handoffs(status="pending", lead_id=duplicate.id)]
    record = MergeRecord(survivor.id, duplicate.id, at=when, actor=actor, reason=reason,
                         survivor_before=survivor, survivor_after=merged,
                         duplicate_before=duplicate, handoffs=[h.id for h in handoffs])
    hooks = pipeline._hooks
    hooks.run_before("before_merge", {"survivor": survivor, "duplicate": duplicate,
                                      "merged": merged, "actor": actor, "reason": reason},
                     f"the merge of {duplicate.id!r} into {survivor.id!r}")
    messages = []
    if pipeline._writes("after_merge"):
        messages.append(pipeline._message(
            "after_merge", record.id, when, survivor=merged, duplicate=closed, actor=actor,
            reason=reason))
    stored = commit_merge(
        Change(merged, survivor.version, moves, handoffs=handoffs, outbox=messages,
               expected_owner=survivor.owner),
        Change(closed, duplicate.version, (closing,), expected_owner=duplicate.owner),
        record)
    if messages:
        pipeline._deliver_after_commit(when)
    return stored


# -- unmerge ------------------------------------------------------------------------------------


def _restore(record: MergeRecord, survivor: Lead, store: Store,
             ) -> tuple[dict[str, Any], list[str]]:
    """What the survivor gets back (``Lead`` fields), and what stands in the way of it."""
    before, after = record.survivor_before, record.survivor_after
    problems: list[str] = []
    fields: dict[str, Any] = {}
    attributes = dict(survivor.attributes)
    changed: list[str] = []
    for name in [*before.attributes, *(n for n in after.attributes if n not in before.attributes)]:
        was, made = before.attributes.get(name, _MISSING), after.attributes.get(name, _MISSING)
        if _same(was, made):
            continue
        now = attributes.get(name, _MISSING)
        if not _same(now, made):
            changed.append(name)
        elif was is _MISSING:
            del attributes[name]
        else:
            attributes[name] = was
    if changed:
        problems.append(
            f"attribute(s) {', '.join(map(repr, changed))} of the survivor {survivor.id!r} "
            f"changed since the merge set them, so which value is right is not known: set them "
            f"back to the merged values (or decide by hand and leave the merge)")
    fields["attributes"] = attributes
    for name in ("owner", "source"):
        was, made, now = getattr(before, name), getattr(after, name), getattr(survivor, name)
        if was == made:
            continue
        if now != made:
            problems.append(f"the survivor's {name} is {now!r}, not the {made!r} the merge gave "
                            f"it: it changed since, so the {was!r} it had before is not restored "
                            f"blindly; set it back to {made!r} to unmerge")
        else:
            fields[name] = was
    stage = survivor.stage
    if before.stage != after.stage:
        # A change of stage since the merge stands in the way; records that stay in their stage
        # (audit records of assignments and handoffs) do not.
        moved = survivor.stage != after.stage or any(
            t.source != t.target for t in store.history(survivor.id) if t.version > after.version)
        if moved:
            problems.append(
                f"the merge moved the survivor {survivor.id!r} from {before.stage!r} to "
                f"{after.stage!r}, and it has moved since (version {after.version} then, "
                f"{survivor.version} now, in {survivor.stage!r}): its stage cannot be given back "
                f"without undoing moves that are its own")
        else:
            stage = before.stage
    fields["stage"] = stage
    return fields, problems


def _same(a: object, b: object) -> bool:
    return a is b or (a is not _MISSING and b is not _MISSING and a == b)


def unmerge(
    pipeline: Pipeline, duplicate_id: str, *, actor: str, reason: str, at: datetime | None,
) -> MergeRecord:
    """:meth:`funnelkit.Pipeline.unmerge` (documented there)."""
    _check_id(duplicate_id, "duplicate_id")
    check_name(actor, "actor")
    _check_reason(reason, f"unmerging {_short(duplicate_id)}")
    if at is not None:
        require_aware(at, "at")
    store = pipeline.store
    commit_merge = _commit_merge(store)
    duplicate = store.load(duplicate_id)
    if duplicate.stage != MERGED_STAGE:
        raise MergeRefused(f"lead {duplicate.id!r} is not merged (it is in {duplicate.stage!r}); "
                           f"unmerge takes the id of a merged duplicate")
    record = _active_merge(store, duplicate.id)
    if record is None:
        raise merged_error(store, duplicate, "unmerging it")  # no record: says so
    survivor = store.load(record.survivor_id)
    problems: list[str] = []
    if survivor.stage == MERGED_STAGE:
        onward = _active_merge(store, survivor.id)
        into = "another lead" if onward is None else repr(onward.survivor_id)
        raise UnmergeConflict(
            f"cannot unmerge {duplicate.id!r} from {survivor.id!r}: {survivor.id!r} was merged "
            f"into {into} since, so it holds nothing to give back; unmerge {survivor.id!r} "
            f"first, then {duplicate.id!r}",
            problems=(f"the survivor {survivor.id!r} was merged into {into}",))
    if duplicate.version != record.duplicate_version:  # pragma: no cover - a merged lead is frozen
        problems.append(f"the duplicate {duplicate.id!r} changed since the merge")
    fields, more = _restore(record, survivor, store)
    problems += more
    if problems:
        raise UnmergeConflict(
            f"cannot unmerge {duplicate.id!r} from {survivor.id!r}: {'; '.join(problems)}; "
            f"nothing was written", problems=problems)
    _worn_out(duplicate)
    when = _time(at, pipeline, (survivor, duplicate))
    stage = fields.pop("stage")
    restored, moves = _moved(survivor, stage, when, event=UNMERGE_EVENT, actor=actor,
                             reason=reason, **fields)
    back, (returning,) = _moved(duplicate, record.duplicate_before.stage, when,
                                event=UNMERGE_EVENT, actor=actor, reason=reason)
    handoffs: list[Handoff] = []
    for handoff_id in record.handoffs:
        try:
            handoff = store.handoff(handoff_id)
        except NotFound:  # pragma: no cover - stores never delete handoffs
            continue
        if handoff.status == "pending" and handoff.lead_id == survivor.id:
            handoffs.append(attrs.evolve(handoff, lead_id=duplicate.id))
    undone = attrs.evolve(record, unmerged_at=when, unmerged_by=actor, unmerge_reason=reason)
    arguments: Mapping[str, Any] = {"survivor": survivor, "duplicate": duplicate, "actor": actor,
                                    "reason": reason}
    pipeline._hooks.run_before(
        "before_unmerge", arguments, f"the unmerge of {duplicate.id!r} from {survivor.id!r}")
    messages = []
    if pipeline._writes("after_unmerge"):
        messages.append(pipeline._message(
            "after_unmerge", record.id, when, survivor=restored, duplicate=back, actor=actor,
            reason=reason))
    stored = commit_merge(
        Change(restored, survivor.version, moves, outbox=messages, expected_owner=survivor.owner),
        Change(back, duplicate.version, (returning,), handoffs=handoffs,
               expected_owner=duplicate.owner),
        undone)
    if messages:
        pipeline._deliver_after_commit(when)
    return stored
