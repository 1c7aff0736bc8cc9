"""The unit of work: nothing is saved unless committed, a committed batch stays, savepoints scope a
refusal, and the driver's errors come out as the tool's typed ones."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from forgea_cli.db.errors import DatabaseRefused, UniqueViolation

INSERT = text('INSERT INTO "User" (id, email) VALUES (:id, :email)')


def _emails(uow) -> set[str]:
    with uow(read_only=True) as work:
        return set(work.connection.execute(text('SELECT email FROM "User"')).scalars())


def _insert(work, email: str) -> None:
    work.connection.execute(INSERT, {"id": uuid.uuid4(), "email": email})


class Boom(Exception):
    pass


def test_an_error_inside_the_block_rolls_back_what_was_not_committed(migrated_db, uow_for):
    uow = uow_for(migrated_db)
    with pytest.raises(Boom), uow() as work:
        _insert(work, "never@example.edu")
        raise Boom
    assert _emails(uow) == set()


def test_leaving_without_commit_saves_nothing(migrated_db, uow_for):
    uow = uow_for(migrated_db)
    with uow() as work:
        _insert(work, "forgotten@example.edu")
    assert _emails(uow) == set()


def test_a_committed_batch_survives_a_later_failure(migrated_db, uow_for):
    uow = uow_for(migrated_db)
    with pytest.raises(Boom), uow() as work:
        _insert(work, "batch1@example.edu")
        work.commit()  # the next statement runs in a new transaction on the same connection
        _insert(work, "batch2@example.edu")
        raise Boom
    assert _emails(uow) == {"batch1@example.edu"}


def test_a_refused_statement_in_a_savepoint_raises_the_typed_error_and_the_work_goes_on(migrated_db, uow_for):
    uow = uow_for(migrated_db)
    with uow() as work:
        _insert(work, "first@example.edu")
        with pytest.raises(UniqueViolation) as refused, work.savepoint():
            _insert(work, "first@example.edu")
        assert refused.value.constraint == "User_email_key" and refused.value.sqlstate == "23505"
        _insert(work, "second@example.edu")  # the transaction is still usable
        work.commit()
    assert _emails(uow) == {"first@example.edu", "second@example.edu"}


def test_a_savepoint_that_is_not_kept_rolls_back_even_on_success(migrated_db, uow_for):
    uow = uow_for(migrated_db)
    with uow() as work:
        with work.savepoint(keep=False):
            _insert(work, "probe@example.edu")
        _insert(work, "kept@example.edu")
        work.commit()
    assert _emails(uow) == {"kept@example.edu"}


def test_a_driver_error_leaves_the_unit_of_work_as_a_typed_error_and_nothing_is_saved(migrated_db, uow_for):
    uow = uow_for(migrated_db)
    with pytest.raises(UniqueViolation) as refused, uow() as work:
        _insert(work, "twice@example.edu")
        _insert(work, "twice@example.edu")
    assert isinstance(refused.value, DatabaseRefused) and refused.value.constraint == "User_email_key"
    assert _emails(uow) == set()


def test_a_read_only_unit_of_work_refuses_writes(migrated_db, uow_for):
    uow = uow_for(migrated_db)
    with pytest.raises(DatabaseRefused, match="read-only transaction"), uow(read_only=True) as work:
        _insert(work, "reader@example.edu")
    assert _emails(uow) == set()
