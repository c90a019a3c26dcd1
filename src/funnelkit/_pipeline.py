"""``Pipeline``: the imperative shell around the pure ``Funnel.fire``.

Order inside one call: load -> pure fire -> ``before_*`` hooks (may veto) -> one atomic store commit
(lead, transitions, touchpoints, handoffs, outbox rows) guarded by the lead's version -> after-hooks
delivered from the outbox.  The hot path (``fire`` of an unguarded move that opens no handoff,
with no transition hook registered) does one load, one pure fire, a few set lookups and one
commit; everything else is decided once, when the pipeline is built or a hook is registered.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

import attrs

from funnelkit import _hooks
from funnelkit._calendar import BusinessCalendar
from funnelkit._decision import Context
from funnelkit._errors import (
    AlreadyExists,
    ConcurrencyError,
    FunnelError,
    HandoffClosed,
    InvalidInput,
    NotFound,
    PolicyRefused,
    ReasonRequired,
    Veto,
)
from funnelkit._funnel import Funnel
from funnelkit._handoff import Handoff, HandoffStatus, handoff_id, turned_down_reason
from funnelkit._lead import Lead, Outcome, Source, Transition
from funnelkit._limits import (
    MAX_DURATION,
    MAX_KEY_LENGTH,
    MAX_TEXT_LENGTH,
    MAX_VERSION,
    _short,
    check_count,
    check_name,
    check_text,
)
from funnelkit._replay import ReplayReport, replay_store
from funnelkit._routing import Router
from funnelkit._time import Duration, parse_duration, require_aware
from funnelkit._touchpoint import Touchpoint
from funnelkit.stores._protocol import (
    UNCHECKED,
    Change,
    OutboxMessage,
    OutboxRow,
    Store,
    is_store,
)

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

    ``expired`` are the handoffs it marked expired (their ``on_sla_breach`` written), ``stalled``
    the ids of the leads it found stalled for the first time, ``moved`` the automatic stall
    moves it made, ``delivery`` the outbox delivery that followed.

    >>> SweepReport()
    SweepReport(expired=(), stalled=(), moved=(), delivery=Delivery(delivered=0, failed=0))
    """

    expired: tuple[Handoff, ...] = ()
    stalled: tuple[str, ...] = ()
    moved: tuple[Outcome, ...] = ()
    delivery: Delivery = Delivery()


# -- building a Change without re-checking what the pipeline built itself --------------------------
# ``Change`` checks every item it is given (about 2.4 us).  The pipeline only hands it values
# that were just built and checked by the funnel, so on the hot path it fills the slots directly;
# if ``Change`` ever stops being the slotted attrs class this relies on, the checked constructor
# is used instead (tests/pipeline/test_pipeline.py compares both).
_CHANGE_FIELDS = ("lead", "expected_version", "transitions", "touchpoints", "handoffs", "outbox",
                  "expected_owner")
_object_new = object.__new__


def _checked_change(  # noqa: PLR0917 - mirrors Change's fields, positionally, on the hot path
    lead: Lead, expected: int | None, transitions: tuple[Transition, ...],
    touchpoints: tuple[Touchpoint, ...], handoffs: tuple[Handoff, ...],
    outbox: tuple[OutboxMessage, ...], expected_owner: str | None = UNCHECKED,
) -> Change:
    return Change(lead, expected, transitions, touchpoints=touchpoints, handoffs=handoffs,
                  outbox=outbox, expected_owner=expected_owner)


def _slot_setters() -> tuple[Any, ...] | None:
    if tuple(a.name for a in attrs.fields(Change)) != _CHANGE_FIELDS:
        return None
    slots = [vars(Change).get(name) for name in _CHANGE_FIELDS]
    if not all(type(s).__name__ == "member_descriptor" for s in slots):
        return None
    return tuple(s.__set__ for s in slots)  # type: ignore[union-attr]


_SETTERS = _slot_setters()


# The setters are bound once, here: the constructor below is six C calls and no lookups.
(_SET_LEAD, _SET_EXPECTED, _SET_TRANSITIONS, _SET_TOUCHPOINTS, _SET_HANDOFFS, _SET_OUTBOX,
 _SET_OWNER) = _SETTERS if _SETTERS is not None else (None,) * 7


def _fast_change(  # noqa: PLR0917 - mirrors Change's fields, positionally, on the hot path
    lead: Lead, expected: int | None, transitions: tuple[Transition, ...],
    touchpoints: tuple[Touchpoint, ...], handoffs: tuple[Handoff, ...],
    outbox: tuple[OutboxMessage, ...], expected_owner: str | None = UNCHECKED,
) -> Change:
    change: Change = _object_new(Change)
    _SET_LEAD(change, lead)
    _SET_EXPECTED(change, expected)
    _SET_TRANSITIONS(change, transitions)
    _SET_TOUCHPOINTS(change, touchpoints)
    _SET_HANDOFFS(change, handoffs)
    _SET_OUTBOX(change, outbox)
    _SET_OWNER(change, expected_owner)
    return change


_make_change = _fast_change if _SETTERS is not None else _checked_change


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

    outcome: Outcome
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
    ) -> None:
        """Build a pipeline; every argument is checked here, once.

        *outbox* names after-hooks (``"after_transition"``, ``"on_handoff"``, ...) whose outbox
        rows are written even when this process registers no implementation of them: a web
        worker with no hooks then still leaves every call for the job runner that delivers them.
        Without it, rows are written for the after-hooks registered here when a change commits.
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
        self._worker = f"funnelkit-pipeline-{uuid.uuid4().hex[:12]}"
        self._hooks = _hooks.HookRegistry()
        self._local = threading.local()
        self._compile()
        # The moves fire takes on its hot path, as _fast; none while a transition hook is set.
        self._hot = self._fast
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
    def store(self) -> Store:
        """The store the pipeline reads and commits to."""
        return self._store

    @store.setter
    def store(self, store: Store) -> None:
        if not is_store(store):
            raise InvalidInput(f"store={_short(store)} does not implement funnelkit.stores.Store")
        self._store = store
        self._no_handoff: dict[str, int] = {}  # lead id -> a version known to have no handoff
        self._load = store.load
        # fire's hot path writes a move with ``_commit_move(loaded, lead, transition)``, which
        # says False (having written nothing) on a conflict: the store's own optional
        # ``commit_move`` (see Store) when its class defines it beside its ``commit``, else a
        # Change committed through ``commit``.
        self._commit_move: Any = self._commit_change
        mro = type(store).__mro__
        commit_owner = next((c for c in mro if "commit" in vars(c)), None)
        move_owner = next((c for c in mro if "commit_move" in vars(c)), None)
        if move_owner is not None and move_owner is commit_owner:
            self._commit_move = store.commit_move  # type: ignore[attr-defined]

    def _commit_change(self, loaded: Lead, lead: Lead, transition: Transition) -> bool:
        self._store.commit(_make_change(lead, loaded.version, (transition,), (), (), (),
                                        loaded.owner))
        return True

    def __repr__(self) -> str:
        return f"Pipeline(funnel={self.funnel.name!r}, store={self.store!r})"

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
        plain = not impls["before_transition"] and not self._writes("after_transition")
        self._hot = self._fast if plain else self._no_fast

    def _writes(self, hook: str) -> bool:
        """Whether a change writes outbox rows for *hook*: registered here, or named in outbox=."""
        return bool(self._hooks.impls[hook]) or hook in self._outbox_hooks

    def _message(self, hook: str, key: str, at: datetime, **arguments: Any) -> OutboxMessage:
        return OutboxMessage(f"{hook}:{key}", hook, _hooks.encode(hook, arguments), at)

    def _run_before(self, lead: Lead, transition: Transition) -> None:
        arguments = {"lead": lead, "transition": transition}
        for impl in self._hooks.impls["before_transition"]:
            try:
                impl.call(arguments)
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
    ) -> Lead:
        """Store a new lead in the funnel's initial stage.

        :class:`~funnelkit.AlreadyExists` when the id is taken; nothing is written then.
        """
        _check_at(at)
        if at is None:
            at = self._now()
        lead = self.funnel.new_lead(id, at=at, attributes=attributes, source=source, owner=owner)
        self.store.commit(_make_change(lead, None, (), (), (), ()))
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
        """The lead's pending handoff: only the move that made its current version can have one."""
        if lead.stage not in self._receiving or self._no_handoff.get(lead.id) == lead.version:
            return None
        try:
            found = self.store.handoff(handoff_id(lead.id, lead.version))
        except NotFound:
            return None
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
                hook, extra = "on_handoff_rejected", {"reason": why}
                make_handoff = False  # as with reject_handoff: turning it down opens none back
            else:
                closed = open_handoff.accept(by=actor, at=at)
                hook, extra = "on_handoff_accepted", {}
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
                    outcome = Outcome(new_lead, transition, team_change)
            sla = self._slas.get((lead.stage, event))
            created = Handoff(
                handoff_id(lead.id, transition.version), lead.id, from_team, to_team,
                created_at=at, event=event, version=transition.version, assignee=assignee,
                due_at=None if sla is None else self._after(at, sla),
            )
            handoffs.append(created)
            if self._writes("on_handoff"):
                messages.append(
                    self._message("on_handoff", created.id, at, handoff=created, lead=new_lead))
        if self._writes("after_transition"):
            messages.append(self._message(
                "after_transition", f"{lead.id}:{transition.version}", at,
                lead=new_lead, transition=transition,
            ))
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
        by_id = {h.id: h for h in handoffs}
        self.store.commit(_make_change(lead, loaded.version, transitions, touchpoints,
                                       tuple(by_id.values()), tuple(messages), loaded.owner))
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
        **context: Any,
    ) -> Outcome:
        """Move lead *id* by *event* and commit it; returns the :class:`~funnelkit.Outcome`.

        Keyword arguments beyond these reach the guarding policy as ``Context.data``; guarded
        moves also get the lead's touchpoints and score.  Raises what :meth:`Funnel.fire
        <funnelkit.Funnel.fire>` raises, :class:`~funnelkit.Veto` when a before-hook refuses
        (nothing written), and :class:`~funnelkit.ConcurrencyError` when the lead kept changing
        under it through every retry.  Without *at*, the clock is read once the lead is loaded
        (and again on each retry), so concurrent callers never refuse each other for time.
        """
        # The arguments are checked where it costs nothing extra, always before anything is
        # written: the store refuses an id that is not a string, the lookup below an unhashable
        # event, and the pure fire any other event, `at`, `actor` or `reason`.
        lead = self._load(id)
        fixed_at = at is not None  # a time from the clock is read again on every retry
        if at is None:
            at = self._now(lead.updated_at)
        try:
            flags = self._hot[lead.stage][event]
        except KeyError:  # not a hot-path move (or a stage the funnel lacks: _fire says so)
            flags = None
        except TypeError:  # an unhashable event
            self._check_call(id, event, at)
            raise
        if flags is not None and (
            flags < _LEAVES_RECEIVING or self._no_handoff.get(id) == lead.version
        ):
            # The hot path: no transition hook, no policy, no handoff to open or to close.
            if context:
                outcome = self._pure_fire(lead, event, at=at, actor=actor, reason=reason,
                                          context=context)
            else:
                outcome = self._pure_fire(lead, event, at=at, actor=actor, reason=reason)
            new_lead = outcome.lead
            try:
                if not self._commit_move(lead, new_lead, outcome.transition):
                    # The stored lead changed meanwhile: commit says how (ConcurrencyError).
                    self._store.commit(_make_change(new_lead, lead.version, (outcome.transition,),
                                                    (), (), (), lead.owner))
            except ConcurrencyError:
                if self._retries <= 0:
                    raise
                return self._fire(id, event, actor, reason, at if fixed_at else None,
                                  context or None, self._retries - 1, None)
            if flags & _LANDS_RECEIVING:  # in a receiving stage, without a handoff: remember
                known = self._no_handoff  # see _remember_no_handoff
                if len(known) >= _NO_HANDOFF_MAX:
                    known.clear()
                known[id] = new_lead.version
            return outcome
        return self._fire(id, event, actor, reason, at, context or None, self._retries, lead,
                          fixed_at=fixed_at)

    @staticmethod
    def _check_call(id: object, event: object, at: object) -> None:  # noqa: A002
        """The checks of :meth:`fire` off its fast path: str subclasses pass, others raise."""
        _check_id(id)
        if not isinstance(event, str):
            raise InvalidInput(f"event={_short(event)} is not a string; give an event name")
        _check_at(at)

    def _fire(  # noqa: PLR0917 - private, the rest of fire
        self, id: str, event: str, actor: str | None, reason: str | None,  # noqa: A002
        at: datetime | None, data: dict[str, Any] | None, tries: int, lead: Lead | None,
        *, fixed_at: bool = True,
    ) -> Outcome:
        """:meth:`fire` off the hot path (hooks, policies, handoffs) and its retries.

        ``at`` None (or ``fixed_at`` False on a retry) reads the clock after each load, so a retry
        after another writer's move is not refused for going back in time.
        """
        from_clock = at is None or not fixed_at
        while True:
            if lead is None:
                lead = self.store.load(id)
            if from_clock or at is None:
                at = self._now(lead.updated_at)
            stage = lead.stage
            ctx: Context | Mapping[str, Any] | None = data
            if event in self._guarded.get(stage, ()):
                ctx = self._context(lead, at, data)
            step = self._step(lead, event, at, actor, reason, ctx, self._open_handoff(lead))
            try:
                self._commit(step.lead, lead, at, transitions=(step.outcome.transition,),
                             handoffs=step.handoffs, messages=step.messages)
            except ConcurrencyError:
                if tries <= 0:
                    raise
                tries -= 1
                lead = None
                continue
            if step.created is None:
                self._remember_no_handoff(id, step.lead.version)
            return step.outcome

    def fire_many(
        self,
        items: Iterable[tuple[str, str] | Mapping[str, Any]],
        *,
        errors: Literal["raise", "collect"] = "raise",
    ) -> list[Outcome | FunnelError]:
        """Fire a batch: each item is ``(id, event)`` or a mapping of :meth:`fire`'s arguments.

        Every item is checked and planned in memory first, in order (one lead may move several
        times), so with ``errors="raise"`` the first refusal is raised before anything is
        written; with ``errors="collect"`` the refusal takes the item's place in the list and the
        batch goes on.  The planned moves are then written in one transaction when the store
        has ``commit_many``, else with one commit per item.  If a lead changed meanwhile (a
        :class:`~funnelkit.ConcurrencyError`), the items not yet written are fired one by one,
        each with :meth:`fire`'s retries.
        """
        if errors not in ("raise", "collect"):
            raise InvalidInput(f"errors={errors!r} must be 'raise' or 'collect'")
        given: object = items  # checked at run time: callers may pass anything
        if not isinstance(given, Iterable) or isinstance(given, str | bytes | Mapping):
            raise InvalidInput(
                f"items={items!r} must be an iterable of (id, event) pairs or mappings of "
                "fire's arguments"
            )
        calls = [self._batch_item(i, raw) for i, raw in enumerate(items)]
        results: list[Outcome | FunnelError] = []
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
            change = _make_change(step.lead, lead.version, (step.outcome.transition,), (),
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
                                               **(data or {}))
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
    ) -> tuple[str, str, datetime | None, str | None, str | None, dict[str, Any] | None]:
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
                f"with 'id', 'event' and optionally 'actor', 'reason', 'at' and context data"
            )
        lead_id, event = call.pop("id"), call.pop("event")
        at, actor, reason = call.pop("at", None), call.pop("actor", None), call.pop("reason", None)
        if not all(isinstance(key, str) for key in call):
            raise InvalidInput(f"fire_many item {i}: context data must be named by strings")
        try:
            Pipeline._check_call(lead_id, event, at)
        except InvalidInput as exc:
            raise InvalidInput(f"fire_many item {i}: {exc}") from None
        return lead_id, event, at, actor, reason, call or None

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

    def touch(self, id: str, touchpoint: Touchpoint) -> tuple[Outcome, ...]:  # noqa: A002
        """Record *touchpoint*, then fire every ``auto`` move whose policy now passes, in order.

        The score (when the pipeline has ``scoring``) is computed from the stored touchpoints
        plus this one and reaches the policies as ``Context.score``.  Auto moves are tried in
        the order the funnel defines them, from each new stage again, until none applies.  The
        touchpoint and the moves it caused are one commit.  A before-hook veto of an auto move
        ends the chain there (the touchpoint and earlier moves are kept).  Returns the
        outcomes of the auto moves made.
        """
        _check_id(id)
        if not isinstance(touchpoint, Touchpoint):
            raise InvalidInput(f"touchpoint={_short(touchpoint)} is not a funnelkit.Touchpoint")
        if touchpoint.lead_id != id:
            raise InvalidInput(
                f"touchpoint is for lead {touchpoint.lead_id!r}, not {id!r}; build it with the "
                f"lead's id"
            )
        tries = self._retries
        while True:
            lead = self.store.load(id)
            try:
                return self._touch(lead, touchpoint)
            except ConcurrencyError:
                if tries <= 0:
                    raise
                tries -= 1

    def _touch(self, lead: Lead, touchpoint: Touchpoint) -> tuple[Outcome, ...]:
        at = max(touchpoint.at, lead.updated_at)
        stored = self.store.touchpoints(lead.id)
        everything = sorted((*stored, touchpoint), key=lambda tp: tp.at)
        steps = self._auto_steps(lead, at, everything)
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
        self, lead: Lead, at: datetime, touchpoints: Sequence[Touchpoint]
    ) -> list[_Step]:
        steps: list[_Step] = []
        current = lead
        open_handoff = self._open_handoff(lead)
        for _ in range(len(self.funnel.stages)):  # a cycle of auto moves ends after one lap
            events = self._auto.get(current.stage)
            if not events:
                break
            context = self._context(current, at, None, touchpoints)
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

    def evaluate(self, id: str, *, at: datetime | None = None) -> tuple[Outcome, ...]:  # noqa: A002
        """Fire the ``auto`` moves whose policy passes now, as :meth:`touch` does (no touchpoint).

        Useful after attributes changed or when policies depend on time.
        """
        _check_id(id)
        _check_at(at)
        tries = self._retries
        while True:
            lead = self.store.load(id)
            when = self._now(lead.updated_at) if at is None else at
            if when < lead.updated_at:
                raise InvalidInput(
                    f"at={when.isoformat()} is before lead {lead.id!r}'s last change "
                    f"({lead.updated_at.isoformat()}); a lead's moves happen in time order")
            steps = self._auto_steps(lead, when, self.store.touchpoints(id))
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

    def assign(self, id: str, owner: str, *, at: datetime | None = None) -> Lead:  # noqa: A002
        """Make *owner* the lead's owner (and its pending handoff's assignee, if it has one)."""
        _check_id(id)
        check_name(owner, "owner")
        _check_at(at)
        tries = self._retries
        while True:
            lead = self.store.load(id)
            new_lead = lead.evolve(owner=owner,
                                   at=self._now(lead.updated_at) if at is None else at)
            open_handoff = self._open_handoff(lead)
            handoffs = () if open_handoff is None else (
                attrs.evolve(open_handoff, assignee=owner),)
            try:
                self._commit(new_lead, lead, new_lead.updated_at, handoffs=handoffs)
            except ConcurrencyError:  # moved or reassigned meanwhile: assign the new state
                if tries <= 0:
                    raise
                tries -= 1
                continue
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

    def accept_handoff(self, id: str, *, by: str, at: datetime | None = None) -> Handoff:  # noqa: A002
        """Accept the pending handoff *id*: *by* takes the lead (and becomes its owner).

        Raises :class:`~funnelkit.HandoffClosed` when the handoff is no longer pending and
        :class:`~funnelkit.ConcurrencyError` when its lead moved or was reassigned meanwhile (load
        the handoff again and decide again).
        """
        _check_id(id, limit=MAX_KEY_LENGTH)
        check_name(by, "by")
        _check_at(at)
        handoff, lead = self._pending(id)
        if at is None:
            at = self._now(max(handoff.created_at, lead.updated_at))
        accepted = handoff.accept(by=by, at=at)
        messages = []
        if self._writes("on_handoff_accepted"):
            messages.append(self._message("on_handoff_accepted", accepted.id, at, handoff=accepted))
        try:
            self._commit(lead.evolve(owner=by, at=max(at, lead.updated_at)), lead, at,
                         handoffs=(accepted,), messages=messages)
        except ConcurrencyError:
            self._pending(id)  # raises HandoffClosed if someone else closed it first
            raise
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
        as the rejection; it opens no new handoff.  :class:`~funnelkit.ReasonRequired` without
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
        context: Context | None = None
        if event in self._guarded.get(lead.stage, ()):
            context = self._context(lead, at, None)
        step = self._step(lead, event, at, by, reason, context, None, make_handoff=False)
        messages = list(step.messages)
        if self._writes("on_handoff_rejected"):
            messages.append(self._message("on_handoff_rejected", rejected.id, at,
                                          handoff=rejected, reason=reason))
        try:
            self._commit(step.lead, lead, at, transitions=(step.outcome.transition,),
                         handoffs=(rejected,), messages=messages)
        except ConcurrencyError:
            self._pending(id)
            raise
        return rejected

    # -- sweeping -----------------------------------------------------------------------------

    def sweep(self, now: datetime | None = None) -> SweepReport:
        """Expire breached handoffs, handle stalled leads, then deliver the outbox; idempotent.

        A pending handoff past its due time becomes ``expired`` and ``on_sla_breach`` is called
        for it, once.  A lead longer than its stage's ``stall_after`` in that stage is stalled:
        ``on_stalled`` is called once per stay, and when the stage has a ``stall_event`` the
        lead is moved by it (reason: stalled).  Stalled leads are only looked for when
        ``on_stalled`` is registered or the stage has a ``stall_event``.  A second sweep at
        the same time does nothing.
        """
        now = self._now() if now is None else require_aware(now, "now")
        expired: list[Handoff] = []
        for due in self.store.handoffs(status="pending", due_before=now):
            try:
                lead = self.store.load(due.lead_id)
                handoff = self.store.handoff(due.id)  # again, after the lead: see _pending
                if handoff.status != "pending":
                    continue
                closed = handoff.expire(at=now)
                messages = []
                if self._writes("on_sla_breach"):
                    messages.append(self._message("on_sla_breach", closed.id, now, handoff=closed))
                self.store.commit(_make_change(lead, lead.version, (), (), (closed,),
                                               tuple(messages), lead.owner))
            except (ConcurrencyError, HandoffClosed, NotFound):
                continue  # resolved meanwhile: the next sweep sees its new state
            expired.append(closed)
        stalled: list[str] = []
        moved: list[Outcome] = []
        watching = self._writes("on_stalled")
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
        delivery = self.deliver_pending(now=now)
        return SweepReport(tuple(expired), tuple(stalled), tuple(moved), delivery)

    def _stall(
        self, lead: Lead, stage: str, since: datetime, stall_event: str | None, now: datetime,
        *, watching: bool,
    ) -> tuple[bool, Outcome | None]:
        """Handle one stalled lead: (reported for the first time?, the stall move's outcome)."""
        messages = []
        if watching:
            messages.append(self._message("on_stalled", f"{lead.id}:{lead.version}", now,
                                          lead=lead, stage=stage, since=since))
        step = None
        if stall_event is not None:
            reason = f"stalled in {stage!r} since {since.isoformat()}"
            try:
                context = None
                if stall_event in self._guarded.get(stage, ()):
                    context = self._context(lead, now, None)
                step = self._step(lead, stall_event, now, SWEEP_ACTOR, reason, context,
                                  self._open_handoff(lead))
            except (PolicyRefused, Veto) as exc:
                log.info("stall move %r of lead %r not made: %s", stall_event, lead.id, exc)
        first = bool(messages)
        while True:
            if step is None and not messages:
                return False, None
            try:
                if step is None:
                    self._commit(lead, lead, now, messages=messages)
                else:
                    self._commit(step.lead, lead, now,
                                 transitions=(step.outcome.transition,),
                                 handoffs=step.handoffs, messages=[*messages, *step.messages])
            except AlreadyExists:
                if not messages:
                    raise  # pragma: no cover - only on_stalled keys can be taken here
                # on_stalled for this stay was written by an earlier sweep (whose stall move
                # was refused): report nothing new, but try the move again.
                messages, first = [], False
                continue
            except ConcurrencyError:
                return False, None  # the lead moved meanwhile: the next sweep looks again
            return first or step is not None, None if step is None else step.outcome

    # -- the outbox ---------------------------------------------------------------------------

    def _deliver_after_commit(self, at: datetime) -> None:
        if getattr(self._local, "delivering", False):
            return  # a hook fired a move: the running delivery loop picks its rows up
        impls = self._hooks.impls
        if not any(impls[hook] for hook in _hooks.AFTER_HOOKS):
            return  # rows named by outbox= wait for a process that implements their hooks
        self.deliver_pending(now=max(self._now(), at))

    def replay(self, store: Store | None = None) -> ReplayReport:
        """Rebuild every lead from its transitions and report any whose stored state differs.

        Replays *store* (this pipeline's own by default) under this pipeline's funnel: a lead
        with no transitions must be new (initial stage, version 0); every other lead's stored
        stage and version must equal the replay of its history, which must follow the funnel's
        moves without gaps.  Nothing is changed.

        >>> from datetime import datetime, timezone
        >>> from funnelkit import templates
        >>> from funnelkit.stores import MemoryStore
        >>> pipeline = Pipeline(templates.inbound(), store=MemoryStore())
        >>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
        >>> _ = pipeline.capture("L1", at=at)
        >>> _ = pipeline.fire("L1", "convert", at=at)
        >>> report = pipeline.replay()
        >>> report.ok, report.leads, report.transitions
        (True, 1, 1)
        """
        if store is not None and not is_store(store):
            raise InvalidInput(f"store={store!r} does not implement funnelkit.stores.Store")
        return replay_store(self.funnel, self.store if store is None else store)

    def deliver_pending(self, *, now: datetime | None = None, limit: int = 100) -> Delivery:
        """Deliver every due outbox row to the registered after-hooks; returns the counts.

        Each row is claimed (one attempt recorded), its hook's implementations are called in
        registration order, and the row is acknowledged.  When one raises, the row is released
        with the error and tried again after a backoff that doubles per attempt up to
        ``max_backoff``; it is never dropped.  A row whose hook has no implementation now waits
        the same way for one to be registered.  Implementations may be called again for a row
        that failed part-way: dedupe on ``key``.
        """
        now = self._now() if now is None else require_aware(now, "now")
        check_count(limit, "limit", minimum=1, limit=MAX_VERSION)
        delivered = failed = 0
        previous = getattr(self._local, "delivering", False)
        self._local.delivering = True
        try:
            while True:
                rows = self.store.claim_outbox(worker=self._worker, now=now, lease=self._lease,
                                               limit=limit)
                for row in rows:
                    if self._deliver(row, now):
                        delivered += 1
                    else:
                        failed += 1
                if len(rows) < limit:
                    break
        finally:
            self._local.delivering = previous
        return Delivery(delivered, failed)

    def _deliver(self, row: OutboxRow, now: datetime) -> bool:
        impls = self._hooks.impls.get(row.hook, ())
        error = None
        if not impls:
            error = f"no implementation of {row.hook!r} is registered; register one to deliver it"
        else:
            try:
                arguments = _hooks.decode(row.hook, row.payload)
            except Exception as exc:  # noqa: BLE001 - a bad row must not stop the others
                error = f"cannot decode the payload: {exc!r}"
            else:
                arguments["key"] = row.key
                for impl in impls:
                    try:
                        impl.call(arguments)
                    except Exception as exc:  # noqa: BLE001 - recorded on the row, retried later
                        error = f"{type(impl.plugin).__name__}.{impl.name} raised {exc!r}"
                        log.warning("after-hook delivery of %s failed (attempt %d): %s",
                                    row.key, row.attempts, error)
                        break
        try:
            if error is None:
                self.store.ack_outbox(row.id, worker=self._worker, at=now)
                return True
            factor = 2 ** min(max(row.attempts - 1, 0), 20)
            # min(backoff * factor, max_backoff), without a product that could overflow
            delay = (self._max_backoff if self._backoff >= self._max_backoff / factor
                     else self._backoff * factor)
            self.store.retry_outbox(row.id, worker=self._worker, error=_error_text(error),
                                    retry_at=now + delay)
        except ConcurrencyError:
            pass  # our lease ran out and another worker holds the row: it delivers it
        return False
