"""The one place that reads a practice's data: every query is scoped to a single practice.

Every read that shows patient data also writes an audit entry per row shown (who saw what).
The caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import Select, case, select
from sqlalchemy.orm import Session, selectinload

from .ledger import STATE_RANK
from .models import AuditEntry, Call, Message

PAGE_SIZE = 50
CALL_STATES = tuple(STATE_RANK)  # what a `status` filter may ask for

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a newest-first listing."""

    items: list[T]
    number: int
    next_page: int | None


class PracticeScope:
    """Calls and messages of one practice; another practice's ids look exactly like missing ones."""

    def __init__(self, session: Session, practice_id: int, *, user_id: int | None = None,
                 api_key_id: int | None = None, page_size: int = PAGE_SIZE):
        if practice_id is None:
            raise ValueError("a PracticeScope needs a practice")
        self.session = session
        self.practice_id = practice_id
        self.user_id = user_id
        self.api_key_id = api_key_id
        self.page_size = page_size

    def _audit(self, action: str, object_type: str, object_ids: Iterable[int]) -> None:
        self.session.add_all(
            AuditEntry(user_id=self.user_id, api_key_id=self.api_key_id, action=action,
                       object_type=object_type, object_id=object_id, practice_id=self.practice_id)
            for object_id in object_ids
        )

    def _refused_if_elsewhere(self, model, object_type: str, object_id: int) -> None:
        """A look at another practice's call or message: answered as missing, and audited as refused."""
        if self.session.scalar(select(model.id).where(model.id == object_id)) is not None:
            self._audit("refused", object_type, [object_id])

    def _page(self, query: Select, page: int) -> Page:
        if page < 1:
            raise ValueError("pages start at 1")
        # One row more than a page tells whether there is a next page without counting.
        rows = list(self.session.scalars(query.limit(self.page_size + 1).offset((page - 1) * self.page_size)))
        more = len(rows) > self.page_size
        return Page(rows[: self.page_size], page, page + 1 if more else None)

    def calls(self, *, since: datetime | None = None, until: datetime | None = None,
              status: str | None = None, page: int = 1) -> Page[Call]:
        """The practice's calls, newest first; `since` inclusive, `until` exclusive."""
        if status is not None and status not in CALL_STATES:
            raise ValueError(f"unknown call status: {status!r}")
        query = select(Call).where(Call.practice_id == self.practice_id).options(selectinload(Call.agent))
        if since:
            query = query.where(Call.created_at >= since)
        if until:
            query = query.where(Call.created_at < until)
        if status:
            query = query.where(Call.state == status)
        result = self._page(query.order_by(Call.created_at.desc(), Call.id.desc()), page)
        self._audit("list", "call", (c.id for c in result.items))
        return result

    def call(self, call_id: int) -> Call | None:
        """One call of this practice, or None (also when it belongs to another practice)."""
        call = self.session.scalar(select(Call).where(Call.id == call_id, Call.practice_id == self.practice_id))
        if call is not None:
            self._audit("view", "call", [call.id])
        else:
            self._refused_if_elsewhere(Call, "call", call_id)
        return call

    def message_ids_by_call(self, call_ids: Iterable[int]) -> dict[int, list[int]]:
        """The ids of the messages taken on each of these calls (ids only: nothing to audit)."""
        ids = list(call_ids)
        found: dict[int, list[int]] = {i: [] for i in ids}
        if not ids:
            return found
        rows = self.session.execute(
            select(Message.call_id, Message.id)
            .where(Message.practice_id == self.practice_id, Message.call_id.in_(ids))
            .order_by(Message.id)
        )
        for call_id, message_id in rows:
            found[call_id].append(message_id)
        return found

    def messages_for_call(self, call: Call) -> list[Message]:
        """The messages taken on one of this practice's calls."""
        messages = list(self.session.scalars(
            select(Message)
            .where(Message.practice_id == self.practice_id, Message.call_id == call.id)
            .options(selectinload(Message.taken_by))
            .order_by(Message.id)
        ))
        self._audit("view", "message", (m.id for m in messages))
        return messages

    def messages(self, *, since: datetime | None = None, until: datetime | None = None,
                 page: int = 1, urgent_first: bool = False) -> Page[Message]:
        """The practice's messages, newest first (urgent ones ahead of the rest when asked)."""
        query = (select(Message).where(Message.practice_id == self.practice_id)
                 .options(selectinload(Message.taken_by)))
        if since:
            query = query.where(Message.created_at >= since)
        if until:
            query = query.where(Message.created_at < until)
        order = [Message.created_at.desc(), Message.id.desc()]
        if urgent_first:
            order.insert(0, case((Message.urgency == "urgent", 0), else_=1))
        result = self._page(query.order_by(*order), page)
        self._audit("list", "message", (m.id for m in result.items))
        return result

    def message(self, message_id: int) -> Message | None:
        """One message of this practice, or None (also when it belongs to another practice)."""
        message = self.session.scalar(
            select(Message).where(Message.id == message_id, Message.practice_id == self.practice_id)
        )
        if message is not None:
            self._audit("view", "message", [message.id])
        else:
            self._refused_if_elsewhere(Message, "message", message_id)
        return message
