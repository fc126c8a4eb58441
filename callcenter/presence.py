"""Agent presence: everything live about an agent, in Redis, and the keys that hold it.

- who is available, longest idle first (a sorted set scored by when they became available);
- who goes back to available once the call on their desk is done (agent -> call id);
- when each staff member was last seen active on a console (their socket lives while this is fresh);
- which console sockets each staff member has open, on any web process (so a logout closes them all);
- each agent's state (available, ringing, on a call, wrap-up, away with a reason) and since when;
- each console's last heartbeat: a console that stops sending them is offline within OFFLINE_AFTER.

Nothing else reads or writes these keys. Presence is a fast path: an agent who finds it wrong
sets it again from the console, and losing it loses no caller. When Redis loses it all (a restart
without its data), the `epoch` key is gone too: consoles that were open under the old epoch carry on,
and each agent's presence is rebuilt from the ledger at their console's next heartbeat (acd.restore).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from redis import Redis

# A console that has sent no heartbeat for this long is offline: its agent is set away (offline).
OFFLINE_AFTER = 30.0
# Only when the state or its reason changes is it written: the time it started is kept.
_NOTE_STATE = """
local now = redis.call('HGET', KEYS[1], ARGV[1])
if now and string.sub(now, 1, string.len(ARGV[2]) + 1) == ARGV[2] .. '|' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
return 1
"""


class Presence:
    """Agents' availability, their return to available after a call, and their console sessions."""

    available_key = "cc:agents:available"
    resume_key = "cc:agents:resume"
    seen_key = "cc:console:seen:{}"
    sockets_key = "cc:console:sockets:{}"
    # The newest sockets kept per staff member: a few tabs and their reconnects. A socket dropped from
    # the list still closes at its next event, when it finds the session gone.
    max_sockets = 20
    state_key = "cc:agents:state"  # agent -> "state|reason|since (epoch seconds)"
    heartbeat_key = "cc:agents:heartbeat"  # agent -> their console's last heartbeat (epoch seconds)
    epoch_key = "cc:presence:epoch"  # names this Redis's lifetime: a new one means everything here was lost

    def __init__(self, redis: Redis):
        self.redis = redis
        self._note_state = redis.register_script(_NOTE_STATE)

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

    def available_since(self, agent_id: int) -> float | None:
        """When the agent became available (epoch seconds), or None when they are not."""
        score = self.redis.zscore(self.available_key, str(agent_id))
        return float(score) if score is not None else None

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

    # The agent's state as the console shows it, and since when (the ledger keeps each change too).
    def note_state(self, agent_id: int, state: str, reason: str | None, at: datetime) -> bool:
        """Record the agent's state; True when it changed (the same state and reason keep their start)."""
        return self._note_state(keys=[self.state_key],
                                args=[str(agent_id), f"{state}|{reason or ''}", f"{at.timestamp():.3f}"]) == 1

    def state_of(self, agent_id: int) -> tuple[str, str | None, float] | None:
        """(state, reason, since) as last noted, or None."""
        value = self.redis.hget(self.state_key, str(agent_id))
        return _parse_state(value) if value is not None else None

    def states(self) -> dict[int, tuple[str, str | None, float]]:
        return {int(a): _parse_state(v) for a, v in self.redis.hgetall(self.state_key).items()}

    # Liveness: each open console sends a heartbeat; one that stops is offline.
    def heartbeat(self, agent_id: int, at: float) -> bool:
        """True when this is the agent's first heartbeat since they went offline (or Redis lost them)."""
        return self.redis.zadd(self.heartbeat_key, {str(agent_id): at}) == 1

    def epoch(self) -> str:
        """This Redis's lifetime, named on first use: it changes only when Redis lost its data."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self.epoch_key, uuid.uuid4().hex, nx=True)
        pipe.get(self.epoch_key)
        _, value = pipe.execute()
        return value.decode() if isinstance(value, bytes) else str(value)

    def silent_since(self, before: float) -> list[int]:
        """Agents whose consoles have sent no heartbeat since `before`."""
        return [int(a) for a in self.redis.zrangebyscore(self.heartbeat_key, "-inf", repr(before))]

    def alive(self, since: float) -> list[int]:
        """Agents whose consoles have sent a heartbeat since `since`."""
        return [int(a) for a in self.redis.zrangebyscore(self.heartbeat_key, repr(since), "+inf")]

    def forget_heartbeat(self, agent_id: int) -> None:
        self.redis.zrem(self.heartbeat_key, str(agent_id))

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
        pipe.zrem(self.heartbeat_key, str(user_id))
        pipe.execute()


def _parse_state(value: bytes | str) -> tuple[str, str | None, float]:
    text = value.decode() if isinstance(value, bytes) else value
    state, reason, since = text.split("|")
    return state, reason or None, float(since)
