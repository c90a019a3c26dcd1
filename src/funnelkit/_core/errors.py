"""Every error funnelkit raises.

One root, :class:`FunnelError`; each error also subclasses the builtin it resembles, so code that
already catches ``ValueError`` or ``LookupError`` keeps working.  Messages say what was wrong and
what to do about it.
"""

# The names are the API the issue fixed (InvalidFunnel, UnknownEvent, PolicyRefused, ...): they say
# what happened, as attrs' FrozenError and Hypothesis' InvalidArgument do, without an Error suffix.
# ruff: noqa: N818

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from funnelkit._core.public import public_home

if TYPE_CHECKING:
    from collections.abc import Sequence

    from funnelkit._core.decision import Decision

__all__ = [
    "AlreadyExists",
    "ConcurrencyError",
    "FunnelError",
    "HandoffClosed",
    "HostTransactionError",
    "InvalidEscalation",
    "InvalidFunnel",
    "InvalidHook",
    "InvalidInput",
    "InvalidPolicy",
    "LeadMerged",
    "MergeRefused",
    "MissingExtra",
    "NotFound",
    "PolicyFailed",
    "PolicyRefused",
    "ReasonRequired",
    "RuleSyntaxError",
    "StorageError",
    "TransitionNotAllowed",
    "UnknownEvent",
    "UnmergeConflict",
    "Veto",
]


class FunnelError(Exception):
    """The root of every error funnelkit raises.

    Catch it to handle anything the library refuses:

    >>> import funnelkit
    >>> issubclass(funnelkit.InvalidFunnel, funnelkit.FunnelError)
    True
    """


def _rebuild(cls: type[BaseException], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Unpickle an error whose constructor takes keyword arguments."""
    return cls(*args, **kwargs)


class InvalidFunnel(FunnelError, ValueError):
    """A funnel definition has one or more problems; all of them are listed.

    ``problems`` holds ``(path, message)`` pairs, one per problem, where *path* points into the
    definition's data form (``"moves[3].target"``).

    >>> from funnelkit import Funnel
    >>> try:
    ...     Funnel.from_dict({"name": "f", "initial": "a", "stages": [], "moves": []})
    ... except InvalidFunnel as e:
    ...     print(e.problems[0])
    ('stages', 'a funnel needs at least one stage')
    """

    problems: tuple[tuple[str, str], ...]

    def __init__(self, problems: Sequence[tuple[str, str]], *, name: str = "") -> None:
        """List *problems* as ``(path, message)`` pairs for the funnel called *name*."""
        self.problems = tuple(problems)
        self.name = name
        title = f"funnel {name!r}" if name else "funnel definition"
        count = len(self.problems)
        plural = "s" if count != 1 else ""
        lines = [f"{title} has {count} problem{plural}; fix each and build again:"]
        lines += [f"  {path}: {message}" if path else f"  {message}" for path, message in problems]
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle support: errors cross process boundaries too."""
        return (_rebuild, (type(self), (self.problems,), {"name": self.name}))


class InvalidInput(FunnelError, ValueError, TypeError):
    """An argument has the wrong type or an impossible value.

    Naive datetimes, an ``at`` earlier than the lead's last move, a lead in a stage the funnel
    does not know, a wrong type: all raise this.  It is both a ``ValueError`` and a ``TypeError``.

    >>> from datetime import datetime
    >>> from funnelkit import templates
    >>> try:
    ...     templates.inbound().new_lead("L1", at=datetime(2026, 1, 5, 9))
    ... except InvalidInput as e:
    ...     print(str(e).split(";")[0])
    at=datetime.datetime(2026, 1, 5, 9, 0) is naive
    """


class InvalidEscalation(InvalidInput):
    """An SLA escalation cannot be configured as given; the pipeline was not built.

    An :class:`funnelkit.Escalation` with a field of the wrong type or out of range, or one
    given to a pipeline for a move that opens no handoff (it does not cross teams) or has no SLA
    (it can never be breached).  Also an :class:`InvalidInput`, so a ``ValueError`` and a
    ``TypeError``.

    >>> issubclass(InvalidEscalation, InvalidInput)
    True
    """


class _EventError(FunnelError):
    """Shared by the two errors that name the events valid from the lead's stage."""

    def __init__(
        self, message: str, *, event: str, stage: str, valid_events: Sequence[str]
    ) -> None:
        """Say *message* about *event* fired from *stage*, where *valid_events* are possible."""
        super().__init__(message)
        self.event = event
        self.stage = stage
        self.valid_events = tuple(valid_events)

    def __str__(self) -> str:
        """The message, unquoted."""
        return str(self.args[0])

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle support."""
        kwargs = {"event": self.event, "stage": self.stage, "valid_events": self.valid_events}
        return (_rebuild, (type(self), self.args, kwargs))


class UnknownEvent(_EventError, LookupError):
    """The funnel defines no event of that name anywhere (a ``LookupError``).

    ``valid_events`` lists the events the lead could take from its stage.

    >>> from datetime import datetime, timezone
    >>> from funnelkit import templates
    >>> funnel = templates.temperature()
    >>> lead = funnel.new_lead("L1", at=datetime(2026, 3, 2, tzinfo=timezone.utc))
    >>> try:
    ...     funnel.fire(lead, "warmup", at=lead.created_at)
    ... except UnknownEvent as e:
    ...     print(e.valid_events)
    ('warm_up', 'lose')
    """


class TransitionNotAllowed(_EventError, ValueError):
    """The event exists in the funnel but not from the lead's current stage.

    ``valid_events`` lists the events the lead could take from its stage.

    >>> from datetime import datetime, timezone
    >>> from funnelkit import templates
    >>> funnel = templates.temperature()
    >>> lead = funnel.new_lead("L1", at=datetime(2026, 3, 2, tzinfo=timezone.utc))
    >>> try:
    ...     funnel.fire(lead, "buy", at=lead.created_at)
    ... except TransitionNotAllowed as e:
    ...     print(e.event, e.stage, e.valid_events)
    buy cold ('warm_up', 'lose')
    """


class PolicyRefused(FunnelError, ValueError):
    """The policy guarding a move said no; ``decision`` says why.

    ``reasons`` repeats ``decision.reasons``: one human-readable line per failed criterion.

    >>> from datetime import datetime, timezone
    >>> from funnelkit import Decision, templates
    >>> funnel = templates.temperature(policies={"warm_up": lambda lead, ctx: Decision.deny(
    ...     "no engagement yet", policy="engaged")})
    >>> lead = funnel.new_lead("L1", at=datetime(2026, 3, 2, tzinfo=timezone.utc))
    >>> try:
    ...     funnel.fire(lead, "warm_up", at=lead.created_at)
    ... except PolicyRefused as e:
    ...     print(e.reasons, e.decision.policy)
    ('no engagement yet',) engaged
    """

    # Declared here, not in __init__: autodoc reads attributes set in methods from the source of
    # the module __module__ names, and that is now funnelkit/__init__.py (see
    # funnelkit._core.public).
    reasons: tuple[str, ...]

    def __init__(self, message: str, *, decision: Decision, event: str, stage: str) -> None:
        """Say *message*; *decision* is the policy's answer for *event* from *stage*."""
        super().__init__(message)
        self.decision = decision
        self.reasons = tuple(decision.reasons)
        self.event = event
        self.stage = stage

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle support."""
        kwargs = {"decision": self.decision, "event": self.event, "stage": self.stage}
        return (_rebuild, (type(self), self.args, kwargs))


class ReasonRequired(FunnelError, ValueError):
    """A backward move, or one marked ``requires_reason``, was fired without a ``reason``.

    >>> from datetime import datetime, timezone
    >>> from funnelkit import templates
    >>> funnel = templates.temperature()
    >>> lead = funnel.new_lead("L1", at=datetime(2026, 3, 2, tzinfo=timezone.utc))
    >>> try:
    ...     funnel.fire(lead, "lose", at=lead.created_at)
    ... except ReasonRequired as e:
    ...     print(str(e).split(";")[0])
    'lose' from 'cold' to 'lost' is marked requires_reason
    """


class PolicyFailed(FunnelError, RuntimeError):
    """A guarding policy raised instead of answering; the original error is chained.

    Nothing moved and nothing was written.  ``policy``, ``event`` and ``lead_id`` say where.

    >>> err = PolicyFailed("policy raised", policy="bant", event="qualify", lead_id="L1")
    >>> (err.policy, err.event, err.lead_id)
    ('bant', 'qualify', 'L1')
    """

    def __init__(self, message: str, *, policy: str, event: str, lead_id: str) -> None:
        super().__init__(message)
        self.policy = policy
        self.event = event
        self.lead_id = lead_id

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_policy_failed, (str(self), self.policy, self.event, self.lead_id))


def _rebuild_policy_failed(message: str, policy: str, event: str, lead_id: str) -> PolicyFailed:
    return PolicyFailed(message, policy=policy, event=event, lead_id=lead_id)


class InvalidPolicy(FunnelError, ValueError, TypeError):
    """A policy or scoring model was built with bad parameters, or a policy answered wrongly.

    Raised when a funnel is built (a policy in data form that cannot be loaded) and when a
    policy returns something that is not a :class:`funnelkit.Decision`.

    >>> issubclass(InvalidPolicy, ValueError) and issubclass(InvalidPolicy, TypeError)
    True
    """


class RuleSyntaxError(InvalidPolicy, SyntaxError):
    """A rule expression could not be parsed or uses something the rule language refuses.

    ``text`` is the rule and ``offset`` the 1-based column of the problem, as for ``SyntaxError``.

    >>> print(RuleSyntaxError("unknown name 'budjet'", text="budjet > 10", offset=1))
    unknown name 'budjet' (column 1)
      budjet > 10
      ^
    """

    def __init__(self, message: str, *, text: str, offset: int) -> None:
        """Say *message* about column *offset* (1-based) of the rule *text*."""
        super().__init__(message, ("<rule>", 1, offset, text, 1, offset + 1))
        self.msg = message
        self.text = text
        self.offset = offset

    def __str__(self) -> str:
        """The message, the rule and a caret under the column."""
        caret = " " * max((self.offset or 1) - 1, 0) + "^"
        return f"{self.msg} (column {self.offset})\n  {self.text}\n  {caret}"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle support."""
        kwargs = {"text": self.text, "offset": self.offset}
        return (_rebuild, (type(self), (self.msg,), kwargs))


class NotFound(FunnelError, LookupError):
    """No lead, handoff, stage or other record has that name or id (a ``LookupError``).

    >>> from funnelkit import templates
    >>> try:
    ...     templates.inbound().stage("sqll")
    ... except NotFound as e:
    ...     print(str(e).split(";")[1].strip())
    did you mean 'sql'?
    """

    def __str__(self) -> str:
        """The message, unquoted."""
        return str(self.args[0]) if self.args else "not found"


class AlreadyExists(FunnelError, ValueError):
    """A record with that id exists already (for example a second ``capture`` of one lead id).

    >>> issubclass(AlreadyExists, ValueError)
    True
    """


class StorageError(FunnelError, RuntimeError):
    """The store could not do what was asked; nothing was written.

    Every backend translates its driver's errors into this (or a subclass), so host code handles
    one set of errors whatever the database.

    >>> issubclass(ConcurrencyError, StorageError)
    True
    """


class ConcurrencyError(StorageError):
    """Someone else changed the lead first: its stored version is not the one expected.

    Load the lead again and retry; ``Pipeline.fire`` does this by itself a few times.

    >>> issubclass(ConcurrencyError, RuntimeError)
    True
    """


class HostTransactionError(StorageError):
    """The host's transaction that ``pipeline.using(...)`` joined cannot take funnelkit's writes.

    It failed already (an error inside it was caught, so it can only roll back), it was closed,
    or there is none to join (Django outside ``transaction.atomic()``).  Nothing was written:
    roll the transaction back, then run the whole unit of work again in a new one.  Also a
    :class:`StorageError`, so a ``RuntimeError``.

    >>> issubclass(HostTransactionError, StorageError)
    True
    """


class Veto(FunnelError, RuntimeError):
    """Raised by a ``before_*`` hook to stop a change; the caller sees it and nothing is written.

    >>> raise Veto("credit check failed")
    Traceback (most recent call last):
    ...
    funnelkit.Veto: credit check failed
    """

    @property
    def reason(self) -> str:
        """The reason the hook gave.

        >>> Veto("credit check failed").reason
        'credit check failed'
        """
        return str(self.args[0]) if self.args else ""


class HandoffClosed(FunnelError, ValueError):
    """A handoff was accepted, rejected or expired already; only a pending one can change.

    >>> issubclass(HandoffClosed, ValueError)
    True
    """


class InvalidHook(FunnelError, TypeError):
    """A registered hook implementation matches no hook spec, or takes the wrong arguments.

    >>> issubclass(InvalidHook, TypeError)
    True
    """


class MissingExtra(FunnelError, ImportError):
    """An optional feature needs a package that is not installed; the message names the extra.

    >>> issubclass(MissingExtra, ImportError)
    True
    """


class MergeRefused(FunnelError, ValueError):
    """A merge or an unmerge that cannot be made as asked; nothing was written.

    Merging a lead with itself, a lead of a stage the pipeline's funnel does not have (a lead of
    another funnel), a merge the store cannot write (it has no ``commit_merge``), or unmerging a
    lead that is not merged.  The message says which, and what to do.

    >>> issubclass(MergeRefused, ValueError)
    True
    """


class UnmergeConflict(MergeRefused):
    """Something changed since the merge, so undoing it would be a guess; nothing was written.

    ``problems`` has one line per change that stands in the way (the survivor moved on from the
    stage the merge gave it, or changed an attribute the merge set, or was merged itself).

    >>> e = UnmergeConflict("cannot unmerge", problems=("the survivor moved",))
    >>> e.problems
    ('the survivor moved',)
    """

    problems: tuple[str, ...]

    def __init__(self, message: str, *, problems: Sequence[str] = ()) -> None:
        """Say *message*; *problems* lists what changed since the merge, one line each."""
        super().__init__(message)
        self.problems = tuple(problems)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle support."""
        return (_rebuild, (type(self), self.args, {"problems": self.problems}))


class LeadMerged(FunnelError, ValueError):
    """The lead was merged into another: only its survivor moves, changes or merges now.

    ``lead_id`` is the merged lead, ``survivor_id`` the lead it was merged into (None when the
    store keeps no merge record for it).

    >>> e = LeadMerged("lead 'L2' was merged into 'L1'", lead_id="L2", survivor_id="L1")
    >>> e.survivor_id
    'L1'
    """

    def __init__(self, message: str, *, lead_id: str, survivor_id: str | None) -> None:
        """Say *message* about *lead_id*, merged into *survivor_id*."""
        super().__init__(message)
        self.lead_id = lead_id
        self.survivor_id = survivor_id

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle support."""
        kwargs = {"lead_id": self.lead_id, "survivor_id": self.survivor_id}
        return (_rebuild, (type(self), self.args, kwargs))


# Tracebacks, reprs and pickles name the public home, funnelkit.
public_home(
    "funnelkit",
    AlreadyExists, ConcurrencyError, FunnelError, HandoffClosed, HostTransactionError,
    InvalidEscalation,
    InvalidFunnel, InvalidHook,
    InvalidInput, InvalidPolicy, LeadMerged, MergeRefused, MissingExtra, NotFound, PolicyFailed,
    PolicyRefused, ReasonRequired, RuleSyntaxError, StorageError, TransitionNotAllowed,
    UnknownEvent, UnmergeConflict, Veto,
)
