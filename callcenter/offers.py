"""Offers of waiting calls to agents, in Redis: at most one live offer per call and one per agent.

An offer is made by one script and settled by another, each one round trip, so that whatever
arrives first for an offer (the agent's accept or decline, the ring timeout, the caller hanging
up, the console going offline) is its one outcome, and everything after it finds the offer gone.
The caller stays in the queue while their call rings an agent: they keep their place, and the
queue's order is the order calls are offered in (see `callcenter.acd`).

Keys (declared here, read and written only here):
- `cc:offer:call:<call id>`: the live offer of that call (a hash: id, agent, expires, directed);
- `cc:offer:agent:<agent id>`: the call that agent's console is ringing for;
- `cc:offers:due`: every live offer by when it times out (the offer loop settles what is due);
- `cc:offer:passed:<call id>`: agents who declined or missed that call (it moves on past them);
- `cc:offers:missed`: offers each agent has missed in a row;
- `cc:offers:wake`: a list the offer loop waits on; anything that may make a match pushes to it.

Making an offer also checks, in the same script, that the caller is still in the queue and the agent
still available: it reads those two keys (`CallQueue.key`, `Presence.available_key`) and writes neither.
Losing these keys loses no caller: the callers are in the queue, and an offer that vanished is made again.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from .presence import Presence
from .queue import CallQueue

# KEYS: the call's offer, the agent's offer, due, the queue, available agents, the id counter.
# ARGV: call id, agent id, expires (epoch seconds), directed (1/0).
# An undirected offer needs the agent available; a directed one (a supervisor's assignment) does not.
_MAKE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
if not redis.call('ZSCORE', KEYS[4], ARGV[1]) then return -2 end
if ARGV[4] ~= '1' and not redis.call('ZSCORE', KEYS[5], ARGV[2]) then return -3 end
local id = redis.call('INCR', KEYS[6])
redis.call('HSET', KEYS[1], 'id', id, 'agent', ARGV[2], 'expires', ARGV[3], 'directed', ARGV[4])
redis.call('SET', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1] .. ':' .. id)
return id
"""
# KEYS: the call's offer, due, passed, missed. ARGV: call id, offer id ('' = whichever is live),
# outcome, the agent keys' prefix, the agent who must hold it ('' = anyone), how long a pass is kept.
# Returns false when the offer was already settled; else {agent, missed in a row, offer id}.
_SETTLE = """
local offer = redis.call('HMGET', KEYS[1], 'id', 'agent')
if not offer[1] then return false end
if ARGV[2] ~= '' and offer[1] ~= ARGV[2] then return false end
if ARGV[5] ~= '' and offer[2] ~= ARGV[5] then return false end
local agent = offer[2]
redis.call('DEL', KEYS[1])
if redis.call('GET', ARGV[4] .. agent) == ARGV[1] then redis.call('DEL', ARGV[4] .. agent) end
redis.call('ZREM', KEYS[2], ARGV[1] .. ':' .. offer[1])
local missed = 0
if ARGV[3] == 'declined' or ARGV[3] == 'timed_out' or ARGV[3] == 'offline' then
  redis.call('SADD', KEYS[3], agent)
  redis.call('EXPIRE', KEYS[3], tonumber(ARGV[6]))
end
if ARGV[3] == 'timed_out' then
  missed = redis.call('HINCRBY', KEYS[4], agent, 1)
elseif ARGV[3] == 'accepted' then
  redis.call('HDEL', KEYS[4], agent)
  redis.call('DEL', KEYS[3])
end
return {agent, missed, offer[1]}
"""

OUTCOMES = ("accepted", "declined", "timed_out", "withdrawn", "offline")


@dataclass(frozen=True)
class Offer:
    id: int
    call_id: int
    agent_id: int
    expires: float  # epoch seconds
    directed: bool = False
    ring_seconds: float | None = None  # how long it rings for, when it has just been made


@dataclass(frozen=True)
class Settled:
    """An offer's one outcome: which agent it rang, and how many offers they have now missed in a row."""

    offer_id: int
    call_id: int
    agent_id: int
    outcome: str
    missed_in_a_row: int


class Offers:
    """Live offers: make one, settle it exactly once, find what is due."""

    call_key = "cc:offer:call:{}"
    agent_prefix = "cc:offer:agent:"
    due_key = "cc:offers:due"
    passed_key = "cc:offer:passed:{}"
    missed_key = "cc:offers:missed"
    id_key = "cc:offers:id"
    wake_key = "cc:offers:wake"

    def __init__(self, redis: Redis, pass_seconds: int = 15):
        self.redis = redis
        # An agent who declined or missed a call is not offered it again for this long (while the
        # call goes to the others); then everyone free is offered it again.
        self.pass_seconds = max(1, int(pass_seconds))
        self._make = redis.register_script(_MAKE)
        self._settle = redis.register_script(_SETTLE)

    def make(self, call_id: int, agent_id: int, expires: float, *, directed: bool = False,
             ring_seconds: float | None = None) -> Offer | None:
        """Offer the waiting call to the agent; None when the call or the agent already has an offer,
        the call is no longer waiting, or (undirected) the agent is no longer available."""
        offer_id = int(self._make(
            keys=[self.call_key.format(call_id), self.agent_prefix + str(agent_id), self.due_key, CallQueue.key,
                  Presence.available_key, self.id_key],
            args=[str(call_id), str(agent_id), repr(expires), "1" if directed else "0"]))
        if offer_id <= 0:
            return None
        return Offer(offer_id, call_id, agent_id, expires, directed, ring_seconds=ring_seconds)

    def settle(self, call_id: int, outcome: str, *, offer_id: int | None = None,
               agent_id: int | None = None) -> Settled | None:
        """End the call's live offer with `outcome` (only if it is `offer_id`, or held by `agent_id`, when
        given); None when it had already ended: exactly one outcome per offer."""
        assert outcome in OUTCOMES, outcome
        result = self._settle(
            keys=[self.call_key.format(call_id), self.due_key, self.passed_key.format(call_id), self.missed_key],
            args=[str(call_id), str(offer_id) if offer_id is not None else "", outcome, self.agent_prefix,
                  str(agent_id) if agent_id is not None else "", str(self.pass_seconds)])
        if not result:
            return None
        return Settled(int(result[2]), call_id, int(result[0]), outcome, int(result[1]))

    def of_call(self, call_id: int) -> Offer | None:
        values = self.redis.hgetall(self.call_key.format(call_id))
        if not values:
            return None
        v = {_text(k): _text(x) for k, x in values.items()}
        return Offer(int(v["id"]), call_id, int(v["agent"]), float(v["expires"]), v.get("directed") == "1")

    def of_agent(self, agent_id: int) -> Offer | None:
        call_id = self.redis.get(self.agent_prefix + str(agent_id))
        return self.of_call(int(call_id)) if call_id is not None else None

    def ringing(self) -> dict[int, int]:
        """Every live offer: call id -> the agent it rings."""
        call_ids = [int(_text(m).split(":")[0]) for m in self.redis.zrange(self.due_key, 0, -1)]
        pipe = self.redis.pipeline(transaction=False)
        for call_id in call_ids:
            pipe.hget(self.call_key.format(call_id), "agent")
        return {c: int(a) for c, a in zip(call_ids, pipe.execute(), strict=True) if a is not None}

    def due(self, now: float) -> list[tuple[int, int]]:
        """Offers whose ring time is over: (call id, offer id)."""
        due = []
        for member in self.redis.zrangebyscore(self.due_key, "-inf", repr(now)):
            call_id, offer_id = _text(member).split(":")
            due.append((int(call_id), int(offer_id)))
        return due

    def passed(self, call_id: int) -> set[int]:
        """Agents who declined or missed this call since it was last accepted."""
        return {int(a) for a in self.redis.smembers(self.passed_key.format(call_id))}

    def missed_in_a_row(self, agent_id: int) -> int:
        return int(self.redis.hget(self.missed_key, str(agent_id)) or 0)

    def reset_missed(self, agent_id: int) -> None:
        self.redis.hdel(self.missed_key, str(agent_id))

    # Waking the offer loop: something changed that may make a match (a caller queued, an agent free).
    def wake(self) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.lpush(self.wake_key, "1")
        pipe.ltrim(self.wake_key, 0, 0)
        pipe.execute()

    def wait(self, timeout: float) -> bool:
        """Block until woken or `timeout` seconds pass; True when woken."""
        return self.redis.blpop([self.wake_key], timeout=timeout) is not None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
