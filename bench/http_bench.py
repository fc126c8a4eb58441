"""The webhooks over HTTP: /ivr/voice and /ivr/wait against a bare Flask view answering the same TwiML bytes.

Both run under gunicorn exactly as the Procfile runs the app (`gunicorn --config gunicorn.conf.py`:
gevent workers), side by side on loopback. The real app runs as in production: signature checks
on, Redis at the benchmark's URL, and the database under test: a SQLite file, then PostgreSQL.

- /ivr/voice: every request is a new call (fresh CallSid), so each one writes a Call row and its event.
- /ivr/wait: N callers are put on hold first through the real webhooks (/ivr/voice, then the menu's
  key 2 while an agent is available, which answers <Enqueue>); the load is their waitUrl requests,
  round-robin, as Twilio sends them about once a minute per caller on hold.

The load generator runs in a process of its own (`bench.loadgen`), and the load alternates between
the servers in slices, so a change in the machine's load hits every figure alike.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as clock
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from redis import Redis
from redis.connection import AbstractConnection
from sqlalchemy import event, func, select
from twilio.request_validator import RequestValidator

from .loadgen import summarize
from .servers import WebProcess, free_port

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations"
ACCOUNT_SID = "AC" + "b" * 32
PRACTICE_NUMBER = "+14155550101"
CALLER = "+14155550123"
AGENT_ID = 1  # available in presence, so that the menu sends callers to the queue
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/answering_bench"
DEFAULT_WAITING = 1000  # the app's queue capacity (QUEUE_CAPACITY): more are sent to voicemail
DATABASES = ("sqlite", "postgresql")
ENDPOINTS = ("voice", "wait")
SERVERS = ("bare", "app")
GOAL = 0.5  # the goal: each webhook at least half the bare view's requests per second
# What a real answer holds (a fallback or an unknown-number answer does not): the menu, the hold announcement.
EXPECT = {"voice": "<Gather", "wait": "<Say"}
SLICE_WARMUP = 0.5  # each slice opens new connections: fill the pipeline before counting
# Callers stay on hold for the whole run: without this they would be sent on after 10 minutes.
BENCH_MAX_WAIT_SECONDS = 24 * 3600


# --- the databases -------------------------------------------------------------------------------------------

def reset_postgres(url: str) -> None:
    """Create the benchmark's PostgreSQL database if missing and empty it (schema `public` dropped)."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or name in ("test", "postgres", "template0", "template1"):
        raise ValueError(f"refusing to empty the database {name!r}: give the benchmark a database of its own")
    server = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(server, autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


def _unreachable(url: str) -> str | None:
    """Why the PostgreSQL server of `url` cannot be used, or None."""
    import psycopg

    try:
        psycopg.connect(urlunsplit(urlsplit(url)._replace(path="/postgres")), connect_timeout=3).close()
    except psycopg.Error as exc:
        return f"not reachable ({type(exc).__name__})"
    return None


def postgres_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url, connect_timeout=5) as conn:
        return conn.execute("SHOW server_version").fetchone()[0].split()[0]


def database_label(url: str) -> str:
    if url.startswith("sqlite"):
        return f"SQLite {sqlite3.sqlite_version} file (WAL)"
    host = urlsplit(url).hostname or "a socket"
    return f"PostgreSQL {postgres_version(url)} on {host}"


# --- the app's settings --------------------------------------------------------------------------------------

def environment(tmp: Path, database_url: str, redis_url: str, token: str, port: int) -> dict[str, str]:
    """The environment of a server (and of the benchmark's own app instance for the same database)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("TWILIO_", "EMULATOR_", "DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL"))}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=token,
        SECRET_KEY=secrets.token_hex(16),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        BENCH_TWIML_FILE=str(tmp / "voice.xml"),
        BENCH_WAIT_TWIML_FILE=str(tmp / "wait.xml"),
        PYTHONPATH=str(ROOT),
    )
    return env


def app_config(env: dict[str, str]) -> dict:
    return {"SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"], "REDIS_URL": env["REDIS_URL"],
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": env["TWILIO_AUTH_TOKEN"],
            "TWILIO_EMULATED": False, "SECRET_KEY": env["SECRET_KEY"], "PUBLIC_BASE_URL": env["PUBLIC_BASE_URL"],
            "SOCKETIO_MESSAGE_QUEUE": None}


@contextmanager
def bench_app(env: dict[str, str]) -> Iterator:
    """The app, in this process, for the database and Redis of `env`; its connections closed after."""
    from app import create_app
    from callcenter.extensions import db

    app = create_app(app_config(env))
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()
            app.redis.close()


# --- what one request costs ----------------------------------------------------------------------------------

class WorkCounter:
    """SQL statements, connection checkouts and Redis round trips made by this thread while counting.

    Redis round trips are counted where every redis-py client writes a request (one per command, one
    per pipeline, one per script call), so a client the app keeps elsewhere is counted too. Work of
    other threads (the consoles' broadcasts after a queue change) is not the request's own.
    """

    def __init__(self, engine):
        self.engine = engine
        self.thread = threading.get_ident()
        self.statements = self.checkouts = self.redis = 0

    def _statement(self, *_args, **_kwargs) -> None:
        self.statements += threading.get_ident() == self.thread

    def _checkout(self, *_args, **_kwargs) -> None:
        self.checkouts += threading.get_ident() == self.thread

    @contextmanager
    def counting(self) -> Iterator[WorkCounter]:
        original = AbstractConnection.send_packed_command
        counter = self

        def send_packed_command(connection, command, check_health=True):
            counter.redis += threading.get_ident() == counter.thread
            return original(connection, command, check_health)

        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "checkout", self._checkout)
        AbstractConnection.send_packed_command = send_packed_command
        try:
            yield self
        finally:
            AbstractConnection.send_packed_command = original
            event.remove(self.engine, "before_cursor_execute", self._statement)
            event.remove(self.engine, "checkout", self._checkout)

    def figures(self) -> dict:
        return {"sql_statements": self.statements, "checkouts": self.checkouts, "redis_round_trips": self.redis}


def count_work(engine, request: Callable[[], bytes], times: int = 3) -> tuple[dict, bytes]:
    """What one request costs: counted on `times` requests one by one, the median of each figure
    (a new pooled connection's handshake is not a request's cost); and the last answer."""
    counted = []
    for _ in range(times):
        counter = WorkCounter(engine)
        with counter.counting():
            answer = request()
        counted.append(counter.figures())
    return {key: statistics.median(c[key] for c in counted) for key in counted[0]}, answer


class Twilio:
    """Signed webhook requests through the app's test client, as Twilio sends them."""

    def __init__(self, app, env: dict[str, str]):
        self.client = app.test_client()
        self.validator = RequestValidator(env["TWILIO_AUTH_TOKEN"])
        self.base = env["PUBLIC_BASE_URL"]

    def post(self, path: str, form: dict):
        signature = self.validator.compute_signature(self.base + path, form)
        return self.client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def call_form(call_sid: str, **extra) -> dict:
    return {"CallSid": call_sid, "AccountSid": ACCOUNT_SID, "From": CALLER, "To": PRACTICE_NUMBER,
            "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01", **extra}


def wait_form(call_sid: str, position: int, size: int) -> dict:
    return call_form(call_sid, CallStatus="in-progress", QueueSid="QU" + "0" * 32, QueuePosition=str(position),
                     QueueTime="30", AvgQueueTime="30", CurrentQueueSize=str(size))


def _checked(response, expect: str, what: str) -> bytes:
    if response.status_code != 200 or expect.encode() not in response.data:
        raise RuntimeError(f"{what} answered {response.status_code}: {response.data[:300]!r}")
    return response.data


def prepare(env: dict[str, str], tmp: Path, waiting: int, progress: Callable[[str], None], label: str = "http") -> dict:
    """Build the schema and a practice, count what one /ivr/voice and one /ivr/wait cost, and put
    `waiting` callers on hold; their CallSids go to tmp/waiting.txt, the answers to the bare view's files."""
    from flask_migrate import upgrade

    from callcenter.accounts import create_practice
    from callcenter.extensions import db
    from callcenter.models import BusinessHours

    logging.getLogger("alembic").setLevel(logging.WARNING)
    with bench_app(env) as app:
        progress(f"{label}: building the schema (migrations) and a practice")
        upgrade(directory=str(MIGRATIONS))
        practice = create_practice(db.session, "Maple Street Family Medicine", PRACTICE_NUMBER, "America/Los_Angeles")
        practice.hours = [BusinessHours(weekday=d, opens=clock(0, 0), closes=clock.max) for d in range(7)]
        practice.max_wait_seconds = BENCH_MAX_WAIT_SECONDS
        db.session.commit()
        db.session.remove()
        capacity = app.call_queue.capacity
        if waiting > capacity:
            progress(f"{label}: the queue holds {capacity:,} callers (QUEUE_CAPACITY): {capacity:,} on hold, "
                     f"not {waiting:,}")
            waiting = capacity
        waiting = max(waiting, 2)
        app.presence.set_available(AGENT_ID, datetime.now(UTC))
        twilio = Twilio(app, env)
        work = {}

        def post(path: str, form: dict, expect: str) -> bytes:
            try:
                return _checked(twilio.post(path, form), expect, path)
            finally:
                db.session.remove()

        # /ivr/voice: one request to warm up, then counted; the last answer is the bare view's.
        post("/ivr/voice", call_form("CA" + uuid.uuid4().hex), EXPECT["voice"])
        work["voice"], voice = count_work(
            db.engine, lambda: post("/ivr/voice", call_form("CA" + uuid.uuid4().hex), EXPECT["voice"]))
        work["voice"]["twiml_bytes"] = len(voice)
        Path(env["BENCH_TWIML_FILE"]).write_bytes(voice)

        # Callers on hold, through the real webhooks: the call comes in, the caller presses 2.
        progress(f"{label}: putting {waiting:,} callers on hold through /ivr/voice and /ivr/menu (key 2)")
        sids = []
        started = time.monotonic()
        for n in range(1, waiting + 1):
            sid = "CA" + uuid.uuid4().hex
            post("/ivr/voice", call_form(sid), EXPECT["voice"])
            post("/ivr/menu?attempt=1", call_form(sid, CallStatus="in-progress", Digits="2"), "<Enqueue")
            sids.append(sid)
            if n % 500 == 0 and n < waiting:
                progress(f"  {n:,}/{waiting:,} on hold ({time.monotonic() - started:.0f} s)")
        (tmp / "waiting.txt").write_text("\n".join(sids) + "\n")

        # /ivr/wait: one request to warm up, then counted; the last answer (the last caller's) is the bare view's.
        post("/ivr/wait", wait_form(sids[0], 1, waiting), EXPECT["wait"])
        work["wait"], hold = count_work(
            db.engine, lambda: post("/ivr/wait", wait_form(sids[-1], waiting, waiting), EXPECT["wait"]))
        work["wait"]["twiml_bytes"] = len(hold)
        Path(env["BENCH_WAIT_TWIML_FILE"]).write_bytes(hold)
        in_queue = len(app.call_queue)
    if in_queue != waiting:
        raise RuntimeError(f"{waiting:,} callers were put on hold but the queue holds {in_queue:,}")
    return {"work": work, "waiting": waiting, "call_sids": tmp / "waiting.txt"}


def ledger_counts(env: dict[str, str]) -> dict:
    """Calls in the ledger, those on hold, and the webhooks answered with safe TwiML or refused."""
    from callcenter.extensions import db
    from callcenter.models import Call, SecurityEvent

    with bench_app(env):
        calls = db.session.scalar(select(func.count(Call.id)))
        queued = db.session.scalar(select(func.count(Call.id)).where(Call.state == "queued"))
        events = dict(db.session.execute(select(SecurityEvent.kind, func.count(SecurityEvent.id))
                                         .group_by(SecurityEvent.kind)).all())
    return {"calls": int(calls), "queued": int(queued), "webhook_faults": int(events.get("webhook_fault", 0)),
            "bad_signatures": int(events.get("bad_signature", 0))}


# --- servers and load ----------------------------------------------------------------------------------------

def server_setup() -> dict:
    """What gunicorn.conf.py gives every server here (the environment may change its defaults)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_bench_gunicorn_conf", ROOT / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    return {"worker_class": conf.worker_class, "workers": conf.workers, "worker_connections": conf.worker_connections}


@contextmanager
def servers(specs: dict[str, tuple[str, int, dict[str, str]]]) -> Iterator[dict[str, WebProcess]]:
    """Start a server per (app spec, port, environment), wait until each answers, stop them all after."""
    started: dict[str, WebProcess] = {}
    try:
        for name, (spec, port, env) in specs.items():
            started[name] = WebProcess(name, env, app_spec=spec, port=port, workers=None)
        for server in started.values():
            server.wait_ready()
        yield started
    finally:
        for server in started.values():
            server.stop()


@dataclass
class Target:
    """One load: a path on a server, signed for that server's public URL."""

    server: WebProcess
    path: str
    token: str
    call_sids: Path | None = None  # callers on hold: their waitUrl requests, round-robin
    expect: str | None = None


def load(target: Target, threads: int, warmup: float, seconds: float, label: str) -> dict:
    """One slice of load from a load generator in its own process."""
    command = [sys.executable, "-m", "bench.loadgen", "--url", target.server.url + target.path,
               "--token", target.token, "--account-sid", ACCOUNT_SID, "--to", PRACTICE_NUMBER,
               "--threads", str(threads), "--warmup", str(warmup), "--seconds", str(seconds), "--label", label,
               "--server-pid", str(target.server.pid)]
    if target.call_sids:
        command += ["--call-sids", str(target.call_sids)]
    if target.expect:
        command += ["--expect", target.expect]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout)


def alternate(targets: dict[str, Target], *, threads: int, seconds: float, warmup: float, rounds: int,
              progress: Callable[[str], None]) -> dict[str, dict]:
    """Load each target in turn, `rounds` times for `seconds / rounds` each, after a warm-up of each.

    Returns each target's figures over its slices, with `sent` counting every request (warm-ups too).
    """
    slices: dict[str, list[dict]] = {name: [] for name in targets}
    sent = dict.fromkeys(targets, 0)
    for name, target in targets.items():
        progress(f"  warming up {name} for {warmup:.1f} s")
        sent[name] += load(target, threads, 0.0, warmup, f"{name} warm-up")["sent"]
    for n in range(1, rounds + 1):
        for name, target in targets.items():
            progress(f"  round {n}/{rounds}, {name}: {threads} client threads for {seconds / rounds:.1f} s")
            result = load(target, threads, SLICE_WARMUP, seconds / rounds, name)
            slices[name].append(result)
            sent[name] += result["sent"]
    results = {}
    for name, parts in slices.items():
        results[name] = summarize(parts)
        results[name].pop("latencies")
        results[name]["sent"] = sent[name]
        r = results[name]
        server_cpu = f", server {r['server_cpu']:.2f} cores" if r["server_cpu"] is not None else ""
        progress(f"  {name}: {r['requests_per_s']:,.0f} requests/s, p50 {r['p50_ms']:.1f} ms, "
                 f"p99 {r['p99_ms']:.1f} ms, {r['errors']} errors, {r['unexpected']} unexpected answers; "
                 f"CPU: load generator {r['client_cpu']:.2f} cores{server_cpu}")
    return results


# --- the benchmark -------------------------------------------------------------------------------------------

def run_database(kind: str, database_url: str, redis_url: str, *, seconds: float, warmup: float, threads: int,
                 rounds: int, waiting: int, progress: Callable[[str], None]) -> dict:
    """Both webhooks and their bare baselines on one database; Redis at `redis_url` is flushed first."""
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-http-{kind}-"))
    token = secrets.token_hex(16)
    ports = {name: free_port() for name in SERVERS}
    try:
        if kind == "sqlite":
            database_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
        else:
            progress(f"http, {kind}: emptying {database_url}")
            reset_postgres(database_url)
        redis = Redis.from_url(redis_url)
        try:
            redis.flushdb()
        finally:
            redis.close()
        envs = {name: environment(tmp, database_url, redis_url, token, port) for name, port in ports.items()}
        label = database_label(database_url)
        prepared = prepare(envs["app"], tmp, waiting, progress, f"http, {kind}")
        before = ledger_counts(envs["app"])
        specs = {"bare": ("bench.bare_app:create_app()", ports["bare"], envs["bare"]),
                 "app": ("app:create_app()", ports["app"], envs["app"])}
        with servers(specs) as running:
            setup = server_setup()
            progress(f"http, {kind}: gunicorn --config gunicorn.conf.py ({setup['workers']} {setup['worker_class']} "
                     f"worker(s)) for the bare view on port {ports['bare']} and the app on port {ports['app']}")
            targets = {}
            for endpoint in ENDPOINTS:
                sids = prepared["call_sids"] if endpoint == "wait" else None
                for name in SERVERS:
                    targets[f"{endpoint}/{name}"] = Target(running[name], f"/ivr/{endpoint}", token, sids,
                                                           EXPECT[endpoint] if name == "app" else None)
            measured = alternate(targets, threads=threads, seconds=seconds, warmup=warmup, rounds=rounds,
                                 progress=progress)
        after = ledger_counts(envs["app"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results = {endpoint: {name: measured[f"{endpoint}/{name}"] for name in SERVERS} for endpoint in ENDPOINTS}
    ratios = {endpoint: (r["app"]["requests_per_s"] / r["bare"]["requests_per_s"]
                         if r["bare"]["requests_per_s"] else 0.0) for endpoint, r in results.items()}
    return {
        "label": label,
        "waiting": prepared["waiting"],
        "work": prepared["work"],
        "results": results,
        "ratios": ratios,
        "checks": {
            # Every /ivr/voice request sent to the app (warm-ups included) should have written one Call row.
            "calls_written": after["calls"] - before["calls"],
            "voice_sent": results["voice"]["app"]["sent"],
            # /ivr/wait writes no row: every caller put on hold is still on hold at the end.
            "queued_before": before["queued"],
            "queued_after": after["queued"],
            "webhook_faults": after["webhook_faults"] - before["webhook_faults"],
            "bad_signatures": after["bad_signatures"] - before["bad_signatures"],
        },
    }


def run(redis_url: str, *, databases: tuple[str, ...] = DATABASES, postgres_url: str = DEFAULT_POSTGRES_URL,
        seconds: float = 12.0, warmup: float = 1.5, threads: int = 8, rounds: int = 3, waiting: int = DEFAULT_WAITING,
        progress: Callable[[str], None] = print) -> dict:
    """Requests per second and latency of /ivr/voice and /ivr/wait and of their bare baselines, per database.

    `seconds` is measured per server and endpoint, in `rounds` slices that alternate between them.
    """
    out = {"threads": threads, "seconds": seconds, "rounds": rounds, "server": server_setup(), "goal": GOAL,
           "databases": {}, "skipped": []}
    for kind in databases:
        if kind == "postgresql" and (problem := _unreachable(postgres_url)):
            out["skipped"].append(f"PostgreSQL at {urlsplit(postgres_url).netloc}: {problem}")
            progress(f"http: skipping PostgreSQL, {problem}")
            continue
        progress(f"http: {kind}")
        out["databases"][kind] = run_database(kind, postgres_url, redis_url, seconds=seconds, warmup=warmup,
                                              threads=threads, rounds=rounds, waiting=waiting, progress=progress)
    return out
