"""Automatic call distribution: the call that should be answered next rings the agent idle longest.

The offer loop (`ops.offer_loop`, in every worker process) calls `run_round` whenever something
may make a match (a caller queued, an agent free, an offer settled) and at least every few tenths
of a second: it settles offers whose ring time is over, withdraws those whose caller has left the
queue, sets silent consoles offline, and makes new offers. Agents answer offers with `accept` and
`decline` from their consoles. Exactly one outcome per offer is settled in Redis (`offers`);
each outcome is also a ledger event on the call, and each agent state change a row of its own.

Skills: a call goes first to a free agent who speaks the caller's language and is trained for the
practice; after SKILL_WAIT seconds in the queue, or when no agent on duty has those skills, to
any free agent, so that a skill never strands a caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, joinedload

from . import desk, ledger
from .calls import WAITING_STATES, Refused
from .gateway import TwilioGateway
from .models import AgentStateChange, AuditEntry, Call, User
from .offers import Offer, Offers, Settled
from .presence import OFFLINE_AFTER, Presence
from .queue import CallQueue

RING_SECONDS = 15
MISSES_BEFORE_AWAY = 3
SKILL_WAIT = 30.0
MATCH_WINDOW = 50  # the first callers in line looked at in one round
AWAY_REASONS = ("break", "lunch", "training", "meeting", "missed_offers", "offline", "other")
AGENT_AWAY_REASONS = ("break", "lunch", "training", "meeting", "other")  # the rest the service sets


@dataclass(frozen=True)
class Settings:
    ring_seconds: int = RING_SECONDS
    misses_before_away: int = MISSES_BEFORE_AWAY
    skill_wait: float = SKILL_WAIT
    offline_after: float = OFFLINE_AFTER


@dataclass
class Round:
    """What one round of the offer loop changed, for the consoles to hear."""

    offered: list[Offer] = field(default_factory=list)
    ended: list[Settled] = field(default_factory=list)  # timed out, withdrawn, offline
    set_away: list[tuple[int, str]] = field(default_factory=list)  # (agent, reason)

    def __bool__(self) -> bool:
        return bool(self.offered or self.ended or self.set_away)


# Agent states ---------------------------------------------------------------------------------------------

def enter_state(session: Session, presence: Presence, agent_id: int, state: str, now: datetime,
                reason: str | None = None, call_id: int | None = None) -> None:
    """The agent is now in `state`: noted in Redis for the consoles and, when it changed, in the ledger."""
    if presence.note_state(agent_id, state, reason, now):
        session.execute(insert(AgentStateChange).values(agent_id=agent_id, state=state, reason=reason,
                                                        call_id=call_id, at=now))


def set_away(session: Session, presence: Presence, offers: Offers, agent: User, reason: str,
             now: datetime) -> None:
    """The agent steps away for `reason`: no more offers; a ringing offer moves on to someone else."""
    if reason not in AGENT_AWAY_REASONS:
        raise Refused("Choose why you are stepping away: " + ", ".join(AGENT_AWAY_REASONS) + ".")
    desk.set_available(session, presence, agent, False, now)
    _ring_off(session, offers, agent.id, "declined")
    if desk.current_call(session, agent) is None:
        enter_state(session, presence, agent.id, "away", now, reason)


# A supervisor steering the floor --------------------------------------------------------------------------

def steerable(session: Session, supervisor: User, agent_id: int) -> User:
    """The staff member a supervisor may act on: supervisors act on agents, admins on supervisors too."""
    if supervisor.role not in ("supervisor", "admin"):
        raise Refused("Only a supervisor can do that.")
    agent = session.get(User, agent_id)
    allowed = ("agent", "supervisor") if supervisor.role == "admin" else ("agent",)
    if agent is None or not agent.active or agent.role not in allowed or agent.id == supervisor.id:
        raise Refused("Choose an agent on the floor.")
    return agent


def set_away_by(session: Session, presence: Presence, offers: Offers, supervisor: User, agent_id: int, reason: str,
                now: datetime) -> User:
    """A supervisor sets an agent away (for `reason`): no more offers, a ringing one moves on; an agent on a call
    finishes it first. Audited."""
    agent = steerable(session, supervisor, agent_id)
    if reason not in AGENT_AWAY_REASONS:
        raise Refused("Choose why they are away: " + ", ".join(AGENT_AWAY_REASONS) + ".")
    set_away(session, presence, offers, agent, reason, now)
    session.add(AuditEntry(user_id=supervisor.id, action="set_away", object_type="agent", object_id=agent.id))
    return agent


def may_log_out(session: Session, presence: Presence, offers: Offers, agent: User, now: datetime) -> User:
    """An agent a supervisor may steer (`steerable`) and is about to log out. They are set away first (a
    ringing call moves on, and no offer can be accepted from then on), then: never one who is talking to a
    patient (closing their console would drop the caller) or wrapping up a call (their notes would be lost).
    Commits the away first."""
    set_away(session, presence, offers, agent, "other", now)
    session.commit()
    call = desk.current_call(session, agent)
    if call is not None and call.state == "completed":
        raise Refused(f"{agent.name} is wrapping up a call. They are set away now; log them out once it is saved.")
    if call is not None:
        raise Refused(f"{agent.name} is on a call. They are set away now, so no more calls come; log them out "
                      "once the call has ended.")
    return agent


def set_available(session: Session, presence: Presence, offers: Offers, agent: User, now: datetime) -> None:
    """The agent is ready for calls (after the call on their desk, if there is one)."""
    desk.set_available(session, presence, agent, True, now)
    presence.heartbeat(agent.id, now.timestamp())
    offers.reset_missed(agent.id)
    if desk.current_call(session, agent) is None:
        enter_state(session, presence, agent.id, "available", now)
    offers.wake()


def restore(session: Session, presence: Presence, agent_id: int, now: datetime) -> str | None:
    """Redis lost the agent's presence while their console stayed open: rebuild it from the ledger's last
    state change, so that the IVR and the offers count them again. Returns the state restored, or None.

    An offer that rang when Redis went is gone, so a ringing agent is available again. An agent on a call
    or in wrap-up returns to available after it, as one who took an offer was available before it."""
    if presence.state_of(agent_id) is not None:
        return None
    last = session.scalar(select(AgentStateChange).where(AgentStateChange.agent_id == agent_id)
                          .order_by(AgentStateChange.id.desc()).limit(1))
    if last is None:
        return None
    if last.state in ("available", "ringing"):
        since = last.at if last.state == "available" else now
        presence.set_available(agent_id, since)
        presence.note_state(agent_id, "available", None, since)
        if last.state == "ringing":
            session.execute(insert(AgentStateChange).values(agent_id=agent_id, state="available", at=now))
        return "available"
    presence.note_state(agent_id, last.state, last.reason, last.at)
    if last.state in ("on_call", "wrap_up"):
        presence.resume_after(agent_id, last.call_id or 0)
    return last.state


def signed_out(session: Session, presence: Presence, offers: Offers, agent_id: int, now: datetime) -> Settled | None:
    """The agent logged out (or their session expired): no more offers, and a ringing one moves on now."""
    settled = _ring_off(session, offers, agent_id, "offline")
    enter_state(session, presence, agent_id, "away", now, "offline")
    return settled


def call_ended(session: Session, presence: Presence, agent_id: int | None, call_id: int, now: datetime) -> None:
    """The agent's caller is gone (hung up, the bridge ended): after-call work starts."""
    if agent_id is not None:
        enter_state(session, presence, agent_id, "wrap_up", now, call_id=call_id)


def wrapped_up(session: Session, presence: Presence, offers: Offers, agent: User, now: datetime) -> None:
    """The wrap-up is saved: the agent is available again, or away if they said so during the call."""
    if desk.current_call(session, agent) is not None:
        return
    if presence.is_available(agent.id):
        enter_state(session, presence, agent.id, "available", now)
        offers.wake()
    else:
        noted = presence.state_of(agent.id)
        reason = noted[1] if noted is not None and noted[0] == "away" else "other"
        enter_state(session, presence, agent.id, "away", now, reason)


def _ring_off(session: Session, offers: Offers, agent_id: int, outcome: str) -> Settled | None:
    offer = offers.of_agent(agent_id)
    settled = offers.settle(offer.call_id, outcome, agent_id=agent_id) if offer is not None else None
    if settled is not None:
        _record_outcome(session, settled)
        offers.wake()
    return settled


# Answering an offer ---------------------------------------------------------------------------------------

def accept(session: Session, queue: CallQueue, presence: Presence, offers: Offers, gateway: TwilioGateway,
           call_id: int, agent: User, connect_url: str, now: datetime) -> Call:
    """The agent accepts the call ringing on their console: it is theirs (see `desk.take_call`, which
    commits around its request to Twilio; the offer's outcome is committed first, whatever follows)."""
    if desk.current_call(session, agent) is not None:
        raise Refused("Finish your current call before taking another.")
    settled = offers.settle(call_id, "accepted", agent_id=agent.id)
    if settled is None:
        raise Refused("This call is no longer ringing for you.")
    _record_outcome(session, settled)
    session.commit()
    try:
        call = desk.take_call(session, queue, presence, gateway, call_id, agent, connect_url, now)
    finally:
        offers.wake()
    enter_state(session, presence, agent.id, "on_call", now, call_id=call.id)
    return call


def decline(session: Session, presence: Presence, offers: Offers, call_id: int, agent: User,
            now: datetime) -> Settled:
    """The agent declines: the call rings the next agent and the caller keeps their place."""
    settled = offers.settle(call_id, "declined", agent_id=agent.id)
    if settled is None:
        raise Refused("This call is no longer ringing for you.")
    _record_outcome(session, settled)
    if presence.is_available(agent.id):
        enter_state(session, presence, agent.id, "available", now)
    offers.wake()
    return settled


def assign(session: Session, queue: CallQueue, presence: Presence, offers: Offers, call_id: int,
           agent_id: int, supervisor: User, now: datetime, settings: Settings = Settings()) -> Offer:
    """A supervisor sends a waiting caller to one agent: an offer that rings that agent only."""
    if supervisor.role not in ("supervisor", "admin"):
        raise Refused("Only a supervisor can assign a caller to an agent.")
    agent = session.get(User, agent_id)
    if agent is None or not agent.is_staff or not agent.active:
        raise Refused("Choose an agent who is logged in.")
    if desk.current_call(session, agent) is not None:
        raise Refused(f"{agent.name} is on a call.")
    if queue.position(call_id) is None:
        raise Refused("This caller is no longer waiting.")
    current = offers.of_call(call_id)
    if current is not None and current.agent_id != agent_id:
        settled = offers.settle(call_id, "withdrawn", offer_id=current.id)
        if settled is not None:
            _record_outcome(session, settled)
    elif current is not None:
        return current
    _ring_off(session, offers, agent_id, "withdrawn")
    offer = offers.make(call_id, agent_id, now.timestamp() + settings.ring_seconds, directed=True,
                        ring_seconds=settings.ring_seconds)
    if offer is None:
        raise Refused("This caller is no longer waiting.")
    ledger.record_for(session, call_id, "offered", {"agent": agent_id, "offer": offer.id, "assigned_by": supervisor.id},
                      actor_id=supervisor.id)
    enter_state(session, presence, agent_id, "ringing", now, call_id=call_id)
    return offer


# The offer loop's round -----------------------------------------------------------------------------------

def run_round(session: Session, queue: CallQueue, presence: Presence, offers: Offers, now: datetime,
              settings: Settings = Settings(), ring: Callable[[Offer], None] | None = None) -> Round:
    """Settle what is over, then match free agents to waiting callers. Commits nothing.

    `ring`, when given, is called with each offer the moment Redis has made it, before its ledger rows
    are written and committed: the offer is Redis's to settle (an accept works from then on), and the
    agent's console rings without waiting on the database. The call's row is loaded by then (with its
    practice), so that building what rings reads nothing more for most callers."""
    result = Round()
    _end_due(session, presence, offers, now, settings, result)
    _withdraw_departed(session, queue, offers, result)
    _sweep_offline(session, presence, offers, now, settings, result)
    _match(session, queue, presence, offers, now, settings, result, ring)
    return result


def _end_due(session, presence, offers, now, settings, result) -> None:
    for call_id, offer_id in offers.due(now.timestamp()):
        settled = offers.settle(call_id, "timed_out", offer_id=offer_id)
        if settled is None:
            continue
        _record_outcome(session, settled)
        result.ended.append(settled)
        if settled.missed_in_a_row >= settings.misses_before_away:
            presence.set_away(settled.agent_id)
            presence.stay_away_after(settled.agent_id)
            offers.reset_missed(settled.agent_id)
            enter_state(session, presence, settled.agent_id, "away", now, "missed_offers")
            result.set_away.append((settled.agent_id, "missed_offers"))
        elif presence.is_available(settled.agent_id):
            enter_state(session, presence, settled.agent_id, "available", now)


def _withdraw_departed(session, queue, offers, result) -> None:
    """A caller who hung up (or went to voicemail) while their call rang an agent: the offer ends."""
    ringing = offers.ringing()
    if not ringing:
        return
    waiting = queue.still_waiting(list(ringing))
    for call_id in ringing:
        if call_id not in waiting:
            settled = offers.settle(call_id, "withdrawn")
            if settled is not None:
                _record_outcome(session, settled)
                result.ended.append(settled)


def _sweep_offline(session, presence, offers, now, settings, result) -> None:
    """Consoles that stopped sending heartbeats: their agents are away (offline), their offers move on."""
    for agent_id in presence.silent_since(now.timestamp() - settings.offline_after):
        presence.forget_heartbeat(agent_id)
        offer = offers.of_agent(agent_id)
        if offer is not None:
            settled = offers.settle(offer.call_id, "offline", agent_id=agent_id)
            if settled is not None:
                _record_outcome(session, settled)
                result.ended.append(settled)
        was_available = presence.is_available(agent_id)
        presence.set_away(agent_id)
        presence.stay_away_after(agent_id)
        if was_available or offer is not None:
            enter_state(session, presence, agent_id, "away", now, "offline")
            result.set_away.append((agent_id, "offline"))


def _skills(session: Session, agent_ids: list[int]) -> dict[int, tuple[set[str], set[int] | None]]:
    if not agent_ids:
        return {}
    rows = session.execute(select(User.id, User.languages, User.trained_practices).where(User.id.in_(agent_ids)))
    return {r.id: (set(r.languages or ["en"]), set(r.trained_practices) if r.trained_practices else None)
            for r in rows}


def _skilled(skills: tuple[set[str], set[int] | None], language: str, practice_id: int | None) -> bool:
    languages, practices = skills
    return language in languages and (practices is None or practice_id in practices)


def _match(session, queue, presence, offers, now, settings, result, ring=None) -> None:
    available = presence.available_agents()  # longest idle first
    if not available:
        return
    ringing = offers.ringing()
    ringing_agents = set(ringing.values())
    free = [a for a in available if a not in ringing_agents]
    if not free:
        return
    waiting = [w.call_id for w in queue.waiting(MATCH_WINDOW) if w.call_id not in ringing]
    if not waiting:
        return
    calls = {c.id: c for c in session.scalars(  # the ledger's word: a caller who left is offered to nobody
        select(Call).options(joinedload(Call.practice))
        .where(Call.id.in_(waiting), Call.state.in_(WAITING_STATES)))}
    skills = _skills(session, free)
    everyone: dict[int, tuple[set[str], set[int] | None]] | None = None

    def anyone_skilled(language: str, practice_id: int | None) -> bool:
        """Whether any agent on duty (free or not) has the caller's skills: only asked when no free agent
        has them, so that a round with a skilled agent free reads the skills of the free ones only."""
        nonlocal everyone
        if everyone is None:
            on_duty = set(available) | set(presence.alive(now.timestamp() - settings.offline_after))
            everyone = {**skills, **_skills(session, sorted(on_duty - set(skills)))}
        return any(_skilled(s, language, practice_id) for s in everyone.values())

    for call_id in waiting:
        if not free:
            break
        row = calls.get(call_id)
        if row is None:
            continue
        passed = offers.passed(call_id)
        pool = [a for a in free if a not in passed]
        if not pool:
            continue
        language = row.language or "en"
        preferred = [a for a in pool if _skilled(skills.get(a, ({"en"}, None)), language, row.practice_id)]
        waited = (now - row.queued_at).total_seconds() if row.queued_at else 0.0
        if preferred:
            agent_id = preferred[0]
        elif waited >= settings.skill_wait or not anyone_skilled(language, row.practice_id):
            agent_id = pool[0]
        else:
            continue  # a skilled agent is on duty and the caller has not waited long: wait for them
        offer = offers.make(call_id, agent_id, now.timestamp() + settings.ring_seconds,
                            ring_seconds=settings.ring_seconds)
        if offer is None:
            continue
        free.remove(agent_id)
        # The floor says "ringing" before the console rings; the ledger's row for it is written after the ring
        # (it may wait on the database), and only while it is still true: an agent quick enough to accept
        # meanwhile is on the call, and a later "ringing" row would say otherwise.
        noted = presence.note_state(agent_id, "ringing", None, now)
        if ring is not None:
            ring(offer)
        ledger.record_for(session, call_id, "offered", {"agent": agent_id, "offer": offer.id})
        state = presence.state_of(agent_id)
        if noted and state is not None and state[0] == "ringing":
            session.execute(insert(AgentStateChange).values(agent_id=agent_id, state="ringing", reason=None,
                                                            call_id=call_id, at=now))
        result.offered.append(offer)


_OUTCOME_EVENTS = {"accepted": "offer_accepted", "declined": "offer_declined", "timed_out": "offer_timed_out",
                   "withdrawn": "offer_withdrawn", "offline": "offer_offline"}


def _record_outcome(session: Session, settled: Settled) -> None:
    ledger.record_for(session, settled.call_id, _OUTCOME_EVENTS[settled.outcome],
                      {"agent": settled.agent_id, "offer": settled.offer_id},
                      actor_id=settled.agent_id if settled.outcome in ("accepted", "declined") else None,
                      dedupe_key=f"offer:{settled.offer_id}")
