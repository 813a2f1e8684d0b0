"""The fault matrix (issue 10): run scenarios, print a table, keep the figures.

    python bench/chaos.py [SCENARIO ...] [--accounts 200] [--hang-seconds 60] [--limit-seconds 360] ...

With no scenario names, runs them all, one after another (each on fresh services). Figures go
to bench/results/chaos-<scenario>.json and bench/results/chaos-latest.json, with a diagnosis of
every record counted (both sides, its timeline, the load's edits to it); the processes' logs to
bench/results/chaos-<scenario>-logs/. The table printed at the end is the one kept in
docs/reliability.md.
"""
from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chaos_matrix import SCENARIOS, Size, run_scenario  # noqa: E402
from bench.common import RESULTS, ROOT  # noqa: E402


def table(results: list[dict]) -> str:
    lines = ["| scenario | lost | duplicated | stale | extra | converged after | human step |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        after = f"{r['converge_seconds']} s" if r["converged"] else "not within the deadline"
        lines.append(f"| {r['scenario']} | {r['lost']} | {r['duplicated']} | {r['stale']} | {r['extra']} | {after} "
                     f"| {'yes' if r['human_step_needed'] else 'no'} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", help=f"any of: {', '.join(SCENARIOS)} (default: all)")
    defaults = Size()
    for f in fields(Size):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(getattr(defaults, f.name)),
                            default=getattr(defaults, f.name))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="echo the services' start and stop")
    parser.add_argument("--log-level", default="INFO", help="the product processes' LOG_LEVEL (their logs are kept)")
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so every run's `finally` stops the processes it started.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    size = Size(**{f.name: getattr(args, f.name) for f in fields(Size)})
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = []
    for name in args.scenarios or list(SCENARIOS):
        print(f"chaos: {name} ...", flush=True)
        began = time.monotonic()
        result = run_scenario(name, size, RESULTS / "chaos-stack", seed=args.seed, quiet=not args.verbose,
                              log_level=args.log_level)
        logs = RESULTS / f"chaos-{name}-logs"  # the next run's fresh stack removes chaos-stack
        shutil.rmtree(logs, ignore_errors=True)
        shutil.copytree(RESULTS / "chaos-stack" / "logs", logs)
        result["logs"] = str(logs.relative_to(ROOT))
        result.update(commit=commit, date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                      run_seconds=round(time.monotonic() - began))
        (RESULTS / f"chaos-{name}.json").write_text(json.dumps(result, indent=2, default=str))
        print(f"chaos: {name}: lost {result['lost']}, duplicated {result['duplicated']}, stale {result['stale']}, "
              f"extra {result['extra']}, converged {result['converge_seconds']} s, "
              f"human step {result['human_step_needed']} ({result['run_seconds']} s)", flush=True)
        results.append(result)
    (RESULTS / "chaos-latest.json").write_text(json.dumps(results, indent=2, default=str))
    print(table(results))
    return 0 if all(not r["human_step_needed"] and r["converged"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
