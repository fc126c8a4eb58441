"""A row read afresh and locked until the transaction ends, on PostgreSQL and SQLite alike.

Updates made together (status callbacks sent at once, one code typed on two devices, answers to a link)
must apply one after another. PostgreSQL locks the row (FOR UPDATE); SQLite has one writer at a time, and
ignores FOR UPDATE, so a write that changes nothing takes the database's write lock before the row is read.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

T = TypeVar("T")


def locked(session: Session, model: type[T], *where) -> T | None:
    """The row of `model` matching `where`, locked; None when there is none."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(model).where(*where).values(id=model.id))
    return session.scalars(select(model).where(*where).with_for_update()
                           .execution_options(populate_existing=True)).first()
