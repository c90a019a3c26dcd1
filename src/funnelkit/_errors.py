"""Every error funnelkit raises.

One root, :class:`FunnelError`; each error also subclasses the builtin it resembles, so code that
already catches ``ValueError`` or ``LookupError`` keeps working.  Messages say what was wrong and
what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from funnelkit._decision import Decision

__all__ = [
    "AlreadyExists",
    "ConcurrencyError",
    "FunnelError",
    "HandoffClosed",
    "InvalidFunnel",
    "InvalidHook",
    "InvalidInput",
    "InvalidPolicy",
    "MissingExtra",
    "NotFound",
    "PolicyRefused",
    "ReasonRequired",
    "RuleSyntaxError",
    "StorageError",
    "TransitionNotAllowed",
    "UnknownEvent",
    "Veto",
]


class FunnelError(Exception):
    """The root of every error funnelkit raises.

    Catch it to handle anything the library refuses:

    >>> import funnelkit
    >>> issubclass(funnelkit.InvalidFunnel, funnelkit.FunnelError)
    True
    """


class InvalidFunnel(FunnelError, ValueError):
    """A funnel definition has one or more problems; all of them are listed.

    ``problems`` holds ``(path, message)`` pairs, one per problem, where *path* points into the
    definition's data form (``"transitions[3].target"``).

    >>> from funnelkit import Funnel
    >>> try:
    ...     Funnel.from_dict({"name": "f", "initial": "a", "stages": [], "transitions": []})
    ... except InvalidFunnel as e:
    ...     print(e.problems[0])
    ('stages', 'a funnel needs at least one stage')
    """

    problems: tuple[tuple[str, str], ...]

    def __init__(self, problems: Sequence[tuple[str, str]], *, name: str = "") -> None:
        self.problems = tuple(problems)
        self.name = name
        title = f"funnel {name!r}" if name else "funnel definition"
        count = len(self.problems)
        lines = [f"{title} has {count} problem{'s' if count != 1 else ''}; fix each and build again:"]
        lines += [f"  {path}: {message}" if path else f"  {message}" for path, message in problems]
        super().__init__("\n".join(lines))


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


class UnknownEvent(FunnelError, LookupError):
    """The funnel defines no event of that name anywhere.

    ``valid_events`` lists the events the lead could take from its stage.
    """

    def __init__(self, message: str, *, event: str, stage: str, valid_events: Sequence[str]) -> None:
        super().__init__(message)
        self.event = event
        self.stage = stage
        self.valid_events = tuple(valid_events)

    def __str__(self) -> str:
        return str(self.args[0])


class TransitionNotAllowed(FunnelError, ValueError):
    """The event exists in the funnel but not from the lead's current stage.

    ``valid_events`` lists the events the lead could take from its stage.
    """

    def __init__(self, message: str, *, event: str, stage: str, valid_events: Sequence[str]) -> None:
        super().__init__(message)
        self.event = event
        self.stage = stage
        self.valid_events = tuple(valid_events)


class PolicyRefused(FunnelError, ValueError):
    """The policy guarding a move said no; ``decision`` says why.

    ``reasons`` repeats ``decision.reasons``: one human-readable line per failed criterion.
    """

    def __init__(self, message: str, *, decision: Decision, event: str, stage: str) -> None:
        super().__init__(message)
        self.decision = decision
        self.reasons: tuple[str, ...] = tuple(decision.reasons)
        self.event = event
        self.stage = stage


class ReasonRequired(FunnelError, ValueError):
    """A backward move, or one marked ``requires_reason``, was fired without a ``reason``."""


class InvalidPolicy(FunnelError, ValueError, TypeError):
    """A policy or scoring model was built with bad parameters (raised at build time)."""


class RuleSyntaxError(InvalidPolicy, SyntaxError):
    """A rule expression could not be parsed or uses something the rule language refuses.

    ``text`` is the rule and ``offset`` the 1-based column of the problem, as for ``SyntaxError``.
    """

    def __init__(self, message: str, *, text: str, offset: int) -> None:
        super().__init__(message, ("<rule>", 1, offset, text, 1, offset + 1))
        self.msg = message
        self.text = text
        self.offset = offset

    def __str__(self) -> str:
        caret = " " * max(self.offset - 1, 0) + "^"
        return f"{self.msg} (column {self.offset})\n  {self.text}\n  {caret}"


class NotFound(FunnelError, LookupError):
    """No lead, handoff or other record has that id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


class AlreadyExists(FunnelError, ValueError):
    """A record with that id exists already (for example a second ``capture`` of one lead id)."""


class StorageError(FunnelError, RuntimeError):
    """The store could not do what was asked; nothing was written.

    Every backend translates its driver's errors into this (or a subclass), so host code handles
    one set of errors whatever the database.
    """


class ConcurrencyError(StorageError):
    """Someone else changed the lead first: its stored version is not the one expected.

    Load the lead again and retry; ``Pipeline.fire`` does this by itself a few times.
    """


class Veto(FunnelError, RuntimeError):
    """Raised by a ``before_*`` hook to stop a change; the caller sees it and nothing is written.

    >>> raise Veto("credit check failed")
    Traceback (most recent call last):
    ...
    funnelkit._errors.Veto: credit check failed
    """

    @property
    def reason(self) -> str:
        """The reason the hook gave."""
        return str(self.args[0]) if self.args else ""


class HandoffClosed(FunnelError, ValueError):
    """A handoff was accepted, rejected or expired already; only a pending one can change."""


class InvalidHook(FunnelError, TypeError):
    """A registered hook implementation matches no hook spec, or takes the wrong arguments."""


class MissingExtra(FunnelError, ImportError):
    """An optional feature needs a package that is not installed; the message names the extra."""
