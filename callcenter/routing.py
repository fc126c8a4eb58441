"""Where a caller goes after the menu: the queue, a voicemail, or the on-call clinician."""

from __future__ import annotations

import math
from enum import Enum


class Route(Enum):
    QUEUE = "queue"
    VOICEMAIL = "voicemail"
    ON_CALL = "on_call"


def decide(*, urgent: bool, open_now: bool, agents_online: int, queue_full: bool) -> tuple[Route, str]:
    """Pick the caller's route and say why; nobody is left on hold music with no one to answer.

    After hours, urgent calls go to the on-call clinician and routine ones leave a message. In hours,
    the queue, unless it is full or no agent is logged in (overflow): then the same split.
    """
    if not open_now:
        why = "after_hours"
    elif agents_online == 0:
        why = "no_agents"
    elif queue_full:
        why = "queue_full"
    else:
        return Route.QUEUE, "in_hours"
    return (Route.ON_CALL if urgent else Route.VOICEMAIL), why


def estimate_wait_minutes(position: int, average_handle_seconds: float, agents_online: int) -> int | None:
    """An honest 'about N minutes' for the caller at `position`, or None when we cannot promise one.

    Callers ahead (position - 1) are shared among the agents online, each taking about the recent
    average handling time; the caller's own turn starts when the last of those ends. Rounded up, and
    never below one minute, so the estimate errs towards a shorter-than-promised wait.
    """
    if agents_online <= 0 or position <= 0:
        return None
    rounds = math.ceil(position / agents_online)
    seconds = (rounds - 1) * average_handle_seconds + average_handle_seconds / 2
    return max(1, math.ceil(seconds / 60))
