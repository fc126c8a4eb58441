"""Console pushes under gunicorn (gunicorn.conf.py, gevent): latency, fan-out, and two web processes.

Three measurements, each against a baseline measured in the same run:

(a) latency: from sending the signed `/ivr/menu` webhook that queues a caller (an agent is available)
    to the console's `queue` push listing that call; against a raw Flask-SocketIO app under the same
    gunicorn config and the same Redis message queue, whose HTTP view calls `socketio.emit` (from
    sending the POST to the client receiving the push);
(b) fan-out: one such change with `consoles` consoles connected, until the last of them has the push;
    against the raw app broadcasting to as many clients;
(c) two web processes A and B sharing the database and Redis: the latency with the console on A and
    the webhooks on B, and `/ivr/voice` throughput of the pair against one process.

Everything runs on 127.0.0.1: the servers as gunicorn subprocesses in a temporary directory, the
consoles as `socketio.AsyncClient`s (websocket transport, as the page connects) in this process,
the load generator (bench/loadgen.py) in processes of its own. Every wait is bounded.

`run(redis_url, consoles=1000)` -> dict; `section(result)` -> markdown; `chart(result, path)` -> PNG.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import time as clock
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .servers import WebProcess

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "/console"  # agents_ui.broadcast.NAMESPACE: the raw app must not import the service
ACCOUNT_SID = "AC" + "c" * 32
PRACTICE_NUMBER = "+14155550101"
# Socket.IO's channel on Redis ignores the database number: another run of the app on the same Redis
# server (another benchmark, say) pushes to these consoles too. Queue rows are matched on the call id
# and this practice's name, unique to the run.
PRACTICE_NAME = f"Bench pushes {secrets.token_hex(3)}"
CALLER = "+14155550123"
AGENT_EMAIL = "bench-agent@example.test"
FLOOR_EMAIL = "bench-floor-{}@example.test"  # the other agents on the floor in the fan-out, away
USER_AGENT = "bench-pushes/1.0"  # the same for the login and the socket: sessions are bound to it
# The raw app's Socket.IO channel on Redis: pub/sub channels ignore the database number, so on the
# default channel it would also hear (and forward) the app's pushes.
BASELINE_CHANNEL = "bench-pushes-baseline"

LATENCY_WAIT = 10.0  # seconds for one console to get a push
FANOUT_WAIT = 60.0  # seconds for every console to get a push
CONNECT_WAIT = 30.0  # seconds for one console to connect
CONNECT_CONCURRENCY = 50  # consoles connecting at once
STARTUP = 60.0  # seconds for a server to answer /healthz
PAUSE = 0.05  # seconds between samples


def _push_interval() -> float:
    """How long the app's broadcaster rests between two pushes of one kind (it coalesces changes)."""
    try:
        from agents_ui.broadcast import DEFAULT_INTERVAL
    except ImportError:
        return 0.0
    return float(DEFAULT_INTERVAL)


def _settle() -> float:
    """Each timed change comes after the previous push's rest is over: the figures are an isolated
    change's latency. A change inside a burst waits up to that rest more (the price of coalescing)."""
    return _push_interval() + 0.1


# --- The baseline: a raw Flask-SocketIO app ---------------------------------------------------------------

def baseline_app():
    """`gunicorn --config gunicorn.conf.py 'bench.pushes:baseline_app()'` with REDIS_URL, BENCH_PUSHES_PRACTICE set.

    Accepts every connection to the console's namespace; `POST /emit` with `n` broadcasts a `queue`
    push shaped like the app's (one waiting caller with id `n`) through the same message queue.
    """
    from datetime import UTC, datetime

    from flask import Flask, request
    from flask_socketio import SocketIO

    try:
        from gevent import monkey
        async_mode = "gevent" if monkey.is_module_patched("socket") else "threading"
    except ImportError:
        async_mode = "threading"
    practice = os.environ["BENCH_PUSHES_PRACTICE"]  # the name the benchmark's consoles look for
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode=async_mode, message_queue=os.environ["REDIS_URL"], channel=BASELINE_CHANNEL,
                        cors_allowed_origins=[])

    @socketio.on("connect", namespace=NAMESPACE)
    def connect(auth=None):
        return True

    @app.post("/emit")
    def emit():
        n = int(request.form["n"])
        socketio.emit("queue", {
            "sent_at": time.time(),  # when it was emitted: emit -> receive, read by the console
            "waiting": [{"id": n, "position": 1, "practice": practice, "reason": "message",
                         "urgent": False, "caller": "•••0123", "callback": False, "callback_number": None,
                         "waiting_seconds": 0}],
            "total": 1, "available_agents": [1], "at": datetime.now(UTC).isoformat()}, namespace=NAMESPACE)
        return {"ok": True}

    @app.get("/healthz")
    def healthz():
        return {"ok": True}

    return app


# --- Servers ------------------------------------------------------------------------------------------------

def _environment(redis_url: str, database_url: str, token: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("TWILIO_", "EMULATOR_", "PUBLIC_BASE_URL", "WEB_", "DATABASE_URL"))}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY=secrets.token_hex(16),  # the same for A and B: a login on one is good on the other
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=token,
        TWILIO_API_BASE="http://127.0.0.1:9",  # no REST call is expected; one would fail fast
        TRUSTED_PROXIES="0",  # clients connect directly: each process checks signatures against its own URL
        BENCH_PUSHES_PRACTICE=PRACTICE_NAME,
        PYTHONPATH=str(ROOT),
    )
    return env


def _prepare(env: dict[str, str], progress: Callable[[str], None], floor: int = 0) -> list[str]:
    """The schema (migrations), a practice open around the clock, an agent, and `floor` more agents
    signed in (their consoles' session cookies are returned): the fan-out's consoles are a floor of
    agents, each with a console of their own, as an answering service's are."""
    import logging

    from flask_migrate import upgrade

    from app import create_app
    from callcenter.accounts import create_practice, create_user, hash_password
    from callcenter.extensions import db
    from callcenter.models import BusinessHours

    logging.getLogger("alembic").setLevel(logging.WARNING)
    progress(f"pushes: building the schema (migrations), a practice and {floor + 1:,} agents")
    app = create_app({"SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"], "REDIS_URL": env["REDIS_URL"],
                      "SECRET_KEY": env["SECRET_KEY"], "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                      "TWILIO_AUTH_TOKEN": env["TWILIO_AUTH_TOKEN"], "TWILIO_EMULATED": False,
                      "SOCKETIO_MESSAGE_QUEUE": None})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        practice = create_practice(db.session, PRACTICE_NAME, PRACTICE_NUMBER, "America/Los_Angeles")
        practice.hours = [BusinessHours(weekday=d, opens=clock(0, 0), closes=clock.max) for d in range(7)]
        password_hash = hash_password(env["SECRET_KEY"])
        create_user(db.session, AGENT_EMAIL, env["SECRET_KEY"], "agent", None, "Bench Agent",
                    password_hash=password_hash)
        agents = [create_user(db.session, FLOOR_EMAIL.format(i), env["SECRET_KEY"], "agent", None, f"Floor Agent {i}",
                              password_hash=password_hash) for i in range(floor)]
        db.session.commit()
        cookies = [_session_cookie(app, agent) for agent in agents]
        db.session.remove()
        db.engine.dispose()
    app.redis.close()
    return cookies


def _session_cookie(app, user) -> str:
    """The Cookie header of a session signed in as `user`, made as the login form makes it (a login
    session row, Flask-Login's session bound to the address and user agent) but without the form: the
    form allows a few hundred sign-ins an address per ten minutes, and checks a password each time."""
    from flask import session
    from flask_login import login_user

    from callcenter import signin
    from callcenter.extensions import db

    with app.test_request_context("/login", environ_base={"REMOTE_ADDR": "127.0.0.1"},
                                  headers={"User-Agent": USER_AGENT}):
        token = signin.start_session(db.session, user, "127.0.0.1")
        db.session.commit()
        login_user(user)
        session[signin.SESSION_KEY] = token
        session.permanent = True
        value = app.session_interface.get_signing_serializer(app).dumps(dict(session))
    return f"{app.config['SESSION_COOKIE_NAME']}={value}"


def _log_in(base: str, password: str) -> str:
    """The agent's session cookie, from the login form (with its CSRF token) as a browser does."""
    import re

    import requests

    with requests.Session() as browser:
        browser.headers["User-Agent"] = USER_AGENT
        form = browser.get(f"{base}/login", timeout=10)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form.text).group(1)
        answer = browser.post(f"{base}/login", data={"email": AGENT_EMAIL, "password": password, "csrf_token": token},
                              allow_redirects=False, timeout=10)
        if answer.status_code != 302:
            raise RuntimeError(f"the bench agent could not log in ({answer.status_code})")
        return "; ".join(f"{c.name}={c.value}" for c in browser.cookies)


def _raise_open_files(consoles: int) -> int:
    """Enough descriptors for the consoles (both ends live on this machine); returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4 * consoles + 1024
    if soft < want:
        soft = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


# --- Consoles ------------------------------------------------------------------------------------------------

def _waiting_ids(data) -> set[int]:
    """The ids of this run's calls that a `queue` push lists as waiting (by the practice's name)."""
    if not isinstance(data, dict):
        return set()
    if "waiting" not in data and isinstance(data.get("queue"), dict):
        data = data["queue"]
    return {row.get("id") for row in data.get("waiting") or []
            if isinstance(row, dict) and row.get("practice") == PRACTICE_NAME}


def _foreign(data) -> bool:
    """Whether a `queue` push lists callers of a practice not this run's (another app on the same Redis)."""
    if isinstance(data, dict) and "waiting" not in data and isinstance(data.get("queue"), dict):
        data = data["queue"]
    rows = data.get("waiting") or [] if isinstance(data, dict) else []
    return any(isinstance(row, dict) and row.get("practice") != PRACTICE_NAME for row in rows)


class Consoles:
    """Socket.IO consoles (asyncio, websocket only) that note when each one gets an awaited `queue` push."""

    def __init__(self, url: str, cookie: str | None, more_cookies: list[str] | None = None):
        self.url = url
        self.cookie = cookie  # the first console's (the agent who takes calls)
        self.more_cookies = more_cookies or []  # one each for the others, when given (the floor)
        self.clients: list = []
        self._want: Callable[[set[int]], bool] | None = None
        self._times: dict[int, float] = {}  # console -> when it got the awaited push (time.time(): the
        # servers stamp theirs with the same clock, on the same machine)
        self.stamp: float | None = None  # the awaited push's own `sent_at`, when it has one (the raw app's)
        self.last_push = 0.0  # when any console last got a push (time.time())
        self._all = asyncio.Event()
        self.foreign = 0  # pushes listing another deployment's callers: they share the Redis channel
        self.offers: dict[int, float] = {}  # call id -> when the first console rang for it (time.time())
        self.offers_ended: dict[int, float] = {}
        self._offer_seen = asyncio.Event()

    def __len__(self) -> int:
        return len(self.clients)

    async def grow(self, count: int, progress: Callable[[str], None], label: str) -> None:
        """Connect consoles until there are `count`."""
        import aiohttp
        import socketio

        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        failures: list[str] = []

        async def one(index: int):
            client = socketio.AsyncClient(
                reconnection=False,
                http_session=lambda: aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)))
            client.on("queue", lambda data, i=index: self._arrived(i, data), namespace=NAMESPACE)
            client.on("offer", self._offered, namespace=NAMESPACE)
            client.on("offer_ended", self._offer_ended, namespace=NAMESPACE)
            cookie = self.more_cookies[(index - 1) % len(self.more_cookies)] if index and self.more_cookies \
                else self.cookie
            headers = {"User-Agent": USER_AGENT, **({"Cookie": cookie} if cookie else {})}
            async with gate:
                try:
                    await asyncio.wait_for(client.connect(
                        self.url, headers=headers, namespaces=[NAMESPACE],
                        transports=["websocket"], wait_timeout=CONNECT_WAIT), CONNECT_WAIT + 5)
                except Exception as exc:  # counted, and reported below
                    failures.append(type(exc).__name__)
                    await client.disconnect()
                    return None
            return client

        started = time.monotonic()
        first = len(self.clients)
        for batch in range(first, count, 250):
            made = await asyncio.gather(*(one(i) for i in range(batch, min(batch + 250, count))))
            self.clients.extend(c for c in made if c is not None)
            progress(f"  {label}: {len(self.clients):,}/{count:,} consoles connected "
                     f"({time.monotonic() - started:.1f} s)")
        if failures:
            raise RuntimeError(f"{label}: {len(failures)} consoles could not connect ({', '.join(set(failures))})")

    def _arrived(self, index: int, data) -> None:
        self.last_push = time.time()
        if _foreign(data):
            self.foreign += 1
        if self._want is None or index in self._times:
            return
        if self._want(_waiting_ids(data)):
            self._times[index] = time.time()
            if isinstance(data, dict) and isinstance(data.get("sent_at"), float):
                self.stamp = data["sent_at"]
            if len(self._times) == len(self.clients):
                self._all.set()

    def _offered(self, data) -> None:
        self.last_push = time.time()
        if isinstance(data, dict) and isinstance(data.get("call_id"), int):
            self.offers.setdefault(data["call_id"], time.time())
            self._offer_seen.set()

    def _offer_ended(self, data) -> None:
        self.last_push = time.time()
        if isinstance(data, dict) and isinstance(data.get("call_id"), int):
            self.offers_ended.setdefault(data["call_id"], time.time())
            self._offer_seen.set()

    async def wait_offer(self, call_id: int, timeout: float, ended: bool = False) -> float | None:
        """When the console rang for `call_id` (or, `ended`, stopped ringing); None if not within `timeout`."""
        seen = self.offers_ended if ended else self.offers
        deadline = time.monotonic() + timeout
        while call_id not in seen and time.monotonic() < deadline:
            self._offer_seen.clear()
            try:
                await asyncio.wait_for(self._offer_seen.wait(), max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                break
        return seen.get(call_id)

    def expect(self, want: Callable[[set[int]], bool]) -> None:
        """From now on, note the first push each console gets for which `want(waiting ids)` holds."""
        self._times = {}
        self.stamp = None
        self._all = asyncio.Event()
        self._want = want

    async def arrivals(self, timeout: float) -> list[float]:
        """When each console got the awaited push (time.time()), sorted; fewer than all after `timeout`."""
        try:
            await asyncio.wait_for(self._all.wait(), timeout)
        except TimeoutError:
            pass
        self._want = None
        return sorted(self._times.values())

    async def quiet(self, seconds: float) -> None:
        """Until no push has arrived for `seconds` (every process's rest after its last push is over)."""
        while (left := seconds - (time.time() - self.last_push)) > 0:
            await asyncio.sleep(left)

    async def call(self, event: str, data: dict) -> dict:
        return await self.clients[0].call(event, data, namespace=NAMESPACE, timeout=10)

    async def close(self) -> None:
        for start in range(0, len(self.clients), 250):
            await asyncio.gather(*(c.disconnect() for c in self.clients[start:start + 250]), return_exceptions=True)
        self.clients = []


# --- Samples -------------------------------------------------------------------------------------------------

class Phone:
    """Twilio's side: signed webhooks about new calls, sent to one web process or another."""

    def __init__(self, http, token: str, database_url: str):
        from sqlalchemy import create_engine
        from twilio.request_validator import RequestValidator

        self.http = http
        self.validator = RequestValidator(token)
        self.engine = create_engine(database_url)

    def close(self) -> None:
        self.engine.dispose()

    async def post(self, base: str, path: str, form: dict) -> tuple[int, str]:
        url = base + path
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, form)}
        async with self.http.post(url, data=form, headers=headers) as response:
            return response.status, await response.text()

    def call_id(self, sid: str) -> int | None:
        from sqlalchemy import text

        with self.engine.connect() as connection:
            return connection.execute(text("SELECT id FROM calls WHERE call_sid = :sid"), {"sid": sid}).scalar()

    def queued_at(self, call_id: int) -> float | None:
        """When the service queued the call (its ledger's `queued_at`, set just before the commit and the
        Redis write that put the caller in line), as epoch seconds."""
        from sqlalchemy import select

        from callcenter.models import Call

        with self.engine.connect() as connection:
            at = connection.execute(select(Call.queued_at).where(Call.id == call_id)).scalar()
        return at.timestamp() if at is not None else None


def _form(sid: str, **extra) -> dict:
    return {"CallSid": sid, "AccountSid": ACCOUNT_SID, "From": CALLER, "To": PRACTICE_NUMBER,
            "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01", **extra}


async def _app_sample(phone: Phone, webhooks: str, consoles: Consoles, wait: float) -> dict | None:
    """A caller queued through `webhooks`: seconds from sending the menu webhook to each console's push.

    Untimed around it: the call's first webhook before, and its hang-up after (so the queue stays one
    caller long), with every console seeing the caller gone before the next sample.
    """
    sid = "CA" + secrets.token_hex(16)
    status, _ = await phone.post(webhooks, "/ivr/voice", _form(sid))
    call_id = await asyncio.to_thread(phone.call_id, sid)
    if status != 200 or call_id is None:
        return None
    await consoles.quiet(_settle())
    consoles.expect(lambda ids: call_id in ids)
    sent = time.time()
    status, body = await phone.post(webhooks, "/ivr/menu?attempt=1", _form(sid, Digits="2"))
    answered = time.time()
    arrived = await consoles.arrivals(wait) if status == 200 and "<Enqueue" in body else []
    rang = await consoles.wait_offer(call_id, wait) if arrived else None
    queued = await asyncio.to_thread(phone.queued_at, call_id) if arrived else None
    consoles.expect(lambda ids: call_id not in ids)
    await phone.post(webhooks, "/ivr/status", _form(sid, CallStatus="completed", CallDuration="30",
                                                    SequenceNumber="3"))
    await consoles.arrivals(wait)
    if rang is not None:  # the offer is withdrawn before the next caller can ring the same agent
        await consoles.wait_offer(call_id, wait, ended=True)
    sample = _sample(sent, answered, arrived, len(consoles), queued)
    if sample is not None:
        sample["offer_ms"] = (rang - sent) * 1e3 if rang is not None else None
        sample["offer_from_queued_ms"] = (rang - queued) * 1e3 if rang is not None and queued else None
    return sample


async def _baseline_sample(http, base: str, n: int, consoles: Consoles, wait: float) -> dict | None:
    await consoles.quiet(_settle())  # as the app's samples do
    consoles.expect(lambda ids: n in ids)
    sent = time.time()
    async with http.post(base + "/emit", data={"n": str(n)}) as response:
        await response.read()
    answered = time.time()
    arrived = await consoles.arrivals(wait)
    return _sample(sent, answered, arrived, len(consoles), consoles.stamp)


def _sample(sent: float, answered: float, arrived: list[float], expected: int, origin: float | None) -> dict | None:
    """Times from sending the request (`sent`), and from the server's own stamp of the change (`origin`:
    when the app queued the caller; when the raw app called emit), to the consoles' arrivals."""
    if len(arrived) < expected:
        return None
    sample = {"answer_ms": (answered - sent) * 1e3, "after_answer_ms": (arrived[-1] - answered) * 1e3,
              "first_ms": (arrived[0] - sent) * 1e3,
              "median_ms": (statistics.median(arrived) - sent) * 1e3, "last_ms": (arrived[-1] - sent) * 1e3}
    if origin is not None:
        sample.update(origin_first_ms=(arrived[0] - origin) * 1e3,
                      origin_median_ms=(statistics.median(arrived) - origin) * 1e3,
                      origin_last_ms=(arrived[-1] - origin) * 1e3)
    return sample


def _stats(samples: list[dict], key: str) -> dict:
    values = sorted(s[key] for s in samples if s.get(key) is not None)
    if not values:
        return {"n": 0, "p50_ms": 0.0, "p90_ms": 0.0, "max_ms": 0.0, "min_ms": 0.0}
    cuts = statistics.quantiles(values, n=10, method="inclusive") if len(values) >= 2 else values * 9
    return {"n": len(values), "min_ms": values[0], "p50_ms": statistics.median(values), "p90_ms": cuts[8],
            "max_ms": values[-1]}


async def _measure_pushes(a: WebProcess, b: WebProcess, baseline: WebProcess, cookie: str, floor_cookies: list[str],
                          token: str, database_url: str, consoles: int, samples: int, rounds: int,
                          progress: Callable[[str], None]) -> dict:
    import aiohttp

    raw: dict[str, list[dict]] = {"app": [], "baseline": [], "two_process": [], "fanout_app": [],
                                  "fanout_baseline": [], "offer": []}
    missed = dict.fromkeys(raw, 0)
    on_app, on_baseline = Consoles(a.url, cookie, floor_cookies), Consoles(baseline.url, None)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        phone = Phone(http, token, database_url)
        try:
            await on_app.grow(1, progress, "app (A)")
            await on_baseline.grow(1, progress, "baseline")
            answer = await on_app.call("available", {"available": True})  # callers are queued, not sent on
            if not answer.get("ok"):
                raise RuntimeError(f"the bench agent could not become available: {answer}")

            async def heartbeats() -> None:  # as the page does: a silent console is offline within 30 s
                while True:
                    await asyncio.sleep(10)
                    await on_app.call("heartbeat", {})

            beating = asyncio.create_task(heartbeats())
            n = 10_000_000

            async def take(kind: str, sample: dict | None) -> None:
                if sample is None:
                    missed[kind] += 1
                else:
                    raw[kind].append(sample)
                    if kind in ("app", "two_process"):  # the same caller rang the agent's console
                        if sample.get("offer_ms") is None:
                            missed["offer"] += 1
                        else:
                            raw["offer"].append({"last_ms": sample["offer_ms"], "via": kind,
                                                 "origin_last_ms": sample.get("offer_from_queued_ms")})
                await asyncio.sleep(PAUSE)

            progress("pushes: warming up")
            for _ in range(3):
                await _app_sample(phone, a.url, on_app, LATENCY_WAIT)
                await _app_sample(phone, b.url, on_app, LATENCY_WAIT)
                n += 1
                await _baseline_sample(http, baseline.url, n, on_baseline, LATENCY_WAIT)
            progress(f"pushes: latency, one console, {samples} samples each (baseline, A->A, B->A, interleaved)")
            for _ in range(samples):
                n += 1
                await take("baseline", await _baseline_sample(http, baseline.url, n, on_baseline, LATENCY_WAIT))
                await take("app", await _app_sample(phone, a.url, on_app, LATENCY_WAIT))
                await take("two_process", await _app_sample(phone, b.url, on_app, LATENCY_WAIT))

            progress(f"pushes: fan-out, connecting {consoles:,} consoles to each server")
            await on_app.grow(consoles, progress, "app (A)")
            await on_baseline.grow(consoles, progress, "baseline")
            await asyncio.sleep(1.0)  # let the connects' snapshots drain
            for r in range(1, rounds + 1):
                progress(f"pushes: fan-out round {r}/{rounds}")
                n += 1
                await take("fanout_baseline", await _baseline_sample(http, baseline.url, n, on_baseline, FANOUT_WAIT))
                await take("fanout_app", await _app_sample(phone, a.url, on_app, FANOUT_WAIT))
            foreign = on_app.foreign + on_baseline.foreign
            beating.cancel()
        finally:
            await on_app.close()
            await on_baseline.close()
            phone.close()
    return {"raw": raw, "missed": missed, "foreign": foreign}


# --- Throughput of one process and of two -------------------------------------------------------------------

def _machine_busy_seconds() -> tuple[float, float]:
    """(CPU seconds busy on all cores, wall seconds) now, from /proc/stat; (0, now) elsewhere."""
    now = time.monotonic()
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0.0, now
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK"), now


def _loadgens(targets: list[tuple[str, int | None]], env: dict[str, str], threads: int, warmup: float,
              seconds: float, label: str) -> dict:
    """One load generator per (URL, server pid to measure the CPU of, or None), at once; figures merged."""
    from .loadgen import summarize

    processes = []
    for n, (url, server_pid) in enumerate(targets):
        command = [sys.executable, "-m", "bench.loadgen", "--url", url, "--token", env["TWILIO_AUTH_TOKEN"],
                   "--account-sid", ACCOUNT_SID, "--to", PRACTICE_NUMBER, "--threads", str(threads),
                   "--expect", "<Gather",  # the menu: a fallback answer (database locked, say) is counted
                   "--warmup", str(warmup), "--seconds", str(seconds), "--label", f"{label} #{n + 1}"]
        if server_pid:
            command += ["--server-pid", str(server_pid)]
        processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, text=True))
    busy_before = _machine_busy_seconds()
    results = []
    for process in processes:
        out, _ = process.communicate(timeout=warmup + seconds + 120)
        if process.returncode != 0:
            raise RuntimeError(f"{label}: the load generator failed ({process.returncode})")
        results.append(json.loads(out))
    merged = summarize([{"latencies": r["latencies"], "sent": r["sent"], "seconds": seconds,
                         "threads": r["threads"], "errors": r["errors"], "statuses": r["statuses"],
                         "unexpected": r.get("unexpected", 0), "client_cpu_s": r.get("client_cpu_s")}
                        for r in results])
    merged["seconds"] = seconds  # concurrent slices: the same window, not consecutive ones
    merged["requests_per_s"] = merged["requests"] / seconds
    merged["threads"] = threads * len(targets)
    merged.pop("latencies")
    merged["server_cpu_s"] = sum(r.get("server_cpu_s") or 0.0 for r in results)  # each server counted once
    busy_after = _machine_busy_seconds()
    # The whole machine, warm-up included: every process on it (the database, Redis, anything else running).
    merged["machine_busy_s"] = (busy_after[0] - busy_before[0]) / (busy_after[1] - busy_before[1]) * seconds
    return merged


def _throughput(a: WebProcess, b: WebProcess, env: dict[str, str], threads: int, seconds: float, rounds: int,
                progress: Callable[[str], None]) -> dict:
    """`/ivr/voice` requests per second: both load generators on A, then one on A and one on B, alternating.

    The client side is the same in both: two load generator processes, `threads` threads each.
    """
    pid_a, pid_b = a.process.pid, b.process.pid  # gunicorn's arbiter: its worker is counted with it
    targets = {"one": [(a.url + "/ivr/voice", pid_a), (a.url + "/ivr/voice", None)],
               "pair": [(a.url + "/ivr/voice", pid_a), (b.url + "/ivr/voice", pid_b)]}
    slices: dict[str, list[dict]] = {name: [] for name in targets}
    progress(f"pushes: /ivr/voice throughput, warming up ({2 * threads} client threads)")
    _loadgens(targets["pair"], env, threads, 0.0, 1.5, "warm-up")
    for r in range(1, rounds + 1):
        for name, urls in targets.items():
            progress(f"pushes: throughput round {r}/{rounds}, {name}: {seconds / rounds:.1f} s")
            slices[name].append(_loadgens(urls, env, threads, 0.5, seconds / rounds, name))
    results = {}
    for name, parts in slices.items():
        total = sum(p["seconds"] for p in parts)
        requests = sum(p["requests"] for p in parts)
        results[name] = {"requests": requests, "seconds": total, "requests_per_s": requests / total if total else 0.0,
                         "p50_ms": statistics.median(p["p50_ms"] for p in parts),
                         "p99_ms": max(p["p99_ms"] for p in parts),
                         "errors": sum(p["errors"] for p in parts) + sum(p.get("unexpected", 0) for p in parts),
                         "threads": parts[0]["threads"],
                         # the load generators' own CPU, in cores: near the machine's count, they are the limit
                         "client_cpu": sum(p.get("client_cpu_s") or 0.0 for p in parts) / total if total else 0.0,
                         # the web processes' CPU, in cores: near 1 per process, they are CPU-bound
                         "server_cpu": sum(p["server_cpu_s"] for p in parts) / total if total else 0.0,
                         "machine_cpu": sum(p["machine_busy_s"] for p in parts) / total if total else 0.0}
        r = results[name]
        progress(f"  {name}: {r['requests_per_s']:,.0f} requests/s, p50 {r['p50_ms']:.1f} ms, {r['errors']} errors "
                 f"(non-200 or not the menu), web processes {r['server_cpu']:.2f} cores, "
                 f"load generators {r['client_cpu']:.2f} cores, whole machine {r['machine_cpu']:.2f} cores busy")
    one = results["one"]["requests_per_s"]
    return {"results": results, "ratio": results["pair"]["requests_per_s"] / one if one else 0.0,
            "threads": 2 * threads, "seconds": seconds, "rounds": rounds}


# --- PostgreSQL scratch database -----------------------------------------------------------------------------

def _scratch_postgres(server_url: str) -> tuple[str, Callable[[], None]]:
    """A new database on the server at `server_url` (its own name), and how to drop it afterwards."""
    import psycopg

    name = f"bench_pushes_{secrets.token_hex(4)}"
    parts = urlsplit(server_url)
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))  # libpq's form, for psycopg
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", "")), drop


# --- The run -------------------------------------------------------------------------------------------------

def run(redis_url: str, consoles: int = 1000, progress: Callable[[str], None] = print, samples: int = 30,
        rounds: int = 5, http_seconds: float = 9.0, http_rounds: int = 3, threads: int = 8,
        postgres_url: str | None = None) -> dict:
    """Measure (a) push latency, (b) fan-out to `consoles` consoles, (c) two web processes; see the module doc.

    The database is a SQLite file in a temporary directory, or, with `postgres_url` (a PostgreSQL
    server), a scratch database created there and dropped afterwards. Redis at `redis_url` is
    written to (the queue, presence, Socket.IO's message queue) and not flushed: flush it around the run.
    """
    started = time.monotonic()
    open_files = _raise_open_files(consoles)
    tmp = Path(tempfile.mkdtemp(prefix="bench-pushes-"))
    drop_database = None
    servers: list[WebProcess] = []
    worker = None
    token = secrets.token_hex(16)
    try:
        if postgres_url:
            database_url, drop_database = _scratch_postgres(postgres_url)
        else:
            database_url = f"sqlite:///{tmp / 'pushes.sqlite3'}"
        env = _environment(redis_url, database_url, token)
        floor_cookies = _prepare(env, progress, floor=consoles - 1)
        a = WebProcess("A", env, log_dir=tmp)
        servers.append(a)
        b = WebProcess("B", env, log_dir=tmp)
        servers.append(b)
        baseline = WebProcess("baseline", env, app_spec="bench.pushes:baseline_app()", log_dir=tmp)
        servers.append(baseline)
        for server in servers:
            server.wait_ready(STARTUP)
        # The worker, as the Procfile runs it: its offer loop rings the agent's console for each caller.
        with (tmp / "worker.log").open("wb") as log:
            worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker"], cwd=ROOT, env=env,
                                      stdout=log, stderr=subprocess.STDOUT)
        database = "PostgreSQL" if postgres_url else "SQLite"
        progress(f"pushes: gunicorn --config gunicorn.conf.py (gevent, 1 worker each): app A on {a.port}, "
                 f"app B on {b.port}, raw Flask-SocketIO on {baseline.port}; {database}")
        cookie = _log_in(a.url, env["SECRET_KEY"])
        pushes = asyncio.run(_measure_pushes(a, b, baseline, cookie, floor_cookies, token, database_url, consoles,
                                             samples, rounds, progress))
        throughput = _throughput(a, b, env, threads, http_seconds, http_rounds, progress)
    finally:
        for server in servers:
            server.stop()
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(10)
            except subprocess.TimeoutExpired:
                worker.kill()
        if drop_database is not None:
            drop_database()
        shutil.rmtree(tmp, ignore_errors=True)

    raw = pushes["raw"]
    latency = {name: _stats(raw[name], "last_ms") for name in ("baseline", "app", "two_process")}
    answers = {name: _stats(raw[name], "answer_ms") for name in ("baseline", "app", "two_process")}
    after = {name: _stats(raw[name], "after_answer_ms") for name in ("baseline", "app", "two_process")}
    fanout = {name: {prefix + part: _stats(raw[f"fanout_{name}"], f"{prefix}{part}_ms")
                     for prefix in ("", "origin_") for part in ("first", "median", "last")}
              for name in ("baseline", "app")}
    # From the server's stamp of the change: when the app queued the caller, when the raw app called emit.
    origin = {name: _stats(raw[name], "origin_last_ms") for name in ("baseline", "app", "two_process")}
    offer_origin = _stats(raw["offer"], "origin_last_ms")
    offer_by_path = {via: _stats([o for o in raw["offer"] if o["via"] == via], "origin_last_ms")
                     for via in ("app", "two_process")}

    def ratio(x: float, y: float) -> float:
        return x / y if y else 0.0

    result = {
        "consoles": consoles, "samples": samples, "rounds": rounds, "nproc": os.cpu_count(),
        "database": "postgresql" if postgres_url else "sqlite", "open_files": open_files, "settle_s": _settle(),
        "latency": latency, "answers": answers, "after_answer": after,
        "latency_ratio": ratio(latency["app"]["p50_ms"], latency["baseline"]["p50_ms"]),
        "two_process_ratio": ratio(latency["two_process"]["p50_ms"], latency["baseline"]["p50_ms"]),
        "fanout": fanout,
        "origin": origin,
        "origin_ratio": ratio(origin["app"]["p50_ms"], origin["baseline"]["p50_ms"]),
        "offer": _stats(raw["offer"], "last_ms"),
        "offer_request_ratio": ratio(_stats(raw["offer"], "last_ms")["p50_ms"], latency["baseline"]["p50_ms"]),
        "offer_origin": offer_origin,
        "offer_by_path": offer_by_path,
        # The goal's pair: from the caller being queued to the console ringing, against emit -> receive.
        "offer_ratio": ratio(offer_origin["p50_ms"], origin["baseline"]["p50_ms"]),
        "fanout_request_ratio": ratio(fanout["app"]["last"]["p50_ms"], fanout["baseline"]["last"]["p50_ms"]),
        "fanout_ratio": ratio(fanout["app"]["origin_last"]["p50_ms"], fanout["baseline"]["origin_last"]["p50_ms"]),
        "throughput": throughput,
        "missed": pushes["missed"],
        "foreign_pushes": pushes["foreign"],
        "seconds": time.monotonic() - started,
    }
    progress(f"pushes: from the change (queued; emit) to the push: app {origin['app']['p50_ms']:.1f} ms, raw "
             f"{origin['baseline']['p50_ms']:.1f} ms ({result['origin_ratio']:.2f}x); offer rings "
             f"{offer_origin['p50_ms']:.1f} ms after the caller is queued ({result['offer_ratio']:.2f}x raw emit); "
             f"fan-out to {consoles:,}: last at {fanout['app']['origin_last']['p50_ms']:.0f} ms vs "
             f"{fanout['baseline']['origin_last']['p50_ms']:.0f} ms raw ({result['fanout_ratio']:.2f}x); from the "
             f"request: latency {result['latency_ratio']:.2f}x, offer {result['offer_request_ratio']:.2f}x, fan-out "
             f"{result['fanout_request_ratio']:.2f}x; two processes {throughput['ratio']:.2f}x the /ivr/voice "
             f"throughput of one")
    return result


# --- Report --------------------------------------------------------------------------------------------------

GOALS = {"latency": 2.0, "fanout": 1.5, "throughput": 1.6}


def _verdict(ok: bool) -> str:
    return "goal met" if ok else "**goal missed**"


def _from_the_change_rows(result: dict) -> list[str]:
    """From the server's own stamp of the change: the goal's pair (the caller queued -> the console rings,
    against emit -> receive)."""
    origin, offer = result.get("origin"), result.get("offer_origin")
    if not origin or not offer or not offer.get("n"):
        return []
    by_path = result.get("offer_by_path", {})
    rows = [
        "| path, from the change | p50 ms | p90 ms | max ms |",
        "| --- | ---: | ---: | ---: |",
        "| raw Flask-SocketIO: `emit` called → console receives (stamped in the server) "
        f"| {origin['baseline']['p50_ms']:.1f} | {origin['baseline']['p90_ms']:.1f} "
        f"| {origin['baseline']['max_ms']:.1f} |",
        "| app: caller queued → console rings (the `offer` push, from the worker's offer loop; "
        f"{offer['n']} samples) | {offer['p50_ms']:.1f} | {offer['p90_ms']:.1f} | {offer['max_ms']:.1f} |",
    ]
    for via, label in (("app", "webhook on A, console on A"), ("two_process", "webhook on B, console on A")):
        s = by_path.get(via)
        if s and s.get("n"):
            rows.append(f"| … of which {label} | {s['p50_ms']:.1f} | {s['p90_ms']:.1f} | {s['max_ms']:.1f} |")
    rows += [
        f"| app: caller queued → `queue` push, A→A | {origin['app']['p50_ms']:.1f} | {origin['app']['p90_ms']:.1f} "
        f"| {origin['app']['max_ms']:.1f} |",
        f"| **ratio offer ÷ raw emit (p50)** | **{result['offer_ratio']:.2f}** "
        f"| {_verdict(result['offer_ratio'] <= GOALS['latency'])} (≤ {GOALS['latency']:g}×) | |",
        f"| **ratio queue push ÷ raw emit (p50)** | **{result['origin_ratio']:.2f}** "
        f"| {_verdict(result['origin_ratio'] <= GOALS['latency'])} (≤ {GOALS['latency']:g}×) | |",
    ]
    return rows


def section(result: dict) -> str:
    """The markdown section for docs/benchmarks.md."""
    lat, ans, fan, thr = result["latency"], result["answers"], result["fanout"], result["throughput"]
    n = result["consoles"]
    missed = {k: v for k, v in result["missed"].items() if v}
    one, pair = thr["results"]["one"], thr["results"]["pair"]
    lines = [
        "## Console pushes and two web processes",
        "",
        "The app under gunicorn as the Procfile runs it (`gunicorn.conf.py`: gevent, one worker per process) and, as",
        "the baseline, a raw Flask-SocketIO app under the same config and the same Redis message queue whose HTTP",
        "view calls `socketio.emit` with a payload shaped like the app's. Consoles are `socketio.AsyncClient`s",
        f"on the websocket transport, in the benchmark's process; database: {result['database']}.",
        "",
        f"### Push latency (one console, {result['samples']} samples each)",
        "",
        "From sending the signed `/ivr/menu` webhook that queues a caller (an agent is available) to the console",
        "receiving the `queue` push that lists the call; for the baseline, from sending `POST /emit` to receiving",
        "its push. A→A: console and webhook on the same process; B→A: the webhook on process B, the console on",
        "process A, the push crossing Redis.",
        f"The app coalesces pushes (a background task rests {result['settle_s'] - 0.1:.2f} s between two pushes of",
        "one kind, and the rest holds across processes: a change made within it, after another process's push,",
        f"goes out at its end); each timed change comes {result['settle_s']:.2f} s after the last push any console",
        "got, so these are an isolated change's figures: inside a burst a change waits up to that rest more.",
        "",
        "| path | p50 ms | p90 ms | max ms | HTTP answer, p50 ms | push − answer, p50 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, label in (("baseline", "raw Flask-SocketIO: emit → receive"), ("app", "app, A→A: webhook → push"),
                       ("two_process", "app, B→A: webhook on B → push on A")):
        s = lat[key]
        lines.append(f"| {label} | {s['p50_ms']:.1f} | {s['p90_ms']:.1f} | {s['max_ms']:.1f} "
                     f"| {ans[key]['p50_ms']:.1f} | {result['after_answer'][key]['p50_ms']:.1f} |")
    lines += [
        f"| **ratio A→A ÷ raw (p50)** | **{result['latency_ratio']:.2f}** | | | "
        f"{_verdict(result['latency_ratio'] <= GOALS['latency'])} (≤ {GOALS['latency']:g}×) | |",
        f"| **ratio B→A ÷ raw (p50)** | **{result['two_process_ratio']:.2f}** | | | | |",
        "",
        "HTTP answer: when the webhook's (or `/emit`'s) answer came back; push − answer: how long after it the",
        "push arrived (negative: before it). The app's webhook does its work (signature, ledger, queue) before",
        "the push can say anything, the raw view none.",
        "",
        "From the change itself, as the goal reads (the caller being queued to the console ringing, against a",
        "raw emit to receive): the app's stamp is the call's `queued_at` in the ledger (set just before the",
        "commit and the Redis write that put the caller in line), the raw app's the time it called `emit`,",
        "put in the push; the consoles note when each push arrives (one machine, one clock).",
        "",
        *_from_the_change_rows(result),
        "",
        f"### Fan-out to {n:,} consoles ({result['rounds']} rounds)",
        "",
        f"One change with {n:,} consoles connected to one process, each console an agent of its own (one",
        "available, the others away, as a floor is): from the change (the caller queued; `emit` called) to",
        "the first, median and last console having the push; from sending the request in brackets.",
        "",
        "| server | first ms (p50) | median console ms (p50) | last console ms (p50) | last console ms (max) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for key, label in (("baseline", f"raw Flask-SocketIO broadcast to {n:,}"),
                       ("app", f"app: caller queued → {n:,} consoles")):
        f = fan[key]
        if "origin_last" in f and f["origin_last"].get("n"):
            lines.append(f"| {label} | {f['origin_first']['p50_ms']:.0f} ({f['first']['p50_ms']:.0f}) "
                         f"| {f['origin_median']['p50_ms']:.0f} ({f['median']['p50_ms']:.0f}) "
                         f"| {f['origin_last']['p50_ms']:.0f} ({f['last']['p50_ms']:.0f}) "
                         f"| {f['origin_last']['max_ms']:.0f} ({f['last']['max_ms']:.0f}) |")
        else:
            lines.append(f"| {label} | {f['first']['p50_ms']:.0f} | {f['median']['p50_ms']:.0f} "
                         f"| {f['last']['p50_ms']:.0f} | {f['last']['max_ms']:.0f} |")
    lines += [
        f"| **ratio app ÷ raw (last console, p50)** | | | **{result['fanout_ratio']:.2f}** "
        f"({result.get('fanout_request_ratio', result['fanout_ratio']):.2f}) "
        f"| {_verdict(result['fanout_ratio'] <= GOALS['fanout'])} (≤ {GOALS['fanout']:g}×) |",
        "",
        f"### `/ivr/voice` on two web processes ({result['nproc']} CPUs)",
        "",
        f"Two load generator processes ({thr['threads']} client threads in all, one keep-alive connection each)",
        "send signed `/ivr/voice` webhooks, each a new call: both to process A, or one to A and one to B (sharing",
        f"the database and Redis); alternating, {thr['rounds']} slices, {thr['seconds']:.0f} s measured each way.",
        "The load generators, Redis and the database share the same CPUs; errors count non-200 answers and",
        "answers other than the menu (the webhook's safe fallback when the database or Redis failed it).",
        "",
        "| web processes | requests/s | p50 ms | p99 ms | errors | CPU, cores: web processes "
        "| load generators | whole machine |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| one (A) | {one['requests_per_s']:,.0f} | {one['p50_ms']:.1f} | {one['p99_ms']:.1f} | {one['errors']} "
        f"| {one['server_cpu']:.2f} | {one['client_cpu']:.2f} | {one['machine_cpu']:.2f} |",
        f"| two (A and B) | {pair['requests_per_s']:,.0f} | {pair['p50_ms']:.1f} | {pair['p99_ms']:.1f} "
        f"| {pair['errors']} | {pair['server_cpu']:.2f} | {pair['client_cpu']:.2f} | {pair['machine_cpu']:.2f} |",
        f"| **ratio two ÷ one** | **{thr['ratio']:.2f}** | | | | | | {_verdict(thr['ratio'] >= GOALS['throughput'])} "
        f"(≥ {GOALS['throughput']:g}×) |",
        "",
        "A second process can only help while the machine has a core to spare: when the whole machine is near",
        f"its {result['nproc']} cores with one web process (the database, Redis and the load generators included),",
        "the pair has nothing more to run on.",
        "",
    ]
    if result.get("foreign_pushes"):
        lines += [f"**Not a clean run**: the consoles also received {result['foreign_pushes']:,} pushes about another",
                  "deployment's callers (another app on the same Redis server: Socket.IO's channel ignores the",
                  "database number), and the web processes forwarded them.", ""]
    if missed:
        lines += ["Samples lost (a push not received by every console in time, or a webhook that did not queue): "
                  + ", ".join(f"{k} {v}" for k, v in missed.items()) + ".", ""]
    return "\n".join(lines)


def chart(result: dict, path: Path) -> bool:
    """Latency, fan-out and throughput bars in one PNG; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.2))
    origin, offer = result.get("origin"), result.get("offer_origin")
    if origin and offer and offer.get("n"):  # from the change itself: the goals' pairs
        bars = [("raw: emit →\nreceive", origin["baseline"], "#9bbb59"),
                ("app: queued →\nqueue push", origin["app"], "#1f4e79"),
                ("app: queued →\nconsole rings", offer, "#c0504d")]
        left.set_title(f"From the change: offer {result['offer_ratio']:.2f}×, push {result['origin_ratio']:.2f}× raw")
        left.set_ylabel("ms from the change to the push, p50 (whisker: p90)")
    else:
        lat = result["latency"]
        bars = [("raw emit", lat["baseline"], "#9bbb59"), ("app A→A", lat["app"], "#c0504d"),
                ("app B→A", lat["two_process"], "#1f4e79")]
        left.set_title(f"Push latency: app {result['latency_ratio']:.2f}× raw")
        left.set_ylabel("ms from the request to the push, p50 (whisker: p90)")
    p50 = [stats["p50_ms"] for _, stats, _ in bars]
    p90 = [stats["p90_ms"] for _, stats, _ in bars]
    left.bar([f"{label}\np50 {v:.1f} ms" for (label, _, _), v in zip(bars, p50, strict=True)], p50, 0.5,
             color=[colour for _, _, colour in bars],
             yerr=[[0] * len(bars), [max(0.0, b - a) for a, b in zip(p50, p90, strict=True)]], capsize=4)
    left.tick_params(axis="x", labelsize=8)

    fan = result["fanout"]
    prefix = "origin_" if "origin_last" in fan["app"] and fan["app"]["origin_last"].get("n") else ""
    x = range(3)
    for offset, key, colour, label in ((-0.2, "baseline", "#9bbb59", "raw broadcast"),
                                       (0.2, "app", "#c0504d", "app")):
        values = [fan[key][prefix + part]["p50_ms"] for part in ("first", "median", "last")]
        drawn = middle.bar([i + offset for i in x], values, 0.4, color=colour, label=label)
        middle.bar_label(drawn, fmt="{:.0f}", fontsize=8)
    middle.set_xticks(list(x), ["first console", "median console", "last console"])
    middle.set_ylabel("ms after the change (p50 of rounds)")
    middle.set_title(f"Fan-out to {result['consoles']:,}: app {result['fanout_ratio']:.2f}× raw")
    middle.legend(loc="upper left")

    thr = result["throughput"]
    values = [thr["results"][k]["requests_per_s"] for k in ("one", "pair")]
    bars = right.bar(["one web process", "two web processes"], values, 0.5, color=["#7aa6c2", "#1f4e79"])
    right.bar_label(bars, fmt="{:,.0f}/s", fontsize=8)
    right.set_ylim(0, max(values + [1.0]) * 1.25)
    right.set_ylabel("/ivr/voice requests per second")
    right.set_title(f"Two processes: {thr['ratio']:.2f}× one ({result['nproc']} CPUs)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> None:
    """`python -m bench.pushes --redis-url redis://127.0.0.1:6379/N --consoles 100`: print the section."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.pushes", description=__doc__.split("\n")[0])
    parser.add_argument("--redis-url", required=True, help="a Redis database of the benchmark's own")
    parser.add_argument("--consoles", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--http-seconds", type=float, default=9.0)
    parser.add_argument("--threads", type=int, default=8, help="client threads per load generator (two of them)")
    parser.add_argument("--postgres-url", help="a PostgreSQL server to create (and drop) a scratch database on")
    parser.add_argument("--chart", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = run(args.redis_url, consoles=args.consoles, samples=args.samples, rounds=args.rounds,
                 http_seconds=args.http_seconds, threads=args.threads, postgres_url=args.postgres_url)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if args.chart:
        chart(result, args.chart)
    print(section(result))


if __name__ == "__main__":
    main()
