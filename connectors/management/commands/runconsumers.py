"""python manage.py runconsumers [--only KIND[,KIND...] ...] [--mapping NAME ...]"""
from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter
from tqdm import tqdm

from connectors.version import product_version
from connectors.workers.registry import WORKER_KINDS, WORKER_TABLE, build_workers
from connectors.workers.runner import EXPLAINED_FAILURES, WorkerRunner, limit_malloc_arenas

log = logging.getLogger("runconsumers")


class BackfillBars:
    """One tqdm bar per mapping while it backfills."""

    def __init__(self) -> None:
        self._bars: dict[str, tqdm] = {}
        self._lock = threading.Lock()

    def __call__(self, mapping: str, done: int, total: int) -> None:
        with self._lock:
            bar = self._bars.get(mapping)
            if bar is None:
                bar = self._bars[mapping] = tqdm(total=total, desc=f"backfill {mapping}", unit="rec", leave=True)
            bar.total = max(total, done)
            bar.n = done
            bar.refresh()
            if done >= total:
                bar.close()


def worker_kinds(value: str) -> list[str]:
    """`--only sf-capture,mongo-apply`: a comma list of worker kinds, each checked."""
    kinds = [kind.strip() for kind in value.split(",") if kind.strip()]
    unknown = [kind for kind in kinds if kind not in WORKER_KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"unknown worker kind {', '.join(unknown) or repr(value)}; "
                                         f"the kinds are {', '.join(WORKER_KINDS)}")
    return kinds


def selected_kinds(only: list[list[str]] | None) -> set[str]:
    """The kinds named by every --only (each a comma list); all of them when there is none."""
    return {kind for listed in only or [list(WORKER_KINDS)] for kind in listed}


def kinds_help() -> str:
    return "worker kinds (--only):\n" + "\n".join(
        f"  {kind.name:<15}{kind.help}\n  {'':<15}needs {kind.needs}" for kind in WORKER_TABLE)


class _HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's order of options, and the kinds' table below them kept as written."""


class Command(BaseCommand):
    help = "Run the sync workers until SIGTERM/SIGINT: every kind, or those named by --only."
    # Django's system checks import the URL conf, and with it the API, the console and
    # django-ninja: a worker serves none of them, and its start-up is part of every backfill's
    # time. `migrate` and the web server still run them on the same settings and models.
    requires_system_checks: list[str] = []

    def get_version(self) -> str:
        """`--version` names the product's version, not Django's (BaseCommand's default)."""
        return product_version()

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> Any:
        return super().create_parser(prog_name, subcommand, epilog=kinds_help(), formatter_class=_HelpFormatter,
                                     **kwargs)

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--only", action="append", type=worker_kinds, metavar="KIND[,KIND...]",
                            help="Run only these worker kinds (repeat the option or give a comma list; see below).")
        parser.add_argument("--mapping", action="append", help="Run only these mappings (by name).")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()

        def request_stop(signum: int, _frame: object) -> None:
            log.info("%s received: finishing in-flight batches", signal.Signals(signum).name)
            # Set from another thread: the handler runs in the main thread, which may be inside
            # stop.wait() holding the Event's lock, and set() here would deadlock on it.
            threading.Thread(target=stop.set, name="stop-request").start()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        kinds = selected_kinds(options["only"])
        limit_malloc_arenas()  # before any client library starts a thread
        try:
            workers = build_workers(kinds, stop, progress=BackfillBars(), mapping_names=set(options["mapping"] or []))
        except EXPLAINED_FAILURES as exc:
            raise CommandError(str(exc)) from None
        if not workers:
            raise CommandError("no enabled mapping to run: create one in the admin or run `manage.py setupsync`")
        log.info("starting %d workers: %s", len(workers), ", ".join(w.name for w in workers))
        WorkerRunner(workers, stop).run()
        log.info("all workers stopped")
