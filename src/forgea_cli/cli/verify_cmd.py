"""`forgea verify-constraints`: catalog, behaviour probes, data invariants, migrations."""

from __future__ import annotations
