"""The launcher behind `make run` and the embedded Redis it starts when REDIS_URL is unset."""

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from redis import Redis

from callcenter.config import DEFAULT_REDIS_URL, from_environment
from callcenter.queue import CallQueue
from ops.embedded_redis import start_embedded_redis

ROOT = Path(__file__).resolve().parent.parent


def test_without_redis_server_the_stand_in_serves_the_queue(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PATH", str(tmp_path))  # no redis-server program to be found
    caplog.set_level(logging.WARNING)
    url, handle = start_embedded_redis(str(tmp_path), logging.getLogger("test"))
    try:
        assert "in-process stand-in" in caplog.text
        assert (tmp_path / "redis.url").read_text() == url
        queue = CallQueue(Redis.from_url(url))
        now = datetime.now(UTC)
        assert queue.enqueue(1, now, 0) == 1
        assert queue.enqueue(2, now, 1) == 1  # urgent goes first, through the same Lua script
        assert queue.take(2) and not queue.take(2)
    finally:
        handle.stop()
    assert not (tmp_path / "redis.url").exists()  # commands run later do not look for a Redis that is gone


def test_a_command_uses_redis_url_else_the_launchers_redis_else_a_local_one(tmp_path, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert from_environment(str(tmp_path))["REDIS_URL"] == DEFAULT_REDIS_URL == "redis://127.0.0.1:6379/0"
    (tmp_path / "redis.url").write_text("redis://127.0.0.1:6401/0\n")
    assert from_environment(str(tmp_path))["REDIS_URL"] == "redis://127.0.0.1:6401/0"
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6379/2")
    assert from_environment(str(tmp_path))["REDIS_URL"] == "redis://cache.internal:6379/2"


def test_the_app_factory_starts_no_redis(tmp_path, monkeypatch):
    from app import create_app
    from callcenter.extensions import db

    def must_not_start(*_args):
        raise AssertionError("only the launcher starts an embedded Redis")

    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setattr("ops.embedded_redis.start_embedded_redis", must_not_start)
    monkeypatch.setattr("subprocess.Popen", must_not_start)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    assert app.config["REDIS_URL"] == from_environment(app.instance_path)["REDIS_URL"]
    with app.app_context():
        db.engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_make_run_serves_the_demo_and_stops_cleanly_on_ctrl_c(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "TWILIO_ACCOUNT_SID",
                                                              "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE")}
    env.update(PORT=str(port), EMULATOR_PORT=str(_free_port()), DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}")
    launcher = subprocess.Popen([sys.executable, "-m", "ops.launcher"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = launcher.stdout.readline()
            lines.append(line)
            if "Stop everything with Ctrl-C" in line or launcher.poll() is not None:
                break
        output = "".join(lines)
        assert f"Agent console:   http://127.0.0.1:{port}/console/" in output
        assert "alice@demo.test / demo-password" in output
        assert "Softphone:" in output
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json() == {"db": "ok", "redis": "ok"}
        assert requests.get(f"http://127.0.0.1:{env['EMULATOR_PORT']}/", timeout=5).status_code == 200
    finally:
        os.killpg(launcher.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
        rest = launcher.communicate(timeout=60)[0]
    assert launcher.returncode == 0
    assert "Traceback" not in "".join(lines) + rest
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def _scheduler_holding_the_lock(app, pid: int) -> str:
    """Another worker's scheduler, of process `pid` on this machine, holds the queue's scheduler lock."""
    from rq.scheduler import RQScheduler
    from rq.scripts import acquire_or_refresh_lock

    other = RQScheduler([app.task_queue], connection=app.redis, name="other-worker")
    other.register_birth()
    other.pid = pid
    other.save()
    assert acquire_or_refresh_lock(app.redis, other.get_locking_key(app.task_queue.name), other.name, 60) == "acquired"
    return other.name


def _due_job(app) -> str:
    """A retry that was due a second ago: only a scheduler holding the lock moves it to the queue."""
    job = app.task_queue.enqueue_at(datetime.now(UTC).replace(microsecond=0), "ops.jobs.reconcile")
    time.sleep(1.1)
    return job.id


def test_a_scheduler_lock_left_by_a_killed_worker_is_taken_over_at_once(app):
    from ops.worker import _scheduler

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a process of this machine that is no longer running (a worker killed with SIGKILL)
    _scheduler_holding_the_lock(app, gone.pid)
    job_id = _due_job(app)

    _scheduler(app, threading.Event(), burst=True)

    assert job_id in app.task_queue.job_ids


def test_a_scheduler_lock_of_a_live_worker_is_left_alone(app):
    from ops.worker import _scheduler

    _scheduler_holding_the_lock(app, os.getpid())
    job_id = _due_job(app)

    _scheduler(app, threading.Event(), burst=True)

    assert job_id not in app.task_queue.job_ids  # the live worker's scheduler moves it, not this one


@pytest.mark.slow
def test_make_run_starts_a_worker_again_after_it_is_killed(tmp_path, redis_url):
    import psutil

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TWILIO_ACCOUNT_SID",
                                                              "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE")}
    env.update(PORT=str(port), EMULATOR_PORT=str(_free_port()), DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}",
               REDIS_URL=redis_url)
    Redis.from_url(redis_url).flushdb()
    launcher = subprocess.Popen([sys.executable, "-m", "ops.launcher"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []

    def read_until(text: str, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and launcher.poll() is None:
            line = launcher.stdout.readline()
            lines.append(line)
            if text in line:
                return True
        return False

    def workers() -> list:
        return [p for p in psutil.Process(launcher.pid).children()
                if "worker" in p.cmdline() and "flask" in " ".join(p.cmdline())]

    try:
        assert read_until("Stop everything with Ctrl-C", 90), "".join(lines)
        # No secret on a command line: any user of the machine can list them.
        token = (ROOT / "instance" / "emulator_token").read_text().strip()
        assert not [p.cmdline() for p in psutil.Process(launcher.pid).children(recursive=True)
                    if any(token in part for part in p.cmdline())]
        redis = Redis.from_url(redis_url)
        deadline = time.monotonic() + 30
        while not redis.exists("rq:scheduler-lock:answering") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert redis.exists("rq:scheduler-lock:answering")  # the first worker's scheduler holds it
        [first] = workers()
        first.send_signal(signal.SIGKILL)
        assert read_until("worker stopped unexpectedly (exit status -9); starting it again in 1 s", 10)
        assert read_until("starting worker again (restart 1)", 10)
        # The new worker's scheduler takes over the lock the killed one held, without waiting for it to lapse.
        assert read_until("held by a worker that died; taken over", 30), "".join(lines)
        [second] = workers()
        assert second.pid != first.pid
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    finally:
        os.killpg(launcher.pid, signal.SIGINT)
        rest = launcher.communicate(timeout=60)[0]
    assert launcher.returncode == 0
    assert "Traceback" not in "".join(lines) + rest
