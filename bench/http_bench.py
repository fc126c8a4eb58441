"""/ivr/voice against a bare Flask view answering the same TwiML bytes, both under the same gunicorn setup.

The real app runs as it does in production: a SQLite file, Redis at the benchmark's URL, signature
checks on. Every request is a new call (fresh CallSid), so each one writes a Call row and its event.
The load generator runs in a process of its own, and the load alternates between the two servers.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import time as clock
from pathlib import Path

import requests
from sqlalchemy import event, func, select
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_SID = "AC" + "b" * 32
PRACTICE_NUMBER = "+14155550101"
SERVER_THREADS = 100  # as the Procfile runs the app: one worker, 100 threads
SLICE_WARMUP = 0.5  # each slice opens new connections: fill the pipeline before counting


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environment(tmp: Path, redis_url: str, token: str, port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TWILIO_", "EMULATOR_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp / 'bench.sqlite3'}",
        REDIS_URL=redis_url,
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=token,
        SECRET_KEY=secrets.token_hex(16),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        BENCH_TWIML_FILE=str(tmp / "voice.xml"),
        PYTHONPATH=str(ROOT),
    )
    return env


def _config(env: dict[str, str]) -> dict:
    return {"SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"], "REDIS_URL": env["REDIS_URL"],
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": env["TWILIO_AUTH_TOKEN"],
            "TWILIO_EMULATED": False, "SECRET_KEY": env["SECRET_KEY"], "PUBLIC_BASE_URL": env["PUBLIC_BASE_URL"],
            "SOCKETIO_MESSAGE_QUEUE": None}


def prepare(env: dict[str, str], progress: Callable[[str], None]) -> dict:
    """Build the schema and a practice; record the TwiML of one /ivr/voice and the work it did."""
    import logging

    from flask_migrate import upgrade

    from app import create_app
    from callcenter.accounts import create_practice
    from callcenter.extensions import db
    from callcenter.models import BusinessHours

    from .round_trips import counting_redis

    logging.getLogger("alembic").setLevel(logging.WARNING)
    progress("http: building the schema (migrations) and a practice in a fresh SQLite file")
    app = create_app(_config(env))
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        practice = create_practice(db.session, "Maple Street Family Medicine", PRACTICE_NUMBER, "America/Los_Angeles")
        practice.hours = [BusinessHours(weekday=d, opens=clock(0, 0), closes=clock.max) for d in range(7)]
        db.session.commit()

        # One request through the test client: its answer is the baseline's body; count what it costs.
        app.redis, trips = counting_redis(env["REDIS_URL"])
        statements = []
        event.listen(db.engine, "before_cursor_execute", lambda *a, **k: statements.append(1))
        url = env["PUBLIC_BASE_URL"] + "/ivr/voice"
        form = {"CallSid": "CA" + secrets.token_hex(16), "AccountSid": ACCOUNT_SID, "From": "+14155550123",
                "To": PRACTICE_NUMBER, "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01"}
        signature = RequestValidator(env["TWILIO_AUTH_TOKEN"]).compute_signature(url, form)
        before = trips.count
        response = app.test_client().post("/ivr/voice", data=form, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 200 and b"<Gather" in response.data, response.data[:200]
        work = {"sql_statements": len(statements), "redis_round_trips": trips.count - before,
                "twiml_bytes": len(response.data)}
        Path(env["BENCH_TWIML_FILE"]).write_bytes(response.data)
        db.session.remove()
        db.engine.dispose()
        app.redis.close()
    return work


def _count_calls(env: dict[str, str]) -> int:
    from app import create_app
    from callcenter.extensions import db
    from callcenter.models import Call

    app = create_app(_config(env))
    with app.app_context():
        count = db.session.scalar(select(func.count(Call.id)))
        db.session.remove()
        db.engine.dispose()
    return int(count)


class Server:
    """gunicorn in a subprocess: one gthread worker, `threads` threads."""

    def __init__(self, app_spec: str, port: int, env: dict[str, str], threads: int):
        self.url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--workers", "1",
                   "--threads", str(threads), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                   "--keep-alive", "30", app_spec]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("the server did not come up in time")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _load(env: dict[str, str], port: int, threads: int, warmup: float, seconds: float, label: str) -> dict:
    # Both servers get requests signed for their URL; the bare one ignores the signature.
    command = [sys.executable, "-m", "bench.loadgen", "--url", f"http://127.0.0.1:{port}/ivr/voice",
               "--token", env["TWILIO_AUTH_TOKEN"], "--account-sid", ACCOUNT_SID, "--to", PRACTICE_NUMBER,
               "--threads", str(threads), "--warmup", str(warmup), "--seconds", str(seconds), "--label", label]
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout)


def run(redis_url: str, seconds: float = 12.0, warmup: float = 1.5, threads: int = 8, rounds: int = 3,
        server_threads: int = SERVER_THREADS, progress: Callable[[str], None] = print) -> dict:
    """Requests per second and latency of /ivr/voice and of the bare baseline, in one run.

    Both servers run side by side; the load alternates between them in `rounds` slices of
    `seconds / rounds` each, so a change in the machine's load hits both alike.
    """
    tmp = Path(tempfile.mkdtemp(prefix="bench-http-"))
    ports = {"bare": _free_port(), "voice": _free_port()}
    token = secrets.token_hex(16)
    envs = {name: _environment(tmp, redis_url, token, port) for name, port in ports.items()}
    servers: dict[str, Server] = {}
    try:
        work = prepare(envs["voice"], progress)
        calls_before = _count_calls(envs["voice"])
        for name, spec in (("bare", "bench.bare_app:create_app()"), ("voice", "app:create_app()")):
            servers[name] = Server(spec, ports[name], envs[name], server_threads)
        progress(f"http: gunicorn, 1 gthread worker x {server_threads} threads each: "
                 f"bare view on port {ports['bare']}, the app on port {ports['voice']}")
        for server in servers.values():
            server.wait_ready()
        slices: dict[str, list[dict]] = {name: [] for name in servers}
        sent = dict.fromkeys(servers, 0)
        for name in servers:
            progress(f"http: warming up {name} for {warmup:.1f} s")
            sent[name] += _load(envs[name], ports[name], threads, 0.0, warmup, f"{name} warm-up")["sent"]
        for n in range(1, rounds + 1):
            for name in servers:
                progress(f"http: round {n}/{rounds}, {name}: {threads} client threads for {seconds / rounds:.1f} s")
                result = _load(envs[name], ports[name], threads, SLICE_WARMUP, seconds / rounds, name)
                slices[name].append(result)
                sent[name] += result["sent"]
    finally:
        for server in servers.values():
            server.stop()
    try:
        calls_written = _count_calls(envs["voice"]) - calls_before
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    from .loadgen import summarize

    results = {}
    for name, parts in slices.items():
        results[name] = summarize(parts)
        results[name].pop("latencies")
        results[name]["sent"] = sent[name]
        r = results[name]
        progress(f"  {name}: {r['requests_per_s']:,.0f} requests/s, p50 {r['p50_ms']:.1f} ms, "
                 f"p99 {r['p99_ms']:.1f} ms, {r['errors']} errors")
    voice, bare = results["voice"], results["bare"]
    return {
        "threads": threads,
        "server_threads": server_threads,
        "seconds": seconds,
        "rounds": rounds,
        "results": results,
        "ratio": voice["requests_per_s"] / bare["requests_per_s"] if bare["requests_per_s"] else 0.0,
        "work_per_request": work,
        # Every /ivr/voice request sent (warm-up included) should have written exactly one Call row.
        "calls_written": calls_written,
    }
