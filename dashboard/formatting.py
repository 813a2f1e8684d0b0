"""How the console says checkpoints and worker counters to people: UTC times on a 24-hour
clock with how long ago they were, and plain words for the workers' internal counter names.

The overview renders these on the server; overview.js says the same things live, from the
labels and times the status snapshot carries.
"""
from __future__ import annotations

from datetime import datetime, timezone

from connectors.operations.metrics import source_time

#: Each worker counter's name (connectors.workers) in plain words. Names not listed here are
#: shown by `counter_label`'s fallback, so a counter added later is still readable.
COUNTER_LABELS: dict[str, str] = {
    "alerts_fired": "alerts fired",
    "alerts_resolved": "alerts resolved",
    "api_limit_paused_until": "paused at the API limit until (Unix time)",
    "api_limit_pauses": "pauses at the API limit",
    "api_limit_waits": "waits at the API limit",
    "applied": "changes applied",
    "backfills_done": "backfills done",
    "broker_losses": "Kafka data losses recovered",
    "bulk_jobs": "Bulk API ingest jobs run",
    "bulk_records": "records written by Bulk API ingest jobs",
    "changes_read": "changes read",
    "checks": "checks",
    "conflicts": "conflicts opened",
    "conflicts_merged": "changes added to an open conflict",
    "conflicts_settled_by_time": "conflicts settled by newest change",
    "dead_lettered": "messages sent to the dead-letter topic",
    "own_deletes_skipped": "own deletes recognised and not sent back",
    "deletes_kept_for_duplicate": "deletes kept (another document holds the record)",
    "describe_failures": "describe calls failed",
    "diff_rereads": "records re-read for a diff-only event",
    "echo_dropped": "own writes recognised and dropped",
    "echoes_skipped": "own writes recognised and dropped",
    "errors": "changes parked as errors",
    "evaluations": "alert checks",
    "events_published": "changes published to Kafka",
    "events_received": "events received",
    "events_relayed": "events relayed",
    "events_stored": "events stored",
    "failures": "failures",
    "fallbacks": "fallbacks to a re-read",
    "gap_rereads": "records re-read after a gap event",
    "held_behind_conflict": "changes held behind a conflict",
    "mappings_checked": "mappings checked",
    "messages": "messages read",
    "notices_failed": "alert notices that failed",
    "notices_sent": "alert notices sent",
    "open_drift": "open schema drift",
    "own_writes_skipped": "own writes skipped",
    "partial_rereads": "updates re-read whole while a re-read runs",
    "plan_echo": "own writes recognised and dropped",
    "plan_nothing": "changes where the other side's value stands",
    "plan_stale": "older changes skipped",
    "plan_write": "changes written",
    "polls": "polls",
    "records_read": "records read",
    "ranges_done": "key ranges read",
    "ranges_lost": "key ranges given up to another process",
    "records_reread": "records re-read",
    "removed_fields_skipped": "removed fields left out",
    "replays_ignored": "replayed events ignored",
    "requeued": "changes re-queued",
    "reread_unchanged": "re-read rows already current",
    "rereads": "re-reads started",
    "rereads_done": "re-reads done",
    "salesforce_created": "records created in Salesforce",
    "salesforce_deleted": "records deleted in Salesforce",
    "salesforce_updated": "records updated in Salesforce",
    "samples": "samples taken",
    "server_fields_refreshed": "server-set fields refreshed",
    "stale_skipped": "older changes skipped",
    "unmapped_changes_skipped": "changes to unmapped fields skipped",
    "unmapped_skipped": "changes to unmapped fields skipped",
}

#: Counters named with a suffix: `<prefix><org id or job kind>`.
_PREFIXED = {
    "api_used.": "Salesforce API calls used today (org {})",
    "api_limit.": "Salesforce daily API limit (org {})",
}


def counter_label(name: str) -> str:
    """The plain words for a worker counter's name."""
    if name in COUNTER_LABELS:
        return COUNTER_LABELS[name]
    for prefix, label in _PREFIXED.items():
        if name.startswith(prefix):
            return label.format(name[len(prefix):])
    if name.endswith("_started"):
        return f"{name.removesuffix('_started').replace('_', ' ')} jobs started"
    return name.replace("_", " ").replace(".", " ")


def cluster_time_at(cluster_time: str) -> datetime | None:
    """When a MongoDB cluster time ("<Unix seconds>.<increment>") was; None for "" or junk."""
    return source_time(f"cluster_time={cluster_time}") if cluster_time else None


def utc_text(when: datetime) -> str:
    """`2026-11-30 19:03:28 UTC`: the console's one way to write a moment."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(when: datetime, now: datetime) -> str:
    """How long before `now` `when` was, in the largest whole unit ("12 s ago", "5 min ago")."""
    seconds = int((now - when).total_seconds())
    if seconds < 1:
        return "just now"  # or a clock a little ahead of ours
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= 2 * size or (unit == "min" and seconds >= size):
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"
