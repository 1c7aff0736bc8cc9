"""Repo mapping: the verbs the CLI may call (DESIGN §3).

- ``canonicalize_urls`` — `mapping canonicalize`: canonical form or the reason, no database;
- ``backfill_repo_mappings`` — `mapping backfill` / `backfill repo-mappings`: one PENDING mapping per
  legacy session, conflicts and invalid or template URLs reported, never guessed;
- ``resolve_repo_ids`` — `mapping resolve-ids`: providerRepoId from GitHub, batched, through the
  gateway it is handed (built by the CLI to wait ``MAX_RATE_LIMIT_WAIT_SECONDS`` for a rate limit);
- ``lookup_repo`` — `mapping lookup`: the webhook lookup, read-only unless asked to bind;
  ``lookup_in`` the same inside a unit of work the caller holds (`webhook replay`);
- ``templates_of`` / ``all_templates`` — the one decision "is this repository a lab's template".

Each verb takes a unit-of-work factory (and resolve-ids a gateway), never an engine. It lives in a
module of its own, imported on first use, so `mapping canonicalize` never loads the database stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from forgea_cli.services.lazy import lazy_exports

if TYPE_CHECKING:
    from forgea_cli.services.mapping.backfill import backfill_repo_mappings
    from forgea_cli.services.mapping.canonicalize import canonicalize_urls
    from forgea_cli.services.mapping.lookup import LookupResult, lookup_in, lookup_repo
    from forgea_cli.services.mapping.resolve import MAX_RATE_LIMIT_WAIT_SECONDS, resolve_repo_ids
    from forgea_cli.services.mapping.templates import (
        IgnoredTemplate,
        LabTemplate,
        Templates,
        all_templates,
        describe_all,
        templates_from_rows,
        templates_of,
    )

# name -> the module of this package that defines it
_HOMES = {
    "canonicalize_urls": "canonicalize",
    "backfill_repo_mappings": "backfill",
    "MAX_RATE_LIMIT_WAIT_SECONDS": "resolve",
    "resolve_repo_ids": "resolve",
    "LookupResult": "lookup",
    "lookup_repo": "lookup",
    "lookup_in": "lookup",
    "IgnoredTemplate": "templates",
    "LabTemplate": "templates",
    "Templates": "templates",
    "all_templates": "templates",
    "describe_all": "templates",
    "templates_from_rows": "templates",
    "templates_of": "templates",
}

__all__ = [
    "MAX_RATE_LIMIT_WAIT_SECONDS",
    "IgnoredTemplate",
    "LabTemplate",
    "LookupResult",
    "Templates",
    "all_templates",
    "backfill_repo_mappings",
    "canonicalize_urls",
    "describe_all",
    "lookup_in",
    "lookup_repo",
    "resolve_repo_ids",
    "templates_from_rows",
    "templates_of",
]


__getattr__ = lazy_exports(__name__, _HOMES)
