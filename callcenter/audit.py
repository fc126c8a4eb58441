"""The audit of who saw patient data: append-only, hash-chained, verifiable, exported per practice.

Views write `AuditEntry` rows as they always did (who, what, which object, whose practice; the web layer
puts the request's address in `session.info["address"]` and `note_address` copies it on flush). The
worker seals new rows in a single line (`seal`): each sealed row takes the next `chain_seq` and holds
the hash of the row before it and a hash of its own fields with that one. An edited row no longer
matches its own hash; a removed or inserted one breaks the line of hashes. `verify` walks the line,
and `export` writes a practice's entries for a date range as CSV with their hashes.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.exceptions import RedisError
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from .models import ApiKey, AuditEntry, User

GENESIS = "0" * 64
SEAL_BATCH = 5000
# An agent's console shows lists that hold several practices' patients (waiting callers, callbacks owed,
# voicemails). Its opening is audited, and then a row at most this often while it stays open: the pushes
# in between are covered by that row, rather than a row for each of the many pushes a minute.
CONSOLE_LISTS_EVERY = 600
CONSOLE_LISTS_KEY = "cc:audit:console-lists:{user_id}"  # set while an agent's last such row is recent


def note_address(session: Session, _flush_context, _instances) -> None:
    """Give new audit rows the request's address, when the web layer named one."""
    address = session.info.get("address")
    if not address:
        return
    for obj in session.new:
        if isinstance(obj, AuditEntry) and obj.address is None:
            obj.address = str(address)[:64]


def console_lists_shown(session: Session, redis, user_id: int) -> bool:
    """An agent's console was given the lists of waiting callers, callbacks and voicemails: audited when
    the last such row for them is older than CONSOLE_LISTS_EVERY (or Redis cannot tell). The caller
    commits; True when a row was added."""
    try:
        due = bool(redis.set(CONSOLE_LISTS_KEY.format(user_id=user_id), "1", nx=True, ex=CONSOLE_LISTS_EVERY))
    except RedisError:
        due = True  # a row too many beats a look unaudited
    if due:
        session.add(AuditEntry(user_id=user_id, action="view", object_type="console_lists"))
    return due


def install() -> None:
    if not event.contains(Session, "before_flush", note_address):
        event.listen(Session, "before_flush", note_address)


def _fields(entry: AuditEntry) -> str:
    at = entry.at.astimezone(UTC).isoformat() if entry.at else ""
    parts = [entry.id, at, entry.user_id, entry.api_key_id, entry.practice_id, entry.action, entry.object_type,
             entry.object_id, entry.address, entry.chain_seq]
    return "|".join("" if p is None else str(p) for p in parts)


def _hash(key: bytes, prev_hash: str, entry: AuditEntry) -> str:
    # Keyed (HMAC-SHA256, with AUDIT_KEY, which lives outside the database): someone who can write to the
    # database cannot edit a row and compute the hashes of the chain after it again.
    return hmac.new(key, f"{prev_hash}|{_fields(entry)}".encode(), hashlib.sha256).hexdigest()


def seal(session: Session, key: bytes, limit: int = SEAL_BATCH) -> int:
    """Chain the rows written since the last seal (one sealer at a time: the worker's scheduled round)."""
    last = session.scalar(select(AuditEntry).where(AuditEntry.chain_seq.is_not(None))
                          .order_by(AuditEntry.chain_seq.desc()).limit(1))
    seq, prev = (last.chain_seq, last.entry_hash) if last is not None else (0, GENESIS)
    new = session.scalars(select(AuditEntry).where(AuditEntry.chain_seq.is_(None))
                          .order_by(AuditEntry.id).limit(limit)).all()
    for entry in new:
        seq += 1
        entry.chain_seq, entry.prev_hash = seq, prev
        entry.entry_hash = prev = _hash(key, prev, entry)
    session.flush()
    return len(new)


@dataclass(frozen=True)
class Verified:
    checked: int
    unsealed: int
    broken_at: int | None = None  # the chain position where it first fails
    why: str | None = None

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def head(session: Session) -> tuple[int, str] | None:
    """The chain's last place and hash: kept outside the database (the worker logs it after each seal), it
    shows whether entries were removed from the end, which the chain alone cannot."""
    last = session.scalar(select(AuditEntry).where(AuditEntry.chain_seq.is_not(None))
                          .order_by(AuditEntry.chain_seq.desc()).limit(1))
    return (last.chain_seq, last.entry_hash) if last is not None else None


def verify(session: Session, key: bytes, batch: int = 5000, expect_head: tuple[int, str] | None = None) -> Verified:
    """Walk the whole chain, recomputing each hash; with `expect_head` (a head logged before), also check
    that the chain still reaches it, so that entries removed from the end are found too."""
    prev, expected_seq, checked, after = GENESIS, 1, 0, 0
    while True:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.chain_seq > after)
                               .order_by(AuditEntry.chain_seq).limit(batch)).all()
        if not rows:
            break
        for entry in rows:
            if entry.chain_seq != expected_seq:
                return Verified(checked, 0, expected_seq, f"entry {expected_seq} of the chain is missing")
            if entry.prev_hash != prev:
                return Verified(checked, 0, entry.chain_seq, f"entry {entry.chain_seq} does not follow the one before")
            if entry.entry_hash != _hash(key, prev, entry):
                return Verified(checked, 0, entry.chain_seq, f"entry {entry.chain_seq} (id {entry.id}) was changed")
            prev, expected_seq, checked, after = entry.entry_hash, expected_seq + 1, checked + 1, entry.chain_seq
    if expect_head is not None:
        seq, expected_hash = expect_head
        if checked < seq:
            return Verified(checked, 0, checked + 1, f"entries {checked + 1} to {seq} of the chain are missing")
        found = session.scalar(select(AuditEntry.entry_hash).where(AuditEntry.chain_seq == seq))
        if found != expected_hash:
            return Verified(checked, 0, seq, f"entry {seq} is not the one the head named")
    unsealed = session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.chain_seq.is_(None))) or 0
    return Verified(checked, unsealed)


def export(session: Session, practice_id: int, since: datetime, until: datetime) -> str:
    """A practice's audit entries from `since` (inclusive) to `until` (exclusive), as CSV."""
    rows = session.execute(
        select(AuditEntry, User.email, ApiKey.prefix)
        .outerjoin(User, User.id == AuditEntry.user_id).outerjoin(ApiKey, ApiKey.id == AuditEntry.api_key_id)
        .where(AuditEntry.practice_id == practice_id, AuditEntry.at >= since, AuditEntry.at < until)
        .order_by(AuditEntry.at, AuditEntry.id)).all()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["at", "who", "action", "object", "object_id", "from", "chain_seq", "entry_hash"])
    for entry, email, prefix in rows:
        who = email or (f"api key ak_{prefix}_" if prefix else "")
        writer.writerow([entry.at.astimezone(UTC).isoformat(), who, entry.action, entry.object_type,
                         entry.object_id, entry.address or "", entry.chain_seq or "", entry.entry_hash or ""])
    return out.getvalue()
