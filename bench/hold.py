"""Callers on hold and agents online: every webhook's latency with thousands holding at once.

The app runs as in production (gunicorn --config gunicorn.conf.py: gevent workers) on a SQLite file in a
temporary folder, or a PostgreSQL database of its own, and Redis at the URL given (that database is
flushed before and after). Several practices open around the clock, the agents all busy so that callers
are queued. Two processes of their own play the rest:

- `bench.consoles`: the agents' consoles, logged in, connected by websocket, asking for a snapshot
  every 15 s as the page does, counting the pushes they receive;
- `bench.holdgen`: the callers, as Twilio plays them: /ivr/voice, the menu (2: leave a message, queued),
  then the waitUrl loop every 30-60 s; arrivals at `rate` a second until `callers` hold, a hold of
  `hold_seconds` (arrivals go on, the longest holder hangs up for each one queued), then everyone hangs up
  (/ivr/queue-exit with QueueResult=hangup, the status callback).

Meanwhile the server's CPU time and memory are read from /proc once a second, and the app's own
queue length from Redis. `python -m bench.hold --help` runs one size; `run` is the function
`python -m bench` calls, `section` and `chart` write its part of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from .servers import WebProcess, free_port

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_SID = "AC" + "c" * 32
PASSWORD = "bench-hold-password"
PRACTICE_NUMBERS = [f"+1415555{101 + n:04d}" for n in range(50)]
# The app as the Procfile serves it; the queue's capacity (QUEUE_CAPACITY) and the Socket.IO channel
# (SOCKETIO_CHANNEL, one of the run's own) come from the environment.
APP_SPEC = "app:create_app()"
PATHS = ("/ivr/voice", "/ivr/menu", "/ivr/wait", "/ivr/queue-exit", "/ivr/status")
GOAL_P99_MS = 200.0
TWILIO_TIMEOUT_MS = 15000.0
WINDOW = 10.0


def _die_with_parent() -> None:
    """In a child, before exec: SIGTERM when the benchmark dies (Linux), so no server outlives a killed run."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _prepare_postgres(url: str) -> None:
    """Create the benchmark's database if it is missing. Refuses the test suite's and the system's."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or name in ("test", "postgres", "template0", "template1") or not re.fullmatch(r"\w+", name):
        raise ValueError(f"refusing to use the database {name!r}: name one of the benchmark's own "
                         f"(e.g. answering_bench_hold)")
    admin = parts._replace(path="/postgres").geturl().replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def _empty_tables(engine) -> None:
    """A database reused from an earlier run starts empty (the schema stays)."""
    from sqlalchemy import text

    from callcenter.extensions import db

    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


BUSY_CALL_PREFIX = "CAbench-busy-"  # the agents' own long calls, not the benchmark's callers


def _seed(env: dict[str, str], practices: int, users: int, max_wait_seconds: int) -> dict:
    """Practices open around the clock, agents (one per console batch) away and one more on a long call."""
    from datetime import UTC, datetime
    from datetime import time as clock

    from app import create_app
    from callcenter.accounts import create_practice, create_user, hash_password
    from callcenter.extensions import db
    from callcenter.models import BusinessHours, Call

    app = create_app({"SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"], "REDIS_URL": env["REDIS_URL"],
                      "SOCKETIO_MESSAGE_QUEUE": None, "SECRET_KEY": env["SECRET_KEY"],
                      "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": env["TWILIO_AUTH_TOKEN"],
                      "TWILIO_EMULATED": False, "PUBLIC_BASE_URL": env["PUBLIC_BASE_URL"]})
    with app.app_context():
        _empty_tables(db.engine)
        numbers = PRACTICE_NUMBERS[:practices]
        first = None
        for n, number in enumerate(numbers):
            practice = create_practice(db.session, f"Bench Practice {n + 1}", number, "America/New_York")
            practice.hours = [BusinessHours(weekday=d, opens=clock(0, 0), closes=clock.max) for d in range(7)]
            practice.max_wait_seconds = max_wait_seconds  # nobody is sent to voicemail for waiting long
            first = first or practice
        hashed = hash_password(PASSWORD)
        agents = [create_user(db.session, f"agent{n + 1}@bench-hold.test", PASSWORD, "agent",
                              display_name=f"Agent {n + 1}", password_hash=hashed) for n in range(users)]
        db.session.commit()
        # The agents on the floor are all busy (the queue builds because everyone is): one agent without
        # a console is on a long call, so callers are queued, not sent to voicemail, and nobody is offered
        # them; the consoles' agents are away. Agents left available would be rung by the offer loop, miss
        # three offers and be set away within a minute, sending callers to voicemail.
        busy = create_user(db.session, "busy@bench-hold.test", PASSWORD, "agent", display_name="Busy Agent",
                           password_hash=hashed)
        db.session.flush()
        db.session.add(Call(call_sid=f"{BUSY_CALL_PREFIX}0", practice_id=first.id, from_number="+15550000000",
                            to_number=numbers[0], state="connected", agent_id=busy.id, answered_at=datetime.now(UTC)))
        db.session.commit()
        emails = [agent.email for agent in agents]
        db.session.remove()
        db.engine.dispose()
    app.redis.close()
    return {"numbers": numbers, "emails": emails}


def _after_run(env: dict[str, str]) -> dict:
    """The ledger and Redis after the run: calls by state, faults the app recorded, what is left queued."""
    from redis import Redis
    from sqlalchemy import create_engine, text

    engine = create_engine(env["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            states = dict(conn.execute(text("SELECT state, COUNT(*) FROM calls WHERE call_sid NOT LIKE :busy "
                                            "GROUP BY state"), {"busy": BUSY_CALL_PREFIX + "%"}).all())
            faults = {f"{kind} {path}": n for kind, path, n in conn.execute(text(
                "SELECT kind, path, COUNT(*) FROM security_events GROUP BY kind, path")).all()}
            callbacks = conn.execute(text("SELECT COUNT(*) FROM callback_tasks")).scalar_one()
    finally:
        engine.dispose()
    redis = Redis.from_url(env["REDIS_URL"])
    try:
        left = {"queue": redis.zcard("cc:queue"), "pending_statuses": redis.llen("cc:pending_status")}
    finally:
        redis.close()
    return {"calls_by_state": states, "faults": faults, "callback_tasks": callbacks, **left}


# --- The server --------------------------------------------------------------------------------------------------

def _proc_children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _proc_usage(pid: int) -> tuple[float, int] | None:
    """CPU seconds (user + system) and resident bytes of one process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return cpu, rss


class ServerWatch(threading.Thread):
    """Once a second: the server's CPU time and memory (master and workers), and the app's queue length;
    all along: the console pushes the server publishes on its Socket.IO channel, by event."""

    def __init__(self, pid: int, redis_url: str, channel: str):
        super().__init__(daemon=True)
        self.pid = pid
        self.redis_url = redis_url
        self.channel = channel
        self.samples: list[dict] = []
        self.halt = threading.Event()
        self.workers_seen: set[int] = set()
        self.cpu_of: dict[int, float] = {}  # last CPU seconds of every process seen, exited ones too
        self.published: dict[str, int] = {}
        self.published_bytes = 0
        self.listener = threading.Thread(target=self.listen, daemon=True)

    def listen(self) -> None:
        from redis import Redis

        redis = Redis.from_url(self.redis_url)
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self.channel)
        event = re.compile(rb'"event":\s*"([^"]+)"')
        try:
            while not self.halt.is_set():
                message = pubsub.get_message(timeout=0.5)
                if message is None or not isinstance(message.get("data"), bytes):
                    continue
                found = event.search(message["data"][:200])
                name = found.group(1).decode() if found else "other"
                self.published[name] = self.published.get(name, 0) + 1
                self.published_bytes += len(message["data"])
        finally:
            pubsub.close()
            redis.close()

    def start(self) -> None:
        self.listener.start()
        super().start()

    @staticmethod
    def machine_cpu() -> tuple[float, float]:
        """Busy and total CPU seconds of the whole machine, all cores (from /proc/stat)."""
        try:
            fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            return 0.0, 0.0
        ticks = os.sysconf("SC_CLK_TCK")
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return (sum(fields) - idle) / ticks, sum(fields) / ticks

    def sample(self, redis) -> dict:
        pids = [self.pid, *_proc_children(self.pid)]
        self.workers_seen.update(pids[1:])
        rss = 0
        for pid in pids:
            usage = _proc_usage(pid)
            if usage:
                self.cpu_of[pid] = usage[0]
                rss += usage[1]
        try:
            queued = int(redis.zcard("cc:queue"))
        except Exception:
            queued = None
        busy, total = self.machine_cpu()
        return {"at": time.time(), "cpu_s": sum(self.cpu_of.values()), "rss": rss, "queued": queued,
                "workers": len(pids) - 1, "machine_busy_s": busy, "machine_total_s": total}

    def run(self) -> None:
        from redis import Redis

        redis = Redis.from_url(self.redis_url, socket_timeout=2)
        try:
            while not self.halt.is_set():
                self.samples.append(self.sample(redis))
                self.halt.wait(1.0)
        finally:
            redis.close()

    def stop(self) -> None:
        self.halt.set()
        if self.is_alive():
            self.join(timeout=5)
        if self.listener.is_alive():
            self.listener.join(timeout=5)


def _log_findings(path: Path) -> dict:
    """What the server's log says went wrong: counts by kind and the first few distinct lines."""
    kinds = {"webhook_failed": "webhook ", "worker_timeout": "WORKER TIMEOUT", "worker_booted": "Booting worker",
             "traceback": "Traceback", "error": "[ERROR]", "console_push_failed": "console push"}
    counts = dict.fromkeys(kinds, 0)
    samples: list[str] = []
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        for kind, needle in kinds.items():
            if needle in line:
                counts[kind] += 1
        if any(w in line for w in ("Error", "ERROR", "failed", "TIMEOUT", "Exception")):
            text = re.sub(r"^\[[^\]]*\] \[\d+\] ", "", line.strip())[:200]
            if text not in samples and len(samples) < 8:
                samples.append(text)
    counts["worker_booted"] = max(0, counts["worker_booted"])
    return {"counts": counts, "samples": samples, "lines": len(lines)}


# --- The load ----------------------------------------------------------------------------------------------------

class Child:
    """A subprocess of the benchmark: its stderr lines go to `progress`, its stdout is its JSON result."""

    def __init__(self, command: list[str], env: dict[str, str], progress: Callable[[str], None]):
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, preexec_fn=_die_with_parent)
        self.stdout: list[str] = []
        self.stderr_tail: list[str] = []

        def pump_err():
            for line in self.process.stderr:
                line = line.rstrip()
                self.stderr_tail = (self.stderr_tail + [line])[-20:]
                progress(line)

        def pump_out():
            self.stdout.append(self.process.stdout.read())

        self.threads = [threading.Thread(target=pump_err, daemon=True), threading.Thread(target=pump_out, daemon=True)]
        for thread in self.threads:
            thread.start()

    def result(self, timeout: float) -> dict:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for thread in self.threads:
            thread.join(timeout=10)
        out = "".join(self.stdout).strip()
        if self.process.returncode != 0 or not out:
            raise RuntimeError(f"{self.process.args[2]} exited with {self.process.returncode}: "
                               + "\n".join(self.stderr_tail))
        return json.loads(out.splitlines()[-1])

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _environment(tmp: Path, redis_url: str, database: str | None, port: int, token: str, capacity: int,
                 workers: int | None, channel: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TWILIO_", "EMULATOR_", "DATABASE_URL", "WEB_CONCURRENCY", "QUEUE_CAPACITY",
                                "SOCKETIO_"))}
    env.update(
        DATABASE_URL=database or f"sqlite:///{tmp / 'bench-hold.sqlite3'}",
        REDIS_URL=redis_url,
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=token,
        TWILIO_API_BASE=f"http://127.0.0.1:{free_port()}",  # nothing listens: no request leaves the machine
        SECRET_KEY=secrets.token_hex(16),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        QUEUE_CAPACITY=str(capacity),  # callers waiting at once, all practices together
        # Redis pub/sub channels are shared by every database of a server: pushes on a channel of the run's
        # own reach only this server's consoles, and the watch counts them.
        SOCKETIO_CHANNEL=channel,
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    if workers:
        env["WEB_CONCURRENCY"] = str(workers)
    return env


def _windows(samples: list[dict], t0: float) -> list[dict]:
    """The server's samples per 10 s window (relative to t0): CPU use, memory, the app's queue length."""
    out: dict[int, dict] = {}
    previous = None
    for s in samples:
        if s["at"] < t0:
            previous = s
            continue
        w = int((s["at"] - t0) // WINDOW)
        entry = out.setdefault(w, {"t": (w + 1) * WINDOW, "cpu_s": 0.0, "seconds": 0.0, "rss_mb": 0.0, "queued": 0,
                                   "busy": 0.0, "total": 0.0})
        if previous is not None:
            entry["cpu_s"] += s["cpu_s"] - previous["cpu_s"]
            entry["seconds"] += s["at"] - previous["at"]
            entry["busy"] += s["machine_busy_s"] - previous["machine_busy_s"]
            entry["total"] += s["machine_total_s"] - previous["machine_total_s"]
        entry["rss_mb"] = max(entry["rss_mb"], s["rss"] / 2**20)
        entry["queued"] = max(entry["queued"], s["queued"] or 0)
        previous = s
    return [{"t": e["t"], "cpu_percent": 100 * e["cpu_s"] / e["seconds"] if e["seconds"] else None,
             "machine_busy_percent": 100 * e["busy"] / e["total"] if e["total"] else None,
             "rss_mb": e["rss_mb"], "queued": e["queued"]} for _, e in sorted(out.items())]


def _period(value) -> tuple[float, float]:
    """(min, max) seconds from a pair, a "min,max" string (`--hold-arg wait_period=30,60`) or one number."""
    if isinstance(value, str):
        value = [float(part) for part in value.replace("-", ",").split(",") if part.strip()]
    if isinstance(value, int | float):
        value = (value, value)
    low, high = (float(v) for v in value)
    if not 0 <= low <= high:
        raise ValueError(f"a period is MIN <= MAX seconds, got {value!r}")
    return low, high


def run(redis_url: str, callers: int = 1000, rate: float = 20.0, consoles: int = 100, hold_seconds: float = 120.0,
        database: str | None = None, progress: Callable[[str], None] = print, *, practices: int = 4,
        wait_period: tuple[float, float] = (30.0, 60.0), menu_delay: tuple[float, float] = (3.0, 8.0),
        snapshot_every: float = 15.0, consoles_per_user: int = 100, drain_rate: float = 100.0,
        churn: bool = True, workers: int | None = None, connections: int = 0, seed: int = 1,
        server_log: Path | None = None) -> dict:
    """Hold `callers` at once (arriving `rate` a second) with `consoles` agents' consoles open; return the figures.

    Redis at `redis_url` is flushed before and after. `database`: a PostgreSQL URL for a database of the
    benchmark's own (created if missing, emptied), else a SQLite file in a temporary folder.
    `wait_period`: seconds between a caller's waitUrl requests (Twilio: when the hold TwiML ends).
    `wait_period` and `menu_delay` also take "MIN,MAX" strings.
    `connections`: the callers' most open connections (0: no limit, as Twilio). `server_log`: keep gunicorn's
    log there.
    """
    from redis import Redis

    if callers < 1 or rate <= 0 or drain_rate <= 0 or consoles < 0 or not 1 <= practices <= len(PRACTICE_NUMBERS):
        raise ValueError(f"callers >= 1, rate > 0, drain_rate > 0, consoles >= 0, 1 <= practices <= "
                         f"{len(PRACTICE_NUMBERS)}")
    wait_period, menu_delay = _period(wait_period), _period(menu_delay)
    if isinstance(churn, str):
        churn = churn.lower() not in ("0", "false", "no", "off")
    started = time.time()
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench-hold-"))
    port = free_port()
    token = secrets.token_hex(16)
    capacity = max(callers * 2, 1000)
    channel = f"bench-hold-{secrets.token_hex(6)}"
    env = _environment(tmp, redis_url, database, port, token, capacity, workers, channel)
    users = max(1, -(-consoles // consoles_per_user))
    redis = Redis.from_url(redis_url)
    server = consoles_proc = callers_proc = watch = None
    kind = "postgresql" if database else "sqlite"
    try:
        redis.flushdb()
        if database:
            _prepare_postgres(database)
        progress(f"hold: {callers:,} callers at {rate:g}/s, {consoles:,} consoles, {kind}; migrating")
        subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT, env=env,
                       check=True, capture_output=True, timeout=300)
        max_wait = int(callers / rate * 3 + hold_seconds + 3600)
        seeded = _seed(env, practices, users, max_wait)
        server = WebProcess("server", env, app_spec=APP_SPEC, port=port, log_dir=tmp, workers=None, log_level=None,
                            preexec_fn=_die_with_parent)
        server.wait_ready()
        watch = ServerWatch(server.process.pid, redis_url, channel)
        watch.start()
        progress(f"hold: gunicorn (gunicorn.conf.py) on {server.url}, pid {server.process.pid}; "
                 f"{consoles:,} consoles logging in as {users} agent(s)")

        load_env = {**env, "PYTHONPATH": str(ROOT)}
        ready = tmp / "consoles.ready"
        consoles_result = None
        if consoles:
            consoles_proc = Child([sys.executable, "-m", "bench.consoles", "--url", server.url,
                                   "--users", ",".join(seeded["emails"]), "--password", PASSWORD,
                                   "--consoles", str(consoles), "--snapshot-every", str(snapshot_every),
                                   "--ready-file", str(ready),
                                   "--max-seconds", str(callers / rate * 3 + hold_seconds + 1200)], load_env, progress)
            deadline = time.monotonic() + 120 + consoles * 0.5
            while not ready.exists() and time.monotonic() < deadline and consoles_proc.process.poll() is None:
                time.sleep(0.2)
            if not ready.exists():
                raise RuntimeError("the consoles did not connect in time: " + "\n".join(consoles_proc.stderr_tail))

        t0 = time.time()
        command = [sys.executable, "-m", "bench.holdgen", "--url", server.url, "--token", token,
                   "--account-sid", ACCOUNT_SID, "--callers", str(callers), "--rate", str(rate),
                   "--hold-seconds", str(hold_seconds), "--wait-period", *map(str, wait_period),
                   "--menu-delay", *map(str, menu_delay), "--drain-rate", str(drain_rate),
                   "--connections", str(connections), "--t0", repr(t0), "--seed", str(seed)]
        for number in seeded["numbers"]:
            command += ["--to", number]
        if not churn:
            command.append("--no-churn")
        callers_proc = Child(command, load_env, progress)
        budget = 2.5 * callers / rate + hold_seconds + 2 * callers / drain_rate + 300
        load = callers_proc.result(timeout=budget)
        if consoles_proc is not None:
            consoles_proc.process.send_signal(signal.SIGTERM)
            consoles_result = consoles_proc.result(timeout=120)
        watch.stop()
        after = _after_run(env)
    finally:
        for child in (callers_proc, consoles_proc):
            if child is not None:
                child.kill()
        if watch is not None:
            watch.stop()
        if server is not None:
            server.stop()
        redis.flushdb()
        redis.close()
        findings = _log_findings(tmp / "server.log")
        if server_log is not None and (tmp / "server.log").exists():
            shutil.copyfile(tmp / "server.log", server_log)
        shutil.rmtree(tmp, ignore_errors=True)
    setup = {"callers": callers, "rate": rate, "consoles": consoles, "hold_seconds": hold_seconds,
             "wait_period": wait_period, "menu_delay": menu_delay, "snapshot_every": snapshot_every,
             "practices": practices, "users": users, "kind": kind, "capacity": capacity, "started": started,
             "machine_load": {"before": load_before, "after": os.getloadavg(), "cpus": os.cpu_count()}}
    return _figures(setup, load, consoles_result, watch, t0, after, findings)


def _figures(v: dict, load: dict, consoles: dict | None, watch: ServerWatch, t0: float, after: dict,
             findings: dict) -> dict:
    """Everything `run` measured, in one dict (see `section` for what a reader relies on)."""
    samples = [s for s in watch.samples if s["at"] >= t0]
    first = next((s for s in watch.samples if s["at"] >= t0), None)
    last = watch.samples[-1] if watch.samples else None
    server_cpu = (last["cpu_s"] - first["cpu_s"]) if first and last else None
    seconds = (last["at"] - first["at"]) if first and last else None
    machine = ((last["machine_busy_s"] - first["machine_busy_s"]) / (last["machine_total_s"] - first["machine_total_s"])
               if first and last and last["machine_total_s"] > first["machine_total_s"] else None)
    series = load["series"]
    server_windows = {round(w["t"]): w for w in _windows(watch.samples, t0)}
    console_windows = {}
    if consoles:
        for w in consoles["series"]:
            t = (w["t_epoch"] - t0)
            console_windows[round(WINDOW * -(-t // WINDOW))] = w
    for point in series:
        server_point = server_windows.get(round(point["t"]), {})
        point["server_cpu_percent"] = server_point.get("cpu_percent")
        point["server_rss_mb"] = server_point.get("rss_mb")
        # The whole machine's CPU use (all cores, 100 = every core busy): the server can only use what is left.
        point["machine_busy_percent"] = server_point.get("machine_busy_percent")
        point["app_queued"] = server_point.get("queued")
        console_point = console_windows.get(round(point["t"]), {})
        point["consoles_connected"] = console_point.get("connected")
        point["queue_pushes"] = console_point.get("queue_pushes")
        point["push_delay_p99_ms"] = console_point.get("push_delay_p99_ms")
    paths = load["paths"]
    worst_p99 = max((p["p99_ms"] for p in paths.values() if p["p99_ms"] is not None), default=None)
    worst_max = max((p["max_ms"] for p in paths.values() if p["max_ms"] is not None), default=None)
    errors = sum(p["errors"] for p in paths.values())
    steady = load["by_phase"]["hold"]
    steady_p99 = max((p["p99_ms"] for p in steady.values() if p["p99_ms"] is not None), default=None)
    return {
        "callers": v["callers"],
        "rate": v["rate"],
        "consoles": v["consoles"],
        "hold_seconds": v["hold_seconds"],
        "wait_period": list(v["wait_period"]),
        "menu_delay": list(v["menu_delay"]),
        "snapshot_every": v["snapshot_every"],
        "practices": v["practices"],
        "agents": v["users"],
        "database": v["kind"],
        "workers": max(1, len(watch.workers_seen)) if watch else None,
        "queue_capacity": v["capacity"],
        "seconds": time.time() - v["started"],
        "machine_load": v["machine_load"],  # load averages (1, 5, 15 min) before and after: others share it
        "machine_busy_percent": 100 * machine if machine is not None else None,  # all cores, during the load
        "phases": load["phases"],
        "load": {k: load[k] for k in ("callers", "requests", "hold_requests_per_s", "client")},
        "paths": paths,
        "steady": steady,  # the webhooks' figures while the target number held (ramp and drain excluded)
        "by_phase": load["by_phase"],
        "errors": errors,
        "worst_p99_ms": worst_p99,
        "worst_steady_p99_ms": steady_p99,
        "worst_max_ms": worst_max,
        "goal": {"p99_under_200ms": worst_p99 is not None and worst_p99 < GOAL_P99_MS,
                 "steady_p99_under_200ms": steady_p99 is not None and steady_p99 < GOAL_P99_MS,
                 "none_over_15s": worst_max is not None and worst_max < TWILIO_TIMEOUT_MS and not any(
                     p["over_15s"] for p in paths.values())},
        "consoles_figures": {k: val for k, val in (consoles or {}).items() if k != "series"} or None,
        # Of the queue pushes the server published, the share each console received (1.0: none lost).
        "queue_pushes_delivered": (
            consoles["events"].get("queue", 0) / (watch.published["queue"] * consoles["consoles"])
            if consoles and consoles["consoles"] and watch.published.get("queue") else None),
        "server": {"cpu_s": server_cpu, "cpu_percent": 100 * server_cpu / seconds if server_cpu and seconds else None,
                   "rss_mb_max": max((s["rss"] for s in samples), default=0) / 2**20,
                   "rss_mb_end": (last["rss"] / 2**20) if last else None,
                   "app_queue_max": max((s["queued"] or 0 for s in samples), default=0),
                   "pushes_published": dict(watch.published), "pushes_published_mb": watch.published_bytes / 2**20,
                   "log": findings},
        "after": after,
        "series": series,
        "holding": load["holding"],
    }


# --- The report ----------------------------------------------------------------------------------------------------

def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def _size(r: dict) -> str:
    return f"{r['callers']:,} holding, {r['consoles']:,} consoles"


def _as_list(results: dict | list[dict]) -> list[dict]:
    return [results] if isinstance(results, dict) else list(results)


def summary(results: dict | list[dict]) -> list[tuple[str, str, str, str]]:
    """(figure, measured, baseline, ratio) rows: each size's worst webhook p99 against the 200 ms goal."""
    rows = []
    for r in _as_list(results):
        for label, value in (("while the number held", r["worst_steady_p99_ms"]), ("whole run", r["worst_p99_ms"])):
            if value is None:
                continue
            met = "goal met" if value < GOAL_P99_MS else "goal NOT met"
            rows.append((f"worst webhook p99 ms, {_size(r)}, {label} (baseline: the {GOAL_P99_MS:.0f} ms goal)",
                         _ms(value), f"{GOAL_P99_MS:.0f}", f"**{value / GOAL_P99_MS:.2f}** ({met})"))
    return rows


def section(results: dict | list[dict]) -> str:
    """The hold benchmark's part of docs/benchmarks.md: one table across the sizes tried (one result or a
    list of them), then per webhook."""
    results = _as_list(results)
    if not results:
        return ""
    r0 = results[0]
    lines = [
        "## Callers on hold, agents online",
        "",
        f"Callers as Twilio plays them (`bench/holdgen.py`: asyncio, one process) against the app under gunicorn "
        f"as the Procfile runs it (`gunicorn.conf.py`, gevent; {r0['database']}, Redis), on this machine with the "
        f"load generators on it too. {r0['practices']} practices open around the clock, the agents all busy (one "
        f"on a long call, the consoles' away). Each caller: `/ivr/voice`, the menu "
        f"{r0['menu_delay'][0]:g}–{r0['menu_delay'][1]:g} s later "
        f"(2: leave a message, queued), then the waitUrl (`/ivr/wait`) every "
        f"{r0['wait_period'][0]:g}–{r0['wait_period'][1]:g} s; "
        f"arrivals {r0['rate']:g}/s until the number holds, then a hold of {r0['hold_seconds']:g} s in which "
        "arrivals go on and the longest holder hangs up for each one queued, then everyone hangs up "
        "(`/ivr/queue-exit`, `/ivr/status`). The consoles (`bench/consoles.py`, one process) stay connected by "
        f"websocket and ask for a snapshot every {r0['snapshot_every']:g} s, as the page does.",
        "",
        "| size | holding (max) | not queued or failed | webhooks | errors | app's safe fallbacks "
        "| p99 ms, steady hold | p99 ms, whole run | max ms "
        "| consoles kept | queue pushes per console | push delay p99 ms | server CPU | machine busy | server RSS MB "
        "| run s |",
        "| --- |" + " ---: |" * 15,
    ]
    for r in results:
        c = r["load"]["callers"]
        cf = r["consoles_figures"] or {}
        delay = (cf.get("push_delay") or {}).get("p99_ms")
        lines.append(
            f"| {_size(r)} | {c['max_holding']:,} | {c['not_queued'] + c['failed']:,} | {r['load']['requests']:,} "
            f"| {r['errors']:,} | {sum(r['after']['faults'].values()):,} "
            f"| {_ms(r['worst_steady_p99_ms'])} | {_ms(r['worst_p99_ms'])} "
            f"| {_ms(r['worst_max_ms'])} "
            f"| {cf.get('kept', 0):,}/{r['consoles']:,} | {cf.get('queue_pushes_per_console', 0):,.0f} | {_ms(delay)} "
            f"| {_ms(r['server']['cpu_percent'])}% | {_ms(r['machine_busy_percent'])}% "
            f"| {r['server']['rss_mb_max']:,.0f} | {r['seconds']:,.0f} |")
    lines += [
        "",
        "Per webhook (p50 / p99 / max ms over the whole run; the p99 while the number held in brackets):",
        "",
        "| size | " + " | ".join(f"`{p}`" for p in PATHS) + " |",
        "| --- |" + " ---: |" * len(PATHS),
    ]
    for r in results:
        cells = []
        for p in PATHS:
            f, s = r["paths"][p], r["steady"][p]
            cells.append(f"{_ms(f['p50_ms'])} / {_ms(f['p99_ms'])} / {_ms(f['max_ms'])} ({_ms(s['p99_ms'])}) "
                         f"n={f['count']:,}" + (f", **{f['errors']:,} errors**" if f["errors"] else ""))
        lines.append(f"| {_size(r)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"- Goal: every webhook's p99 under {GOAL_P99_MS:.0f} ms and none over Twilio's 15 s. "
        + "; ".join(f"{_size(r)}: p99 {'met' if r['goal']['p99_under_200ms'] else 'NOT met'}, "
                    f"{'none' if r['goal']['none_over_15s'] else 'SOME'} over 15 s" for r in results) + ".",
        "- Not queued or failed: callers the menu sent elsewhere (voicemail: no agent, a full queue) or whose "
        "first webhooks failed. Errors: answers other than 200 text/xml (204 for status callbacks), timeouts, "
        "refused connections. The app's safe fallbacks: webhooks that failed inside the app and answered its safe "
        "TwiML (status 200, so not errors above), from its `security_events`.",
        "- Latency is the generator's, from sending a request to reading the whole answer, "
        + (f"with at most {r0['load']['client']['connection_limit']:,} connections open"
           if r0["load"]["client"]["connection_limit"] else "a connection per request in flight, as Twilio")
        + "; the generators' own CPU time and event-loop lag are in the figures (`load.client`, "
        "`consoles_figures.client`): when their loop lags, so do the figures. The machine's load average is "
        "in `machine_load`: other work on it slows the server too.",
        "- Server CPU: the gunicorn processes' CPU time over the run's wall time (100% = one core). Machine busy: "
        f"all {os.cpu_count()} cores together (100% = every core busy), the load generators and anything else "
        "running included; when it is near 100%, the server waited for a CPU.",
        "- Consoles kept: connected at the start and the end without a drop. Push delay: from the time the server "
        "built a `queue` push to its arrival at a console.",
        "",
    ]
    return "\n".join(lines)


def chart(results: dict | list[dict], path: Path) -> bool:
    """Holding callers and each webhook's p99 over time, one row per size (one result or a list of them);
    False without matplotlib."""
    results = _as_list(results)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    if not results:
        return False
    fig, axes = plt.subplots(len(results), 1, figsize=(10, 3.4 * len(results)), squeeze=False)
    colours = {"/ivr/voice": "#1f77b4", "/ivr/menu": "#ff7f0e", "/ivr/wait": "#2ca02c",
               "/ivr/queue-exit": "#9467bd", "/ivr/status": "#8c564b"}
    for ax, r in zip(axes[:, 0], results, strict=True):
        holding = r["holding"]
        ax.fill_between([t for t, _ in holding], [n for _, n in holding], color="#d9e6f2", label="callers holding")
        ax.set_ylabel("callers holding")
        ax.set_ylim(0, max([n for _, n in holding] + [1]) * 1.15)
        ax.set_xlabel("seconds")
        right = ax.twinx()
        for p in PATHS:
            points = [(s["t"], s["p99_ms"][p]) for s in r["series"] if s["p99_ms"].get(p) is not None]
            if points:
                right.plot(*zip(*points, strict=True), marker=".", linewidth=1.2, color=colours[p],
                           label=f"{p} p99")
        right.axhline(GOAL_P99_MS, color="#c0504d", linestyle="--", linewidth=1, label="200 ms goal")
        right.set_yscale("log")
        right.set_ylabel("p99 per 10 s, ms (log)")
        for key in ("full_at", "hold_end"):
            if r["phases"].get(key):
                ax.axvline(r["phases"][key], color="grey", linestyle=":", linewidth=1)
        ax.set_title(f"{_size(r)}: {r['database']}, {r['rate']:g} new callers/s, waitUrl every "
                     f"{r['wait_period'][0]:g}-{r['wait_period'][1]:g} s")
        handles = ax.get_legend_handles_labels()
        more = right.get_legend_handles_labels()
        right.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left", fontsize=7, ncols=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


# --- Command line --------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hold", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-url", required=True, help="Redis to use; its database is FLUSHED before and after")
    parser.add_argument("--callers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="new callers a second")
    parser.add_argument("--consoles", type=int, default=100)
    parser.add_argument("--hold-seconds", type=float, default=120.0)
    parser.add_argument("--database", help="postgresql://... of a database of the benchmark's own (default: SQLite)")
    parser.add_argument("--wait-period", type=float, nargs=2, default=(30.0, 60.0), metavar=("MIN", "MAX"),
                        help="seconds between a caller's waitUrl requests (shorten only to develop)")
    parser.add_argument("--menu-delay", type=float, nargs=2, default=(3.0, 8.0), metavar=("MIN", "MAX"))
    parser.add_argument("--snapshot-every", type=float, default=15.0, help="the page asks every 15 s; 0: never")
    parser.add_argument("--practices", type=int, default=4)
    parser.add_argument("--drain-rate", type=float, default=100.0, help="hang-ups a second at the end")
    parser.add_argument("--no-churn", dest="churn", action="store_false")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: gunicorn.conf.py's)")
    parser.add_argument("--connections", type=int, default=0, help="the callers' most open connections (0: no limit)")
    parser.add_argument("--server-log", type=Path, help="keep gunicorn's log here")
    parser.add_argument("--chart", type=Path, help="write the chart here (PNG)")
    parser.add_argument("--markdown", action="store_true", help="print the markdown section after the JSON")
    args = parser.parse_args(argv)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    # Stopped (timeout, kill): unwind, so that the server and the load stop and Redis and the folder are cleaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    result = run(args.redis_url, callers=args.callers, rate=args.rate, consoles=args.consoles,
                 hold_seconds=args.hold_seconds, database=args.database, progress=progress,
                 practices=args.practices, wait_period=tuple(args.wait_period), menu_delay=tuple(args.menu_delay),
                 snapshot_every=args.snapshot_every, drain_rate=args.drain_rate, churn=args.churn,
                 workers=args.workers, connections=args.connections, server_log=args.server_log)
    print(json.dumps(result))
    if args.chart:
        chart([result], args.chart)
    if args.markdown:
        print(section([result]))


if __name__ == "__main__":
    main()
