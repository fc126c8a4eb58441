"""One simulated day (or one load test) against a running service, from setup to report."""

from __future__ import annotations

import logging
import math
import random
import secrets
import statistics
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from flask import Flask
from sqlalchemy import select

from callcenter.accounts import create_user, hash_password
from callcenter.extensions import db
from callcenter.models import User

from . import outcomes, practices
from .agents import SimAgent
from .behaviour import Behaviour, arrival_times, choose_option
from .callers import Caller, Clinician, Softphone, Tally
from .clock import SimClock
from .progress import ProgressBar, sim_clock
from .report import headline, write_report
from .scheduler import Scheduler

log = logging.getLogger(__name__)

AGENT_EMAIL = "sim-agent-{}@sim.test"
CALLER_PREFIX = "+1628"  # callers dial from +1 628 NXX XXXX, a fresh block of numbers per run


class SimulationError(RuntimeError):
    """The run cannot start or could not finish; the message says why."""


@dataclass
class SimulationConfig:
    app_url: str = "http://127.0.0.1:5000"
    emulator_url: str = "http://127.0.0.1:5001"
    calls: int | None = None
    hours: float = 1.0
    rate: float = 60.0  # calls per hour when `calls` is not given
    start_hour: int = 8
    agents: int = 4
    speed: float | None = None  # None: the emulator's speed
    seed: int | None = None
    out: str | None = None
    numbers: list[str] = field(default_factory=list)  # practice numbers to dial; empty: all
    behaviour: Behaviour = field(default_factory=Behaviour)
    open_hours: bool = True
    max_wait: float | None = None  # simulated seconds; None: each practice's own setting
    hold: int = 0  # load mode: callers to hold at once
    hold_for: float = 60.0  # real seconds to keep them once all are waiting
    hold_rate: float = 50.0  # callers dialled per real second in load mode
    drain_timeout: float = 180.0  # real seconds to wait for the queue and the outcomes after the last caller
    workers: int = 16
    progress: bool = True


def _emulator_speed(emulator_url: str) -> float:
    try:
        answer = requests.get(f"{emulator_url}/phone/api/config", timeout=5)
        answer.raise_for_status()
        return float(answer.json().get("speed") or 1.0)
    except (requests.RequestException, ValueError) as exc:
        raise SimulationError(f"the emulator at {emulator_url} does not answer ({type(exc).__name__})") from None


def _check_app(app_url: str) -> None:
    try:
        answer = requests.get(f"{app_url}/healthz", timeout=5)
    except requests.RequestException as exc:
        raise SimulationError(f"the service at {app_url} does not answer ({type(exc).__name__})") from None
    if answer.status_code != 200:
        raise SimulationError(f"the service at {app_url} is not healthy: {answer.text.strip()}")


def ensure_agents(count: int) -> tuple[list[str], str]:
    """Create (or reset) the simulated agents' accounts; return their emails and this run's password."""
    password = secrets.token_urlsafe(18)
    hashed = hash_password(password)  # argon2 is slow by design: hash once for everyone
    emails = [AGENT_EMAIL.format(i) for i in range(1, count + 1)]
    for i, email in enumerate(emails, start=1):
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            create_user(db.session, email, password, "agent", display_name=f"Sim Agent {i}", password_hash=hashed)
        else:
            user.password_hash, user.active = hashed, True
    db.session.commit()
    return emails, password


def caller_numbers(rng: random.Random, count: int) -> list[str]:
    start = rng.randrange(2_000_000, 9_999_999 - count)
    return [f"{CALLER_PREFIX}{start + i:07d}" for i in range(count)]


class Simulation:
    def __init__(self, app: Flask, config: SimulationConfig):
        self.app = app
        self.config = config
        self.seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
        self.rng = random.Random(self.seed)
        self.tally = Tally()
        self.errors: list[str] = []
        self.samples: list[dict] = []
        self.agents: list[SimAgent] = []
        self.callers: list[Caller] = []
        self.clinician_stop = threading.Event()

    # The run -----------------------------------------------------------------------------------

    def run(self) -> dict:
        config = self.config
        app_url, emulator_url = config.app_url.rstrip("/"), config.emulator_url.rstrip("/")
        _check_app(app_url)
        emulator_speed = _emulator_speed(emulator_url)
        speed = config.speed or emulator_speed
        if abs(speed - emulator_speed) > 1e-6:
            raise SimulationError(
                f"--speed {speed:g} but the emulator runs at speed {emulator_speed:g}: the IVR's prompts, hold "
                f"music and rings would run on a different clock. Start the emulator with --speed {speed:g} "
                f"(EMULATOR_SPEED={speed:g} for `make run`), or leave --speed out.")
        self.clock = clock = SimClock(speed)
        behaviour = config.behaviour
        load_mode = config.hold > 0

        emails, password = ensure_agents(config.agents)
        targets = practices.targets(db.session, config.numbers or None)
        if not targets:
            raise SimulationError("no practice has a phone number to call (try `flask --app app demo`)")
        on_call = practices.on_call_numbers(db.session, [t.id for t in targets])
        settings = practices.TemporarySettings(db.session, [t.id for t in targets])
        phone = Softphone(emulator_url)

        if load_mode:
            n = config.hold
            arrivals = [i / config.hold_rate * speed for i in range(n)]  # dialled at hold_rate per real second
            max_wait_real = arrivals[-1] / speed + config.hold_for + 120.0
        else:
            arrivals = arrival_times(self.rng, config.hours, config.start_hour, calls=config.calls, rate=config.rate)
            n = len(arrivals)
            max_wait_real = None if config.max_wait is None else config.max_wait / speed
        day_seconds = config.hours * 3600.0 if not load_mode else (arrivals[-1] if arrivals else 0.0)
        numbers = caller_numbers(self.rng, max(1, n))
        dial = [(t, number) for t in targets for number in t.numbers]

        started_at = datetime.now(UTC)
        since = started_at - timedelta(seconds=1)
        released = threading.Event()
        scheduler = Scheduler(workers=config.workers, on_error=lambda exc: self._error(f"caller: {exc!r}"))
        try:
            applied = self._apply_settings(settings, max_wait_real, speed, config.open_hours)
            self._start_agents(emails, password, app_url, clock, behaviour, paused=load_mode)
            for number in on_call:
                scheduler.add(Clinician(number, clock, phone, behaviour, random.Random(self.rng.random()),
                                        self.tally, self.clinician_stop))
            clock.start()
            since = datetime.now(UTC) - timedelta(seconds=1)
            for i, (at, number) in enumerate(zip(arrivals, numbers, strict=False)):
                target, dialled = dial[self.rng.randrange(len(dial))]
                reason, key = choose_option(self.rng)
                caller = Caller(index=i, number=number, dialled=dialled, reason=reason, key=key,
                                patience=math.inf if load_mode else behaviour.patience(self.rng), arrival=at,
                                clock=clock, phone=phone, tally=self.tally, max_wait=applied[target.id],
                                load_mode=load_mode, released=released)
                self.callers.append(caller)
                scheduler.add(caller, clock.deadline(at))
            real_started = time.monotonic()
            if load_mode:
                load = self._hold_then_release(scheduler, released, n)
            else:
                load = None
                self._play_day(scheduler, day_seconds, n)
            drained = self._drain(since, set(numbers))
            real_seconds = time.monotonic() - real_started
        finally:
            self.clinician_stop.set()
            released.set()
            for agent in self.agents:
                agent.shutdown()
            scheduler.stop()
            settings.restore()

        return self._report(since, started_at, set(numbers), day_seconds, real_seconds, drained, load, speed,
                            applied, on_call)

    def _apply_settings(self, settings, max_wait_real, speed, open_hours) -> dict[int, float]:
        """Scale each practice's maximum wait to the accelerated clock (or set the run's own)."""
        return settings.apply(lambda p: max_wait_real if max_wait_real is not None
                              else p.max_wait_seconds / speed, open_hours)

    def _start_agents(self, emails, password, app_url, clock, behaviour, paused: bool) -> None:
        for i, email in enumerate(emails, start=1):
            agent = SimAgent(i, email, password, app_url, clock, behaviour, random.Random(self.rng.random()),
                             self.tally)
            agent.colleagues = len(emails)
            if paused:
                agent.paused.set()
            self.agents.append(agent)
            agent.start()
        for agent in self.agents:
            agent.ready.wait(60)
        failed = [a for a in self.agents if a.error]
        if len(failed) == len(self.agents):
            raise SimulationError(f"no simulated agent could log in: {failed[0].error}")
        for agent in failed:
            self._error(f"agent {agent.index}: {agent.error}")

    def _error(self, text: str) -> None:
        if len(self.errors) < 100:
            self.errors.append(text)

    def _sample(self) -> dict:
        phases: dict[str, int] = {}
        for caller in self.callers:
            phases[caller.phase] = phases.get(caller.phase, 0) + 1
        live = [a for a in self.agents if not a.error]
        sample = {
            "t": self.clock.now(),
            "waiting_seen": max((len(a.waiting) for a in live), default=0),
            "holding": phases.get("holding", 0),
            "talking": phases.get("talking", 0),
            "done": phases.get("done", 0),
            "agents_busy": sum(1 for a in live if a.busy),
        }
        self.samples.append(sample)
        return sample

    def _status_text(self, sample: dict, total: int) -> str:
        counts = self.tally.snapshot()
        return (f"sim {sim_clock(sample['t'])} | calls {counts.get('dialled', 0)}/{total} | holding "
                f"{sample['holding']} | answered {counts.get('seen_answered', 0)} abandoned "
                f"{counts.get('seen_abandoned', 0)} voicemail {counts.get('seen_voicemail', 0)}")

    def _play_day(self, scheduler: Scheduler, day_seconds: float, total: int) -> None:
        bar = ProgressBar(day_seconds, enabled=self.config.progress)
        every = self.clock.poll(30.0, 0.25, 5.0)
        try:
            while not all(c.phase == "done" for c in self.callers):
                sample = self._sample()
                bar.update(min(sample["t"], day_seconds), self._status_text(sample, total))
                time.sleep(every)
            sample = self._sample()
            bar.update(day_seconds, self._status_text(sample, total), force=True)
        finally:
            bar.close()

    def _hold_then_release(self, scheduler: Scheduler, released: threading.Event, total: int) -> dict:
        """Load mode: dial everyone, keep them waiting `hold_for` real seconds, then all hang up."""
        bar = ProgressBar(total, enabled=self.config.progress)
        started = time.monotonic()
        peak_waiting = 0
        try:
            while True:
                sample = self._sample()
                peak_waiting = max(peak_waiting, len(self.app.call_queue))
                settled = sum(1 for c in self.callers if c.phase in ("holding", "done", "recording", "gone"))
                bar.update(settled, f"{sample['holding']} holding, {settled}/{total} settled")
                if settled >= total or time.monotonic() - started > total / self.config.hold_rate + 300:
                    break
                time.sleep(0.5)
            filled = time.monotonic()
            holding_at_peak = sum(1 for c in self.callers if c.phase == "holding")
            while time.monotonic() - filled < self.config.hold_for:
                peak_waiting = max(peak_waiting, len(self.app.call_queue))
                self._sample()
                time.sleep(1.0)
        finally:
            bar.close()
        released.set()  # the agents start on the callbacks in the drain, once every caller is gone
        deadline = time.monotonic() + 120 + total / 20
        while time.monotonic() < deadline and not all(c.phase == "done" for c in self.callers):
            time.sleep(0.5)
        latencies = [c.times["queued_real"] - c.times["pressed_real"] for c in self.callers
                     if "queued_real" in c.times and "pressed_real" in c.times]
        return {
            "callers": total,
            "held_at_once": holding_at_peak,
            "peak_queue_length": peak_waiting,
            "fill_seconds": filled - started,
            "enqueue_rate_per_second": holding_at_peak / (filled - started) if filled > started else None,
            "press_to_queued_p50": _q(latencies, 0.5),
            "press_to_queued_p95": _q(latencies, 0.95),
            "press_to_queued_max": max(latencies) if latencies else None,
        }

    def _drain(self, since: datetime, numbers: set[str]) -> dict:
        """After the last caller: let the agents clear the backlog until every call has an owned outcome, and
        the clinicians (or the escalation) acknowledge every page."""
        for agent in self.agents:
            agent.closing.set()
            agent.paused.clear()
        deadline = time.monotonic() + self.config.drain_timeout
        started = time.monotonic()
        missing: list[int] = []
        pages: list[int] = []
        while time.monotonic() < deadline:
            missing = outcomes.without_outcome(db.session, since, numbers)
            pages = outcomes.pages_unacknowledged(db.session, since, numbers)
            if not missing and not pages:
                break
            time.sleep(1.0)
        return {"seconds": time.monotonic() - started, "complete": not missing, "still_missing": len(missing),
                "pages_unacknowledged": len(pages)}

    def _report(self, since, started_at, numbers, day_seconds, real_seconds, drained, load, speed, applied,
                on_call) -> dict:
        records = outcomes.read_records(db.session, since, numbers, self.clock)
        summary = outcomes.summarize(db.session, records, agents=self.config.agents, day_seconds=day_seconds)
        seen = {c.number: c.seen or "not_finished" for c in self.callers}
        counts = self.tally.snapshot()
        interval = 3600.0 if day_seconds > 3 * 3600 else 600.0
        config = {k: v for k, v in asdict(self.config).items() if k not in ("behaviour",)}
        config.update(speed=speed, seed=self.seed, behaviour=asdict(self.config.behaviour))
        report = {
            "started_at": started_at.isoformat(timespec="seconds"),
            "config": config,
            "summary": summary,
            # Per hour; a day of three hours or less in 10-minute steps, so the chart has a shape.
            "interval_seconds": interval,
            "intervals": outcomes.per_interval(records, day_seconds, interval),
            "queue_length": outcomes.queue_length(records, max([day_seconds] + [r.created for r in records])),
            "wait_histogram": outcomes.wait_histogram(records),
            "samples": self.samples,
            "cross_check": outcomes.cross_check(records, seen),
            "paging": outcomes.paging(db.session, [r.id for r in records], speed),
            "simulator": {
                "counts": counts,
                "console_ack_ms": {key[5:]: round(counts[f"ack_ms_{key[5:]}"] / n) for key, n in counts.items()
                                   if key.startswith("acks_") and n},
                "seen": {k: sum(1 for v in seen.values() if v == k) for k in sorted(set(seen.values()))},
                "asa_seen": _mean_or_none([c.times["talking"] - c.times["queued"] for c in self.callers
                                           if "talking" in c.times and "queued" in c.times]),
                "agent_errors": [a.error for a in self.agents if a.error],
                "errors": self.errors,
            },
            "run": {
                "real_seconds": round(real_seconds, 1),
                "simulated_seconds": round(self.clock.now(), 1),
                "drain": drained,
                "max_wait_real_seconds": applied,
                "on_call_numbers_answered_by_simulator": len(on_call),
            },
        }
        if load is not None:
            report["load"] = load
        report["headline"] = headline(summary)
        out = Path(self.config.out) if self.config.out else Path(self.app.instance_path) / "simulations" / \
            started_at.strftime("%Y%m%d-%H%M%S")
        json_path, html_path = write_report(report, out)
        report["files"] = {"json": str(json_path), "html": str(html_path)}
        return report


def _q(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def _mean_or_none(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def run_simulation(app: Flask, config: SimulationConfig) -> dict:
    """Play the configured day against the service at `config.app_url`; return the report (also written)."""
    with app.app_context():
        return Simulation(app, config).run()



