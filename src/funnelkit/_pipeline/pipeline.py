"""``Pipeline``: the imperative shell around the pure ``Funnel.fire``.

Order inside one call: load -> pure fire -> ``before_*`` hooks (may veto) -> one atomic store commit
(lead, transitions, touchpoints, handoffs, outbox rows) guarded by the lead's version -> after-hooks
delivered from the outbox.  The hot path (``fire`` of an unguarded move that opens or closes no
handoff, with no ``before_transition`` hook registered) does one load, one pure fire, a few set
lookups and one commit (with its ``after_transition`` row, written claimed and delivered at once,
when that hook is registered); everything else is decided once, when the pipeline is built or a
hook is registered.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import functools
import heapq
import inspect
import logging
import operator
import uuid
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import (
    TYPE_CHECKING,
    Any,
    Literal,
    Never,
    Protocol,
    TypeVar,
    overload,
    runtime_checkable,
)

import attrs

from funnelkit._core.codec import LazyPayload
from funnelkit._core.decision import Context
from funnelkit._core.deprecation import warn_renamed
from funnelkit._core.errors import (
    AlreadyExists,
    ConcurrencyError,
    FunnelError,
    HandoffClosed,
    InvalidHook,
    InvalidInput,
    NotFound,
    PolicyRefused,
    ReasonRequired,
    Veto,
)
from funnelkit._core.handoff import Handoff, HandoffStatus, handoff_id, turned_down_reason
from funnelkit._core.lead import Fired, Lead, Source, Transition
from funnelkit._core.limits import (
    MAX_DATA_DEPTH,
    MAX_DURATION,
    MAX_KEY_LENGTH,
    MAX_TEXT_LENGTH,
    MAX_VERSION,
    MIN_TIME,
    _short,
    check_count,
    check_name,
    check_text,
    nests_deeper,
)
from funnelkit._core.reserved import (
    ACCEPT_EVENT,
    ASSIGN_EVENT,
    ESCALATE_EVENT,
    EXPIRE_EVENT,
    MERGED_STAGE,
    REJECT_EVENT,
    STALL_EVENT,
)
from funnelkit._core.time import Duration, parse_duration, require_aware
from funnelkit._core.touchpoint import Touchpoint
from funnelkit._definition.funnel import Funnel
from funnelkit._pipeline import hooks as _hooks
from funnelkit._pipeline.audit import (
    audit_record,
    breach_prefix,
    check_reason,
    escalation_level,
    stall_reported,
    who,
    with_reason,
)
from funnelkit._pipeline.calendar import BusinessCalendar
from funnelkit._pipeline.escalation import Escalation, compile_escalations
from funnelkit._pipeline.merge import merge as _merge
from funnelkit._pipeline.merge import merged_error
from funnelkit._pipeline.merge import unmerge as _unmerge
from funnelkit._pipeline.replay import ReplayReport, replay_store
from funnelkit._pipeline.routing import Router
from funnelkit.stores._protocol import (
    Change,
    MergeRecord,
    OutboxMessage,
    OutboxRow,
    Store,
    is_store,
    make_change,
    make_message,
)

if TYPE_CHECKING:
    from funnelkit.dedupe._merge_policy import MergePolicy

__all__ = ["Clock", "Delivery", "Pipeline", "Scorer", "SweepReport", "SystemClock"]

log = logging.getLogger("funnelkit.pipeline")

_P = TypeVar("_P")

_NO_HANDOFF_MAX = 65_536  # lead ids a pipeline remembers as having no open handoff
_LANDS_RECEIVING = 1
_LEAVES_RECEIVING = 2

AUTO_ACTOR = "funnelkit.auto"
SWEEP_ACTOR = "funnelkit.sweep"


@runtime_checkable
class Clock(Protocol):
    """Anything with ``now() -> aware datetime``: where a pipeline reads the time.

    >>> from datetime import datetime, timezone
    >>> class Fixed:
    ...     def now(self):
    ...         return datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    >>> isinstance(Fixed(), Clock)
    True
    """

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    """The system clock, in UTC: the default clock of a pipeline.

    >>> SystemClock().now().tzinfo
    datetime.timezone.utc
    """

    __slots__ = ()

    def now(self) -> datetime:
        """The current time in UTC."""
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


@runtime_checkable
class Scorer(Protocol):
    """A scoring model: ``score(lead, touchpoints, *, at)`` gives the lead's score at *at*.

    :class:`funnelkit.scoring.ScoringModel` is one; so is any object with that method.  The
    pipeline passes the result to policies as ``Context.score``.

    >>> class Points:
    ...     def score(self, lead, touchpoints, *, at):
    ...         return sum(tp.points or 0 for tp in touchpoints)
    >>> isinstance(Points(), Scorer)
    True
    """

    def score(self, lead: Lead, touchpoints: Sequence[Touchpoint], *, at: datetime) -> Any:
        """The lead's score at *at*, from its touchpoints."""
        ...


@attrs.frozen
class Delivery:
    """What one :meth:`Pipeline.deliver_pending` run did: rows delivered and rows that failed.

    Failed rows stay in the outbox with their error and are tried again after a backoff.

    >>> Delivery(delivered=3, failed=1)
    Delivery(delivered=3, failed=1)
    """

    delivered: int = 0
    failed: int = 0


@attrs.frozen
class SweepReport:
    """What one :meth:`Pipeline.sweep` did.

    ``expired`` are the handoffs it marked expired (their ``after_sla_breach`` written), ``stalled``
    the ids of the leads it found stalled for the first time, ``moved`` the automatic stall
    moves it made, ``delivery`` the outbox delivery that followed, ``escalated`` the handoffs
    it escalated (still pending, reassigned and due again; see :class:`funnelkit.Escalation`).

    >>> SweepReport()
    SweepReport(expired=(), stalled=(), moved=(), delivery=Delivery(delivered=0, failed=0), escalated=())
    """  # noqa: E501 - a doctest's output is one line

    expired: tuple[Handoff, ...] = ()
    stalled: tuple[str, ...] = ()
    moved: tuple[Fired, ...] = ()
    delivery: Delivery = Delivery()
    escalated: tuple[Handoff, ...] = attrs.field(default=(), kw_only=True)


def _shortcut(store: Store, name: str) -> Callable[..., Any] | None:
    """The store's optional write method *name*, if the class defining ``commit`` defines it.

    A shortcut (``commit_move``, ``commit_claimed``) writes what ``commit`` would write, faster.
    A subclass that overrides ``commit`` (to log, to refuse, to write elsewhere) and not the
    shortcut would be bypassed by its parent's shortcut, so the shortcut is used only when it
    comes from the same class as the ``commit`` in force.
    """
    owners = {n: next((c for c in type(store).__mro__ if n in vars(c)), None)
              for n in ("commit", name)}
    if owners[name] is None or owners[name] is not owners["commit"]:
        return None
    method: Callable[..., Any] = getattr(store, name)
    return method


class _Workload(Mapping[str, int]):
    """Open handoffs per assignee of one team, counted on first use only."""

    __slots__ = ("_counts", "_store", "_team")

    def __init__(self, store: Store, team: str) -> None:
        self._store = store
        self._team = team
        self._counts: Counter[str] | None = None

    def _load(self) -> Counter[str]:
        if self._counts is None:
            pending = self._store.handoffs(status="pending", team=self._team)
            self._counts = Counter(h.assignee for h in pending if h.assignee is not None)
        return self._counts

    def __getitem__(self, person: str) -> int:
        return self._load()[person]

    def get(self, person: str, default: Any = 0) -> Any:
        return self._load().get(person, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


def _outbox_names(outbox: object) -> list[str]:
    """The after-hook names of ``Pipeline(outbox=...)``: one name or an iterable of names."""
    if isinstance(outbox, str):
        wanted: list[object] = [outbox]
    elif isinstance(outbox, bytes | Mapping) or not isinstance(outbox, Iterable):
        raise InvalidInput(f"outbox={_short(outbox)} must name after-hooks: a string or a list "
                           f"of some of {', '.join(_hooks.AFTER_HOOKS)}")
    else:
        wanted = list(outbox)
    wanted = [_hooks.current_name(name) if isinstance(name, str) else name for name in wanted]
    unknown = [name for name in wanted if not isinstance(name, str)
               or name not in _hooks.AFTER_HOOKS]
    if unknown:
        raise InvalidInput(
            f"outbox={_short(wanted)}: {', '.join(map(_short, unknown))} are not after-hooks; "
            f"name some of {', '.join(_hooks.AFTER_HOOKS)}"
        )
    return [name for name in wanted if isinstance(name, str)]


@attrs.define
class _Step:
    """One move planned in memory: what it writes once committed."""

    outcome: Fired
    lead: Lead
    handoffs: list[Handoff]
    messages: list[OutboxMessage]
    created: Handoff | None


def _check_id(value: object, what: str = "id", limit: int | None = None) -> None:
    """Refuse an id that is not a string (one no store can hold is simply not found)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what}={_short(value)} must be a string"
                           f"{'' if limit is None else f' of at most {limit} characters'}")


def _check_at(at: object, what: str = "at") -> None:
    """Refuse a given time before any work (None means: read the clock when it is needed)."""
    if at is not None:
        require_aware(at, what)


def _error_text(text: str) -> str:
    """A delivery error as a store can keep it: no NUL or lone surrogate, cut to the limit."""
    clean = text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
    if len(clean) > MAX_TEXT_LENGTH:
        clean = clean[: MAX_TEXT_LENGTH - 30] + f"... ({len(clean):,} characters)"
    return clean


def _context_data(context: object) -> Mapping[str, Any]:
    """Check ``context=``, the policies' free data: a mapping of str keys, nested within limits.

    The limits are those of a lead's attributes (``MAX_DATA_DEPTH``); the data is not stored.
    """
    if not isinstance(context, Mapping):
        raise InvalidInput(
            f"context={_short(context)} must be a mapping of names to the values policies read "
            f"as Context.data, or None (the pipeline builds the Context itself)")
    for key in context:
        if not isinstance(key, str):
            raise InvalidInput(f"context data must be named by strings, not {_short(key)}")
    if nests_deeper(context, MAX_DATA_DEPTH):
        raise InvalidInput(f"context data nests more than {MAX_DATA_DEPTH} levels deep (dicts, "
                           f"lists and tuples inside each other, or a value that holds itself); "
                           f"flatten it")
    return context


def _refuse_keywords(method: Callable[..., Any], unexpected: Iterable[object]) -> Never:
    """Refuse keyword arguments *method* does not take, naming those it does.

    Free data for the policies used to be taken as keyword arguments, so a misspelt one
    (``when=`` for ``at=``) was silently handed to the policies; it goes in ``context={...}``.
    """
    taken = [p.name for p in inspect.signature(method).parameters.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"]
    wrong = []
    for name in unexpected:
        close = (difflib.get_close_matches(name, taken, n=1)
                 if isinstance(name, str) and len(name) <= 50 else [])
        wrong.append(_short(name) + (f" (did you mean {close[0]!r}?)" if close else ""))
    plural = "s" if len(wrong) > 1 else ""
    hint = "; data for the policies goes in context={...}" if "context" in taken else ""
    raise InvalidInput(
        f"Pipeline.{method.__name__}() got unexpected keyword argument{plural} "
        f"{', '.join(wrong)}; it takes {', '.join(taken)}{hint}")


def _discard(awaitable: object) -> None:
    """Close a coroutine that will not be awaited (no "never awaited" warning; it never runs)."""
    if inspect.iscoroutine(awaitable):
        awaitable.close()


def _not_awaited(impl: _hooks.HookImpl) -> InvalidHook:
    """The error recorded on a row whose hook a synchronous delivery would have to await."""
    return InvalidHook(
        f"{impl.where} must be awaited (it is async def, or returned an awaitable), which "
        f"deliver_pending() cannot do; deliver with `await pipeline.adeliver_pending()`")


# The pipelines delivering the outbox in this thread or task: a hook that moves a lead leaves
# the rows it writes to the delivery that is running.  A context variable, not a thread-local:
# adeliver_pending runs store calls and plain hooks in worker threads (asyncio.to_thread copies
# the context into them), and the other tasks on the event loop's thread are not delivering.
_DELIVERING: contextvars.ContextVar[tuple[object, ...]] = contextvars.ContextVar(
    "funnelkit_delivering", default=())

# What the outbox delivery loop hands its driver (see Pipeline._delivery_loop): one store call,
# ``(a callable taking no arguments, None)``, or the deliveries of rows, each ``(hook
# implementations, their arguments, the acknowledgement, row id)``.
_Io = tuple[Callable[[], Any], None]
_Row = tuple[Sequence["_hooks.HookImpl"], Any, Callable[[int], Any], int]
_Loop = Generator["_Io | list[_Row]", Any, tuple[int, int]]
# Rows delivered before the loop started (see Pipeline._deliver_own): the deliveries, and what the
# driver sent back for them.
_Ran = tuple[list[_Row], tuple[int, int, Exception | None]]
_IMPLS = operator.itemgetter(0)  # a row delivery's implementations (none: it cannot be made)

_CLAIM_LIMIT = 100  # rows a delivery claims at a time (deliver_pending's default limit)
_ONE_US = timedelta(microseconds=1)


class Pipeline:
    """The runtime: a funnel plus a store, hooks, a router, a business calendar and a clock.

    Every method that changes state takes ``at=`` (default: the clock's ``now()``).  ``scoring``
    is a :class:`Scorer` whose score reaches policies as ``Context.score``; ``retries`` is how
    often :meth:`fire` retries on a fresh load after a :class:`~funnelkit.ConcurrencyError`;
    ``backoff`` and ``max_backoff`` space the retries of failed after-hook deliveries (doubling
    from ``backoff``); ``lease`` is how long a delivery may hold an outbox row.  The arguments
    stay readable as attributes (``pipeline.funnel``, ``.store``, ``.router``, ``.calendar``,
    ``.clock``, ``.scoring``).

    >>> from datetime import datetime, timezone
    >>> from funnelkit import templates
    >>> from funnelkit.stores import MemoryStore
    >>> pipeline = Pipeline(templates.inbound(), store=MemoryStore())
    >>> at = datetime(2026, 3, 6, 15, tzinfo=timezone.utc)  # a Friday
    >>> _ = pipeline.capture("L1", at=at)
    >>> for event in ("convert", "qualify", "hand_to_sales"):
    ...     outcome = pipeline.fire("L1", event, at=at)
    >>> outcome.lead.stage, outcome.team_change
    ('sql', ('marketing', 'sales'))
    >>> handoff = pipeline.handoffs(status="pending")[0]
    >>> handoff.due_at.isoformat()  # 4 business hours: 2 on Friday, 2 on Monday
    '2026-03-09T11:00:00+00:00'
    """

    def __init__(
        self,
        funnel: Funnel,
        *,
        store: Store,
        router: Router | None = None,
        calendar: BusinessCalendar | None = None,
        clock: Clock | None = None,
        scoring: Scorer | None = None,
        retries: int = 3,
        backoff: timedelta = timedelta(seconds=30),
        max_backoff: timedelta = timedelta(hours=1),
        lease: timedelta = timedelta(minutes=5),
        outbox: Iterable[str] = (),
        escalations: Mapping[str | tuple[str, str], Escalation] | None = None,
        outbox_retention: timedelta | None = None,
    ) -> None:
        """Build a pipeline; every argument is checked here, once.

        *outbox* names after-hooks (``"after_transition"``, ``"after_handoff"``, ...) whose outbox
        rows are written even when this process registers no implementation of them: a web
        worker with no hooks then still leaves every call for the job runner that delivers them.
        Without it, rows are written for the after-hooks registered here when a change commits.

        *escalations* maps an event (every move of it) or a ``(stage, event)`` pair (one move,
        which wins over its event) to the :class:`~funnelkit.Escalation` a breach of that move's
        SLA gets from :meth:`sweep`; a move not named expires on its first breach.  A move that
        opens no handoff or has no SLA is refused with :class:`~funnelkit.InvalidEscalation`.

        *outbox_retention* is how long delivered outbox rows are kept: ``None`` (the default)
        keeps them until the host calls the store's ``purge_outbox``; a ``timedelta`` (zero or
        more, up to ten years) has each delivery that acknowledged a row purge the rows
        delivered at least that long ago, at most once per retention period (``timedelta(0)``:
        every delivery removes the rows it acknowledged), so the outbox does not grow with
        history.  It needs a store with ``purge_outbox`` (every store funnelkit
        ships but ``DjangoStore``).
        """
        if not isinstance(funnel, Funnel):
            raise InvalidInput(f"funnel={funnel!r} is not a funnelkit.Funnel")
        if not is_store(store):
            raise InvalidInput(f"store={store!r} does not implement funnelkit.stores.Store")
        if router is not None and not isinstance(router, Router):
            raise InvalidInput(f"router={router!r} is not a router; see funnelkit.routing")
        if calendar is not None and not isinstance(calendar, BusinessCalendar):
            raise InvalidInput(f"calendar={calendar!r} is not a funnelkit.BusinessCalendar")
        if clock is not None and not isinstance(clock, Clock):
            raise InvalidInput(f"clock={clock!r} has no now() method; give an object with now()")
        if scoring is not None and not isinstance(scoring, Scorer):
            raise InvalidInput(f"scoring={scoring!r} has no score(lead, touchpoints, *, at) method")
        check_count(retries, "retries")
        spans: tuple[tuple[str, object], ...] = (
            ("backoff", backoff), ("max_backoff", max_backoff), ("lease", lease))
        for name, value in spans:
            if not isinstance(value, timedelta) or not timedelta(0) < value <= MAX_DURATION:
                raise InvalidInput(
                    f"{name}={_short(value)} must be a timedelta longer than zero and at most "
                    f"{MAX_DURATION.days:,} days (ten years)")
        wanted = _outbox_names(outbox)
        kept: object = outbox_retention
        if kept is not None and (
                not isinstance(kept, timedelta) or not timedelta(0) <= kept <= MAX_DURATION):
            raise InvalidInput(
                f"outbox_retention={_short(outbox_retention)} must be None (keep delivered rows) "
                f"or a timedelta from zero to {MAX_DURATION.days:,} days (ten years)")
        if outbox_retention is not None and not callable(getattr(store, "purge_outbox", None)):
            raise InvalidInput(
                f"outbox_retention= needs a store with purge_outbox(), which {store!r} has not; "
                f"leave it None and remove delivered rows yourself")
        self._funnel = funnel
        self._pure_fire = funnel.fire
        self.store = store  # the property below: also picks the hot path's commit
        self.router = router
        self.calendar = calendar if calendar is not None else BusinessCalendar()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.scoring = scoring
        self._retries = retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._lease = lease
        self._outbox_hooks = frozenset(wanted)
        self._retention = outbox_retention
        self._purge_due: datetime | None = None  # when a delivery purges the outbox next
        # What this pipeline knows it left in the outbox, besides rows it commits and delivers
        # at once: rows a hook's move wrote during a delivery, and when failed rows are due.
        self._rows_left = False
        self._retry_times: list[datetime] = []  # a heap
        self._worker = f"funnelkit-pipeline-{uuid.uuid4().hex[:12]}"
        self._hooks = _hooks.HookRegistry()
        self._async_hooks: tuple[_hooks.HookImpl, ...] = ()  # async def after-hooks registered
        self._after_hooks = False  # whether any after-hook is registered (see _update_plain)
        self._compile()
        self._escalations = compile_escalations(escalations, funnel, self._slas, self._duration)
        # The moves fire takes on its hot path (_hot): _fast, or none while a transition hook
        # is set; _update_plain keeps it so as hooks come and go.
        self._update_plain()

    def _compile(self) -> None:
        """Precompute, per stage, what the hot path must know about each move."""
        funnel = self.funnel
        lost = {s.name for s in funnel.stages if s.outcome == "lost"}
        self._guarded: dict[str, frozenset[str]] = {}
        self._slas: dict[tuple[str, str], Duration] = {}
        self._auto: dict[str, tuple[str, ...]] = {}
        receiving: set[str] = set()
        fast_moves: dict[str, list[tuple[str, str]]] = {}
        for stage in funnel.stages:
            guarded: list[str] = []
            auto: list[str] = []
            fast: list[tuple[str, str]] = []
            for move in funnel.moves_from(stage.name):
                event = move.event
                if funnel.policy(stage.name, event) is not None:
                    guarded.append(event)
                if move.auto and not funnel.requires_reason(stage.name, event):
                    auto.append(event)
                target = funnel.stage(move.target)
                if target.team != stage.team and target.name not in lost:
                    receiving.add(target.name)
                    if move.sla is not None:
                        self._slas[stage.name, event] = self._duration(
                            move.sla, f"the sla of {event!r} from {stage.name!r}")
                elif event not in guarded:
                    fast.append((event, target.name))  # unguarded, opens no handoff
            self._guarded[stage.name] = frozenset(guarded)
            fast_moves[stage.name] = fast
            if auto:
                self._auto[stage.name] = tuple(auto)
        self._receiving = frozenset(receiving)
        # stage -> {event of an unguarded move that opens no handoff: flags}, the flags saying
        # whether the move lands in a stage receiving handoffs (_LANDS_RECEIVING) and whether
        # it leaves one (_LEAVES_RECEIVING), where a pending handoff may have to be closed.
        self._fast: dict[str, dict[str, int]] = {
            stage: {event: (_LANDS_RECEIVING if target in receiving else 0)
                    | (_LEAVES_RECEIVING if stage in receiving else 0)
                    for event, target in moves}
            for stage, moves in fast_moves.items()
        }
        self._no_fast: dict[str, dict[str, int]] = {stage: {} for stage in fast_moves}
        self._lost = frozenset(lost)
        self._stalls = tuple(
            (s.name, self._duration(s.stall_after, f"the stall_after of {s.name!r}"),
             s.stall_event)
            for s in funnel.stages if s.stall_after is not None and s.is_open
        )

    def _duration(self, value: str | timedelta | Duration, what: str) -> Duration:
        """A funnel's SLA or ``stall_after``, checked against this pipeline's calendar.

        The funnel checked the length itself when it was built; a business duration must also
        fit in ten years of the calendar's time, known only now.
        """
        duration = parse_duration(value, name=what)
        if duration.business:
            self.calendar.check_span(duration, name=what)
        return duration

    @property
    def funnel(self) -> Funnel:
        """The funnel the pipeline runs (fixed: the pipeline is compiled for it)."""
        return self._funnel

    @property
    def escalations(self) -> dict[tuple[str, str], Escalation]:
        """The escalation of each move named by ``escalations=``, by ``(stage, event)``."""
        return {move: escalation for move, (escalation, _) in self._escalations.items()}

    @property
    def store(self) -> Store:
        """The store the pipeline reads and commits to."""
        return self._store

    @store.setter
    def store(self, store: Store) -> None:
        # A view's store is its base's, joined (the same class): no protocol check per using().
        if not (isinstance(self, _Joined) and type(store) is type(self._base.store)) and (
                not is_store(store)):
            raise InvalidInput(f"store={_short(store)} does not implement funnelkit.stores.Store")
        self._store = store
        self._no_handoff: dict[str, int] = {}  # lead id -> a version known to have no handoff
        self._load = store.load
        # fire's hot path writes a move with ``_commit_move(loaded, lead, transition)``, which
        # says False (having written nothing) on a conflict: the store's own optional
        # ``commit_move`` (see Store), else a Change committed through ``commit``.  _commit
        # writes the rows it delivers at once already claimed, with the store's optional
        # ``commit_claimed``; never in a view joined to a host transaction, whose rows wait for
        # the host's commit.
        move = _shortcut(store, "commit_move")
        self._commit_move: Any = self._commit_change if move is None else move
        self._commit_claimed: Any = (
            None if isinstance(self, _Joined) else _shortcut(store, "commit_claimed"))

    def _commit_change(self, loaded: Lead, lead: Lead, transition: Transition) -> bool:
        self._store.commit(make_change(lead, loaded.version, (transition,), (), (), (),
                                        loaded.owner))
        return True

    def __repr__(self) -> str:
        return f"Pipeline(funnel={self.funnel.name!r}, store={self.store!r})"

    # -- the host's transaction ---------------------------------------------------------------

    def using(self, host: object) -> Pipeline:
        """This pipeline, writing inside a transaction *host* holds; returns a light view.

        *host* is a SQLAlchemy ``Connection`` or ``Session`` (sync) for
        :class:`~funnelkit.stores.SQLAlchemyStore`, a standard library ``sqlite3.Connection``
        to the file of :class:`~funnelkit.stores.SQLiteStore`, or a database alias or
        connection for :class:`~funnelkit.contrib.django.DjangoStore` (inside
        ``transaction.atomic()``).  The view shares this pipeline's funnel, hooks, router,
        calendar and clock (read from it on every call); only its store differs: every change it
        makes is all or nothing inside the host's transaction (a savepoint of it, where the
        database needs one), so it commits, or rolls back, with the host's own rows, and the
        store never commits or rolls back the host's transaction itself.  Rules inside it:

        - **No retries.**  A version conflict raises :class:`~funnelkit.ConcurrencyError` at
          once: roll back and run the whole transaction again (see the integration docs).
        - **After-hooks wait for the commit.**  No outbox row is delivered inside the host's
          transaction.  A ``Session`` (its ``after_commit`` event) and Django
          (``transaction.on_commit``) have this pipeline deliver once they commit; with a
          SQLAlchemy ``Connection`` or a ``sqlite3.Connection``, call :meth:`deliver_pending`
          after the commit.  Rows the host rolls
          back never existed: nothing is delivered for them.
        - **Build the view per transaction**, it is cheap, and configure this pipeline, not the
          view (``register`` on the view registers here).

        Refused, with nothing written: a store that cannot join a transaction
        (``MemoryStore``) or a *host* of the wrong kind or on another database
        (:class:`~funnelkit.InvalidInput`), a transaction that already failed
        (:class:`~funnelkit.HostTransactionError`).

        >>> import tempfile, pathlib
        >>> import sqlalchemy as sa
        >>> from datetime import datetime, timezone
        >>> from funnelkit import templates
        >>> from funnelkit.stores import SQLAlchemyStore
        >>> engine = sa.create_engine(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'app.db'}")
        >>> pipeline = Pipeline(templates.inbound(), store=SQLAlchemyStore(engine))
        >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
        >>> with engine.begin() as conn:  # the host's transaction
        ...     _ = conn.exec_driver_sql("CREATE TABLE companies (slug TEXT PRIMARY KEY)")
        ...     _ = conn.exec_driver_sql("INSERT INTO companies VALUES ('acme')")
        ...     _ = pipeline.using(conn).capture("acme", at=at)
        >>> pipeline.get("acme").stage  # committed with the host's row
        'subscriber'
        >>> from funnelkit.stores import MemoryStore
        >>> Pipeline(templates.inbound(), store=MemoryStore()).using(conn)
        Traceback (most recent call last):
        ...
        funnelkit.InvalidInput: MemoryStore(...) cannot join a transaction of yours: ...
        """
        join = getattr(self._store, "join", None)
        if join is None:
            raise InvalidInput(
                f"{self._store!r} cannot join a transaction of yours: its writes are its own "
                f"transactions; to keep leads in your transaction use SQLAlchemyStore (your "
                f"Connection or Session), SQLiteStore (your sqlite3.Connection to its file) "
                f"or, with Django, DjangoStore")
        return _Joined(self, join(host, deliver_on_commit=self._deliver_committed))

    def _deliver_committed(self) -> None:
        """Deliver what is due, once a host's transaction joined by :meth:`using` committed."""
        self._deliver_after_commit(self._now())

    # -- time ---------------------------------------------------------------------------------

    def _now(self, since: datetime | None = None) -> datetime:
        """The clock's time, read after the lead (or handoff) it applies to was loaded.

        Never before *since* (the loaded lead's last change): a clock behind it (another
        machine's, or one that stepped back) takes the lead's time, so callers that leave
        ``at`` out never refuse each other's moves.
        """
        now = require_aware(self.clock.now(), "clock.now()")
        return since if since is not None and now < since else now

    def _after(self, start: datetime, duration: Duration) -> datetime:
        if duration.business:
            return self.calendar.add(start, duration)
        return start + duration.as_timedelta()

    # -- hooks --------------------------------------------------------------------------------

    def register(self, plugin: _P) -> _P:
        """Register every hook *plugin* implements (see :mod:`funnelkit.hooks`); returns it.

        Refuses, with :class:`~funnelkit.InvalidHook` and registering nothing, an object whose
        hook-like names (``before_``, ``after_``, ``on_``) match no spec or whose hooks take
        arguments the spec does not pass.  After-hooks see the changes committed from now on.

        An after-hook may be ``async def``: it is then delivered only by ``await``
        :meth:`adeliver_pending` (which delivers the plain ones too), and :meth:`deliver_pending`
        refuses to run while it is registered, so its rows are never acknowledged unrun.  A
        before-hook must be a plain ``def`` (it vetoes before the commit, inside the call).
        """
        self._hooks.register(plugin)
        self._update_plain()
        return plugin

    def unregister(self, plugin: object) -> None:
        """Remove every hook *plugin* registered."""
        self._hooks.unregister(plugin)
        self._update_plain()

    def _update_plain(self) -> None:
        impls = self._hooks.impls
        # A move with no before-hook stays on the hot path; an after_transition row is then its
        # only extra, committed claimed and delivered as _commit does (see fire).
        self._hot = self._no_fast if impls["before_transition"] else self._fast
        self._moved_rows = self._writes("after_transition")
        self._async_hooks = tuple(impl for hook in _hooks.AFTER_HOOKS for impl in impls[hook]
                                  if impl.is_async)
        self._after_hooks = any(impls[hook] for hook in _hooks.AFTER_HOOKS)  # see _delivers_now

    def _writes(self, hook: str) -> bool:
        """Whether a change writes outbox rows for *hook*: registered here, or named in outbox=."""
        return bool(self._hooks.impls[hook]) or hook in self._outbox_hooks

    def _message(self, hook: str, key: str, at: datetime, **arguments: Any) -> OutboxMessage:
        # The payload keeps the arguments: encoded only if a store writes it (see LazyPayload).
        # Built from checked values (a spec's name, ids, the move's time): make_message trusts
        # them.
        return make_message(f"{hook}:{key}", hook, _hooks.payload(hook, arguments), at)

    def _moved_message(self, lead_id: str, lead: Lead, transition: Transition,
                       at: datetime) -> OutboxMessage:
        """The ``after_transition`` row of one move of lead *lead_id* (fire's two branches).

        What :meth:`_message` builds, without its keyword arguments: every hooked move makes one.
        """
        return make_message(f"after_transition:{lead_id}:{transition.version}",
                            "after_transition", _hooks.payload(
                                "after_transition", {"lead": lead, "transition": transition}), at)

    def _run_before(self, lead: Lead, transition: Transition) -> None:
        arguments = {"lead": lead, "transition": transition}
        for impl in self._hooks.impls["before_transition"]:
            try:
                result = impl.call(arguments)
                if result is not None and inspect.isawaitable(result):
                    _discard(result)
                    raise InvalidHook(  # noqa: TRY301 - reported as a veto, as any failure
                        f"it returned an awaitable ({type(result).__name__}), which a "
                        f"before-hook cannot be: make it a plain def that returns None")
            except Veto:
                raise
            except Exception as exc:
                raise Veto(
                    f"before_transition hook {type(impl.plugin).__name__}.{impl.name} failed with "
                    f"{exc!r}, so {transition.event!r} was not made for lead {lead.id!r}; fix the "
                    f"hook, or raise funnelkit.Veto to refuse a move on purpose"
                ) from exc

    # -- reading ------------------------------------------------------------------------------

    def get(self, id: str) -> Lead:  # noqa: A002 - the issue names it id
        """The lead *id* as stored (:class:`~funnelkit.NotFound` if there is none)."""
        return self.store.load(id)

    def history(self, id: str) -> list[Transition]:  # noqa: A002
        """The lead's transitions, oldest first."""
        return self.store.history(id)

    def touchpoints(self, id: str) -> list[Touchpoint]:  # noqa: A002
        """The lead's touchpoints, oldest first."""
        return self.store.touchpoints(id)

    def handoff(self, id: str) -> Handoff:  # noqa: A002
        """The handoff *id* (:class:`~funnelkit.NotFound` if there is none)."""
        return self.store.handoff(id)

    def handoffs(
        self,
        *,
        status: HandoffStatus | None = None,
        team: str | None = None,
        assignee: str | None = None,
        lead_id: str | None = None,
    ) -> list[Handoff]:
        """Handoffs matching every filter given (*team* is the receiving team), by due time."""
        return self.store.handoffs(status=status, team=team, assignee=assignee, lead_id=lead_id)

    # -- capture ------------------------------------------------------------------------------

    def capture(
        self,
        id: str,  # noqa: A002
        *,
        attributes: Mapping[str, Any] | None = None,
        source: Source | None = None,
        owner: str | None = None,
        at: datetime | None = None,
        **unexpected: Never,
    ) -> Lead:
        """Store a new lead in the funnel's initial stage.

        :class:`~funnelkit.AlreadyExists` when the id is taken; nothing is written then.  A
        keyword argument it does not take is an :class:`~funnelkit.InvalidInput` naming those
        it does.

        >>> from datetime import datetime, timezone
        >>> from funnelkit import templates
        >>> from funnelkit.stores import MemoryStore
        >>> pipeline = Pipeline(templates.inbound(), store=MemoryStore())
        >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
        >>> pipeline.capture("L1", attributes={"employees": 450}, at=at).stage
        'subscriber'
        """
        if unexpected:
            _refuse_keywords(self.capture, unexpected)
        _check_at(at)
        if at is None:
            at = self._now()
        lead = self.funnel.new_lead(id, at=at, attributes=attributes, source=source, owner=owner)
        self.store.commit(make_change(lead, None, (), (), (), ()))
        return lead

    # -- moving -------------------------------------------------------------------------------

    def _remember_no_handoff(self, lead_id: str, version: int) -> None:
        # Handoff ids are "<lead id>:<version>" and only the commit that makes a version can
        # create that version's handoff, so "no handoff at this version" never becomes false.
        known = self._no_handoff
        if len(known) >= _NO_HANDOFF_MAX:
            known.clear()
        known[lead_id] = version

    def _open_handoff(self, lead: Lead) -> Handoff | None:
        """The lead's pending handoff, the latest if a merge gave it more than one, or None.

        The lead's last move of the funnel made it, usually the move to the current version
        (one lookup by id).  Otherwise, after audit records (an assignment, an escalation, ...),
        which open and close no handoff, or for a handoff a merge moved from its duplicate
        (which keeps its id), the store's pending handoffs of the lead say.
        """
        if lead.stage not in self._receiving or self._no_handoff.get(lead.id) == lead.version:
            return None
        try:
            found = self.store.handoff(handoff_id(lead.id, lead.version))
        except NotFound:
            pending = self.store.handoffs(lead_id=lead.id, status="pending")
            return max(pending, key=lambda h: (h.created_at, h.version), default=None)
        return found if found.status == "pending" else None

    def _context(
        self, lead: Lead, at: datetime, data: Mapping[str, Any] | None,
        touchpoints: Sequence[Touchpoint] | None = None,
    ) -> Context:
        if touchpoints is None:
            touchpoints = self.store.touchpoints(lead.id)
        score = None if self.scoring is None else self.scoring.score(lead, touchpoints, at=at)
        return Context(at, touchpoints=touchpoints, funnel=self.funnel, data=data, score=score)

    def _step(  # noqa: PLR0917 - private, called positionally on the hot path
        self,
        lead: Lead,
        event: str,
        at: datetime,
        actor: str | None,
        reason: str | None,
        context: Context | Mapping[str, Any] | None,
        open_handoff: Handoff | None,
        *,
        make_handoff: bool = True,
    ) -> _Step:
        """Plan one move in memory: pure fire, before-hooks, handoffs and outbox rows."""
        if lead.stage == MERGED_STAGE:  # not the funnel's: name the survivor instead
            raise merged_error(self.store, lead, f"firing {event!r}")
        outcome = self.funnel.fire(lead, event, at=at, actor=actor, reason=reason, context=context)
        if self._hooks.impls["before_transition"]:
            self._run_before(lead, outcome.transition)
        new_lead, transition, team_change = outcome.lead, outcome.transition, outcome.team_change
        handoffs: list[Handoff] = []
        messages: list[OutboxMessage] = []
        if open_handoff is not None:
            # The lead moves while its handoff is pending.  Sent to a lost stage or back to the
            # sending team, the receiving team turned it down: a rejection, with the move's
            # reason.  Moved on anywhere else, the receiving team acted on it: an acceptance.
            target = self.funnel.stage(new_lead.stage)
            if target.outcome == "lost" or target.team == open_handoff.from_team:
                why = turned_down_reason(event, target.name, reason)
                closed = open_handoff.reject(by=actor, reason=why, at=at)
                hook, extra = "after_handoff_rejected", {"reason": why}
                make_handoff = False  # as with reject_handoff: turning it down opens none back
            else:
                closed = open_handoff.accept(by=actor, at=at)
                hook, extra = "after_handoff_accepted", {}
            handoffs.append(closed)
            if self._writes(hook):
                messages.append(self._message(hook, closed.id, at, handoff=closed, **extra))
        created = None
        if team_change is not None and make_handoff and new_lead.stage not in self._lost:
            from_team, to_team = team_change
            assignee = None
            if self.router is not None:
                workload = _Workload(self.store, to_team)
                assignee = self.router.choose(new_lead, team=to_team, workload=workload)
                if assignee is not None:
                    new_lead = new_lead.evolve(owner=assignee)
                    outcome = Fired(new_lead, transition, team_change)
            sla = self._slas.get((lead.stage, event))
            created = Handoff(
                handoff_id(lead.id, transition.version), lead.id, from_team, to_team,
                created_at=at, event=event, version=transition.version, assignee=assignee,
                due_at=None if sla is None else self._after(at, sla),
            )
            handoffs.append(created)
            if self._writes("after_handoff"):
                messages.append(
                    self._message("after_handoff", created.id, at, handoff=created, lead=new_lead))
        if self._moved_rows:
            messages.append(self._moved_message(lead.id, new_lead, transition, at))
        return _Step(outcome, new_lead, handoffs, messages, created)

    def _commit(
        self,
        lead: Lead,
        loaded: Lead,
        at: datetime,
        *,
        transitions: tuple[Transition, ...] = (),
        touchpoints: tuple[Touchpoint, ...] = (),
        handoffs: Iterable[Handoff] = (),
        messages: Sequence[OutboxMessage] = (),
    ) -> None:
        # A handoff created and closed within one call is written once, in its last state.
        # Guarded by the version and the owner *loaded* had: nothing written since is lost.
        written = tuple({h.id: h for h in handoffs}.values()) if handoffs else ()
        change = make_change(lead, loaded.version, transitions, touchpoints, written,
                             tuple(messages), loaded.owner)
        if messages and self._commit_claimed is not None and self._delivers_now():
            # The common case: this process delivers the rows it commits, so they are written
            # claimed by it (no claim transaction) and delivered from the arguments in memory.
            now = max(self._now(), at)
            ids = self._commit_claimed(change, worker=self._worker, until=now + self._lease)
            if ids is not None:
                self._deliver_own(now, ids, messages)
                return
            # None: the store's write joined a transaction of the host's that has not
            # committed (DjangoStore in transaction.atomic()); the rows wait, as after commit.
        else:
            self.store.commit(change)
        if messages:
            self._deliver_after_commit(at)

    def fire(
        self,
        id: str,  # noqa: A002
        event: str,
        *,
        actor: str | None = None,
        reason: str | None = None,
        at: datetime | None = None,
        context: Mapping[str, Any] | None = None,
        **unexpected: Never,
    ) -> Fired:
        """Move lead *id* by *event* and commit it; returns the :class:`~funnelkit.Fired`.

        *context* (a mapping with string keys) reaches the guarding policy as
        ``Context.data``; guarded moves also get the lead's touchpoints and score.  Any other
        keyword argument is refused with :class:`~funnelkit.InvalidInput` (also a
        ``TypeError``) naming the ones there are, so a misspelt ``when=`` never passes for
        data.  Raises what :meth:`Funnel.fire <funnelkit.Funnel.fire>` raises,
        :class:`~funnelkit.Veto` when a before-hook refuses (nothing written), and
        :class:`~funnelkit.ConcurrencyError` when the lead kept changing under it through every
        retry.  Without *at*, the clock is read once the lead is loaded (and again on each
        retry), so concurrent callers never refuse each other for time.

        >>> from datetime import datetime, timezone
        >>> from funnelkit import Decision, templates
        >>> from funnelkit.stores import MemoryStore
        >>> def approved(lead, context):
        ...     if context.data.get("approved") is True:
        ...         return Decision.allow(policy="approved")
        ...     return Decision.deny("not approved yet", policy="approved")
        >>> funnel = templates.inbound(policies={"qualify": approved})
        >>> pipeline = Pipeline(funnel, store=MemoryStore())
        >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
        >>> _ = pipeline.capture("L1", at=at)
        >>> _ = pipeline.fire("L1", "convert", at=at)
        >>> pipeline.fire("L1", "qualify", at=at, context={"approved": True}).lead.stage
        'mql'
        >>> pipeline.fire("L1", "hand_to_sales", when=at)
        Traceback (most recent call last):
        ...
        funnelkit.InvalidInput: Pipeline.fire() got unexpected keyword argument 'when'; it ...
        """
        # The arguments are checked where it costs nothing extra, always before anything is
        # written: the store refuses an id that is not a string, the lookup below an unhashable
        # event, and the pure fire any other event, `at`, `actor` or `reason`.
        if unexpected:
            _refuse_keywords(self.fire, unexpected)
        if context is not None:
            _context_data(context)
        data = context or None
        tries = self._retries
        while True:  # one pass per try: a conflict reloads the lead and plans the move again
            lead = self._load(id)
            # Without `at`, the clock is read after each load (see the docstring).
            when = self._now(lead.updated_at) if at is None else at
            try:
                flags = self._hot[lead.stage][event]
            except KeyError:  # not a hot-path move (or a stage the funnel lacks: _step says so)
                flags = None
            except TypeError:  # an unhashable event
                self._check_call(id, event, when)
                raise
            try:
                if flags is not None and (
                    flags < _LEAVES_RECEIVING or self._no_handoff.get(id) == lead.version
                ):
                    # The hot path: no before-hook, no policy, no handoff to open or to close, so
                    # the move is the pure fire and one guarded write of the lead and its
                    # transition, with its after_transition row when one is written (committed
                    # and delivered as any move's rows: _commit).
                    outcome = self._pure_fire(lead, event, at=when, actor=actor, reason=reason,
                                              context=data)
                    if self._moved_rows:
                        moved, transition = outcome.lead, outcome.transition
                        self._commit(moved, lead, when, transitions=(transition,), messages=(
                            self._moved_message(lead.id, moved, transition, when),))
                    elif not self._commit_move(lead, outcome.lead, outcome.transition):
                        # The stored lead changed meanwhile: commit says how (ConcurrencyError).
                        self._store.commit(make_change(outcome.lead, lead.version,
                                                        (outcome.transition,), (), (), (),
                                                        lead.owner))
                    if flags & _LANDS_RECEIVING:  # in a receiving stage, without a handoff
                        self._remember_no_handoff(id, outcome.lead.version)
                    return outcome
                ctx: Context | Mapping[str, Any] | None = data
                if event in self._guarded.get(lead.stage, ()):
                    ctx = self._context(lead, when, data)
                step = self._step(lead, event, when, actor, reason, ctx, self._open_handoff(lead))
                self._commit(step.lead, lead, when, transitions=(step.outcome.transition,),
                             handoffs=step.handoffs, messages=step.messages)
            except ConcurrencyError:
                if tries <= 0:
                    raise
                tries -= 1
                continue
            if step.created is None:
                self._remember_no_handoff(id, step.lead.version)
            return step.outcome

    @staticmethod
    def _check_call(id: object, event: object, at: object) -> None:  # noqa: A002
        """The checks of :meth:`fire` off its fast path: str subclasses pass, others raise."""
        _check_id(id)
        if not isinstance(event, str):
            raise InvalidInput(f"event={_short(event)} is not a string; give an event name")
        _check_at(at)

    def fire_many(
        self,
        items: Iterable[tuple[str, str] | Mapping[str, Any]],
        *,
        errors: Literal["raise", "collect"] = "raise",
        **unexpected: Never,
    ) -> list[Fired | FunnelError]:
        """Fire a batch: each item is ``(id, event)`` or a mapping of :meth:`fire`'s arguments.

        A mapping has ``id`` and ``event`` and may have ``actor``, ``reason``, ``at`` and
        ``context`` (the policies' data); any other key is refused, as :meth:`fire` refuses
        any other keyword argument, with :class:`~funnelkit.InvalidInput` before anything runs.

        Every item is checked and planned in memory first, in order (one lead may move several
        times), so with ``errors="raise"`` the first refusal is raised before anything is
        written; with ``errors="collect"`` the refusal takes the item's place in the list and the
        batch goes on.  The planned moves are then written in one transaction when the store
        has ``commit_many``, else with one commit per item.  If a lead changed meanwhile (a
        :class:`~funnelkit.ConcurrencyError`), the items not yet written are fired one by one,
        each with :meth:`fire`'s retries.

        >>> from datetime import datetime, timezone
        >>> from funnelkit import templates
        >>> from funnelkit.stores import MemoryStore
        >>> pipeline = Pipeline(templates.inbound(), store=MemoryStore())
        >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
        >>> _ = pipeline.capture("L1", at=at)
        >>> outcomes = pipeline.fire_many([
        ...     ("L1", "convert"),
        ...     {"id": "L1", "event": "qualify", "actor": "sdr-ann", "context": {"q": "Q3"}},
        ... ])
        >>> [o.lead.stage for o in outcomes]
        ['lead', 'mql']
        """
        if unexpected:
            _refuse_keywords(self.fire_many, unexpected)
        if errors not in ("raise", "collect"):
            raise InvalidInput(f"errors={errors!r} must be 'raise' or 'collect'")
        given: object = items  # checked at run time: callers may pass anything
        if not isinstance(given, Iterable) or isinstance(given, str | bytes | Mapping):
            raise InvalidInput(
                f"items={items!r} must be an iterable of (id, event) pairs or mappings of "
                "fire's arguments"
            )
        calls = [self._batch_item(i, raw) for i, raw in enumerate(items)]
        results: list[Fired | FunnelError] = []
        planned: list[tuple[int, Change, _Step]] = []  # (index in results, change, step)
        leads: dict[str, Lead] = {}
        open_handoffs: dict[str, Handoff | None] = {}
        for call in calls:
            lead_id, event, at, actor, reason, data = call
            try:
                if lead_id not in leads:
                    leads[lead_id] = self.store.load(lead_id)
                    open_handoffs[lead_id] = self._open_handoff(leads[lead_id])
                lead = leads[lead_id]
                if at is None:  # after the load, and after this batch's earlier moves of it
                    at = self._now(lead.updated_at)
                ctx: Context | Mapping[str, Any] | None = data
                if event in self._guarded.get(lead.stage, ()):
                    ctx = self._context(lead, at, data)
                step = self._step(lead, event, at, actor, reason, ctx, open_handoffs[lead_id])
            except FunnelError as exc:
                if errors == "raise":
                    raise
                results.append(exc)
                continue
            change = make_change(step.lead, lead.version, (step.outcome.transition,), (),
                                  tuple({h.id: h for h in step.handoffs}.values()),
                                  tuple(step.messages), lead.owner)
            planned.append((len(results), change, step))
            results.append(step.outcome)
            leads[lead_id], open_handoffs[lead_id] = step.lead, step.created
        if not planned:
            return results
        written = self._write_batch([change for _, change, _ in planned])
        for _, change, step in planned[:written]:
            if step.created is None:
                self._remember_no_handoff(change.lead.id, change.lead.version)
        if written < len(planned):
            # A conflict: fire what was not written one by one, on fresh loads.
            first = planned[written][0]
            for index in range(first, len(calls)):
                lead_id, event, at, actor, reason, data = calls[index]
                try:
                    results[index] = self.fire(lead_id, event, actor=actor, reason=reason, at=at,
                                               context=data)
                except FunnelError as exc:
                    if errors == "raise":
                        raise
                    results[index] = exc
        if any(change.outbox for _, change, _ in planned[:written]):
            self._deliver_after_commit(max(change.transitions[0].at for _, change, _ in planned))
        return results

    @staticmethod
    def _batch_item(
        i: int, raw: object
    ) -> tuple[str, str, datetime | None, str | None, str | None, Mapping[str, Any] | None]:
        if isinstance(raw, Mapping):
            call = dict(raw)
            missing = {"id", "event"} - set(call)
            if missing:
                raise InvalidInput(
                    f"fire_many item {i} ({raw!r}) lacks {', '.join(sorted(missing))}"
                )
        elif isinstance(raw, tuple | list) and len(raw) == 2:
            call = {"id": raw[0], "event": raw[1]}
        else:
            raise InvalidInput(
                f"fire_many item {i} ({_short(raw)}) must be an (id, event) pair or a mapping "
                f"with 'id', 'event' and optionally 'actor', 'reason', 'at' and 'context'"
            )
        lead_id, event = call.pop("id"), call.pop("event")
        at, actor, reason = call.pop("at", None), call.pop("actor", None), call.pop("reason", None)
        context = call.pop("context", None)
        try:
            if call:  # keys fire does not take
                _refuse_keywords(Pipeline.fire, call)
            if context is not None:
                _context_data(context)
            Pipeline._check_call(lead_id, event, at)
        except InvalidInput as exc:
            raise InvalidInput(f"fire_many item {i}: {exc}") from None
        return lead_id, event, at, actor, reason, context

    def _write_batch(self, changes: list[Change]) -> int:
        """Write *changes* in order; return how many were written before a conflict."""
        commit_many = getattr(self.store, "commit_many", None)
        if commit_many is not None:
            try:
                commit_many(changes)
            except ConcurrencyError:
                return 0
            return len(changes)
        for written, change in enumerate(changes):
            try:
                self.store.commit(change)
            except ConcurrencyError:
                return written
        return len(changes)

    # -- touchpoints and automatic moves ---------------------------------------------------

    @overload
    def touch(
        self,
        id: str,
        kind: str,
        channel: str,
        *,
        at: datetime | None = None,
        points: float | None = None,
        data: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> tuple[Fired, ...]: ...

    @overload
    def touch(
        self,
        id: str,
        kind: Touchpoint,
        /,
        *,
        context: Mapping[str, Any] | None = None,
    ) -> tuple[Fired, ...]: ...

    def touch(
        self,
        id: str,  # noqa: A002
        kind: str | Touchpoint,
        channel: str | None = None,
        *,
        at: datetime | None = None,
        points: float | None = None,
        data: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        **unexpected: Never,
    ) -> tuple[Fired, ...]:
        """Record a touchpoint of *kind* on *channel*, then fire the ``auto`` moves that now pass.

        The :class:`~funnelkit.Touchpoint` is built here, at *at* or else at the clock's time,
        read once the lead is loaded (as :meth:`fire` reads it), with *points* (overriding what
        a scoring model gives it) and *data*.  A ready :class:`~funnelkit.Touchpoint` may be
        given in place of kind and channel, ``touch(id, touchpoint)``, for a touch recorded
        elsewhere with its own time; it must be for lead *id*, and ``channel``, ``at``,
        ``points`` and ``data`` are then the touchpoint's own.

        The score (when the pipeline has ``scoring``) is computed from the stored touchpoints
        plus this one and reaches the policies as ``Context.score``, *context* as
        ``Context.data``.  Auto moves are tried in the order the funnel defines them, from each
        new stage again, until none applies.  The touchpoint and the moves it caused are one
        commit.  A before-hook veto of an auto move ends the chain there (the touchpoint and
        earlier moves are kept).  Returns the outcomes of the auto moves made.

        >>> from datetime import datetime, timezone
        >>> from funnelkit import templates
        >>> from funnelkit.stores import MemoryStore
        >>> from funnelkit.testing import FrozenClock
        >>> clock = FrozenClock(datetime(2026, 3, 2, 9, tzinfo=timezone.utc))
        >>> pipeline = Pipeline(templates.inbound(), store=MemoryStore(), clock=clock)
        >>> _ = pipeline.capture("L1")
        >>> pipeline.touch("L1", "webinar", "email", points=25)
        ()
        >>> (touch,) = pipeline.touchpoints("L1")
        >>> touch.kind, touch.channel, touch.points, touch.at == clock.now()
        ('webinar', 'email', 25, True)
        """
        if unexpected:
            _refuse_keywords(self.touch, unexpected)
        _check_id(id)
        if isinstance(kind, Touchpoint):
            extra = [name for name, value in (("channel", channel), ("at", at),
                                              ("points", points), ("data", data))
                     if value is not None]
            if extra:
                raise InvalidInput(
                    f"touch(id, touchpoint) keeps the touchpoint's own {', '.join(extra)}; give "
                    f"either a Touchpoint or kind and channel with at=, points= and data=")
            if kind.lead_id != id:
                raise InvalidInput(
                    f"touchpoint is for lead {kind.lead_id!r}, not {id!r}; build it with the "
                    f"lead's id")
            touchpoint, from_clock = kind, False
        else:
            if not isinstance(kind, str):
                raise InvalidInput(
                    f"kind={_short(kind)} must be what happened, a string such as 'webinar' "
                    f"(or a funnelkit.Touchpoint in its place)")
            if channel is None:
                raise InvalidInput(
                    f"touch({id!r}, {kind!r}) needs the channel the touch came through, such "
                    f"as 'email': touch(id, kind, channel)")
            _check_at(at)
            # Built here, so every argument is checked before any work; without at=, the
            # clock's time replaces the placeholder once the lead is loaded.
            touchpoint = Touchpoint(id, kind, channel, MIN_TIME if at is None else at,
                                    points=points, data=data)
            from_clock = at is None
        if context is not None:
            _context_data(context)
        tries = self._retries
        while True:
            lead = self.store.load(id)
            if from_clock:
                touchpoint = attrs.evolve(touchpoint, at=self._now(lead.updated_at))
            try:
                return self._touch(lead, touchpoint, context)
            except ConcurrencyError:
                if tries <= 0:
                    raise
                tries -= 1

    def _touch(
        self, lead: Lead, touchpoint: Touchpoint, data: Mapping[str, Any] | None
    ) -> tuple[Fired, ...]:
        if lead.stage == MERGED_STAGE:
            raise merged_error(self.store, lead, "touching it")
        at = max(touchpoint.at, lead.updated_at)
        stored = self.store.touchpoints(lead.id)
        everything = sorted((*stored, touchpoint), key=lambda tp: tp.at)
        steps = self._auto_steps(lead, at, everything, data)
        final = steps[-1].lead if steps else lead
        self._commit(
            final, lead, at,
            transitions=tuple(s.outcome.transition for s in steps),
            touchpoints=(touchpoint,),
            handoffs=[h for s in steps for h in s.handoffs],
            messages=[m for s in steps for m in s.messages],
        )
        return tuple(s.outcome for s in steps)

    def _auto_steps(
        self, lead: Lead, at: datetime, touchpoints: Sequence[Touchpoint],
        data: Mapping[str, Any] | None,
    ) -> list[_Step]:
        steps: list[_Step] = []
        current = lead
        open_handoff = self._open_handoff(lead)
        for _ in range(len(self.funnel.stages)):  # a cycle of auto moves ends after one lap
            events = self._auto.get(current.stage)
            if not events:
                break
            context = self._context(current, at, data, touchpoints)
            for event in events:
                try:
                    step = self._step(current, event, at, AUTO_ACTOR, None, context, open_handoff)
                except PolicyRefused:
                    continue
                except Veto as veto:
                    log.info("auto move %r of lead %r vetoed: %s", event, current.id, veto.reason)
                    return steps
                steps.append(step)
                current, open_handoff = step.lead, step.created
                break
            else:
                break
        return steps

    def evaluate(
        self,
        id: str,  # noqa: A002
        *,
        at: datetime | None = None,
        context: Mapping[str, Any] | None = None,
        **unexpected: Never,
    ) -> tuple[Fired, ...]:
        """Fire the ``auto`` moves whose policy passes now, as :meth:`touch` does (no touchpoint).

        Useful after attributes changed or when policies depend on time; *context* reaches
        the policies as ``Context.data``.  Returns the outcomes of the moves made.

        >>> from datetime import datetime, timezone
        >>> from funnelkit import templates
        >>> from funnelkit.stores import MemoryStore
        >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
        >>> funnel = templates.inbound(policies={"qualify": "employees >= 200"})
        >>> pipeline = Pipeline(funnel, store=MemoryStore())
        >>> _ = pipeline.capture("L1", attributes={"employees": 450}, at=at)
        >>> _ = pipeline.fire("L1", "convert", at=at)
        >>> [o.lead.stage for o in pipeline.evaluate("L1", at=at)]
        ['mql']
        """
        if unexpected:
            _refuse_keywords(self.evaluate, unexpected)
        _check_id(id)
        _check_at(at)
        if context is not None:
            _context_data(context)
        tries = self._retries
        while True:
            lead = self.store.load(id)
            when = self._now(lead.updated_at) if at is None else at
            if when < lead.updated_at:
                raise InvalidInput(
                    f"at={when.isoformat()} is before lead {lead.id!r}'s last change "
                    f"({lead.updated_at.isoformat()}); a lead's moves happen in time order")
            steps = self._auto_steps(lead, when, self.store.touchpoints(id), context)
            if not steps:
                return ()
            try:
                self._commit(
                    steps[-1].lead, lead, when,
                    transitions=tuple(s.outcome.transition for s in steps),
                    handoffs=[h for s in steps for h in s.handoffs],
                    messages=[m for s in steps for m in s.messages],
                )
            except ConcurrencyError:
                if tries <= 0:
                    raise
                tries -= 1
                continue
            return tuple(s.outcome for s in steps)

    # -- owners and handoffs ----------------------------------------------------------------

    def assign(
        self,
        id: str,  # noqa: A002
        owner: str,
        *,
        by: str | None = None,
        reason: str | None = None,
        at: datetime | None = None,
    ) -> Lead:
        """Make *owner* the lead's owner (and its pending handoff's assignee, if it has one).

        The change is recorded in the lead's history as a ``funnelkit.assign`` record by *by*
        at *at* (the clock's time, read after the load, by default), its reason naming the old
        and the new owner, then *reason* when given (``"owner 'ann' -> 'bob': territory
        change"``); like every change the pipeline makes it adds one to the lead's version, so
        it is guarded as moves are and retried on a fresh load (up to ``retries`` times) when
        the lead changed meanwhile.  Returns the lead as assigned.

        >>> from datetime import datetime, timezone
        >>> from funnelkit import templates
        >>> from funnelkit.stores import MemoryStore
        >>> pipeline = Pipeline(templates.inbound(), store=MemoryStore())
        >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
        >>> _ = pipeline.capture("L1", owner="ann", at=at)
        >>> pipeline.assign("L1", "bob", by="kim", reason="territory change", at=at).version
        1
        >>> record = pipeline.history("L1")[-1]
        >>> record.event, record.actor, record.reason
        ('funnelkit.assign', 'kim', "owner 'ann' -> 'bob': territory change")
        """
        _check_id(id)
        check_name(owner, "owner")
        check_name(by, "by", optional=True)
        reason = check_reason(reason, "assign")
        _check_at(at)
        tries = self._retries
        while True:
            lead = self.store.load(id)
            if lead.stage == MERGED_STAGE:
                raise merged_error(self.store, lead, f"assigning it to {owner!r}")
            when = self._now(lead.updated_at) if at is None else at
            new_lead, record = audit_record(
                lead, ASSIGN_EVENT, when, actor=by, owner=owner,
                reason=with_reason(f"owner {who(lead.owner)} -> {who(owner)}", reason))
            open_handoff = self._open_handoff(lead)
            handoffs = () if open_handoff is None else (
                attrs.evolve(open_handoff, assignee=owner),)
            try:
                self._commit(new_lead, lead, when, transitions=(record,), handoffs=handoffs)
            except ConcurrencyError:  # moved or reassigned meanwhile: assign the new state
                if tries <= 0:
                    raise
                tries -= 1
                continue
            if open_handoff is None:
                self._remember_no_handoff(id, new_lead.version)
            return new_lead

    def _pending(self, handoff_id_: str) -> tuple[Handoff, Lead]:
        # The lead first, then the handoff again: a change to either after the lead's load (an
        # assignment also sets the handoff's assignee) fails the commit's owner or version guard.
        lead = self.store.load(self.store.handoff(handoff_id_).lead_id)
        handoff = self.store.handoff(handoff_id_)
        if handoff.status != "pending":
            raise HandoffClosed(
                f"handoff {handoff.id!r} is {handoff.status} already; only a pending handoff can "
                f"be accepted or rejected"
            )
        return handoff, lead

    def accept_handoff(
        self,
        id: str,  # noqa: A002
        *,
        by: str,
        reason: str | None = None,
        at: datetime | None = None,
    ) -> Handoff:
        """Accept the pending handoff *id*: *by* takes the lead (and becomes its owner).

        Recorded in the lead's history as a ``funnelkit.accept`` record by *by* at *at*, its
        reason naming the handoff and the owners, then *reason* when given; the lead's version
        goes up by one.  Raises :class:`~funnelkit.HandoffClosed` when the handoff is no longer
        pending, :class:`~funnelkit.InvalidInput` for an *at* before the lead's last change, and
        :class:`~funnelkit.ConcurrencyError` when its lead changed meanwhile (load the handoff
        again and decide again).

        >>> from datetime import datetime, timezone
        >>> from funnelkit import templates
        >>> from funnelkit.stores import MemoryStore
        >>> pipeline = Pipeline(templates.inbound(), store=MemoryStore())
        >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
        >>> _ = pipeline.capture("L1", at=at)
        >>> for event in ("convert", "qualify", "hand_to_sales"):
        ...     _ = pipeline.fire("L1", event, at=at)
        >>> pipeline.accept_handoff("L1:3", by="ann", at=at).status
        'accepted'
        >>> pipeline.history("L1")[-1].reason
        "accepted handoff 'L1:3' from 'marketing' to 'sales'; owner nobody -> 'ann'"
        """
        _check_id(id, limit=MAX_KEY_LENGTH)
        check_name(by, "by")
        reason = check_reason(reason, "accept_handoff")
        _check_at(at)
        handoff, lead = self._pending(id)
        if at is None:
            at = self._now(max(handoff.created_at, lead.updated_at))
        accepted = handoff.accept(by=by, at=at)
        new_lead, record = audit_record(
            lead, ACCEPT_EVENT, at, actor=by, owner=by, reason=with_reason(
                f"accepted handoff '{handoff.id}' from {who(handoff.from_team)} to "
                f"{who(handoff.to_team)}; owner {who(lead.owner)} -> {who(by)}", reason))
        messages = []
        if self._writes("after_handoff_accepted"):
            messages.append(self._message("after_handoff_accepted", accepted.id, at,
                                          handoff=accepted))
        try:
            self._commit(new_lead, lead, at, transitions=(record,), handoffs=(accepted,),
                         messages=messages)
        except ConcurrencyError:
            self._pending(id)  # raises HandoffClosed if someone else closed it first
            raise
        self._remember_no_handoff(lead.id, new_lead.version)
        return accepted

    def _recycle_event(self, stage: str, recycle_to: str) -> str:
        self.funnel.stage(recycle_to)
        for move in self.funnel.moves_from(stage):
            if move.target == recycle_to:
                return move.event
        raise InvalidInput(
            f"funnel {self.funnel.name!r} has no move from {stage!r} to {recycle_to!r}, so a lead "
            f"rejected there cannot be recycled to it; add such a move or pass another recycle_to "
            f"(moves from {stage!r} go to "
            f"{', '.join(sorted({m.target for m in self.funnel.moves_from(stage)})) or 'nowhere'})"
        )

    def reject_handoff(
        self,
        id: str,  # noqa: A002
        *,
        by: str,
        reason: str,
        recycle_to: str = "nurture",
        at: datetime | None = None,
    ) -> Handoff:
        """Reject the pending handoff *id*, saying why: the lead moves to *recycle_to*.

        The move is the funnel's move from the lead's stage to *recycle_to*, made by *by* with
        *reason* on its transition (the feedback from sales to marketing), in the same commit
        as the rejection, which the history records just before it as a ``funnelkit.reject``
        record by *by* with *reason*; it opens no new handoff.  So the lead's version goes up
        by two.  :class:`~funnelkit.ReasonRequired` without
        a reason, :class:`~funnelkit.InvalidInput` when the funnel has no such move,
        :class:`~funnelkit.HandoffClosed` when the handoff is no longer pending and
        :class:`~funnelkit.ConcurrencyError` when its lead moved or was reassigned meanwhile.
        """
        _check_id(id, limit=MAX_KEY_LENGTH)
        check_name(by, "by")
        given: object = reason
        if not isinstance(given, str) or not given.strip():
            raise ReasonRequired(
                f"rejecting handoff {_short(id)} needs reason='...': say why the lead goes back "
                f"(it is recorded on the transition, the feedback the sending team learns from)"
            )
        check_text(reason, "reason")
        self.funnel.stage(recycle_to)  # InvalidInput or NotFound before any work
        _check_at(at)
        handoff, lead = self._pending(id)
        if at is None:
            at = self._now(max(handoff.created_at, lead.updated_at))
        event = self._recycle_event(lead.stage, recycle_to)
        rejected = handoff.reject(by=by, reason=reason, at=at)
        marked, record = audit_record(lead, REJECT_EVENT, at, actor=by, reason=reason)
        context: Context | None = None
        if event in self._guarded.get(lead.stage, ()):
            context = self._context(marked, at, None)
        step = self._step(marked, event, at, by, reason, context, None, make_handoff=False)
        messages = list(step.messages)
        if self._writes("after_handoff_rejected"):
            messages.append(self._message("after_handoff_rejected", rejected.id, at,
                                          handoff=rejected, reason=reason))
        try:
            self._commit(step.lead, lead, at, transitions=(record, step.outcome.transition),
                         handoffs=(rejected,), messages=messages)
        except ConcurrencyError:
            self._pending(id)
            raise
        return rejected

    # -- sweeping -----------------------------------------------------------------------------

    def sweep(self, now: datetime | None = None) -> SweepReport:
        """Expire or escalate breached handoffs, handle stalled leads, deliver; idempotent.

        A pending handoff past its due time becomes ``expired`` and ``after_sla_breach`` is called
        for it, once, unless its move has an :class:`~funnelkit.Escalation` (``escalations=``)
        and it was escalated fewer than ``max_level`` times: then it is escalated (reassigned by
        the escalation's router, due again, ``after_sla_breach`` called with the new level when
        the escalation notifies) and stays pending.  A lead longer than its stage's
        ``stall_after`` in that stage is stalled: ``after_stalled`` is called once per stay, and
        when the stage has a ``stall_event`` the lead is moved by it (reason: stalled).  Stalled
        leads are only looked for when ``after_stalled`` is registered or the stage has a
        ``stall_event``.  Each expiry, escalation and stall reported without a stall move is
        recorded in the lead's history (``funnelkit.expire``, ``funnelkit.escalate``,
        ``funnelkit.stall``, by ``funnelkit.sweep``).  A lead changed after *now* is left to
        the next sweep.  A second sweep at the same time does nothing.  With an ``async def``
        after-hook registered the rows are left for ``await`` :meth:`adeliver_pending` (the
        report's ``delivery`` is then empty).
        """
        now = self._now() if now is None else require_aware(now, "now")
        expired: list[Handoff] = []
        escalated: list[Handoff] = []
        for due in self.store.handoffs(status="pending", due_before=now):
            try:
                breached = self._breach(due, now)
            except (ConcurrencyError, HandoffClosed, NotFound):
                continue  # resolved meanwhile: the next sweep sees its new state
            if breached is not None:
                (expired if breached.status == "expired" else escalated).append(breached)
        stalled: list[str] = []
        moved: list[Fired] = []
        watching = self._writes("after_stalled")
        for stage, limit, stall_event in self._stalls:
            if not watching and stall_event is None:
                continue
            for lead in list(self.store.leads(stage=stage)):  # commits follow: read first
                since = lead.stage_entered_at
                if lead.updated_at > now or not now > self._after(since, limit):
                    continue  # changed after this sweep's time (the next one looks again)
                first, outcome = self._stall(lead, stage, since, stall_event, now,
                                             watching=watching)
                if first:
                    stalled.append(lead.id)
                if outcome is not None:
                    moved.append(outcome)
        # With an async def after-hook only adeliver_pending can deliver: the rows wait for it.
        delivery = Delivery() if self._async_hooks else self.deliver_pending(now=now)
        return SweepReport(tuple(expired), tuple(stalled), tuple(moved), delivery,
                           escalated=tuple(escalated))

    def _escalation_of(
        self, handoff: Handoff, history: Sequence[Transition]
    ) -> tuple[Escalation, Duration] | None:
        """The escalation of the move that created *handoff*, and that move's SLA (or None)."""
        made = next((t for t in reversed(history)
                     if t.version == handoff.version and t.event == handoff.event), None)
        if made is not None:
            return self._escalations.get((made.source, handoff.event))
        # Not in this lead's history (a handoff a merge moved here): the move by its event and
        # teams.
        for (stage, event), found in self._escalations.items():
            if event == handoff.event and self.funnel.stage(stage).team == handoff.from_team:
                return found
        return None

    def _breach(self, due: Handoff, now: datetime) -> Handoff | None:
        """Expire or escalate the breached handoff *due*, in one commit; the handoff as written.

        None when there is nothing to do at *now* (resolved or changed meanwhile).
        """
        lead = self.store.load(due.lead_id)
        handoff = self.store.handoff(due.id)  # again, after the lead: see _pending
        if not handoff.is_overdue(now) or lead.updated_at > now:
            return None  # resolved, escalated, or its lead changed after this sweep's time
        level, found = 0, None
        if self._escalations:
            history = self.store.history(lead.id)
            found = self._escalation_of(handoff, history)
            level = escalation_level(history, handoff.id)
        due_text = "no due time" if handoff.due_at is None else f"due {handoff.due_at.isoformat()}"
        breach = f"{breach_prefix(handoff.id)}: {due_text}, still pending"
        if found is None or level >= found[0].max_level:
            closed = handoff.expire(at=now)
            of = "" if found is None else f" at escalation level {level} of {found[0].max_level}"
            new_lead, record = audit_record(lead, EXPIRE_EVENT, now, actor=SWEEP_ACTOR,
                                            reason=f"{breach}; expired{of}")
            messages = []
            if self._writes("after_sla_breach"):
                messages.append(self._message("after_sla_breach", closed.id, now, handoff=closed,
                                              level=level))
            self.store.commit(make_change(new_lead, lead.version, (record,), (), (closed,),
                                           tuple(messages), lead.owner))
            self._remember_no_handoff(lead.id, new_lead.version)
            return closed
        escalation, move_sla = found
        assignee = handoff.assignee
        if escalation.router is not None:
            team = handoff.to_team
            chosen = escalation.router.choose(lead, team=team, workload=_Workload(self.store, team))
            if chosen is not None:
                assignee = chosen
        due_at = self._after(now, escalation.sla if escalation.sla is not None else move_sla)
        raised = attrs.evolve(handoff, assignee=assignee, due_at=due_at)
        level += 1
        new_lead, record = audit_record(
            lead, ESCALATE_EVENT, now, actor=SWEEP_ACTOR,
            owner=lead.owner if assignee == handoff.assignee else assignee,
            reason=(f"{breach}; escalated to level {level} of {escalation.max_level}, assignee "
                    f"{who(handoff.assignee)} -> {who(assignee)}, due {due_at.isoformat()}"))
        messages = []
        if escalation.notify and self._writes("after_sla_breach"):
            key = handoff_id(lead.id, record.version)  # unique: no handoff has this version
            messages.append(self._message("after_sla_breach", key, now, handoff=raised,
                                          level=level))
        self.store.commit(make_change(new_lead, lead.version, (record,), (), (raised,),
                                       tuple(messages), lead.owner))
        return raised

    def _stall(
        self, lead: Lead, stage: str, since: datetime, stall_event: str | None, now: datetime,
        *, watching: bool,
    ) -> tuple[bool, Fired | None]:
        """Handle one stalled lead: (reported for the first time?, the stall move's outcome).

        Reported once per stay: the first report without a stall move is a ``funnelkit.stall``
        record in the history, which later sweeps find (a stall move is its own record).
        """
        reported = watching and stall_reported(self.store.history(lead.id), stage)
        messages = []
        if watching and not reported:
            messages.append(self._message("after_stalled", f"{lead.id}:{lead.version}", now,
                                          lead=lead, stage=stage, since=since))
        step = None
        reason = f"stalled in {stage!r} since {since.isoformat()}"
        if stall_event is not None:
            try:
                context = None
                if stall_event in self._guarded.get(stage, ()):
                    context = self._context(lead, now, None)
                step = self._step(lead, stall_event, now, SWEEP_ACTOR, reason, context,
                                  self._open_handoff(lead))
            except (PolicyRefused, Veto) as exc:
                log.info("stall move %r of lead %r not made: %s", stall_event, lead.id, exc)
                reason += f"; the stall move {stall_event!r} was refused"
        first = bool(messages)
        while True:
            if step is None and (reported or not watching):
                return False, None
            try:
                if step is None:
                    marked, record = audit_record(lead, STALL_EVENT, now, actor=SWEEP_ACTOR,
                                                  reason=reason)
                    self.store.commit(make_change(marked, lead.version, (record,), (), (),
                                                   tuple(messages), lead.owner))
                else:
                    self._commit(step.lead, lead, now,
                                 transitions=(step.outcome.transition,),
                                 handoffs=step.handoffs, messages=[*messages, *step.messages])
            except AlreadyExists:
                if not messages:
                    raise  # pragma: no cover - only after_stalled keys can be taken here
                # after_stalled for this stay was written by an earlier sweep (whose stall move
                # was refused): report nothing new, but try the move again.
                messages, first = [], False
                continue
            except ConcurrencyError:
                return False, None  # the lead moved meanwhile: the next sweep looks again
            return first or step is not None, None if step is None else step.outcome

    # -- the outbox ---------------------------------------------------------------------------

    def _delivers_now(self) -> bool:
        """Whether a commit with outbox rows is followed by their delivery, in this call."""
        if self in _DELIVERING.get():  # by identity: a Pipeline is equal to itself only
            # A hook fired a move: its rows wait for the next delivery of this pipeline.
            self._rows_left = True
            return False
        if not self._after_hooks:
            return False  # rows named by outbox= wait for a process that implements their hooks
        # A synchronous call cannot await async hooks: await adeliver_pending() delivers.
        return not self._async_hooks

    def _deliver_after_commit(self, at: datetime) -> None:
        if self._delivers_now():
            self.deliver_pending(now=max(self._now(), at))

    # -- merging duplicates -------------------------------------------------------------------

    def merge(
        self,
        survivor_id: str,
        duplicate_id: str,
        *,
        actor: str,
        reason: str,
        at: datetime | None = None,
        stage: str | None = None,
        merge_policy: MergePolicy | None = None,
    ) -> MergeRecord:
        """Merge lead *duplicate_id* into lead *survivor_id*, in one commit; returns the record.

        The survivor keeps its id and takes the duplicate's attributes by *merge_policy*
        (:class:`funnelkit.dedupe.MergePolicy`; default: the survivor's values win, the
        duplicate's fill the gaps), its owner and source when it has none, every touchpoint
        and every pending handoff.  It keeps the furthest stage along the funnel of the two
        (won, then the main path, then other open stages, then lost), or *stage*; moving there
        is a move (event ``funnelkit.merge``, *actor*, *reason*) in its history.  The
        duplicate keeps its transitions and moves to the closed stage ``funnelkit.merged`` by
        the same event; the store keeps a :class:`~funnelkit.stores.MergeRecord` pointing at
        the survivor.  ``before_merge`` hooks may veto; ``after_merge`` is delivered from the
        outbox.  Both leads are guarded by their versions and owners: a concurrent change of
        either raises :class:`~funnelkit.ConcurrencyError` with nothing written (a merge is
        not retried: load, look again, decide again).

        Refused, with nothing written: the same id twice or a lead of another funnel
        (:class:`~funnelkit.MergeRefused`), an unknown id (:class:`~funnelkit.NotFound`), a
        lead merged already (:class:`~funnelkit.LeadMerged`, naming its survivor), no reason
        (:class:`~funnelkit.ReasonRequired`), bad arguments (:class:`~funnelkit.InvalidInput`).

        >>> from datetime import datetime, timezone
        >>> from funnelkit import templates
        >>> from funnelkit.stores import MemoryStore
        >>> pipeline = Pipeline(templates.inbound(), store=MemoryStore())
        >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
        >>> _ = pipeline.capture("L1", attributes={"name": "Jane"}, at=at)
        >>> _ = pipeline.capture("L2", attributes={"phone": "+14155550123"}, at=at)
        >>> _ = pipeline.fire("L2", "convert", at=at)
        >>> record = pipeline.merge("L1", "L2", actor="ana", reason="same person", at=at)
        >>> survivor = pipeline.get("L1")
        >>> survivor.stage, dict(survivor.attributes)
        ('lead', {'name': 'Jane', 'phone': '+14155550123'})
        >>> pipeline.get("L2").stage, record.survivor_id
        ('funnelkit.merged', 'L1')
        """
        return _merge(self, survivor_id, duplicate_id, actor=actor, reason=reason, at=at,
                      stage=stage, merge_policy=merge_policy)

    def unmerge(
        self, duplicate_id: str, *, actor: str, reason: str, at: datetime | None = None,
    ) -> MergeRecord:
        """Undo the merge of *duplicate_id*, in one commit; returns the record, now undone.

        The duplicate moves back to its stage (event ``funnelkit.unmerge``), its touchpoints
        and its handoffs still pending go back to it, and the survivor gets back the stage,
        attributes, owner and source the merge changed.  Refused with
        :class:`~funnelkit.UnmergeConflict` (every problem listed, nothing written) when that
        would be a guess: the merge moved the survivor and it has moved since, an attribute
        (or the owner, or the source) the merge set has changed since, or the survivor was
        merged into another lead since (unmerge that first).  What the survivor did since
        otherwise stays: its moves, its new touchpoints, handoffs closed since.
        :class:`~funnelkit.MergeRefused` for a lead that is not merged.

        >>> from datetime import datetime, timezone
        >>> from funnelkit import templates
        >>> from funnelkit.stores import MemoryStore
        >>> pipeline = Pipeline(templates.inbound(), store=MemoryStore())
        >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
        >>> _ = pipeline.capture("L1", at=at)
        >>> _ = pipeline.capture("L2", attributes={"phone": "+14155550123"}, at=at)
        >>> _ = pipeline.merge("L1", "L2", actor="ana", reason="same person", at=at)
        >>> record = pipeline.unmerge("L2", actor="ana", reason="two people after all", at=at)
        >>> record.active, pipeline.get("L2").stage, dict(pipeline.get("L1").attributes)
        (False, 'subscriber', {})
        """
        return _unmerge(self, duplicate_id, actor=actor, reason=reason, at=at)

    def verify_history(self, store: Store | None = None) -> ReplayReport:
        """Rebuild every lead from its transitions and report any whose stored state differs.

        Replays *store* (this pipeline's own by default) under this pipeline's funnel: a lead
        with no transitions must be new (initial stage, version 0); every other lead's stored
        stage and version must equal the replay of its history, which must follow the funnel's
        moves without gaps.  Nothing is changed.  (:meth:`Funnel.replay
        <funnelkit.Funnel.replay>` is the pure rebuild of given transitions this runs per lead.)

        >>> from datetime import datetime, timezone
        >>> from funnelkit import templates
        >>> from funnelkit.stores import MemoryStore
        >>> pipeline = Pipeline(templates.inbound(), store=MemoryStore())
        >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
        >>> _ = pipeline.capture("L1", at=at)
        >>> _ = pipeline.fire("L1", "convert", at=at)
        >>> report = pipeline.verify_history()
        >>> report.ok, report.leads, report.transitions
        (True, 1, 1)
        """
        if store is not None and not is_store(store):
            raise InvalidInput(f"store={store!r} does not implement funnelkit.stores.Store")
        return replay_store(self.funnel, self.store if store is None else store)

    def replay(self, store: Store | None = None) -> ReplayReport:
        """Deprecated: the old name of :meth:`verify_history`, removed in the next release.

        ``replay`` is the funnel's pure rebuild (:meth:`Funnel.replay <funnelkit.Funnel.replay>`
        gives :class:`~funnelkit.Replayed` leads); checking a store gives a report, under its own
        name.  Warns, then calls :meth:`verify_history`.
        """
        warn_renamed("Pipeline.replay", "Pipeline.verify_history")
        return self.verify_history(store)

    def deliver_pending(self, *, now: datetime | None = None, limit: int = 100) -> Delivery:
        """Deliver every due outbox row to the registered after-hooks; returns the counts.

        Each row is claimed (one attempt recorded), its hook's implementations are called in
        registration order, and the row is acknowledged.  When one raises, the row is released
        with the error and tried again after a backoff that doubles per attempt up to
        ``max_backoff``; it is never dropped.  A row whose hook has no implementation now waits
        the same way for one to be registered.  Implementations may be called again for a row
        that failed part-way: dedupe on ``key``.

        Implementations are called in this thread.  While an ``async def`` after-hook is
        registered it claims nothing and raises :class:`~funnelkit.InvalidHook` naming it:
        ``await`` :meth:`adeliver_pending` delivers every hook then, so no row of an async hook
        is ever acknowledged without its coroutine having run.
        """
        delivery = self._delivery(now, limit)
        if self._async_hooks:
            delivery.close()
            names = ", ".join(impl.where for impl in self._async_hooks)
            raise InvalidHook(
                f"{names} {'is' if len(self._async_hooks) == 1 else 'are'} async def, which "
                f"deliver_pending() cannot await; deliver with `await "
                f"pipeline.adeliver_pending()` from the event loop, which delivers the plain "
                f"hooks too (no row was claimed)")
        return Delivery(*self._drive(delivery))

    async def adeliver_pending(
        self, *, now: datetime | None = None, limit: int = 100
    ) -> Delivery:
        """Deliver every due outbox row as :meth:`deliver_pending` does, awaiting async hooks.

        The delivery for asyncio hosts: ``async def`` after-hook implementations are awaited
        on the running event loop, in registration order with the plain ones; the store calls
        (claim, acknowledge, retry) and plain implementations run in a worker thread
        (``asyncio.to_thread``), so the loop never waits on the database.  A row is
        acknowledged only once every implementation of its hook has returned (a coroutine
        having run to its end); one that raises releases the row for a retry after a backoff,
        as with :meth:`deliver_pending`.  A cancelled delivery leaves its row claimed until
        the lease runs out, and then delivers it again: dedupe on ``key``.

        >>> import asyncio
        >>> from datetime import datetime, timezone
        >>> from funnelkit import templates
        >>> from funnelkit.stores import MemoryStore
        >>> class Crm:
        ...     def __init__(self):
        ...         self.moves = []
        ...     async def after_transition(self, transition):
        ...         await asyncio.sleep(0)  # an HTTP call to the CRM, say
        ...         self.moves.append(transition.event)
        >>> pipeline = Pipeline(templates.inbound(), store=MemoryStore())
        >>> crm = pipeline.register(Crm())
        >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
        >>> _ = pipeline.capture("L1", at=at)
        >>> _ = pipeline.fire("L1", "convert", at=at)  # the row waits: fire cannot await
        >>> asyncio.run(pipeline.adeliver_pending(now=at))
        Delivery(delivered=1, failed=0)
        >>> crm.moves
        ['convert']
        """
        return Delivery(*await self._adrive(self._delivery(now, limit)))

    def _delivery(self, now: datetime | None, limit: int) -> _Loop:
        """Check a delivery's arguments (now, before any work) and return its loop, unstarted."""
        now = self._now() if now is None else require_aware(now, "now")
        check_count(limit, "limit", minimum=1, limit=MAX_VERSION)
        return self._delivery_loop(now, limit)

    def _delivery_loop(
        self, now: datetime, limit: int, own_ids: Sequence[int] = (),
        own: Sequence[OutboxMessage] = (), ran: _Ran | None = None,
    ) -> _Loop:
        """The one outbox delivery loop: claim, call the hooks, acknowledge or retry.

        It makes no call that does I/O itself.  It yields each store call to its driver as
        ``(call, None)`` and is sent the result back (or has the call's exception thrown in);
        and it yields the deliveries of consecutive rows as one list of ``(hook
        implementations, arguments, acknowledge, row id)``: the driver calls each
        implementation with the arguments, then ``acknowledge(row id)``, row after row, stops
        at the first call that raises and sends back ``(rows delivered, index of the failed
        call in the next row, exception)`` (the acknowledgement's index is the number of
        implementations; the exception is None when every row was delivered), so every row
        that succeeds costs no round trip of its own.  The two drivers differ only in how they
        make a call: :meth:`_drive` calls it, :meth:`_adrive` awaits an async hook and runs the
        rest in a worker thread.  It returns ``(delivered, failed)``.

        *own_ids* and *own* (row ids and their messages) are rows this pipeline has just
        committed already claimed for itself (``commit_claimed``): they are delivered first
        (nothing claimed), and only then, if this pipeline knows it left rows behind (a hook's
        move, a failed row now due), are rows claimed.  Without them it claims until no due row
        is left.  A payload made in this process (a :class:`LazyPayload`, as a ``MemoryStore``
        keeps it) gives the hooks its arguments, nothing decoded; a row read from a database is
        decoded.  A delivery that acknowledged a row purges the rows older than
        ``outbox_retention`` (when set) once per retention period.

        *ran* is the own rows' deliveries as :meth:`_plan_rows` planned them and what the driver
        sent back for them, when :meth:`_deliver_own` made them itself: the loop goes on from
        there, as if it had yielded them.
        """
        delivered = failed = 0
        worker, store = self._worker, self._store
        ids: Sequence[int] = own_ids
        items: Sequence[OutboxMessage | OutboxRow] = own  # the rows to deliver, by index
        ack: Callable[[int], Any]
        sent: tuple[int, int, Exception | None] | None = None  # for the own rows, if ran
        if ran is None:
            ack = functools.partial(store.ack_outbox, worker=worker, at=now)
        else:
            deliveries, sent = ran
            ack = deliveries[0][2]
        retry_times = self._retry_times
        # Decided before any hook runs (a hook's move leaves rows to the next delivery); with
        # *ran* the hooks ran already, and _deliver_own found nothing left behind before them.
        claiming = not own or (ran is None and self._left_behind(now))
        rows: list[OutboxRow] = []
        claimed = False  # whether the rows delivered were claimed here (else the own rows)
        while True:
            if sent is None:  # (with *ran*, the own rows come planned and delivered)
                deliveries = self._plan_rows(ids, items, ack)
            index, count = 0, len(deliveries)
            while index < count:
                row_impls, error, _, row_id = deliveries[index]
                if row_impls:  # deliver it and the deliverable rows after it, in one round trip
                    end = index + 1
                    while end < count and deliveries[end][0]:
                        end += 1
                    done, at_call, raised = sent if sent is not None else (yield (
                        deliveries if index == 0 and end == count else deliveries[index:end]))
                    sent = None
                    delivered += done
                    index += done
                    if raised is None:
                        continue
                    row_impls, _, _, row_id = deliveries[index]
                    attempts = rows[index].attempts if claimed else 1
                    if at_call == len(row_impls):  # the acknowledgement
                        index += 1
                        if not isinstance(raised, ConcurrencyError):
                            raise raised
                        failed += 1  # our lease ran out and another worker holds the row
                        continue
                    error = f"{row_impls[at_call].where} raised {raised!r}"
                    log.warning("after-hook delivery of %s failed (attempt %d): %s",
                                items[index].key, attempts, error)
                else:
                    attempts = rows[index].attempts if claimed else 1
                index += 1
                factor = 2 ** min(max(attempts - 1, 0), 20)
                # min(backoff * factor, max_backoff), without a product that could overflow
                delay = (self._max_backoff if self._backoff >= self._max_backoff / factor
                         else self._backoff * factor)
                try:
                    yield functools.partial(store.retry_outbox, row_id, worker=worker,
                                            error=_error_text(error), retry_at=now + delay), None
                    heapq.heappush(retry_times, now + delay)  # due again then: see claiming
                except ConcurrencyError:
                    pass  # our lease ran out and another worker holds the row: it delivers it
                failed += 1
            if not claimed and not claiming:
                break  # own rows only: every other row is left to deliver_pending
            if claimed and len(rows) < limit:
                break
            self._rows_left = False
            with contextlib.suppress(IndexError):  # another thread's delivery may pop too
                while retry_times and retry_times[0] <= now:
                    heapq.heappop(retry_times)
            rows = yield functools.partial(
                store.claim_outbox, worker=worker, now=now, lease=self._lease, limit=limit), None
            ids, items = [r.id for r in rows], rows
            claimed = True
        retention = self._retention
        if delivered and self._purge_due_at(now):
            purge = getattr(store, "purge_outbox", None)
            if purge is not None and retention is not None and now - MIN_TIME > retention:
                self._purge_due = now + retention
                try:
                    # delivered at least *retention* ago: at or before now - retention
                    yield functools.partial(purge, delivered_before=now - retention + _ONE_US), None
                except Exception as exc:  # noqa: BLE001 - the hooks ran; the next delivery purges
                    self._purge_due = None
                    log.warning("purging the outbox failed: %r", exc)
        return delivered, failed

    def _plan_rows(self, ids: Sequence[int], items: Sequence[OutboxMessage | OutboxRow],
                   ack: Callable[[int], Any]) -> list[_Row]:
        """Each row's delivery, as the loop hands it to its driver (no I/O).

        A row that cannot be delivered now has no implementations, and the error it is
        released with in place of its arguments.
        """
        impls_of = self._hooks.impls
        deliveries: list[_Row] = []
        for row_id, item in zip(ids, items, strict=True):
            hook, payload = item.hook, item.payload
            impls = impls_of.get(hook, ())
            if not impls:
                error = f"no implementation of {hook!r} is registered; register one to deliver it"
                deliveries.append(((), error, ack, row_id))
                continue
            try:
                # A payload made in this process holds the arguments themselves.
                arguments = (dict(payload.arguments) if type(payload) is LazyPayload
                             else _hooks.decode(hook, payload))
            except Exception as exc:  # noqa: BLE001 - a bad row must not stop the others
                deliveries.append(((), f"cannot decode the payload: {exc!r}", ack, row_id))
                continue
            arguments["key"] = item.key
            deliveries.append((impls, arguments, ack, row_id))
        return deliveries

    def _left_behind(self, now: datetime) -> bool:
        """Whether this pipeline knows of rows to claim: a hook's move's, a failed row now due."""
        retry_times = self._retry_times
        return self._rows_left or bool(retry_times and retry_times[0] <= now)

    def _purge_due_at(self, now: datetime) -> bool:
        """Whether a delivery at *now* that acknowledged a row purges the outbox."""
        return self._retention is not None and (self._purge_due is None
                                                or now >= self._purge_due)

    def _deliver_own(self, now: datetime, ids: Sequence[int],
                     messages: Sequence[OutboxMessage]) -> None:
        """Deliver the rows this pipeline just committed claimed (see :meth:`_delivery_loop`).

        The common case, each row deliverable and nothing else to do after them (no row left
        behind, no purge due), is made here, without the loop's round trips: planned by
        :meth:`_plan_rows` and delivered by the synchronous driver's :meth:`_deliver_rows`.
        When every row succeeds that is all the loop would have done; otherwise the loop takes
        over from what was done (tests/pipeline/test_pipeline_hooked_hot_path.py compares the
        two).
        """
        ack = functools.partial(self._store.ack_outbox, worker=self._worker, at=now)
        deliveries = self._plan_rows(ids, messages, ack)
        if (all(map(_IMPLS, deliveries)) and not self._left_behind(now)
                and not self._purge_due_at(now)):
            token = self._mark_delivering()
            try:
                result = self._deliver_rows(deliveries)
            finally:
                _DELIVERING.reset(token)
            if result[2] is None:
                return
            ran: _Ran | None = (deliveries, result)
        else:
            ran = None
        self._drive(self._delivery_loop(now, _CLAIM_LIMIT, ids, messages, ran))

    def _mark_delivering(self) -> contextvars.Token[tuple[object, ...]]:
        """Mark this pipeline as delivering in the current thread or task (see _DELIVERING).

        ``_DELIVERING.reset`` with the token takes the mark off.
        """
        return _DELIVERING.set((*_DELIVERING.get(), self))

    @contextlib.contextmanager
    def _delivering(self) -> Iterator[None]:
        """:meth:`_mark_delivering` for a ``with`` block."""
        token = self._mark_delivering()
        try:
            yield
        finally:
            _DELIVERING.reset(token)

    @staticmethod
    def _deliver_rows(rows: list[_Row]) -> tuple[int, int, Exception | None]:
        """Deliver *rows* here, in order, up to the first call that raises (see the loop)."""
        for done, (impls, arguments, ack, row_id) in enumerate(rows):
            for index, impl in enumerate(impls):
                if impl.is_async:  # registered while this one ran
                    return done, index, _not_awaited(impl)
                try:
                    result = impl.call(arguments)
                except Exception as exc:  # noqa: BLE001 - the loop decides what it means
                    return done, index, exc
                if result is not None and inspect.isawaitable(result):
                    _discard(result)  # a plain def that returned a coroutine: not run
                    return done, index, _not_awaited(impl)
            try:
                ack(row_id)
            except Exception as exc:  # noqa: BLE001 - the loop decides what it means
                return done, len(impls), exc
        return len(rows), 0, None

    def _drive(self, delivery: _Loop) -> tuple[int, int]:
        """Run a delivery loop here: every call is made in this thread, nothing is awaited."""
        result: Any = None
        error: Exception | None = None
        # _delivering without its context manager's cost: every hooked move comes through here
        token = self._mark_delivering()
        try:
            while True:
                step = delivery.send(result) if error is None else delivery.throw(error)
                error = None
                if isinstance(step, list):
                    result = self._deliver_rows(step)
                    continue
                call, _ = step
                try:
                    result = call()
                except Exception as exc:  # noqa: BLE001 - the loop decides what it means
                    error = exc
        except StopIteration as stop:
            done: tuple[int, int] = stop.value
            return done
        finally:
            delivery.close()
            _DELIVERING.reset(token)

    async def _adrive(self, delivery: _Loop) -> tuple[int, int]:
        """Run a delivery loop on the event loop: async hooks awaited, other calls in a thread."""
        import asyncio  # noqa: PLC0415 - only asyncio hosts pay for importing it

        async def deliver_rows(rows: list[_Row]) -> tuple[int, int, Exception | None]:
            for done, (impls, arguments, ack, row_id) in enumerate(rows):
                for index, impl in enumerate(impls):
                    try:
                        if impl.is_async:
                            await impl.call(arguments)
                        else:
                            result = await asyncio.to_thread(impl.call, arguments)
                            if inspect.isawaitable(result):
                                await result  # a plain def that returned a coroutine
                    except Exception as exc:  # noqa: BLE001 - the loop decides what it means
                        return done, index, exc
                try:
                    await asyncio.to_thread(ack, row_id)
                except Exception as exc:  # noqa: BLE001 - the loop decides what it means
                    return done, len(impls), exc
            return len(rows), 0, None

        result: Any = None
        error: Exception | None = None
        with self._delivering():  # asyncio.to_thread carries the mark into the worker thread
            try:
                while True:
                    step = delivery.send(result) if error is None else delivery.throw(error)
                    error = None
                    if isinstance(step, list):
                        result = await deliver_rows(step)
                        continue
                    call, _ = step
                    try:
                        result = await asyncio.to_thread(call)
                    except Exception as exc:  # noqa: BLE001 - the loop decides what it means
                        error = exc
            except StopIteration as stop:
                done: tuple[int, int] = stop.value
                return done
            finally:
                delivery.close()


class _Forgetful(dict[str, int]):
    """A ``_no_handoff`` memory that keeps nothing, for views joined to a host's transaction.

    What a view learns about a version may be rolled back with the host's transaction, and the
    same version made again by another commit (one that opens a handoff).
    """

    def __setitem__(self, key: str, value: int) -> None:
        """Forget at once."""


class _Joined(Pipeline):
    """What :meth:`Pipeline.using` returns: the pipeline *base* with a store joined to a host.

    The view holds only what differs from *base* (the joined store, no retries, no memory of
    handoffs); every other attribute is read from *base* when asked, so its hooks, router,
    calendar and clock are the view's too, changed later or not.
    """

    def __init__(self, base: Pipeline, store: Store) -> None:
        # Not Pipeline.__init__: nothing to build or check again, *base* did it.
        self._base = base
        self.store = store  # the property: also the load and commit functions of the hot path
        self._no_handoff = _Forgetful()
        self._retries = 0  # a conflict inside the host's transaction is the host's to retry

    def __getattr__(self, name: str) -> Any:
        if name == "_base":  # not set yet (copying, unpickling): no delegation
            raise AttributeError(name)
        return getattr(self._base, name)

    def register(self, plugin: _P) -> _P:
        """Register *plugin* on the pipeline this view came from (see :meth:`Pipeline.register`)."""
        return self._base.register(plugin)

    def unregister(self, plugin: object) -> None:
        """Unregister *plugin* from the pipeline this view came from."""
        self._base.unregister(plugin)

    def using(self, host: object) -> Pipeline:
        """The pipeline this view came from, joined to *host* instead."""
        return self._base.using(host)

    def __repr__(self) -> str:
        return f"{self._base!r}.using(...) on {self.store!r}"
