"""Bulk API 2.0: ingest and query jobs (``/services/data/vXX.X/jobs/...``).

Jobs live in memory (a restart forgets them, as an expired job on a real org)
and are processed one at a time by a background worker, so clients see the
documented states: ingest Open -> UploadComplete -> InProgress -> JobComplete
(or Failed / Aborted); query UploadComplete -> InProgress -> JobComplete.
Records are written through :class:`sfemulator.records.Records` steps, the
same code as REST writes (validation rules, audit stamps, change events).
"""
