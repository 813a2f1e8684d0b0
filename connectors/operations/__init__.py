"""What people and jobs do with a running sync: the conflict and error queues, backfill and
reconcile jobs, record reads and writes, timelines, metrics, controls and connection checks.

The service layer of the web process: the console and the REST API (dashboard/) ask these
modules and never an adapter (connectors.kafka, .mongo, .salesforce) or a driver themselves.
A system behind the sync that does not answer is one error here, ServiceUnavailable.
"""
from connectors.operations.unavailable import ServiceUnavailable

__all__ = ["ServiceUnavailable"]
