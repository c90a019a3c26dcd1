"""Benchmark: a 20-rule scoring model plus a rule(...) policy vs a hand-written function.

Both compute the same thing for every lead: fit points (12 attribute rules, fit capped at 60),
engagement points (8 touchpoint rules, half-life 30 days, engagement capped at 50), the total,
and whether ``budget >= 10000 and role in ('cto', 'ceo') and days_since(last_touch) < 30`` holds.
funnelkit also returns a Score whose ledger it writes out on first read (the checks below read it
for 2,000 leads; ``--read-ledger`` reads it for every lead in the timed run too), builds the
Context, and returns a Decision with one Verdict per clause and a reason per failed clause.

Run:  .venv/bin/python benchmarks/bench_policies.py [--n 1000000] [--pool 10000] [--read-ledger]

Times are CPU time of this process (``time.process_time``), the two arms interleaved in blocks, so
a busy shared machine slows both alike.

Leads come from a pool of distinct leads (default 10,000, each with 0-6 touchpoints) visited in
turn until --n evaluations have run, so building the input does not dominate the run.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

from funnelkit import Context, Lead, Touchpoint
from funnelkit.policies import rule
from funnelkit.scoring import EngagementRule, FitRule, ScoringModel

AT = datetime(2026, 3, 2, 12, tzinfo=UTC)
clock = time.process_time
HALF_LIFE = timedelta(days=30)

FIT = [
    ("industry == 'saas'", 15),
    ("industry in ('fintech', 'healthtech')", 10),
    ("employees >= 200", 10),
    ("employees >= 50 and employees < 200", 6),
    ("role in ('cto', 'ceo')", 15),
    ("role == 'vp_engineering'", 10),
    ("country in ('us', 'uk', 'de')", 5),
    ("budget >= 50000", 12),
    ("budget >= 10000 and budget < 50000", 6),
    ("uses_competitor == true", -8),
    ("free_email == true", -10),
    ("annual_revenue >= 5000000", 8),
]
ENGAGEMENT = [
    ("demo_request", None, 25),
    ("webinar", None, 10),
    ("email_open", None, 2),
    ("email_click", None, 4),
    ("call", None, 8),
    ("meeting", None, 15),
    (None, "paid_search", 3),
    (None, None, 1),
]
KIND_POINTS = {k: p for k, c, p in ENGAGEMENT if k is not None}
CHANNEL_POINTS = {c: p for k, c, p in ENGAGEMENT if c is not None}
FIT_CAP, ENGAGEMENT_CAP = 60, 50
RULE = "budget >= 10000 and role in ('cto', 'ceo') and days_since(last_touch) < 30"


def build_model() -> ScoringModel:
    return ScoringModel(
        fit=[FitRule(w, p) for w, p in FIT],
        engagement=[EngagementRule(p, kind=k, channel=c) for k, c, p in ENGAGEMENT],
        caps={"fit": FIT_CAP, "engagement": ENGAGEMENT_CAP},
        half_life=HALF_LIFE,
    )


def hand_written(lead: Lead, touchpoints: tuple[Touchpoint, ...], at: datetime) -> tuple[float, float, float, bool]:
    """The same points and the same decision, written out by hand."""
    a = lead.attributes
    fit = 0.0
    industry = a.get("industry")
    employees = a.get("employees")
    role = a.get("role")
    budget = a.get("budget")
    if industry == "saas":
        fit += 15
    if industry in ("fintech", "healthtech"):
        fit += 10
    if employees is not None:
        if employees >= 200:
            fit += 10
        if 50 <= employees < 200:
            fit += 6
    if role in ("cto", "ceo"):
        fit += 15
    if role == "vp_engineering":
        fit += 10
    if a.get("country") in ("us", "uk", "de"):
        fit += 5
    if budget is not None:
        if budget >= 50000:
            fit += 12
        if 10000 <= budget < 50000:
            fit += 6
    if a.get("uses_competitor") is True:
        fit -= 8
    if a.get("free_email") is True:
        fit -= 10
    revenue = a.get("annual_revenue")
    if revenue is not None and revenue >= 5000000:
        fit += 8
    fit = min(fit, FIT_CAP)
    engagement = 0.0
    last = None
    hl = HALF_LIFE.total_seconds()
    for tp in touchpoints:
        if tp.at > at:
            continue
        points = KIND_POINTS.get(tp.kind)
        if points is None:
            points = CHANNEL_POINTS.get(tp.channel, 1)
        engagement += points * 0.5 ** ((at - tp.at).total_seconds() / hl)
        if last is None or tp.at > last:
            last = tp.at
    engagement = min(engagement, ENGAGEMENT_CAP)
    allowed = (
        budget is not None and budget >= 10000 and role in ("cto", "ceo")
        and last is not None and (at - last).total_seconds() / 86400 < 30
    )
    return fit, engagement, fit + engagement, allowed


def make_pool(size: int, seed: int = 7) -> list[tuple[Lead, tuple[Touchpoint, ...]]]:
    rnd = random.Random(seed)
    kinds = ["demo_request", "webinar", "email_open", "email_click", "call", "meeting", "ad_click", "direct_mail"]
    channels = ["email", "web", "paid_search", "social", "phone", "event"]
    pool = []
    for i in range(size):
        attributes = {
            "industry": rnd.choice(["saas", "fintech", "healthtech", "retail", "manufacturing"]),
            "employees": rnd.choice([5, 20, 60, 150, 400, 2000]),
            "role": rnd.choice(["cto", "ceo", "vp_engineering", "developer", "marketing"]),
            "country": rnd.choice(["us", "uk", "de", "fr", "br", "in"]),
            "budget": rnd.choice([0, 5000, 12000, 30000, 80000]),
            "uses_competitor": rnd.random() < 0.2,
            "free_email": rnd.random() < 0.1,
            "annual_revenue": rnd.choice([100000, 1000000, 10000000]),
        }
        for key in list(attributes):
            if rnd.random() < 0.05:
                del attributes[key]  # real data has holes
        lead = Lead(f"L{i}", "lead", created_at=AT - timedelta(days=120), attributes=attributes)
        tps = tuple(
            Touchpoint(lead.id, rnd.choice(kinds), rnd.choice(channels),
                       AT - timedelta(hours=rnd.randint(0, 24 * 90)))
            for _ in range(rnd.randint(0, 6))
        )
        pool.append((lead, tps))
    return pool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="lead evaluations per arm")
    parser.add_argument("--pool", type=int, default=10_000, help="distinct leads to cycle through")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time the scoring model, the context and the rule on their own")
    parser.add_argument("--read-ledger", action="store_true",
                        help="the funnelkit arm also reads every Score's ledger")
    args = parser.parse_args()
    model = build_model()
    policy = rule(RULE)
    pool = make_pool(args.pool)
    at = AT

    # Same answers first (funnelkit rounds each ledger entry to 1/1024 of a point).
    for lead, tps in pool[:2000]:
        fit, engagement, total, allowed = hand_written(lead, tps, at)
        score = model.score(lead, tps, at=at)
        decision = policy(lead, Context(at, touchpoints=tps, score=score))
        assert abs(score.fit - fit) < 1e-9, (lead, score, fit)
        assert abs(score.engagement - engagement) < 0.01, (lead, score, engagement)
        assert decision.allowed == allowed, (lead, decision, allowed)
        assert sum(e.points for e in score.ledger) == score.total

    n = args.n
    read_ledger = args.read_ledger
    score_fn = model.score
    # The two arms alternate in blocks of one pool pass, so a noisy neighbour on a shared machine
    # slows both alike; each arm's time is the sum of its blocks.
    hand = kit = 0.0
    allowed_hand = allowed_kit = 0
    done = 0
    while done < n:
        block = pool[: min(len(pool), n - done)]
        start = clock()
        for lead, tps in block:
            allowed_hand += hand_written(lead, tps, at)[3]
        hand += clock() - start
        start = clock()
        if read_ledger:
            for lead, tps in block:
                score = score_fn(lead, tps, at=at)
                _ = score.ledger
                allowed_kit += policy(lead, Context(at, touchpoints=tps, score=score)).allowed
        else:
            for lead, tps in block:
                score = score_fn(lead, tps, at=at)
                allowed_kit += policy(lead, Context(at, touchpoints=tps, score=score)).allowed
        kit += clock() - start
        done += len(block)
    assert allowed_hand == allowed_kit

    print(f"leads evaluated:          {n:,} (pool of {len(pool):,} distinct leads, "
          f"{sum(len(t) for _, t in pool) / len(pool):.1f} touchpoints each on average)")
    print(f"hand-written function:    {hand:8.2f} s  {n / hand:12,.0f} leads/s  (CPU time)")
    label = "funnelkit (+ ledger):" if read_ledger else "funnelkit model + rule:"
    print(f"{label:26s}{kit:8.2f} s  {n / kit:12,.0f} leads/s")
    print(f"speed vs hand-written:    {hand / kit:8.2f}x  (goal >= 0.5x)")
    print(f"leads the rule allowed:   {allowed_kit:,}")
    if args.breakdown:
        breakdown(model, policy, pool, n)


def breakdown(model: ScoringModel, policy, pool, n: int) -> None:
    """Time each part of the funnelkit arm alone, in interleaved blocks like the main run."""
    at = AT
    contexts = [Context(at, touchpoints=t, score=model.score(lead, t, at=at)) for lead, t in pool]
    parts = {"scoring model only": 0.0, "Context(...) only": 0.0, "rule policy only": 0.0}
    done = 0
    while done < n:
        size = min(len(pool), n - done)
        block = pool[:size]
        start = clock()
        for lead, tps in block:
            model.score(lead, tps, at=at)
        parts["scoring model only"] += clock() - start
        start = clock()
        for _lead, tps in block:
            Context(at, touchpoints=tps, score=None)
        parts["Context(...) only"] += clock() - start
        start = clock()
        for (lead, _), context in zip(block, contexts[:size], strict=True):
            policy(lead, context)
        parts["rule policy only"] += clock() - start
        done += size
    for name, seconds in parts.items():
        print(f"  {name + ':':24s}{seconds:8.2f} s  {n / seconds:12,.0f} leads/s")


if __name__ == "__main__":
    main()
