"""``funnelkit simulate``: synthetic leads walked through a funnel by a real pipeline.

Each lead is captured at a random time within the arrival window, gets touchpoints on its
channels, and moves by the funnel's own moves: after a stay drawn from an exponential
distribution (its mean set per stage), a move is chosen by weight among the moves out of the
lead's stage, or the lead stays open.  Handoffs between teams are answered by the receiving
team: accepted, or rejected with a reason (the lead goes back to nurture, or wherever the funnel
sends it back).  Nothing happens after the end of the window, so the leads still moving then are
open, as in a live store.

The pipeline runs on a :class:`~funnelkit.stores.MemoryStore` a batch of leads at a time; each
batch is then written to the target store in one transaction (``commit_many``), so simulating
is fast on any store and every value is the pipeline's own.
"""

from __future__ import annotations

import json
import math
import random
import tomllib
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from funnelkit._core.errors import FunnelError, InvalidInput, PolicyRefused
from funnelkit._core.lead import Source
from funnelkit._core.time import parse_duration
from funnelkit._core.touchpoint import Touchpoint
from funnelkit.cli._common import (
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    load_funnel,
    open_store,
    parse_time,
)

if TYPE_CHECKING:
    import argparse

    from funnelkit._definition.funnel import Funnel
    from funnelkit._pipeline.pipeline import Pipeline
    from funnelkit.cli._console import Console
    from funnelkit.stores import Store

__all__ = ["Plan", "plan_from", "simulate", "simulate_into"]

CHANNELS = {"organic_search": 30, "paid_search": 20, "social": 12, "email": 10, "referral": 10,
            "outbound": 13, "display": 5}
REASONS = ("no budget", "not the decision maker", "no project this year", "wrong segment")
# Sales turns down some sources more often than others: the feedback the report shows.
ACCEPT_BY_CHANNEL = {"referral": 0.9, "outbound": 0.8, "organic_search": 0.75, "email": 0.7,
                     "paid_search": 0.65, "social": 0.55, "display": 0.5}
TOUCH_KINDS = ("page_view", "email_click", "webinar", "content_download", "demo_request")
_BATCH = 500
_MAX_MOVES = 40  # a lead cycling through nurture stops after this many moves


@attrs.frozen
class Plan:
    """How the simulated leads behave: move weights, stays, channels and handoff answers."""

    weights: dict[str, dict[str, float]]
    """stage -> {event or "stay": relative weight}."""
    stays: dict[str, timedelta]
    """stage -> mean time before the next move."""
    channels: dict[str, float]
    accept: dict[str, float]
    """channel -> share of handoffs the receiving team accepts ("*": any other channel)."""
    answer: timedelta
    """Mean time the receiving team takes to answer a handoff."""
    reasons: tuple[str, ...]
    touches: float
    """Mean number of touchpoints per lead after the first one."""


def _default_weights(funnel: Funnel) -> dict[str, dict[str, float]]:
    """Forward moves likely, losing or nurturing less so, and a chance to stay open."""
    order = {s.name: i for i, s in enumerate(funnel.stages)}
    weights: dict[str, dict[str, float]] = {}
    for stage in funnel.stages:
        moves = funnel.moves_from(stage.name)
        if not moves:
            continue
        table: dict[str, float] = {}
        for move in moves:
            target = funnel.stage(move.target)
            if target.outcome == "lost":
                table[move.event] = 1.0
            elif target.outcome == "won" or (
                order[target.name] > order[stage.name] and target.name != "nurture"
            ):
                table[move.event] = 4.0
            else:
                table[move.event] = 1.0
        table["stay"] = 1.5 if stage.is_open else 4.0
        weights[stage.name] = table
    return weights


def _duration(value: object, where: str) -> timedelta:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return timedelta(days=float(value))
    text = str(value).strip()
    short = {"d": "days", "h": "hours", "m": "minutes", "w": "weeks"}
    if text and text[-1] in short and text[:-1].replace(".", "", 1).isdigit():
        text = f"{text[:-1]} {short[text[-1]]}"
    try:
        duration = parse_duration(text, name=where)
    except InvalidInput:
        raise CommandError(f"{where} {value!r} is not a duration; write it like 2d, 36h or "
                           f"'3 days'", code=EXIT_USAGE) from None
    if duration.business:
        raise CommandError(f"{where} {value!r}: give calendar time (days, hours), not business "
                           f"time", code=EXIT_USAGE)
    return duration.as_timedelta()


def _weight(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            math.isfinite(value) and value >= 0):
        raise CommandError(f"{where} = {value!r} must be a number >= 0", code=EXIT_USAGE)
    return float(value)


def plan_from(funnel: Funnel, config: dict[str, Any], weights: list[str],
              stays: list[str]) -> Plan:
    """The plan: defaults, then the ``--config`` TOML tables, then ``--weight`` / ``--stay``."""
    known_stages = {s.name for s in funnel.stages}
    table = _default_weights(funnel)
    unknown_keys = set(config) - {"weights", "stays", "channels", "handoffs", "touches"}
    if unknown_keys:
        raise CommandError(f"--config: unknown table(s) {', '.join(sorted(unknown_keys))}; use "
                           f"weights, stays, channels, handoffs, touches", code=EXIT_USAGE)

    def set_weight(stage: str, event: str, value: object, where: str) -> None:
        if stage not in known_stages:
            raise CommandError(f"{where}: funnel {funnel.name!r} has no stage {stage!r}",
                               code=EXIT_USAGE)
        events = set(funnel.events_from(stage))
        if event != "stay" and event not in events:
            raise CommandError(
                f"{where}: no move {event!r} from {stage!r}; moves from it: "
                f"{', '.join(sorted(events)) or 'none'} (or 'stay')", code=EXIT_USAGE)
        table.setdefault(stage, {"stay": 1.0})[event] = _weight(value, where)

    for stage, events in dict(config.get("weights", {})).items():
        if not isinstance(events, dict):
            raise CommandError(f"--config: [weights.{stage}] must be a table of event = weight",
                               code=EXIT_USAGE)
        for event, value in events.items():
            set_weight(stage, event, value, f"--config weights.{stage}.{event}")
    for item in weights:
        key, sep, value = item.partition("=")
        stage, dot, event = key.partition(".")
        if not sep or not dot:
            raise CommandError(f"--weight {item!r} must be STAGE.EVENT=WEIGHT, e.g. "
                               f"mql.hand_to_sales=5", code=EXIT_USAGE)
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        set_weight(stage.strip(), event.strip(), number, f"--weight {item}")
    mean = {"default": timedelta(days=3)}
    for stage, value in dict(config.get("stays", {})).items():
        mean[stage] = _duration(value, f"--config stays.{stage}")
    for item in stays:
        stage, sep, value = item.partition("=")
        if not sep:
            raise CommandError(f"--stay {item!r} must be STAGE=DURATION, e.g. mql=2d",
                               code=EXIT_USAGE)
        mean[stage.strip()] = _duration(value, f"--stay {item}")
    for stage in mean:
        if stage != "default" and stage not in known_stages:
            raise CommandError(f"stay for {stage!r}: funnel {funnel.name!r} has no such stage",
                               code=EXIT_USAGE)
    channels = {str(k): _weight(v, f"--config channels.{k}")
                for k, v in dict(config.get("channels", CHANNELS)).items()}
    if not channels or not any(channels.values()):
        raise CommandError("--config channels: give at least one channel a weight > 0",
                           code=EXIT_USAGE)
    handoffs = dict(config.get("handoffs", {}))
    accept = dict(ACCEPT_BY_CHANNEL)
    accept["*"] = 0.7
    if "accept" in handoffs:
        accept = {"*": _weight(handoffs["accept"], "--config handoffs.accept")}
    for channel, share in dict(handoffs.get("accept_by_channel", {})).items():
        accept[str(channel)] = _weight(share, f"--config handoffs.accept_by_channel.{channel}")
    if any(v > 1 for v in accept.values()):
        raise CommandError("--config handoffs: acceptance shares are between 0 and 1",
                           code=EXIT_USAGE)
    reasons = tuple(str(r) for r in handoffs.get("reasons", REASONS)) or REASONS
    return Plan(
        weights=table,
        stays={s.name: mean.get(s.name, mean["default"]) for s in funnel.stages},
        channels=channels,
        accept=accept,
        answer=_duration(handoffs.get("answer_within", "6 hours"), "--config handoffs"),
        reasons=reasons,
        touches=_weight(config.get("touches", 2), "--config touches"),
    )


def _send_back(funnel: Funnel, stage: str, from_team: str) -> str | None:
    """Where a rejected lead goes: nurture, else an open stage of the sending team.

    None when there is neither (the team receiving a lead sent back to nurture accepts it).
    """
    targets = [funnel.stage(m.target) for m in funnel.moves_from(stage) if m.target != stage]
    for target in targets:
        if target.name == "nurture":
            return target.name
    for target in targets:
        if target.team == from_team and target.is_open:
            return target.name
    return None


class _Walker:
    """Walks leads through one pipeline with one random generator."""

    def __init__(self, pipeline: Pipeline, plan: Plan, rng: random.Random, end: datetime) -> None:
        self.pipeline = pipeline
        self.plan = plan
        self.rng = rng
        self.end = end
        self.funnel = pipeline.funnel
        self.refused = 0
        self.moves = 0
        self._choices = {
            stage: (list(table), list(table.values()))
            for stage, table in plan.weights.items() if any(table.values())
        }
        self._channels = (list(plan.channels), list(plan.channels.values()))

    def _after(self, at: datetime, mean: timedelta) -> datetime:
        seconds = self.rng.expovariate(1 / max(mean.total_seconds(), 1))
        return at + timedelta(seconds=round(seconds))

    def lead(self, lead_id: str, at: datetime) -> None:
        rng, pipeline, plan = self.rng, self.pipeline, self.plan
        channel = rng.choices(*self._channels)[0]
        pipeline.capture(lead_id, source=Source.of(channel), at=at)
        pipeline.touch(lead_id, Touchpoint(lead_id, "form_submit", channel, at))
        touches = []
        t = at
        for _ in range(min(int(rng.expovariate(1 / plan.touches)) if plan.touches else 0, 12)):
            t = self._after(t, timedelta(days=4))
            touches.append((t, rng.choices(*self._channels)[0], rng.choice(TOUCH_KINDS)))
        stage = self.funnel.initial
        for _ in range(_MAX_MOVES):
            choice = self._choices.get(stage)
            if choice is None:
                break
            at = self._after(at, plan.stays[stage])
            if at > self.end:
                break
            event = rng.choices(*choice)[0]
            if event == "stay":
                break
            while touches and touches[0][0] <= at:
                when, ch, kind = touches.pop(0)
                pipeline.touch(lead_id, Touchpoint(lead_id, kind, ch, when))
            move = self.funnel.move(stage, event)
            reason = "simulated" if self.funnel.requires_reason(stage, event) else None
            try:
                lead = pipeline.fire(lead_id, event, at=at, actor="simulate", reason=reason).lead
            except PolicyRefused:
                self.refused += 1
                continue
            self.moves += 1
            stage = lead.stage
            if stage != move.target:  # an automatic move followed: the pipeline moved it on
                continue
            stage, at = self._answer(lead_id, stage, channel, at)
        for when, ch, kind in touches:
            if when <= self.end:
                pipeline.touch(lead_id, Touchpoint(lead_id, kind, ch, when))

    def _answer(self, lead_id: str, stage: str, channel: str, at: datetime) -> tuple[str, datetime]:
        """The receiving team answers a pending handoff: accepts, or rejects with a reason."""
        pending = self.pipeline.handoffs(status="pending", lead_id=lead_id)
        if not pending:
            return stage, at
        (handoff,) = pending
        when = self._after(at, self.plan.answer)
        if when > self.end:
            return stage, at
        accept = self.plan.accept.get(channel, self.plan.accept.get("*", 0.7))
        back = _send_back(self.funnel, stage, handoff.from_team)
        if self.rng.random() < accept or back is None:
            self.pipeline.accept_handoff(handoff.id, by=f"{handoff.to_team}_rep", at=when)
            return stage, when
        self.pipeline.reject_handoff(handoff.id, by=f"{handoff.to_team}_rep",
                                     reason=self.rng.choice(self.plan.reasons),
                                     recycle_to=back, at=when)
        self.moves += 1
        return self.pipeline.get(lead_id).stage, when


def _flush(memory: Store, target: Store | None) -> None:
    """Write every lead of *memory*, with its history, to *target* in one transaction."""
    from funnelkit.stores import Change  # noqa: PLC0415

    if target is None:
        return
    handoffs: dict[str, list[Any]] = {}
    for h in memory.handoffs():
        handoffs.setdefault(h.lead_id, []).append(h)
    changes = [
        Change(lead, None, memory.history(lead.id), touchpoints=memory.touchpoints(lead.id),
               handoffs=handoffs.get(lead.id, ()))
        for lead in memory.leads()
    ]
    commit_many = getattr(target, "commit_many", None)
    if commit_many is not None:
        commit_many(changes)
    else:
        for change in changes:
            target.commit(change)


@attrs.frozen
class Totals:
    """What a simulation did."""

    leads: int
    moves: int
    refused: int
    reached: dict[str, int]
    ended: dict[str, int]
    handoffs: dict[str, int]


def simulate_into(funnel: Funnel, target: Store | None, *, leads: int, seed: int, plan: Plan,
                  start: datetime, days: float, console: Console | None = None) -> Totals:
    """Walk *leads* synthetic leads through *funnel*, writing them to *target* (if any)."""
    from funnelkit._pipeline.pipeline import Pipeline  # noqa: PLC0415
    from funnelkit.stores import MemoryStore  # noqa: PLC0415

    rng = random.Random(seed)  # noqa: S311 - a reproducible simulation, not secrets
    end = start + timedelta(days=days)
    span = int((end - start).total_seconds())
    arrivals = sorted(rng.randrange(span) for _ in range(leads))
    pipeline = Pipeline(funnel, store=MemoryStore())
    walker = _Walker(pipeline, plan, rng, end)
    reached: Counter[str] = Counter()
    ended: Counter[str] = Counter()
    handoffs: Counter[str] = Counter()
    width = len(str(leads - 1))

    def tally(memory: Store) -> None:
        for lead in memory.leads():
            ended[lead.stage] += 1
            reached[funnel.initial] += 1
        for _, t in memory.transitions():
            if t.target != t.source:
                reached[t.target] += 1
        for h in memory.handoffs():
            handoffs[h.status] += 1

    progress_cm = console.progress("simulate: walking leads", leads) if console else None
    progress = progress_cm.__enter__() if progress_cm else None
    try:
        for first in range(0, leads, _BATCH):
            memory = MemoryStore()
            pipeline.store = memory
            for i in range(first, min(first + _BATCH, leads)):
                walker.lead(f"S{i:0{width}d}", start + timedelta(seconds=arrivals[i]))
            tally(memory)
            _flush(memory, target)
            if progress is not None:
                progress.advance(min(_BATCH, leads - first))
    finally:
        if progress_cm is not None:
            progress_cm.__exit__(None, None, None)
    return Totals(leads, walker.moves, walker.refused, dict(reached), dict(ended),
                  dict(handoffs))


def simulate(args: argparse.Namespace, console: Console) -> int:
    """Simulate, write the store when ``--db`` is given, and print what happened."""
    if args.leads < 1:
        raise CommandError("--leads must be at least 1", code=EXIT_USAGE)
    if not args.days > 0:
        raise CommandError("--days must be more than 0", code=EXIT_USAGE)
    funnel = load_funnel(args.file)
    config: dict[str, Any] = {}
    if args.config:
        path = Path(args.config)
        try:
            config = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(f"--config {args.config}: cannot read it ({exc.strerror})",
                               code=EXIT_USAGE) from None
        except tomllib.TOMLDecodeError as exc:
            raise CommandError(f"--config {args.config} is not valid TOML ({exc})",
                               code=EXIT_USAGE) from None
    plan = plan_from(funnel, config, args.weight, args.stay)
    start = parse_time(args.start, name="--start")
    target = None
    if args.db:
        if Path(args.db).exists():
            raise CommandError(f"--db {args.db} exists; simulate writes a new store: pass "
                               f"another path or remove it", code=EXIT_USAGE)
        target = open_store(db=args.db, url=None, create=True)
    try:
        totals = simulate_into(funnel, target, leads=args.leads, seed=args.seed, plan=plan,
                               start=start, days=args.days, console=console)
    except FunnelError as exc:
        raise CommandError(f"the simulation stopped: {str(exc).splitlines()[0]}") from None
    finally:
        if target is not None:
            target.close()
    where = args.db or "nowhere (add --db PATH to keep the store)"
    if args.format == "json":
        console.write(json.dumps({"funnel": funnel.name, "db": args.db, "seed": args.seed,
                                  **attrs.asdict(totals)}, indent=2))
        return EXIT_OK
    console.write(f"simulated {totals.leads:,} leads through {funnel.name!r} (seed {args.seed}): "
                  f"{totals.moves:,} moves, written to {where}")
    rows = [[s.name, s.team, f"{totals.reached.get(s.name, 0):,}",
             f"{totals.reached.get(s.name, 0) / totals.leads:.1%}",
             f"{totals.ended.get(s.name, 0):,}"] for s in funnel.stages]
    console.table(["stage", "team", "reached", "of all", "there now"], rows,
                  right=[False, False, True, True, True])
    if totals.handoffs:
        console.write("handoffs: " + ", ".join(f"{n:,} {status}"
                                               for status, n in sorted(totals.handoffs.items())))
    if totals.refused:
        console.write(f"{totals.refused:,} moves were refused by the funnel's policies")
    return EXIT_OK
