"""Twilio webhooks that could not be applied when they came, kept until they can be.

A status callback or a voicemail's recording callback answered 2xx is never sent again, so one
that could not be applied (the database was down or locked) must not be dropped. The webhook keeps
what Twilio said here, and the worker replays it (`replay`, run with every reconciler round).

Where it is kept: in Redis, or, when Redis is down too, in a spool file on the web process's own disk
(appended under an exclusive lock and fsynced). A process that kept something in its spool moves it
into Redis once Redis answers again (`forward_spool`), as does the worker at every round. A kept item
that can never be applied (a value the database refuses, a record that is not ours) is set aside in a
dead-letter list and raised once; it never holds up the good ones behind it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger(__name__)

# Only the fields each replay applies, each cut short: nothing else the patient said is kept.
FIELDS = {
    "status": ("CallSid", "CallStatus", "SequenceNumber", "CallDuration", "From", "To", "Direction"),
    "recording": ("CallSid", "From", "To", "RecordingUrl", "RecordingSid", "RecordingDuration"),
    "call_recording": ("CallSid", "RecordingUrl", "RecordingSid", "RecordingStatus", "RecordingDuration",
                       "RecordingChannels"),
}
LIMITS = {"RecordingUrl": 300}
SPOOL_NAME = "kept.jsonl"
# A web process looks at its machine's spool this often (one stat) and forwards what it holds.
FORWARD_EVERY = 30.0


def is_transient(exc: BaseException) -> bool:
    """A failure of the parts (database or Redis unreachable, locked, timed out) rather than of the item."""
    if isinstance(exc, (OperationalError, PoolTimeout, RedisError, TimeoutError, ConnectionError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def clean(kind: str, fields: Mapping) -> dict:
    """The fields of `kind` that are kept, as short strings without NUL characters (which PostgreSQL refuses)."""
    return {k: str(fields.get(k) or "").replace("\x00", "")[:LIMITS.get(k, 64)] for k in FIELDS[kind]}


@dataclass
class Replayed:
    """What one replay round did: the results of the items applied, and how many were set aside."""

    applied: list[tuple[str, object]] = field(default_factory=list)  # (kind, what its handler returned)
    dead: int = 0
    forwarded: int = 0


FAULTS_KEY = "cc:faults"  # faults a webhook could not write down, because the database was the fault


def note_fault(redis: Redis, kind: str, path: str, detail: str | None) -> None:
    """Note a fault for the worker to write down (best effort: it is in the log already)."""
    with redis.pipeline() as pipe:
        pipe.rpush(FAULTS_KEY, json.dumps({"kind": kind, "path": path[:200], "detail": (detail or "")[:400],
                                           "at": time.time()}))
        pipe.ltrim(FAULTS_KEY, -10_000, -1)  # the newest, should no worker come for a long while
        pipe.execute()


def noted_faults(redis: Redis, limit: int = 500) -> tuple[list[dict], int]:
    """The faults noted so far (oldest first), left on the list until `forget_faults` is told they are
    written down: a worker that dies, or a database still failing, loses none. Also how many raw items
    were read (unreadable ones are counted, and dropped with the rest)."""
    raw = redis.lrange(FAULTS_KEY, 0, limit - 1)
    faults = []
    for item in raw:
        try:
            faults.append(json.loads(item))
        except ValueError:
            continue
    return faults, len(raw)


def forget_faults(redis: Redis, count: int) -> None:
    """The oldest `count` noted faults are written down: off the list."""
    if count:
        redis.ltrim(FAULTS_KEY, count, -1)


class KeptWebhooks:
    key = "cc:kept"
    dead_key = "cc:kept:dead"
    legacy_key = "cc:pending_status"  # status callbacks kept before recordings were kept too

    def __init__(self, redis: Redis, spool_dir: str | os.PathLike):
        self.redis = redis
        self.spool = Path(spool_dir) / SPOOL_NAME
        self._looked = time.monotonic()

    # Keeping

    def keep(self, kind: str, fields: Mapping) -> str:
        """Keep one webhook; returns where ("redis" or "spool"). Raises only when neither would take it."""
        item = json.dumps({"kind": kind, "fields": clean(kind, fields)})
        try:
            self.redis.rpush(self.key, item)
        except RedisError:
            self._append_to_spool(item)
            return "spool"
        return "redis"

    def _append_to_spool(self, item: str) -> None:
        self.spool.parent.mkdir(parents=True, exist_ok=True)
        with open(self.spool, "a", encoding="utf-8") as spool:
            fcntl.flock(spool, fcntl.LOCK_EX)
            try:
                spool.write(item + "\n")
                spool.flush()
                os.fsync(spool.fileno())
            finally:
                fcntl.flock(spool, fcntl.LOCK_UN)

    def forward_spool(self) -> int:
        """Move what this machine's spool holds into Redis, oldest first; the spool is emptied only once
        Redis has it all. Returns how many items moved (0 when Redis is still down)."""
        if not self.spool.exists():
            return 0
        with open(self.spool, "r+", encoding="utf-8") as spool:
            fcntl.flock(spool, fcntl.LOCK_EX)
            try:
                items = [line.strip() for line in spool if line.strip()]
                if items:
                    try:
                        self.redis.rpush(self.key, *items)
                    except RedisError:
                        return 0
                spool.seek(0)
                spool.truncate()
                os.fsync(spool.fileno())
                return len(items)
            finally:
                fcntl.flock(spool, fcntl.LOCK_UN)

    def forward_now_and_then(self) -> None:
        """Called on every webhook: once in FORWARD_EVERY seconds, forward the spool if it holds anything
        (Redis is back). Never raises: the webhook must not pay for it."""
        now = time.monotonic()
        if now - self._looked < FORWARD_EVERY:
            return
        self._looked = now
        try:
            if self.spool.exists() and self.spool.stat().st_size and (moved := self.forward_spool()):
                log.warning("forwarded %d kept webhooks from this machine's spool to Redis", moved)
        except Exception as exc:
            log.warning("could not forward the spool: %s", type(exc).__name__)

    # Looking

    def __len__(self) -> int:
        return int(self.redis.llen(self.key)) + int(self.redis.llen(self.legacy_key))

    def spooled(self) -> int:
        if not self.spool.exists():
            return 0
        with open(self.spool, encoding="utf-8") as spool:
            return sum(1 for line in spool if line.strip())

    def dead(self) -> list[dict]:
        """The items set aside, oldest first, each with the kind of error that set it aside."""
        return [json.loads(raw) for raw in self.redis.lrange(self.dead_key, 0, -1)]

    def retry_dead(self) -> int:
        """Put the items set aside back in line for the next replay (after the cause was mended)."""
        moved = 0
        while (raw := self.redis.lpop(self.dead_key)) is not None:
            self.redis.rpush(self.key, json.loads(raw)["raw"])
            moved += 1
        return moved

    # Replaying

    def replay(self, handlers: Mapping[str, Callable[[dict], object]], on_failure: Callable[[], None],
               limit: int = 1000) -> Replayed:
        """Apply kept webhooks oldest first through `handlers[kind](fields)`.

        When the parts fail (see `is_transient`) the item goes back first and the round stops: the next
        round tries again. Any other failure sets the item aside in the dead-letter list (raised once by
        the caller, from `Replayed.dead`) and the round goes on. `on_failure` is called after any failure
        (a database session's rollback).
        """
        done = Replayed(forwarded=self.forward_spool())
        self._adopt_legacy()
        while len(done.applied) + done.dead < limit:
            raw = self.redis.lpop(self.key)
            if raw is None:
                break
            try:
                item = json.loads(raw)
                handler = handlers[item["kind"]]
                done.applied.append((item["kind"], handler(dict(item["fields"]))))
            except Exception as exc:
                on_failure()
                if is_transient(exc):
                    self.redis.lpush(self.key, raw)
                    raise
                self.redis.rpush(self.dead_key, json.dumps({"raw": raw if isinstance(raw, str) else raw.decode(
                    "utf-8", "replace"), "error": type(exc).__name__}))
                done.dead += 1
        return done

    def _adopt_legacy(self) -> None:
        while (raw := self.redis.lpop(self.legacy_key)) is not None:
            try:
                item = json.dumps({"kind": "status", "fields": json.loads(raw)})
            except ValueError:
                item = raw  # unreadable: the replay sets it aside
            self.redis.rpush(self.key, item)
