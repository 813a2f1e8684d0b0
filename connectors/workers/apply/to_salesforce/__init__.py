"""sf-apply's own steps, in the order a batch of one mapping goes through them:

    documents.ReadDocuments -> gate.ConflictGate -> plan.PlanWrites -> disputes.HoldDisputed
    -> write.WriteToSalesforce -> sync_state.WriteBackSyncState

and `api_limit.ApiLimitPause`, which holds every partition while the org's API usage is at its
limit. `governor.WritePathGovernor` tells the write step whether a batch goes by sObject
Collections or by Bulk API 2.0 ingest job. The commit comes after them all (`connectors.workers.apply.commit`).
"""
