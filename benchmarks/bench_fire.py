"""How fast ``Funnel.fire`` moves leads, against a hand-written baseline, ``transitions`` and
python-statemachine.

One run, the same workload for every contender: ``--leads`` leads (default 100,000) each make ten
guarded moves through a ten-stage funnel (``advance`` nine times, then ``win``), so ``--leads`` x 10
moves (default 1,000,000) in round-robin order (every lead's first move, then every lead's second
move, ...).  The guard is the simplest policy there is: a function returning a prebuilt
``Decision``.  Every contender keeps an audit record per move.

Contenders:

* ``baseline``: what a careful hand-written engine does: a dict lookup, the guard call, a new
  state tuple, one audit tuple appended to a list.  No checks at all.
* ``baseline (same fields)``: the same, keeping what funnelkit keeps: a nine-field lead tuple
  and a nine-field audit tuple holding the decision.
* ``funnelkit``: ``funnel.fire(lead, event, at=at)``, keeping ``outcome.lead`` and appending
  ``outcome.transition``: every check of the real API (types, time order, reasons, the decision).
* ``transitions (shared machine)``: ONE ``transitions.Machine`` for all leads, the guard as a
  condition, each lead a plain model object with a ``state`` attribute, moved with
  ``machine.events[event].trigger(model)``.  The models are not bound to the machine
  (``add_model`` checks membership in a list, so binding n models costs O(n^2): see below); the
  event still runs transitions' full engine (condition, exit, state change, enter, callbacks).
* ``transitions (bound models)``: the usual way, ``getattr(model, event)()`` on models bound with
  ``Machine(model=[...])``, on ``--bound`` leads (default 10,000; binding 100,000 takes minutes).
  The binding time is printed too.
* ``python-statemachine``: one ``StateMachine`` class with the eleven stages and the two events,
  the guard as a ``cond=`` callable on every transition, one machine instance per lead bound to a
  plain model object (``LeadMachine(model=model)``, the state kept in ``model.state``), moved with
  ``getattr(machine, event)()``; on ``--psm-leads`` leads (default 10,000: an instance costs about
  30 KB and 0.3 ms to build, so 100,000 would take 3 GB and half a minute before the first move).
  The build time is printed too.

Floors (``--floors``): what the four values a guarded ``fire`` returns or hands its policy (the
new ``Lead``, the ``Transition``, the ``Fired`` and the policy's ``Context``) cost on their own,
with no check at all, in three representations: funnelkit's tuple records built as ``fire`` builds
them (``tuple.__new__``), the same records built through the type call, and plain slotted objects
(fast, but mutable: assignment does not raise, which the API forbids).  They show how much of the
baseline's speed the API's immutable results leave, whatever ``fire`` checks.

Memory: ``--memory-leads`` leads (default 1,000,000) made with ``funnel.new_lead``, each with its own
id and capture time, measured with ``tracemalloc``.

The collector (``--gc-leads``, default 1,000,000 leads, so ten million moves): ``fire`` with the
cyclic garbage collector on against the same run with it off, interleaved rounds (``--gc-repeat``,
default 3), medians of the CPU time (steadier than the wall clock on a shared machine); with the
collections per generation and the time they took.

``--parts`` picks what runs (``engines,gc,memory``, all by default).

Timing follows ``timeit``: the cyclic garbage collector is off while a contender runs (``--gc``
keeps it on), so the figures measure the engines rather than how often CPython scans a heap that
grows by a million records.

Run: ``.venv/bin/python benchmarks/bench_fire.py`` (``--quick`` for a ten-times smaller run).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from transitions import Machine

try:
    from statemachine import State, StateMachine
except ImportError:  # pragma: no cover - pip install python-statemachine (in the dev extra)
    StateMachine = None

import funnelkit
from funnelkit import Decision, Funnel

if TYPE_CHECKING:
    from collections.abc import Callable

STAGES = [f"s{i}" for i in range(10)]
MOVES_PER_LEAD = 10
EVENTS = ["advance"] * 9 + ["win"]
START = datetime(2026, 1, 5, 9, tzinfo=UTC)
TIMES = [START + timedelta(hours=h) for h in range(1, MOVES_PER_LEAD + 1)]
ALLOW = Decision.allow(policy="bench")


def guard(lead: object, context: object) -> Decision:
    """The simple guard every contender calls once per move."""
    return ALLOW


def build_funnel() -> Funnel:
    builder = Funnel.builder("bench")
    for i, name in enumerate(STAGES):
        builder.stage(name, "marketing" if i < 5 else "sales")
    builder.stage("won", "sales", outcome="won")
    for i in range(9):
        builder.move("advance", STAGES[i], STAGES[i + 1], policy=guard)
    builder.move("win", STAGES[9], "won", policy=guard)
    return builder.build()


KEEP_GC = False
TIMING = [False]  # true while timed() runs the work: the collections counted are the work's


def timed(fn: Callable[[], Any], keep_gc: bool | None = None,
          clock: Callable[[], float] = time.perf_counter) -> tuple[float, Any]:
    """Time *fn*; like ``timeit``, with the cyclic garbage collector off unless --gc is given."""
    gc.collect()
    if not (KEEP_GC if keep_gc is None else keep_gc):
        gc.disable()
    try:
        t0 = clock()
        TIMING[0] = True
        result = fn()
        return clock() - t0, result
    finally:
        TIMING[0] = False
        gc.enable()


def run_baseline(n: int) -> tuple[float, list[Any]]:
    table: dict[str, dict[str, str]] = {s: {} for s in [*STAGES, "won"]}
    for i in range(9):
        table[STAGES[i]]["advance"] = STAGES[i + 1]
    table[STAGES[9]]["win"] = "won"
    states = [(f"L{i}", "s0", 0, START) for i in range(n)]
    log: list[tuple[Any, ...]] = []

    def work() -> None:
        append = log.append
        for step in range(MOVES_PER_LEAD):
            event, at = EVENTS[step], TIMES[step]
            for i in range(n):
                lead_id, stage, version, _ = states[i]
                target = table[stage][event]
                if not guard(states[i], None).allowed:
                    raise RuntimeError("refused")
                version += 1
                states[i] = (lead_id, target, version, at)
                append((lead_id, event, stage, target, at, version))

    seconds, _ = timed(work)
    assert all(s[1] == "won" for s in states)
    return seconds, log


def run_baseline_same_fields(n: int) -> tuple[float, list[Any]]:
    """The baseline keeping what funnelkit keeps: nine-field leads and nine-field records."""
    table: dict[str, dict[str, str]] = {s: {} for s in [*STAGES, "won"]}
    for i in range(9):
        table[STAGES[i]]["advance"] = STAGES[i + 1]
    table[STAGES[9]]["win"] = "won"
    attributes: dict[str, Any] = {}
    states = [(f"L{i}", "s0", 0, attributes, None, None, START, START, START) for i in range(n)]
    log: list[tuple[Any, ...]] = []

    def work() -> None:
        append = log.append
        for step in range(MOVES_PER_LEAD):
            event, at = EVENTS[step], TIMES[step]
            for i in range(n):
                state = states[i]
                lead_id, stage, version, attrs, source, owner, created, entered, _ = state
                target = table[stage][event]
                decision = guard(state, None)
                if not decision.allowed:
                    raise RuntimeError("refused")
                version += 1
                states[i] = (lead_id, target, version, attrs, source, owner, created,
                             entered if target == stage else at, at)
                append((lead_id, event, stage, target, at, None, None, decision, version))

    seconds, _ = timed(work)
    assert all(s[1] == "won" for s in states)
    return seconds, log


def run_funnelkit(funnel: Funnel, n: int, keep_gc: bool | None = None,
                  clock: Callable[[], float] = time.perf_counter) -> tuple[float, list[Any]]:
    leads = [funnel.new_lead(f"L{i}", at=START) for i in range(n)]
    log: list[funnelkit.Transition] = []

    def work() -> None:
        fire = funnel.fire
        append = log.append
        for step in range(MOVES_PER_LEAD):
            event, at = EVENTS[step], TIMES[step]
            for i in range(n):
                outcome = fire(leads[i], event, at=at)
                leads[i] = outcome.lead
                append(outcome.transition)

    seconds, _ = timed(work, keep_gc, clock)
    assert all(lead.stage == "won" and lead.version == MOVES_PER_LEAD for lead in leads)
    return seconds, log


class _Rec(tuple):  # type: ignore[type-arg]
    __slots__ = ()


class _FloorLead(_Rec):
    __slots__ = ()


class _FloorTransition(_Rec):
    __slots__ = ()


class _FloorOutcome(_Rec):
    __slots__ = ()


class _FloorContext(_Rec):
    __slots__ = ()


class _SlotLead:
    __slots__ = ("attributes", "created_at", "id", "owner", "source", "stage",
                 "stage_entered_at", "updated_at", "version")


class _SlotTransition:
    __slots__ = ("actor", "at", "decision", "event", "lead_id", "reason", "source", "target",
                 "version")


class _SlotOutcome:
    __slots__ = ("lead", "team_change", "transition")


class _SlotContext:
    __slots__ = ("at", "data", "funnel", "score", "touchpoints")


def _floor_table() -> dict[str, dict[str, tuple[str, Callable[..., Decision], None]]]:
    table: dict[str, dict[str, tuple[str, Callable[..., Decision], None]]] = {}
    for i in range(9):
        table[STAGES[i]] = {"advance": (STAGES[i + 1], guard, None)}
    table[STAGES[9]] = {"win": ("won", guard, None)}
    return table


def run_floor(n: int, kind: str) -> tuple[float, list[Any]]:
    """The four values of a guarded move and nothing else: no check, no error path."""
    table = _floor_table()
    new = tuple.__new__
    no_data: dict[str, Any] = {}

    def fire_new(lead: Any, event: str, *, at: datetime) -> Any:
        lead_id, stage, version, attrs, source, owner, created, entered, _ = (
            tuple.__iter__(lead))
        target, policy, team_change = table[stage][event]
        decision = policy(lead, new(_FloorContext, (at, (), None, no_data, None)))
        version += 1
        return new(_FloorOutcome, (
            new(_FloorLead, (lead_id, target, version, attrs, source, owner, created,
                             entered if target == stage else at, at)),
            new(_FloorTransition, (lead_id, event, stage, target, at, None, None, decision,
                                   version)),
            team_change))

    def fire_call(lead: Any, event: str, *, at: datetime) -> Any:
        lead_id, stage, version, attrs, source, owner, created, entered, _ = (
            tuple.__iter__(lead))
        target, policy, team_change = table[stage][event]
        decision = policy(lead, _FloorContext((at, (), None, no_data, None)))
        version += 1
        return _FloorOutcome((
            _FloorLead((lead_id, target, version, attrs, source, owner, created,
                        entered if target == stage else at, at)),
            _FloorTransition((lead_id, event, stage, target, at, None, None, decision, version)),
            team_change))

    obj = object.__new__

    def fire_slots(lead: Any, event: str, *, at: datetime) -> Any:
        stage = lead.stage
        target, policy, team_change = table[stage][event]
        ctx = obj(_SlotContext)
        ctx.at, ctx.touchpoints, ctx.funnel, ctx.data, ctx.score = at, (), None, no_data, None
        decision = policy(lead, ctx)
        new_lead = obj(_SlotLead)
        new_lead.id, new_lead.stage, new_lead.version = lead.id, target, lead.version + 1
        new_lead.attributes, new_lead.source, new_lead.owner = (
            lead.attributes, lead.source, lead.owner)
        new_lead.created_at, new_lead.updated_at = lead.created_at, at
        new_lead.stage_entered_at = lead.stage_entered_at if target == stage else at
        t = obj(_SlotTransition)
        t.lead_id, t.event, t.source, t.target, t.at = lead.id, event, stage, target, at
        t.actor, t.reason, t.decision, t.version = None, None, decision, new_lead.version
        outcome = obj(_SlotOutcome)
        outcome.lead, outcome.transition, outcome.team_change = new_lead, t, team_change
        return outcome

    if kind == "slots":
        leads: list[Any] = []
        for i in range(n):
            lead = obj(_SlotLead)
            lead.id, lead.stage, lead.version, lead.attributes = f"L{i}", "s0", 0, no_data
            lead.source = lead.owner = None
            lead.created_at = lead.stage_entered_at = lead.updated_at = START
            leads.append(lead)
        fire = fire_slots
    else:
        leads = [new(_FloorLead, (f"L{i}", "s0", 0, no_data, None, None, START, START, START))
                 for i in range(n)]
        fire = fire_new if kind == "new" else fire_call
    log: list[Any] = []

    def work() -> None:
        append = log.append
        item = tuple.__getitem__
        for step in range(MOVES_PER_LEAD):
            event, at = EVENTS[step], TIMES[step]
            if kind == "slots":
                for i in range(n):
                    outcome = fire(leads[i], event, at=at)
                    leads[i] = outcome.lead
                    append(outcome.transition)
            else:
                for i in range(n):
                    outcome = fire(leads[i], event, at=at)
                    leads[i] = item(outcome, 0)
                    append(item(outcome, 1))

    seconds, _ = timed(work)
    return seconds, log


class Model:
    """A lead as transitions sees it: an object whose ``state`` the machine sets."""

    def __init__(self, lead_id: str) -> None:
        self.id = lead_id


def _machine(models: list[Model] | None) -> Machine:
    def condition(event_data: Any) -> bool:
        return guard(event_data.model, event_data).allowed

    transitions = [
        {"trigger": "advance", "source": STAGES[i], "dest": STAGES[i + 1],
         "conditions": [condition]}
        for i in range(9)
    ]
    transitions.append({"trigger": "win", "source": STAGES[9], "dest": "won",
                        "conditions": [condition]})
    return Machine(model=models, states=[*STAGES, "won"], transitions=transitions,
                   initial="s0", auto_transitions=False, send_event=True)


def run_transitions_shared(n: int) -> tuple[float, list[Any]]:
    machine = _machine(None)
    models = [Model(f"L{i}") for i in range(n)]
    for model in models:
        model.state = "s0"  # type: ignore[attr-defined]
    log: list[tuple[Any, ...]] = []

    def work() -> None:
        append = log.append
        for step in range(MOVES_PER_LEAD):
            event, at = EVENTS[step], TIMES[step]
            trigger = machine.events[event].trigger
            for i in range(n):
                model = models[i]
                source = model.state  # type: ignore[attr-defined]
                if not trigger(model):
                    raise RuntimeError("refused")
                append((model.id, event, source, model.state, at, step + 1))  # type: ignore[attr-defined]

    seconds, _ = timed(work)
    assert all(m.state == "won" for m in models)  # type: ignore[attr-defined]
    return seconds, log


def run_transitions_bound(n: int) -> tuple[float, float, list[Any]]:
    models = [Model(f"L{i}") for i in range(n)]
    bind_seconds, _ = timed(lambda: _machine(models))
    log: list[tuple[Any, ...]] = []

    def work() -> None:
        append = log.append
        for step in range(MOVES_PER_LEAD):
            event, at = EVENTS[step], TIMES[step]
            for i in range(n):
                model = models[i]
                source = model.state  # type: ignore[attr-defined]
                if not getattr(model, event)():
                    raise RuntimeError("refused")
                append((model.id, event, source, model.state, at, step + 1))  # type: ignore[attr-defined]

    seconds, _ = timed(work)
    return bind_seconds, seconds, log


def _statemachine_class() -> type[Any]:
    """One python-statemachine class: the eleven stages, ``advance`` and ``win``, guarded."""
    def condition(model: Any, event_data: Any) -> bool:
        return guard(model, event_data).allowed

    body: dict[str, Any] = {
        name: State(name, value=name, initial=(i == 0)) for i, name in enumerate(STAGES)
    }
    body["won"] = State("won", value="won", final=True)
    advance = body[STAGES[0]].to(body[STAGES[1]], cond=condition)
    for i in range(1, 9):
        advance |= body[STAGES[i]].to(body[STAGES[i + 1]], cond=condition)
    body["advance"] = advance
    body["win"] = body[STAGES[9]].to(body["won"], cond=condition)
    # What a class statement with these names in its body does.
    return type(StateMachine)("LeadMachine", (StateMachine,), body)


def run_statemachine(n: int) -> tuple[float, float, list[Any]]:
    cls = _statemachine_class()
    models = [Model(f"L{i}") for i in range(n)]
    build_seconds, machines = timed(lambda: [cls(model=model) for model in models])
    log: list[tuple[Any, ...]] = []

    def work() -> None:
        append = log.append
        for step in range(MOVES_PER_LEAD):
            event, at = EVENTS[step], TIMES[step]
            for i in range(n):
                model = models[i]
                source = model.state  # type: ignore[attr-defined]
                getattr(machines[i], event)()  # raises TransitionNotAllowed if refused
                append((model.id, event, source, model.state, at, step + 1))  # type: ignore[attr-defined]

    seconds, _ = timed(work)
    assert all(m.state == "won" for m in models)  # type: ignore[attr-defined]
    return build_seconds, seconds, log


def measure_gc(funnel: Funnel, n: int, repeat: int) -> None:
    """``fire`` on *n* leads with the collector on against off: interleaved rounds, medians."""
    seconds: dict[bool, list[float]] = {False: [], True: []}
    collections: list[list[float]] = [[0, 0.0], [0, 0.0], [0, 0.0]]
    started = [0.0]

    def watch(phase: str, info: dict[str, int]) -> None:
        if not TIMING[0]:
            return
        if phase == "start":
            started[0] = time.process_time()
        else:
            collections[info["generation"]][0] += 1
            collections[info["generation"]][1] += time.process_time() - started[0]

    moves = n * MOVES_PER_LEAD
    print(f"\nthe collector: funnelkit on {n:,} leads ({moves:,} moves), rounds interleaved, "
          f"medians of {repeat}, CPU time")
    for _ in range(repeat):
        for keep in (False, True):
            gc.callbacks.append(watch)
            try:
                taken, log = run_funnelkit(funnel, n, keep_gc=keep, clock=time.process_time)
            finally:
                gc.callbacks.remove(watch)
            del log
            seconds[keep].append(taken)
    off, on = (statistics.median(seconds[keep]) for keep in (False, True))
    print(f"funnelkit, collector off{moves / off:>23,.0f} moves/s  ({off:.1f} s)")
    print(f"funnelkit, collector on {moves / on:>23,.0f} moves/s  ({on:.1f} s)")
    counts = ", ".join(f"gen{g} {c / repeat:,.0f} ({t / repeat:.2f} s)"
                       for g, (c, t) in enumerate(collections))
    print(f"collections a round with it on: {counts}")
    print(f"funnelkit collector on / off      {off / on:>8.2f}   (goal >= 0.8)")


def measure_memory(funnel: Funnel, n: int) -> tuple[int, int]:
    ids = [f"L{i:07d}" for i in range(n)]
    times = [START + timedelta(seconds=i) for i in range(n)]
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    leads = [funnel.new_lead(ids[i], at=times[i]) for i in range(n)]
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(leads) == n
    # The ids and the datetimes are made before measuring: they are the host's data, not ours.
    return current - base, peak - base


def run_engines(args: argparse.Namespace, funnel: Funnel) -> None:
    """Every engine on the same moves, in interleaved rounds; each one's best round counts."""
    n = args.leads
    moves = n * MOVES_PER_LEAD
    # Rounds interleave the contenders so that a busy machine slows them alike; each contender's
    # best round counts (as timeit's repeat does).
    bound_name = f"transitions (bound, {args.bound:,} leads)"
    bind_times: list[float] = []

    def run_bound(count: int) -> tuple[float, int]:
        bind_seconds, seconds, _ = run_transitions_bound(count)
        bind_times.append(bind_seconds)
        return seconds, count * MOVES_PER_LEAD

    contenders: dict[str, Callable[[], tuple[float, int]]] = {
        "baseline": lambda: (run_baseline(n)[0], moves),
        "baseline (same fields as funnelkit)": lambda: (run_baseline_same_fields(n)[0], moves),
        "funnelkit": lambda: (run_funnelkit(funnel, n)[0], moves),
        "transitions (shared machine)": lambda: (run_transitions_shared(n)[0], moves),
        bound_name: lambda: run_bound(args.bound),
    }
    psm_name = f"python-statemachine ({args.psm_leads:,} leads)"
    psm_builds: list[float] = []

    def run_psm(count: int) -> tuple[float, int]:
        build_seconds, seconds, _ = run_statemachine(count)
        psm_builds.append(build_seconds)
        return seconds, count * MOVES_PER_LEAD

    if StateMachine is not None:
        contenders[psm_name] = lambda: run_psm(args.psm_leads)
    floors = {
        "floor: 4 tuple records, tuple.__new__": "new",
        "floor: 4 tuple records, type call": "call",
        "floor: 4 slotted objects (mutable)": "slots",
    }
    if args.floors:
        for name, kind in floors.items():
            contenders[name] = lambda kind=kind: (run_floor(n, kind)[0], moves)
    results: dict[str, float] = dict.fromkeys(contenders, 0.0)
    for _ in range(args.repeat):
        for name, run in contenders.items():
            seconds, count = run()
            results[name] = max(results[name], count / seconds)
    bind, bind_count = min(bind_times), args.bound

    for name, rate in results.items():
        print(f"{name:<40}{rate:>14,.0f} moves/s")
    base, fk = results["baseline"], results["funnelkit"]
    shared = results["transitions (shared machine)"]
    bound_rate = results[bound_name]
    print()
    same = results["baseline (same fields as funnelkit)"]
    print(f"funnelkit / baseline              {fk / base:>8.2f}   (goal >= 0.25)")
    print(f"funnelkit / baseline (same fields){fk / same:>8.2f}")
    print(f"funnelkit / transitions (shared)  {fk / shared:>8.1f}x  (goal >= 7x)")
    print(f"funnelkit / transitions (bound)   {fk / bound_rate:>8.1f}x")
    if psm_name in results:
        print(f"funnelkit / python-statemachine   {fk / results[psm_name]:>8.1f}x  (goal >= 50x)")
    for name in floors:
        if name in results:
            print(f"{name + ' / baseline':<50}{results[name] / base:>6.2f}  (no checks at all)")
    print(f"binding {bind_count:,} models to one Machine: {bind:.2f} s "
          f"({bind / bind_count * 1e6:,.0f} us a model; add_model is O(n^2) in the model count)")
    if psm_builds:
        build = min(psm_builds)
        print(f"building {args.psm_leads:,} python-statemachine instances: {build:.2f} s "
              f"({build / args.psm_leads * 1e6:,.0f} us an instance)")
    else:
        print("python-statemachine is not installed: pip install python-statemachine")



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--bound", type=int, default=10_000)
    parser.add_argument("--memory-leads", type=int, default=1_000_000)
    parser.add_argument("--psm-leads", type=int, default=10_000,
                        help="leads for python-statemachine (one machine instance each)")
    parser.add_argument("--gc-leads", type=int, default=1_000_000,
                        help="leads for the collector on/off comparison")
    parser.add_argument("--gc-repeat", type=int, default=3, help="rounds of it (3)")
    parser.add_argument("--parts", default="engines,gc,memory",
                        help="what to run, of engines,gc,memory (all)")
    parser.add_argument("--quick", action="store_true", help="ten times fewer of everything")
    parser.add_argument("--gc", action="store_true", help="keep the garbage collector on")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best counts (3)")
    parser.add_argument("--floors", action="store_true",
                        help="also time the four result values alone, in three representations")
    args = parser.parse_args()
    global KEEP_GC  # noqa: PLW0603 - a command-line switch read by timed()
    KEEP_GC = args.gc
    if args.quick:
        args.leads //= 10
        args.bound //= 10
        args.memory_leads //= 10
        args.psm_leads //= 10
        args.gc_leads //= 10
    parts = set(args.parts.split(","))
    n = args.leads
    moves = n * MOVES_PER_LEAD
    funnel = build_funnel()
    print(f"Python {sys.version.split()[0]}, funnelkit {funnelkit.__version__}")
    print(f"{n:,} leads, {moves:,} guarded moves, round-robin, one audit record per move, "
          f"garbage collector {'on' if KEEP_GC else 'off while timing'}\n")

    if "engines" in parts:
        run_engines(args, funnel)
    if "gc" in parts:
        measure_gc(funnel, args.gc_leads, args.gc_repeat)
    if "memory" in parts:
        current, peak = measure_memory(funnel, args.memory_leads)
        print(f"\nmemory for {args.memory_leads:,} leads from new_lead: {current / 2**20:,.1f} MiB "
              f"({current / args.memory_leads:.0f} bytes a lead; peak {peak / 2**20:,.1f} MiB; "
              f"goal < {200 * args.memory_leads / 1_000_000:,.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
