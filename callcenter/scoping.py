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
from .models import AuditEntry, Call, CallRecording, Message

PAGE_SIZE = 50
UNDO_SECONDS = 60  # an acknowledgement can be taken back this long after, by whoever gave it


class ScopeRefused(ValueError):
    """A change this practice's staff may not make now; the message says why."""
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

    def voicemail_to_play(self, message_id: int) -> Message | None:
        """A voicemail of this practice whose recording is still kept, audited as played; None otherwise
        (another practice's is audited as refused)."""
        message = self.session.scalar(select(Message).where(Message.id == message_id,
                                                            Message.practice_id == self.practice_id))
        if message is None:
            self._refused_if_elsewhere(Message, "recording", message_id)
            return None
        if message.kind != "voicemail" or not message.recording_url:
            return None
        self._audit("play", "recording", [message.id])
        return message

    def recordings_for_call(self, call: Call) -> list[CallRecording]:
        """The recorded conversations of one of this practice's calls, without their audio."""
        return list(self.session.scalars(
            select(CallRecording).where(CallRecording.practice_id == self.practice_id, CallRecording.call_id == call.id)
            .order_by(CallRecording.created_at, CallRecording.id)))

    def recording_to_play(self, call_id: int, recording_id: int) -> CallRecording | None:
        """A recorded conversation of this practice with its audio, audited as played; None when it is
        missing, another practice's (audited as refused), or its audio is not here (yet, or any more)."""
        recording = self.session.scalar(select(CallRecording).where(
            CallRecording.id == recording_id, CallRecording.call_id == call_id,
            CallRecording.practice_id == self.practice_id))
        if recording is None:
            self._refused_if_elsewhere(CallRecording, "call_recording", recording_id)
            return None
        if recording.status != "kept":
            return None
        self._audit("play", "call_recording", [recording.id])
        return recording

    def _messages_query(self, since: datetime | None, until: datetime | None, acknowledged: bool | None) -> Select:
        query = (select(Message).where(Message.practice_id == self.practice_id)
                 .options(selectinload(Message.taken_by), selectinload(Message.acknowledged_by)))
        if since:
            query = query.where(Message.created_at >= since)
        if until:
            query = query.where(Message.created_at < until)
        if acknowledged is not None:
            query = query.where(Message.acknowledged_at.is_not(None) if acknowledged
                                else Message.acknowledged_at.is_(None))
        return query

    def messages(self, *, since: datetime | None = None, until: datetime | None = None,
                 page: int = 1, urgent_first: bool = False, acknowledged: bool | None = None) -> Page[Message]:
        """The practice's messages, newest first (urgent ones ahead of the rest when asked)."""
        query = self._messages_query(since, until, acknowledged)
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

    def messages_to_export(self, *, since: datetime | None = None, until: datetime | None = None,
                           acknowledged: bool | None = None, chunk: int = 500) -> Iterable[list[Message]]:
        """The practice's messages, oldest first, a chunk at a time (a year of them never sits in memory),
        each chunk audited as exported; the caller commits after each."""
        query = self._messages_query(since, until, acknowledged).order_by(Message.created_at, Message.id)
        after: tuple | None = None
        while True:
            page_query = query
            if after is not None:
                page_query = page_query.where((Message.created_at > after[0])
                                              | ((Message.created_at == after[0]) & (Message.id > after[1])))
            rows = list(self.session.scalars(page_query.limit(chunk)))
            if not rows:
                return
            self._audit("export", "message", (m.id for m in rows))
            yield rows
            after = (rows[-1].created_at, rows[-1].id)

    def acknowledge(self, message_ids: Iterable[int], at: datetime) -> list[Message]:
        """Acknowledge these messages of this practice (others' and missing ids are skipped); those that
        were not acknowledged before, now acknowledged by this staff member or key."""
        ids = [int(i) for i in message_ids]
        if not ids:
            return []
        found = list(self.session.scalars(select(Message).where(
            Message.practice_id == self.practice_id, Message.id.in_(ids), Message.acknowledged_at.is_(None))))
        for message in found:
            message.acknowledged_at = at
            message.acknowledged_by_id = self.user_id
            message.acknowledged_by_key_id = self.api_key_id
        self._audit("acknowledge", "message", (m.id for m in found))
        return found

    def undo_acknowledge(self, message_id: int, at: datetime) -> Message:
        """Take back one's own acknowledgement within UNDO_SECONDS; ScopeRefused says why not otherwise."""
        message = self.session.scalar(select(Message).where(Message.id == message_id,
                                                            Message.practice_id == self.practice_id))
        if message is None or message.acknowledged_at is None:
            raise ScopeRefused("This message is not acknowledged.")
        if message.acknowledged_by_id != self.user_id or self.user_id is None:
            raise ScopeRefused("Only the person who acknowledged a message can undo it.")
        if (at - message.acknowledged_at).total_seconds() > UNDO_SECONDS:
            raise ScopeRefused("An acknowledgement can be undone only within a minute.")
        message.acknowledged_at = message.acknowledged_by_id = message.acknowledged_by_key_id = None
        self._audit("undo_acknowledge", "message", [message.id])
        return message
