"""The Salesforce Pub/Sub API of the emulator: change events (CDC) and platform events over gRPC.

``schemas`` (Avro schemas from the describe), ``bitmap`` (changedFields & co.), ``changeevents``
(events from ``change_log``), ``platformevents`` (publishing), ``bus`` (the stored stream with
replay ids and retention), ``service`` (the RPCs) and ``server`` (gRPC over TLS). See docs/emulator.md.
"""
