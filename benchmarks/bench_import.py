"""How long ``import funnelkit`` takes, against ``import transitions``, in fresh interpreters.

Each round starts one new interpreter per module with ``python -X importtime -c "import <name>"``
and reads the cumulative time CPython reports for the module itself (the ``cumulative`` column of
its own line: everything it imported, the standard library included). The figures are the
medians over ``--rounds`` rounds (default 15), the two modules alternating so a busy machine slows
both alike; the goal is ``import funnelkit`` <= 2x ``import transitions``.

Both modules are timed from compiled bytecode, as an installed package is (pip compiles it when it
installs a wheel): the interpreters write and read their bytecode in a temporary cache
(``PYTHONPYCACHEPREFIX``), filled by one warm-up import each, whatever ``PYTHONDONTWRITEBYTECODE``
says. ``--source`` times them as the environment leaves them instead (a checkout with
``PYTHONDONTWRITEBYTECODE=1`` compiles funnelkit's source on every start, while ``transitions``,
installed, reads its bytecode).

``--also funnelkit.policies funnelkit.scoring`` times more modules the same way.

Run:  .venv/bin/python benchmarks/bench_import.py [--rounds 15] [--source] [--also MODULE ...]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

GOAL = 2.0


def import_time(module: str, env: dict[str, str]) -> float:
    """Microseconds ``import module`` takes in a fresh interpreter (cumulative, from -X importtime)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        env=env, capture_output=True, text=True, check=True,
    )
    line = re.compile(rf"^import time:\s*\d+\s*\|\s*(\d+)\s*\|\s*{re.escape(module)}\s*$")
    for text in done.stderr.splitlines():
        found = line.match(text)
        if found:
            return float(found.group(1))
    raise RuntimeError(f"no importtime line for {module}:\n{done.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="fresh interpreters per module")
    parser.add_argument("--source", action="store_true",
                        help="no bytecode cache of our own: time the environment as it is")
    parser.add_argument("--also", nargs="*", default=[], metavar="MODULE",
                        help="more modules to time the same way")
    args = parser.parse_args()
    modules = ["funnelkit", "transitions", *args.also]
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="fk-pycache-") as cache:
        if not args.source:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = cache
            for module in modules:  # compile once, as installing would
                import_time(module, env)
        times: dict[str, list[float]] = {m: [] for m in modules}
        for _ in range(args.rounds):
            for module in modules:
                times[module].append(import_time(module, env))
    median = {m: statistics.median(t) / 1000 for m, t in times.items()}
    ratio = median["funnelkit"] / median["transitions"]
    how = "from source where the environment says so" if args.source else "from bytecode"
    print(f"Python {sys.version.split()[0]}, medians of {args.rounds} fresh interpreters each, {how}")
    for module in modules:
        spread = f"{min(times[module]) / 1000:.1f}-{max(times[module]) / 1000:.1f}"
        print(f"import {module:<28} {median[module]:7.1f} ms   (range {spread} ms)")
    verdict = "met" if ratio <= GOAL else "NOT met"
    print(f"funnelkit / transitions:  {ratio:.2f}x  (goal <= {GOAL:g}x: {verdict})")


if __name__ == "__main__":
    main()
