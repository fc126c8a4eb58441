"""Where a caller goes after the menu, and the wait we promise them (pure rules, no database)."""

import pytest

from callcenter.routing import Route, decide, estimate_wait_minutes


@pytest.mark.parametrize(("urgent", "open_now", "agents_online", "queue_full", "expected"), [
    # In hours with someone to answer: everyone waits in the queue, urgent callers too (they go first).
    (False, True, 2, False, (Route.QUEUE, "in_hours")),
    (True, True, 2, False, (Route.QUEUE, "in_hours")),
    # Nobody is left on hold music with no one to answer: routine callers leave a message ...
    (False, False, 2, False, (Route.VOICEMAIL, "after_hours")),
    (False, True, 0, False, (Route.VOICEMAIL, "no_agents")),
    (False, True, 2, True, (Route.VOICEMAIL, "queue_full")),
    # ... and urgent ones go to the on-call clinician.
    (True, False, 2, False, (Route.ON_CALL, "after_hours")),
    (True, True, 0, False, (Route.ON_CALL, "no_agents")),
    (True, True, 2, True, (Route.ON_CALL, "queue_full")),
    # After hours is the reason whatever else is true.
    (True, False, 0, True, (Route.ON_CALL, "after_hours")),
    (False, False, 0, True, (Route.VOICEMAIL, "after_hours")),
])
def test_decide_routes_each_caller_and_says_why(urgent, open_now, agents_online, queue_full, expected):
    assert decide(urgent=urgent, open_now=open_now, agents_online=agents_online, queue_full=queue_full) == expected


@pytest.mark.parametrize(("position", "handle_seconds", "agents_online", "minutes"), [
    (1, 240, 1, 2),  # first in line: half an average call
    (3, 240, 1, 10),  # two calls ahead, then half of one
    (3, 240, 3, 2),  # three agents take the three callers at once
    (4, 240, 2, 6),  # two rounds of two
    (1, 30, 1, 1),  # never promised less than a minute
])
def test_the_wait_is_shared_among_the_agents_online_and_rounded_up(position, handle_seconds, agents_online, minutes):
    assert estimate_wait_minutes(position, handle_seconds, agents_online) == minutes


@pytest.mark.parametrize(("position", "agents_online"), [(1, 0), (0, 2), (-1, 2)])
def test_no_wait_is_promised_with_nobody_online_or_no_place_in_line(position, agents_online):
    assert estimate_wait_minutes(position, 240, agents_online) is None
