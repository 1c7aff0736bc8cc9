"""`forgea demo`: the rollout runbook, walked on a small legacy database in the embedded PostgreSQL."""
