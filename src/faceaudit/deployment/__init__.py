"""The deployment layer: the operations a deployment runs (enrol, identify, erase, review…), logged
first through the ledger and judged by the policy."""
