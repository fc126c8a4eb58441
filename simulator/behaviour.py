"""How simulated callers, agents and clinicians behave: arrivals, menu choices, patience, handling times.

All durations are in simulated seconds; `SimClock` turns them into real ones.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

# Relative call volume by hour of the day at a family practice: a Monday-morning peak when the
# office opens, a lunch dip, a smaller afternoon bump. Hours not listed get NIGHT_WEIGHT.
HOURLY_PROFILE = {7: 0.5, 8: 1.6, 9: 1.5, 10: 1.2, 11: 1.0, 12: 0.8, 13: 1.0, 14: 1.0, 15: 0.9, 16: 0.8,
                  17: 0.5, 18: 0.3}
NIGHT_WEIGHT = 0.15

# (reason, key, share): what callers choose in the menu (docs/patient-path.md).
MENU_MIX = (
    ("urgent", "1", 0.10),
    ("message", "2", 0.30),
    ("appointment", "3", 0.25),
    ("refill", "4", 0.20),
    ("billing", "5", 0.05),
    ("operator", "0", 0.10),
)

# Per reason: the share of calls the agent takes a message for, and the dispositions of the others.
WRAP_UPS = {
    "urgent": (0.80, (("answered_question", 1.0),)),
    "message": (0.70, (("answered_question", 0.7), ("other", 0.3))),
    "appointment": (0.10, (("appointment", 0.9), ("answered_question", 0.1))),
    "refill": (0.35, (("answered_question", 0.6), ("transferred", 0.4))),
    "billing": (0.20, (("transferred", 0.7), ("answered_question", 0.3))),
    "operator": (0.20, (("answered_question", 0.6), ("transferred", 0.25), ("wrong_number", 0.15))),
}
MESSAGES = {
    "urgent": "Fever of 39.5 since last night, not keeping fluids down; asks for a nurse call.",
    "message": "Asks the doctor to call about test results.",
    "appointment": "Needs to move Thursday's appointment to next week.",
    "refill": "Refill request: lisinopril 10 mg, pharmacy on file.",
    "billing": "Question about a statement; please call back.",
    "operator": "Asks the office to call back about a referral.",
}
VOICEMAIL_WORDS = "Hi, this is a simulated patient, please call me back about my appointment, thank you"


@dataclass(frozen=True)
class Behaviour:
    """Means and spreads of everything people take time over, in simulated seconds."""

    handle_seconds: float = 240.0  # talk time with an agent: lognormal with this mean
    handle_sigma: float = 0.5
    wrap_seconds: float = 30.0  # after-call work before the wrap-up is saved
    patience_seconds: float = 180.0  # on hold before hanging up: exponential with this mean
    callback_seconds: float = 90.0  # calling a patient back, between calls
    review_seconds: float = 45.0  # listening to a voicemail, between calls
    clinician_answers: float = 0.85  # share of on-call transfers the clinician picks up
    clinician_talk_seconds: float = 150.0
    clinician_replies: float = 0.7  # share of urgent pages the clinician answers "1" by text
    clinician_reply_seconds: float = 120.0  # how soon after the page (lognormal, simulated)

    def talk(self, rng: random.Random) -> float:
        return lognormal(rng, self.handle_seconds, self.handle_sigma)

    def wrap(self, rng: random.Random) -> float:
        return lognormal(rng, self.wrap_seconds, 0.4)

    def patience(self, rng: random.Random) -> float:
        return rng.expovariate(1.0 / self.patience_seconds)


def lognormal(rng: random.Random, mean: float, sigma: float) -> float:
    """A lognormal draw whose mean (not median) is `mean`."""
    if mean <= 0:
        return 0.0
    return rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)


def hour_weight(hour_of_day: int) -> float:
    return HOURLY_PROFILE.get(hour_of_day % 24, NIGHT_WEIGHT)


def _slots(hours: float, start_hour: int) -> list[tuple[float, float, float]]:
    """(start, end, weight) of each clock hour of the day, in simulated seconds from its start."""
    slots, t = [], 0.0
    end = hours * 3600.0
    while t < end:
        slot_end = min(end, t + 3600.0)
        slots.append((t, slot_end, hour_weight(start_hour + int(t // 3600))))
        t = slot_end
    return slots


def arrival_times(rng: random.Random, hours: float, start_hour: int, *, calls: int | None = None,
                  rate: float = 60.0) -> list[float]:
    """When callers arrive, in simulated seconds from the start of the day, sorted.

    A Poisson process whose rate follows HOURLY_PROFILE. With `calls`, exactly that many arrive
    (the process conditioned on its count: independent times from the profile's density); otherwise
    `rate` is the mean number of calls per hour, and the count is itself random.
    """
    slots = _slots(hours, start_hour)
    if not slots:
        return []
    total = sum((end - start) * w for start, end, w in slots)
    if calls is not None:
        times = []
        for _ in range(calls):
            pick = rng.random() * total
            for start, end, w in slots:
                span = (end - start) * w
                if pick <= span or (start, end, w) == slots[-1]:
                    times.append(start + rng.random() * (end - start))
                    break
                pick -= span
        return sorted(times)
    mean_weight = total / (hours * 3600.0)
    times = []
    for start, end, w in slots:
        per_second = rate / 3600.0 * w / mean_weight
        t = start + rng.expovariate(per_second)
        while t < end:
            times.append(t)
            t += rng.expovariate(per_second)
    return times


def choose_option(rng: random.Random) -> tuple[str, str]:
    """A menu choice in MENU_MIX proportions: (reason, key)."""
    pick = rng.random()
    for reason, key, share in MENU_MIX:
        if pick < share:
            return reason, key
        pick -= share
    return MENU_MIX[-1][0], MENU_MIX[-1][1]


def wrap_up_for(rng: random.Random, reason: str | None) -> tuple[str, str]:
    """(disposition, message): the agent's wrap-up for a call about `reason`; message may be ''."""
    message_share, others = WRAP_UPS.get(reason or "operator", WRAP_UPS["operator"])
    if rng.random() < message_share:
        return "message_taken", MESSAGES.get(reason or "operator", MESSAGES["operator"])
    pick = rng.random()
    for disposition, share in others:
        if pick < share:
            return disposition, ""
        pick -= share
    return others[-1][0], ""
