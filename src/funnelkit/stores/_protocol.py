"""The ``Store`` protocol: what the pipeline asks of the place the host keeps its data.

One protocol, one module per backend, one contract test suite shipped in the package
(:class:`funnelkit.testing.StoreContract`) that every backend passes, the host's own included.
Every backend raises the same errors: :class:`~funnelkit.NotFound`,
:class:`~funnelkit.AlreadyExists`, :class:`~funnelkit.ConcurrencyError` and
:class:`~funnelkit.StorageError` (translated from the driver's).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import attrs

from funnelkit._errors import InvalidInput
from funnelkit._handoff import Handoff, HandoffStatus
from funnelkit._lead import Lead, Transition
from funnelkit._time import require_aware
from funnelkit._touchpoint import Touchpoint

__all__ = ["Change", "OutboxMessage", "OutboxRow", "Store"]


def _tuple_of(kind: type) -> Any:
    def check(_: object, attribute: attrs.Attribute[Any], value: tuple[Any, ...]) -> None:
        for item in value:
            if not isinstance(item, kind):
                raise InvalidInput(
                    f"Change.{attribute.name} takes {kind.__name__} values, got {item!r}"
                )

    return check


@attrs.frozen
class OutboxMessage:
    """An after-hook call to deliver once the change that caused it is committed.

    ``key`` is the idempotency key hosts can dedupe on (unique per store); ``hook`` the hook
    spec's name; ``payload`` the JSON-able arguments (see :mod:`funnelkit._codec`).
    """

    key: str
    hook: str
    payload: Mapping[str, Any] = attrs.field(converter=dict)
    created_at: datetime = attrs.field(validator=lambda _, __, v: require_aware(v, "created_at"))


@attrs.frozen
class OutboxRow:
    """An outbox message as stored, with its delivery bookkeeping.

    ``attempts`` counts delivery attempts; ``claimed_by``/``claimed_until`` hold a dispatcher's
    lease (expired leases can be claimed again); ``delivered_at`` is set once acknowledged.
    """

    id: int
    key: str
    hook: str
    payload: Mapping[str, Any]
    created_at: datetime
    attempts: int = 0
    next_attempt_at: datetime | None = None
    claimed_by: str | None = None
    claimed_until: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str | None = None


@attrs.frozen
class Change:
    """Everything one pipeline call writes, committed atomically by :meth:`Store.commit`.

    ``expected_version`` is the lead's version as loaded (None: the lead is new and must not
    exist).  ``handoffs`` are inserted or, for an existing id, replaced; a stored handoff may only
    be replaced while its stored status is ``"pending"``.
    """

    lead: Lead
    expected_version: int | None
    transitions: tuple[Transition, ...] = attrs.field(
        default=(), converter=tuple, validator=_tuple_of(Transition))
    touchpoints: tuple[Touchpoint, ...] = attrs.field(
        default=(), converter=tuple, validator=_tuple_of(Touchpoint))
    handoffs: tuple[Handoff, ...] = attrs.field(
        default=(), converter=tuple, validator=_tuple_of(Handoff))
    outbox: tuple[OutboxMessage, ...] = attrs.field(
        default=(), converter=tuple, validator=_tuple_of(OutboxMessage))


@runtime_checkable
class Store(Protocol):
    """Where leads, transitions, touchpoints, handoffs and the outbox live.

    Implementations must be safe to call from several threads; SQL backends also from several
    processes sharing one database.
    """

    def load(self, lead_id: str) -> Lead:
        """The lead with this id; :class:`~funnelkit.NotFound` if there is none."""
        ...

    def commit(self, change: Change) -> None:
        """Write *change* atomically, or nothing at all.

        Raises :class:`~funnelkit.AlreadyExists` when ``expected_version`` is None and the lead
        exists, :class:`~funnelkit.ConcurrencyError` when the stored version is not
        ``expected_version`` (or a replaced handoff is no longer pending) and
        :class:`~funnelkit.NotFound` when an expected lead is missing.
        """
        ...

    def history(self, lead_id: str) -> list[Transition]:
        """The lead's transitions, oldest first; :class:`~funnelkit.NotFound` for no such lead."""
        ...

    def touchpoints(self, lead_id: str) -> list[Touchpoint]:
        """The lead's touchpoints, oldest first; :class:`~funnelkit.NotFound` for no such lead."""
        ...

    def leads(self, *, stage: str | None = None) -> Iterator[Lead]:
        """Every lead (in one stage when *stage* is given), in id order."""
        ...

    def transitions(
        self, *, after: int = 0, since: datetime | None = None, limit: int | None = None
    ) -> Iterator[tuple[int, Transition]]:
        """Every transition with its position (increasing, > *after*), at or after *since*."""
        ...

    def touchpoint_stream(
        self, *, after: int = 0, since: datetime | None = None, limit: int | None = None
    ) -> Iterator[tuple[int, Touchpoint]]:
        """Every touchpoint with its position (increasing, > *after*), at or after *since*."""
        ...

    def handoff(self, handoff_id: str) -> Handoff:
        """The handoff with this id; :class:`~funnelkit.NotFound` if there is none."""
        ...

    def handoffs(
        self,
        *,
        status: HandoffStatus | None = None,
        team: str | None = None,
        assignee: str | None = None,
        lead_id: str | None = None,
        due_before: datetime | None = None,
    ) -> list[Handoff]:
        """Handoffs matching every filter given (``team`` is the receiving team), by due time."""
        ...

    def claim_outbox(
        self, *, worker: str, now: datetime, lease: timedelta, limit: int = 100
    ) -> list[OutboxRow]:
        """Claim up to *limit* undelivered rows due at *now* and not leased by another worker.

        Two workers never hold the same row at once; a lease that ran out can be claimed again.
        Each claim counts as one attempt.
        """
        ...

    def ack_outbox(self, row_id: int, *, worker: str, at: datetime) -> None:
        """Mark a claimed row delivered (:class:`~funnelkit.ConcurrencyError` if *worker* lost it)."""
        ...

    def retry_outbox(
        self, row_id: int, *, worker: str, error: str, retry_at: datetime
    ) -> None:
        """Release a claimed row after a failed delivery, to be tried again at *retry_at*."""
        ...

    def outbox(self, *, undelivered_only: bool = True) -> list[OutboxRow]:
        """The outbox rows, oldest first (for inspection and tests)."""
        ...

    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""
        ...
