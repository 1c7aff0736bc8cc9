"""Lab sessions: creating them (one student or a roster), their keys, reconciling repositories,
transitions and the read-only views."""
