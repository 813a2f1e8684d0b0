"""``python -m devstack up|check`` -- run or probe the embedded services.

Configuration comes from ``DEVSTACK_*`` environment variables (see
:meth:`StackConfig.from_env`); ``--services`` overrides ``DEVSTACK_SERVICES``.
Exit status: 0 on success / clean Ctrl-C, 1 on a failed start, a dead
service or (for ``check``) any service not answering, 2 on bad configuration.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from typing import Any

from . import services
from .config import KNOWN_SERVICES, ConfigError, StackConfig
from .process import ServiceStartError
from .stack import Stack


def _addresses(cfg: StackConfig) -> dict[str, str]:
    """Printable address of each service."""
    return {
        "kafka": f"bootstrap {services.kafka_bootstrap(cfg)}",
        "mongo": services.mongodb_uri(cfg),
        "salesforce": f"{services.salesforce_url(cfg)} (CA {services.salesforce_ca(cfg)})",
    }


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def cmd_up(cfg: StackConfig) -> int:
    """Start the services, print their addresses, wait for Ctrl-C."""
    # SIGTERM during start-up gets the same clean unwinding as Ctrl-C
    # (Stack.wait() installs its own handlers once everything is up).
    signal.signal(signal.SIGTERM, _interrupt)
    stack = Stack(cfg)
    try:
        stack.start()
    except ServiceStartError as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 1
    try:
        addresses = _addresses(cfg)
        for name in stack.processes:
            print(f"  {name:<11} {addresses[name]}")
        print(f"data and logs under {cfg.root}; press Ctrl-C to stop", flush=True)
        return stack.wait()
    except KeyboardInterrupt:  # Ctrl-C/SIGTERM landed just before wait() took over
        return 0
    finally:
        stack.stop()


def cmd_check(cfg: StackConfig) -> int:
    """Report whether each configured service answers; 0 only if all do."""
    addresses = _addresses(cfg)
    failed = 0
    for name in KNOWN_SERVICES:
        if name not in cfg.services:
            continue
        problem = services.probe(cfg, name)
        failed += problem is not None
        status = "ok" if problem is None else f"NOT ANSWERING: {problem}"
        print(f"  {name:<11} {addresses[name]}  {status}")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("up", "check"))
    parser.add_argument("--services", help=f"comma separated subset of {','.join(KNOWN_SERVICES)}")
    args = parser.parse_args(argv)
    try:
        overrides: dict[str, Any] = {}  # StackConfig field -> value
        if args.services:
            overrides["services"] = tuple(s.strip() for s in args.services.split(",") if s.strip())
        cfg = StackConfig.from_env(**overrides)
    except ConfigError as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 2
    try:
        return cmd_up(cfg) if args.command == "up" else cmd_check(cfg)
    except KeyboardInterrupt:  # Ctrl-C during start-up; start() already cleaned up
        return 130


if __name__ == "__main__":
    sys.exit(main())
