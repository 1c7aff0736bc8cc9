"""Lab sessions: the verbs the CLI may call (DESIGN §4, §5).

Creating (`session create`, one student or a roster):
- ``create_session`` — the §5 protocol, idempotent (``CreateSpec`` as spelled, ``CreationConfig``);
- ``create_dry_run`` — everything a creation resolves and checks, nothing written;
- ``read_roster`` / ``run_roster`` — many students of one lab, paced, reported per row.

Recovering (`keys …`, `repo reconcile`):
- ``list_keys`` / ``show_key`` / ``resume_key`` / ``abandon_key`` — the idempotency keys;
- ``reconcile_repos`` / ``delete_orphans`` — repositories of ours with no session behind them, and
  sessions whose repository is gone.

Reading and changing sessions (`session show / list / transition`):
- ``find_session_id`` / ``parse_session_id`` / ``show_session`` / ``list_sessions``;
- ``transition_session`` (``TransitionRequest``) — one compare-and-set and one audit row.

Every verb takes a unit-of-work factory (``forgea_cli.db.uow``) and, where GitHub is involved, a
gateway the caller built and closes. Each lives in a module of its own and is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forgea_cli.services.sessions.create import (
        ActiveSessionExists,
        CreateOutcome,
        ForkNotFound,
        KeyAbandoned,
        LeaseLost,
        RepoAlreadyMapped,
        RepoNameConflict,
        create_session,
    )
    from forgea_cli.services.sessions.keys import (
        AbandonReport,
        KeyView,
        abandon_key,
        list_keys,
        resume_key,
        show_key,
    )
    from forgea_cli.services.sessions.plan import CreateSpec, CreationConfig, create_dry_run
    from forgea_cli.services.sessions.reconcile import ReconcileReport, delete_orphans, reconcile_repos
    from forgea_cli.services.sessions.roster import (
        RosterInterrupted,
        RosterReport,
        RosterRow,
        read_roster,
        run_roster,
    )
    from forgea_cli.services.sessions.transitions import (
        TransitionRequest,
        TransitionResult,
        transition_session,
    )
    from forgea_cli.services.sessions.users import AmbiguousUser, resolve_user
    from forgea_cli.services.sessions.views import (
        find_session_id,
        list_sessions,
        parse_session_id,
        show_session,
    )

# name -> the module of this package that defines it
_HOMES = {
    "ActiveSessionExists": "create",
    "CreateOutcome": "create",
    "ForkNotFound": "create",
    "KeyAbandoned": "create",
    "LeaseLost": "create",
    "RepoAlreadyMapped": "create",
    "RepoNameConflict": "create",
    "create_session": "create",
    "CreateSpec": "plan",
    "CreationConfig": "plan",
    "create_dry_run": "plan",
    "RosterInterrupted": "roster",
    "RosterReport": "roster",
    "RosterRow": "roster",
    "read_roster": "roster",
    "run_roster": "roster",
    "AbandonReport": "keys",
    "KeyView": "keys",
    "abandon_key": "keys",
    "list_keys": "keys",
    "resume_key": "keys",
    "show_key": "keys",
    "ReconcileReport": "reconcile",
    "delete_orphans": "reconcile",
    "reconcile_repos": "reconcile",
    "TransitionRequest": "transitions",
    "TransitionResult": "transitions",
    "transition_session": "transitions",
    "AmbiguousUser": "users",
    "resolve_user": "users",
    "find_session_id": "views",
    "list_sessions": "views",
    "parse_session_id": "views",
    "show_session": "views",
}

__all__ = [
    "AbandonReport",
    "ActiveSessionExists",
    "AmbiguousUser",
    "CreateOutcome",
    "CreateSpec",
    "CreationConfig",
    "ForkNotFound",
    "KeyAbandoned",
    "KeyView",
    "LeaseLost",
    "ReconcileReport",
    "RepoAlreadyMapped",
    "RepoNameConflict",
    "RosterInterrupted",
    "RosterReport",
    "RosterRow",
    "TransitionRequest",
    "TransitionResult",
    "abandon_key",
    "create_dry_run",
    "create_session",
    "delete_orphans",
    "find_session_id",
    "list_keys",
    "list_sessions",
    "parse_session_id",
    "read_roster",
    "reconcile_repos",
    "resolve_user",
    "resume_key",
    "run_roster",
    "show_key",
    "show_session",
    "transition_session",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
