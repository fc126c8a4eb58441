"""Agents' presence in Redis: who is offered calls and in what order, who comes back after a call,
and whose console session is alive."""

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)


def test_available_agents_are_offered_calls_longest_idle_first(app):
    presence = app.presence
    presence.set_available(1, T0 + timedelta(minutes=2))
    presence.set_available(2, T0)
    presence.set_available(3, T0 + timedelta(minutes=1))
    assert presence.available_agents() == [2, 3, 1]

    presence.set_available(2, T0 + timedelta(minutes=5))  # pressed "available" again: keeps their place
    assert presence.available_agents() == [2, 3, 1]

    presence.set_away(3)
    assert presence.available_agents() == [2, 1]
    assert not presence.is_available(3) and presence.is_available(1)


def test_an_agent_who_asked_to_resume_comes_back_once_after_their_call(app):
    presence = app.presence
    presence.resume_after(1, 42)
    presence.resume_after(2, 43)
    presence.stay_away_after(2)  # changed their mind during the call

    assert presence.resumes(1) and not presence.resumes(2)
    assert presence.pop_resume(1) == 42
    assert presence.pop_resume(1) is None  # forgotten once the call is done
    assert presence.pop_resume(2) is None
    assert not presence.resumes(1)


def test_signing_out_ends_the_console_session_and_stops_offers(app):
    presence = app.presence
    for agent in (1, 2):
        presence.set_available(agent, T0)
        presence.mark_seen(agent, 1000.5, ttl_seconds=60)
    assert presence.last_seen(1) == 1000.5

    presence.sign_out(1)

    assert presence.last_seen(1) is None
    assert presence.available_agents() == [2]
    assert presence.last_seen(2) == 1000.5  # a colleague's session is untouched


def test_a_console_session_lapses_with_its_time_to_live(app):
    app.presence.mark_seen(1, 1000.0, ttl_seconds=60)

    assert 0 < app.redis.ttl(app.presence.seen_key.format(1)) <= 60
    assert app.presence.last_seen(7) is None  # never seen


def test_a_staff_members_sockets_are_listed_newest_last_and_taken_off_once(app):
    presence = app.presence
    for n in range(presence.max_sockets + 3):
        presence.remember_socket(7, f"sid-{n}", float(n), ttl_seconds=60)

    listed = presence.forget_sockets(7)

    assert listed == [f"sid-{n}" for n in range(3, presence.max_sockets + 3)]  # only the newest few
    assert presence.forget_sockets(7) == []
