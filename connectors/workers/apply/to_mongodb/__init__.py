"""mongo-apply's own steps, in the order a batch of one mapping goes through them:

    gate.hold_behind_conflicts -> documents.current_documents -> plan.PlanChanges
    -> write.WriteToMongo

The commit comes after them all (`connectors.workers.apply.commit`).
"""
