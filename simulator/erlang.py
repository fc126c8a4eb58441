"""Erlang C: what queueing theory predicts for the same staffing, arrival rate and handling time."""

from __future__ import annotations

import math


def probability_of_waiting(agents: int, traffic: float) -> float:
    """Erlang C: the chance an arriving caller waits, with `agents` and `traffic` = λ·AHT Erlangs."""
    if traffic <= 0:
        return 0.0
    if agents <= 0 or traffic >= agents:
        return 1.0
    # Erlang B by its stable recurrence, then C from B.
    b = 1.0
    for k in range(1, agents + 1):
        b = traffic * b / (k + traffic * b)
    return agents * b / (agents - traffic * (1.0 - b))


def service_level(agents: int, arrivals_per_second: float, handle_seconds: float, threshold: float) -> float:
    """Share of callers answered within `threshold` seconds: 1 − P(wait)·e^(−(N−A)·t/AHT)."""
    if handle_seconds <= 0 or arrivals_per_second <= 0:
        return 1.0
    traffic = arrivals_per_second * handle_seconds
    if traffic >= agents:
        return 0.0  # overloaded: the queue grows without bound
    waits = probability_of_waiting(agents, traffic)
    return 1.0 - waits * math.exp(-(agents - traffic) * threshold / handle_seconds)


def average_speed_of_answer(agents: int, arrivals_per_second: float, handle_seconds: float) -> float | None:
    """Mean wait over all callers, in seconds; None when the queue would grow without bound."""
    traffic = arrivals_per_second * handle_seconds
    if traffic >= agents:
        return None
    return probability_of_waiting(agents, traffic) * handle_seconds / (agents - traffic)


def prediction(agents: int, arrivals_per_second: float, handle_seconds: float,
               thresholds: tuple[float, ...] = (15.0, 20.0)) -> dict:
    """Everything the report shows beside the simulated figures."""
    traffic = arrivals_per_second * handle_seconds
    return {
        "agents": agents,
        "arrivals_per_hour": arrivals_per_second * 3600.0,
        "handle_seconds": handle_seconds,
        "traffic_erlangs": traffic,
        "occupancy": min(1.0, traffic / agents) if agents else None,
        "overloaded": traffic >= agents,
        "probability_of_waiting": probability_of_waiting(agents, traffic),
        "service_level": {str(int(t)): service_level(agents, arrivals_per_second, handle_seconds, t)
                          for t in thresholds},
        "average_speed_of_answer": average_speed_of_answer(agents, arrivals_per_second, handle_seconds),
    }
