"""Agent presence: everything live about an agent, in Redis, and the keys that hold it.

- who is available, longest idle first (a sorted set scored by when they became available);
- who goes back to available once the call on their desk is done (agent -> call id);
- when each staff member was last seen active on a console (their socket lives while this is fresh);
- which console sockets each staff member has open, on any web process (so a logout closes them all).

Nothing else reads or writes these keys. Presence is a fast path: an agent who finds it wrong
sets it again from the console, and losing it loses no caller.
"""

from __future__ import annotations

from datetime import datetime

from redis import Redis


class Presence:
    """Agents' availability, their return to available after a call, and their console sessions."""

    available_key = "cc:agents:available"
    resume_key = "cc:agents:resume"
    seen_key = "cc:console:seen:{}"
    sockets_key = "cc:console:sockets:{}"
    # The newest sockets kept per staff member: a few tabs and their reconnects. A socket dropped from
    # the list still closes at its next event, when it finds the session gone.
    max_sockets = 20

    def __init__(self, redis: Redis):
        self.redis = redis

    # Available or away: the ones available are offered calls, longest idle first.
    def set_available(self, agent_id: int, since: datetime) -> None:
        """Available since `since`; an agent already available keeps their place in the idle order."""
        self.redis.zadd(self.available_key, {str(agent_id): since.timestamp()}, nx=True)

    def set_away(self, agent_id: int) -> None:
        self.redis.zrem(self.available_key, str(agent_id))

    def available_agents(self) -> list[int]:
        """Agents available now, longest idle first."""
        return [int(m) for m in self.redis.zrange(self.available_key, 0, -1)]

    def count_available(self) -> int:
        return int(self.redis.zcard(self.available_key))

    def is_available(self, agent_id: int) -> bool:
        return self.redis.zscore(self.available_key, str(agent_id)) is not None

    # After the call: whether the agent returns to available when the call on their desk is done.
    def resume_after(self, agent_id: int, call_id: int) -> None:
        self.redis.hset(self.resume_key, str(agent_id), str(call_id))

    def stay_away_after(self, agent_id: int) -> None:
        self.redis.hdel(self.resume_key, str(agent_id))

    def resumes(self, agent_id: int) -> bool:
        return self.redis.hget(self.resume_key, str(agent_id)) is not None

    def pop_resume(self, agent_id: int) -> int | None:
        """The call after which the agent was to resume, forgotten now; None when they were not to."""
        pipe = self.redis.pipeline()
        pipe.hget(self.resume_key, str(agent_id))
        pipe.hdel(self.resume_key, str(agent_id))
        call_id, _ = pipe.execute()
        return int(call_id) if call_id is not None else None

    # Console sessions: when each staff member was last active (see agents_ui.sessions).
    def mark_seen(self, user_id: int, at: float, ttl_seconds: int) -> None:
        self.redis.set(self.seen_key.format(user_id), repr(at), ex=ttl_seconds)

    def last_seen(self, user_id: int) -> float | None:
        seen = self.redis.get(self.seen_key.format(user_id))
        return float(seen) if seen is not None else None

    def remember_socket(self, user_id: int, sid: str, at: float, ttl_seconds: int) -> None:
        """List a console socket among the staff member's open ones, wherever its web process is."""
        key = self.sockets_key.format(user_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.zadd(key, {sid: at})
        pipe.zremrangebyrank(key, 0, -(self.max_sockets + 1))
        pipe.expire(key, ttl_seconds)
        pipe.execute()

    def keep_sockets(self, user_id: int, ttl_seconds: int) -> None:
        """The staff member is active: their sockets stay listed as long as their session."""
        self.redis.expire(self.sockets_key.format(user_id), ttl_seconds)

    def forget_sockets(self, user_id: int) -> list[str]:
        """The staff member's listed sockets, taken off the list."""
        key = self.sockets_key.format(user_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrange(key, 0, -1)
        pipe.delete(key)
        sids, _ = pipe.execute()
        return [sid.decode() if isinstance(sid, bytes) else sid for sid in sids]

    def sign_out(self, user_id: int) -> None:
        """The staff member logged out: their console session ends and they are offered no calls."""
        pipe = self.redis.pipeline()
        pipe.delete(self.seen_key.format(user_id))
        pipe.zrem(self.available_key, str(user_id))
        pipe.execute()
