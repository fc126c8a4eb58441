"""The one place that reads a practice's data: every query is scoped to a single practice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from .models import AuditEntry, Call, Message

PAGE_SIZE = 50


class PracticeScope:
    """Calls and messages of one practice; another practice's ids look exactly like missing ones."""

    def __init__(self, session: Session, practice_id: int, *, user_id: int | None = None,
                 api_key_id: int | None = None):
        self.session = session
        self.practice_id = practice_id
        self.user_id = user_id
        self.api_key_id = api_key_id

    def _audit(self, action: str, object_type: str, object_id: int | None) -> None:
        self.session.add(AuditEntry(user_id=self.user_id, api_key_id=self.api_key_id, action=action,
                                    object_type=object_type, object_id=object_id))

    def _page(self, query: Select, page: int) -> list:
        page = max(1, page)
        return list(self.session.scalars(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))

    def calls(self, *, since: datetime | None = None, until: datetime | None = None,
              status: str | None = None, page: int = 1) -> list[Call]:
        query = select(Call).where(Call.practice_id == self.practice_id)
        if since:
            query = query.where(Call.created_at >= since)
        if until:
            query = query.where(Call.created_at < until)
        if status:
            query = query.where(Call.state == status)
        result = self._page(query.order_by(Call.created_at.desc(), Call.id.desc()), page)
        self._audit("list", "call", None)
        return result

    def call(self, call_id: int) -> Call | None:
        call = self.session.scalar(select(Call).where(Call.id == call_id, Call.practice_id == self.practice_id))
        if call is not None:
            self._audit("view", "call", call.id)
        return call

    def messages(self, *, since: datetime | None = None, until: datetime | None = None,
                 page: int = 1) -> list[Message]:
        query = select(Message).where(Message.practice_id == self.practice_id)
        if since:
            query = query.where(Message.created_at >= since)
        if until:
            query = query.where(Message.created_at < until)
        result = self._page(query.order_by(Message.created_at.desc(), Message.id.desc()), page)
        self._audit("list", "message", None)
        return result

    def message(self, message_id: int) -> Message | None:
        message = self.session.scalar(
            select(Message).where(Message.id == message_id, Message.practice_id == self.practice_id)
        )
        if message is not None:
            self._audit("view", "message", message.id)
        return message
