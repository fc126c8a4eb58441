"""The simulator plays a small accelerated day against the app and the emulator over real HTTP."""

from __future__ import annotations

import json
import logging
import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest

from callcenter import ledger
from callcenter.extensions import db
from callcenter.models import OnCallShift, Practice
from emulator import configure
from simulator import SimulationConfig, run_simulation
from simulator.behaviour import Behaviour, arrival_times, choose_option
from simulator.erlang import probability_of_waiting, service_level

CLINICIAN = "+14155550199"


def test_it_matches_published_erlang_c_figures():
    # 10 agents, 5 Erlangs: P(wait) = 3.61 %; 100 calls/h at 180 s, 20 s threshold: 97.9 %.
    assert probability_of_waiting(10, 5.0) == pytest.approx(0.0361, abs=1e-4)
    assert service_level(10, 100 / 3600, 180, 20) == pytest.approx(0.9793, abs=1e-4)
    assert service_level(4, 1 / 60, 300, 20) == 0.0  # 5 Erlangs on 4 agents: overloaded


def test_it_draws_the_asked_number_of_arrivals_within_the_day():
    import random

    rng = random.Random(7)
    times = arrival_times(rng, 2.0, 8, calls=500)
    assert len(times) == 500 and times == sorted(times) and 0 <= times[0] and times[-1] < 7200
    assert sum(t < 3600 for t in times) > sum(t >= 3600 for t in times)  # 8:00 is busier than 9:00
    reasons = [choose_option(rng)[0] for _ in range(2000)]
    assert 0.25 < reasons.count("message") / 2000 < 0.35


@pytest.fixture
def quiet_servers():
    """Thousands of request lines would cost the servers (in this process) more than the requests."""
    logger = logging.getLogger("werkzeug")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


@pytest.mark.slow
@pytest.mark.timeout(240)
@contextmanager
def running_reconciler(app, every: float = 2.0):
    """The worker's recurring job, in a thread: replays status callbacks the database refused under load, and
    escalates pages; the jobs it queues (pages, texts); and the worker's offer loop, which rings the agents'
    consoles."""
    from ops import offer_loop
    from ops.jobs import reconcile

    stop = threading.Event()

    def run_queued_jobs():
        """The jobs the app queued (on-call pages, callback texts), as the worker runs them (RQ's own worker
        sets signal handlers, which a thread may not)."""
        for job_id in app.task_queue.job_ids:
            job = app.task_queue.fetch_job(job_id)
            app.task_queue.remove(job_id)
            try:
                if job is not None:
                    job.perform()
            except Exception:  # a failed job: RQ would retry it; the reconciler's sweeps cover it here
                db.session.rollback()

    def loop():
        while not stop.wait(every):
            with app.app_context():
                try:
                    reconcile()
                except Exception:  # a busy database: the next round tries again, as the worker would
                    db.session.rollback()
                run_queued_jobs()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    offers_thread, offers_stop = offer_loop.start(app)
    try:
        yield
    finally:
        stop.set()
        offers_stop.set()
        thread.join(timeout=30)
        offers_thread.join(timeout=30)


def test_it_plays_a_day_where_every_call_gets_an_owned_outcome(phone_system, world, quiet_servers, tmp_path):
    speed = 60.0
    configure(phone_system.emulator, speed=speed)
    with phone_system.app.app_context():
        maple = db.session.get(Practice, world["maple"])
        now = ledger.now()
        db.session.add(OnCallShift(practice_id=maple.id, clinician_name="Dr. Rivera", number=CLINICIAN,
                                   starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=4)))
        db.session.add(OnCallShift(practice_id=world["harbor"], clinician_name="Dr. Rivera", number=CLINICIAN,
                                   starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=4)))
        db.session.commit()

    config = SimulationConfig(
        app_url=phone_system.app_url, emulator_url=phone_system.emulator_url, calls=200, hours=1.0, agents=4,
        speed=speed, seed=20240601, out=str(tmp_path / "report"), max_wait=420.0, drain_timeout=60.0,
        behaviour=Behaviour(handle_seconds=30.0, wrap_seconds=5.0, patience_seconds=60.0,
                            callback_seconds=20.0, review_seconds=10.0, clinician_talk_seconds=30.0,
                            clinician_replies=1.0, clinician_reply_seconds=60.0),
        progress=False,
    )
    with running_reconciler(phone_system.app):  # `make run` has a worker doing this every 30 s
        report = run_simulation(phone_system.app, config)
    summary = report["summary"]

    assert summary["offered"] == 200
    assert summary["without_owned_outcome"] == 0, summary["without_owned_outcome_ids"]
    assert summary["adds_up"] and sum(summary["categories"].values()) == summary["offered"]
    assert summary["categories"]["answered"] > 0 and summary["categories"]["abandoned"] > 0
    for threshold in ("15", "20"):
        assert summary["answered_within"][threshold] <= summary["answered"]
    assert summary["answered_within"]["15"] <= summary["answered_within"]["20"]
    assert summary["callbacks_made"] >= summary["categories"]["abandoned"] - summary["callbacks_open"]
    assert summary["voicemails"] == summary["voicemails_reviewed"]
    assert summary["erlang_c"]["agents"] == 4
    assert report["run"]["drain"]["complete"]
    paging = report["paging"]  # urgent callers were paged, and every page was acknowledged (the goal)
    assert paging["paged_calls"] > 0 and paging["unacknowledged"] == 0, paging
    assert paging["time_to_acknowledge_median"] is not None

    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert saved["summary"]["offered"] == 200
    html = (tmp_path / "report" / "report.html").read_text()
    assert "Urgent calls paged to on-call" in html and "(goal 0)" in html
    for chart in ("chart-arrivals", "chart-queue", "chart-waits", "chart-service_level", "chart-paging"):
        assert f'id="{chart}"><svg' in html

    with phone_system.app.app_context():  # the practices' settings are back as they were
        maple = db.session.get(Practice, world["maple"])
        assert maple.max_wait_seconds == 600 and len(maple.hours) == 7
