"""The waiting-caller queue in Redis: one sorted set of call ids, lowest score first.

Score = seconds since the epoch when the caller was queued, minus a head start for urgent
calls (URGENT_HEAD_START). That is priority with aging in one number: an urgent caller goes
ahead of routine callers who arrived up to ten minutes before them, but a routine caller who
has waited longer than that is served before a newly arrived urgent one, so nobody waits forever.

Taking a call is a ZREM: Redis answers 1 to exactly one of any number of concurrent takers.
Each practice's waiting callers are also counted in a set of their own, so that a practice's
capacity can be held as well as the service's. Everything here can be rebuilt from the ledger
(see `rebuild`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

URGENT_HEAD_START = 600.0
# A repeat caller (one whose earlier case is still open, see callcenter.cases) goes ahead of routine
# callers who arrived up to five minutes before them.
REPEAT_HEAD_START = 300.0
PRIORITY_ROUTINE = 0
PRIORITY_URGENT = 1

# Callers waiting at once, for the whole service (QUEUE_CAPACITY) unless a practice says fewer for
# itself; beyond it callers go down the message path rather than being left on hold music.
DEFAULT_CAPACITY = 1000
DEFAULT_HANDLE_SECONDS = 240.0
QUEUE_FULL = -1
NO_LIMIT = 2**31 - 1

# One round trip each. KEYS: the queue, the practice's own set, call -> practice.
# Enqueue: already waiting -> its position; the service or the practice full -> -1; else add, and push
# to the wake list (ARGV[6], when given) that the offer loop waits on: a new caller may ring an agent.
_ENQUEUE = """
local rank = redis.call('ZRANK', KEYS[1], ARGV[1])
if rank then return rank + 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return -1 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return -1 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[5])
if ARGV[6] ~= '' then
  redis.call('LPUSH', ARGV[6], '1')
  redis.call('LTRIM', ARGV[6], 0, 0)
end
return redis.call('ZRANK', KEYS[1], ARGV[1]) + 1
"""
# Remove (or take): 1 for exactly one caller of any number at once; the practice's set follows.
_REMOVE = """
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
local practice = redis.call('HGET', KEYS[2], ARGV[1])
if practice then
  redis.call('ZREM', ARGV[2] .. practice, ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return removed
"""
_POP = """
local popped = redis.call('ZPOPMIN', KEYS[1], 1)
if #popped == 0 then return false end
local practice = redis.call('HGET', KEYS[2], popped[1])
if practice then
  redis.call('ZREM', ARGV[1] .. practice, popped[1])
  redis.call('HDEL', KEYS[2], popped[1])
end
return popped[1]
"""


def score_for(queued_at: datetime, priority: int, repeat: bool = False) -> float:
    return (queued_at.timestamp() - (URGENT_HEAD_START if priority >= PRIORITY_URGENT else 0.0)
            - (REPEAT_HEAD_START if repeat else 0.0))


@dataclass(frozen=True)
class Waiting:
    call_id: int
    score: float


class CallQueue:
    """Waiting callers, in Redis: their order, their hold loop's heartbeats, recent handling times."""

    key = "cc:queue"
    practice_key = "cc:queue:practice:"  # + practice id: that practice's waiting callers
    practice_of_key = "cc:queue:practice_of"  # call id -> practice id
    heartbeat_key = "cc:queue:heartbeat"  # call id -> when its hold loop last asked for music
    handle_times_key = "cc:handle_times"

    def __init__(self, redis: Redis, capacity: int = DEFAULT_CAPACITY, wake_key: str = ""):
        self.redis = redis
        self.capacity = capacity
        self.wake_key = wake_key  # pushed to when a caller joins (see callcenter.offers.Offers.wake_key)
        self._enqueue = redis.register_script(_ENQUEUE)
        self._remove = redis.register_script(_REMOVE)
        self._pop = redis.register_script(_POP)

    def enqueue(self, call_id: int, queued_at: datetime, priority: int, practice_id: int | None = None,
                practice_capacity: int | None = None, repeat: bool = False) -> int:
        """Add a waiting call (idempotent) and return its 1-based position, or QUEUE_FULL when the service
        or the practice (`practice_capacity`, if it has one) has as many callers waiting as it holds."""
        score = score_for(queued_at, priority, repeat)
        practice = str(practice_id) if practice_id is not None else "none"
        return int(self._enqueue(keys=[self.key, self.practice_key + practice, self.practice_of_key],
                                 args=[str(call_id), repr(score), self.capacity, practice_capacity or NO_LIMIT,
                                       practice, self.wake_key]))

    def take(self, call_id: int) -> bool:
        """Remove a call from the queue; True for exactly one of any concurrent takers."""
        return self._remove(keys=[self.key, self.practice_of_key], args=[str(call_id), self.practice_key]) == 1

    def take_next(self) -> int | None:
        """Pop the call that should be answered next."""
        popped = self._pop(keys=[self.key, self.practice_of_key], args=[self.practice_key])
        return int(popped) if popped else None

    def remove(self, call_id: int) -> None:
        """The caller is gone (the ledger says so). While Redis is down the ledger's word stands: the
        reconciler takes the stale entry out once Redis answers (nobody is offered a caller who left,
        as an offer checks the ledger)."""
        try:
            self.take(call_id)
        except RedisError as exc:
            log.warning("call %s left the queue while Redis was unavailable (%s); the reconciler removes it",
                        call_id, type(exc).__name__)

    def waiting_for(self, practice_id: int) -> int:
        """How many of this practice's callers are waiting."""
        return int(self.redis.zcard(self.practice_key + str(practice_id)))

    def position(self, call_id: int) -> int | None:
        rank = self.redis.zrank(self.key, str(call_id))
        return None if rank is None else int(rank) + 1

    def still_waiting(self, call_ids: list[int]) -> set[int]:
        """Which of these calls are in the queue now (one round trip)."""
        if not call_ids:
            return set()
        pipe = self.redis.pipeline(transaction=False)
        for call_id in call_ids:
            pipe.zscore(self.key, str(call_id))
        return {c for c, score in zip(call_ids, pipe.execute(), strict=True) if score is not None}

    def waiting(self, limit: int | None = None) -> list[Waiting]:
        """Waiting calls in answer order (the first `limit` of them)."""
        end = -1 if limit is None else limit - 1
        return [Waiting(int(m), s) for m, s in self.redis.zrange(self.key, 0, end, withscores=True)]

    def __len__(self) -> int:
        return int(self.redis.zcard(self.key))

    def rebuild(self, entries: list[tuple]) -> int:
        """Restore the queue from the ledger's waiting calls (call id, queued at, priority, practice id
        [, repeat caller]); return how many were missing."""
        if not entries:
            return 0
        entries = [(*e, False) if len(e) == 4 else tuple(e) for e in entries]
        pipe = self.redis.pipeline()
        pipe.zadd(self.key, {str(cid): score_for(at, prio, rep) for cid, at, prio, _, rep in entries}, nx=True)
        for cid, at, prio, practice_id, rep in entries:
            if practice_id is not None:
                pipe.zadd(self.practice_key + str(practice_id), {str(cid): score_for(at, prio, rep)}, nx=True)
                pipe.hset(self.practice_of_key, str(cid), str(practice_id))
        return int(pipe.execute()[0])

    # Hold-loop heartbeats: a caller on hold fetches the wait document about once a minute.
    def heartbeat(self, call_id: int, at: datetime) -> None:
        self.redis.hset(self.heartbeat_key, str(call_id), f"{at.timestamp():.0f}")

    def check_in(self, call_id: int, at: datetime) -> tuple[int | None, float]:
        """A holder's hold loop asked for music: note it, and return their position and the recent
        average handling time, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(self.heartbeat_key, str(call_id), f"{at.timestamp():.0f}")
        pipe.zrank(self.key, str(call_id))
        pipe.lrange(self.handle_times_key, 0, 99)
        _, rank, handle_times = pipe.execute()
        return (None if rank is None else int(rank) + 1), _average(handle_times)

    def last_heartbeats(self, call_ids: list[int]) -> dict[int, float | None]:
        if not call_ids:
            return {}
        values = self.redis.hmget(self.heartbeat_key, [str(c) for c in call_ids])
        return {c: float(v) if v is not None else None for c, v in zip(call_ids, values, strict=True)}

    # Recent handling times, for honest wait estimates.
    def record_handle_time(self, seconds: float) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.lpush(self.handle_times_key, f"{seconds:.1f}")
        pipe.ltrim(self.handle_times_key, 0, 99)
        pipe.execute()

    def average_handle_time(self) -> float:
        return _average(self.redis.lrange(self.handle_times_key, 0, 99))


def _average(handle_times: list[bytes]) -> float:
    values = [float(v) for v in handle_times]
    return sum(values) / len(values) if values else DEFAULT_HANDLE_SECONDS
