"""How long a host's stateful test of its funnel takes: ``FunnelStateMachine`` on the inbound template.

The workload is what a host would run on every commit: the inbound template with a scoring
policy guarding ``qualify`` (``score_at_least(40)`` over a fit-and-engagement ``ScoringModel``
given to the pipeline, so touchpoints fire ``qualify`` by themselves once the lead is hot enough),
``--examples`` examples (default 200) of up to ``--steps`` steps each (default 50), every
invariant checked after every step.  Hypothesis's example database is off, so every run does the
same amount of work, and ``--seed`` fixes the examples.

It prints the wall time (and the process's CPU time, which other load on a shared machine
does not inflate), the steps run (counted by an extra invariant, which Hypothesis runs once
after each step and once after the machine is set up) and steps per second.  The goal is under
10 seconds.

    .venv/bin/python benchmarks/bench_testing.py [--examples 200] [--steps 50] [--seed 0]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

from hypothesis import HealthCheck, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.stateful import invariant

from funnelkit import templates
from funnelkit.policies import score_at_least
from funnelkit.scoring import EngagementRule, FitRule, ScoringModel
from funnelkit.testing import FunnelStateMachine

MODEL = ScoringModel(
    fit=[FitRule("budget >= 10000", 20), FitRule("employees >= 50", 10),
         FitRule("industry in ('software', 'finance')", 10)],
    engagement=[EngagementRule(10, kind="webinar"), EngagementRule(25, kind="demo_request"),
                EngagementRule(5, kind="email_open"), EngagementRule(8, kind="pricing_view")],
    caps={"engagement": 60},
    half_life="30 days",
)


def machine(examples: int, steps: int, seed: int) -> tuple[type[FunnelStateMachine], list[int]]:
    """The benchmarked state machine class and the list its step counter appends to."""
    counter = [0, 0]  # steps, examples

    class InboundWithScoring(FunnelStateMachine):
        funnel = templates.inbound(policies={"qualify": score_at_least(40)})
        scoring = MODEL

        def __init__(self) -> None:
            super().__init__()
            counter[1] += 1

        @invariant()
        def count_steps(self) -> None:
            counter[0] += 1

    configured = settings(
        max_examples=examples, stateful_step_count=steps, deadline=None, database=None,
        suppress_health_check=list(HealthCheck),
    )(InboundWithScoring)
    return hypothesis_seed(seed)(configured), counter


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    cls, counter = machine(args.examples, args.steps, args.seed)
    started, cpu_started = time.perf_counter(), time.process_time()
    cls.TestCase().runTest()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    machines = counter[1]
    steps = counter[0] - machines  # the invariant also runs once per machine, before any step
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.system()}")
    print("FunnelStateMachine, inbound template + score_at_least(40) on a ScoringModel")
    print(f"settings: max_examples={args.examples}, stateful_step_count={args.steps}, seed={args.seed}")
    print(f"machines run (examples, including Hypothesis's own replays): {machines}")
    print(f"steps run: {steps} ({steps / max(machines, 1):.1f} per machine)")
    print(f"wall time: {wall:.2f} s  ({'under' if wall < 10 else 'OVER'} the 10 s goal)")
    print(f"cpu time:  {cpu:.2f} s  (wall time above cpu time is other load on the machine)")
    print(f"steps per second: {steps / wall:,.0f} (wall), {steps / cpu:,.0f} (cpu)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
