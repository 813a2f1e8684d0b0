"""python manage.py runconsumers [--only KIND ...] [--mapping NAME ...]"""
from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from connectors.workers.registry import WORKER_KINDS, build_workers
from connectors.workers.runner import EXPLAINED_FAILURES, WorkerRunner

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


class Command(BaseCommand):
    help = "Run the sync workers (Salesforce capture, MongoDB apply) until SIGTERM/SIGINT."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--only", action="append", choices=WORKER_KINDS, help="Run only these worker kinds.")
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
        kinds = set(options["only"] or WORKER_KINDS)
        try:
            workers = build_workers(kinds, stop, progress=BackfillBars(), mapping_names=set(options["mapping"] or []))
        except EXPLAINED_FAILURES as exc:
            raise CommandError(str(exc)) from None
        if not workers:
            raise CommandError("no enabled mapping to run: create one in the admin or run `manage.py setupsync`")
        log.info("starting %d workers: %s", len(workers), ", ".join(w.name for w in workers))
        WorkerRunner(workers, stop).run()
        log.info("all workers stopped")
