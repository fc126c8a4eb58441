"""An embedded Redis for machines where REDIS_URL is not configured.

A `redis-server` child process when that program exists, otherwise an in-process stand-in
(fakeredis served over TCP). Either way the URL is written to the instance folder so that the
web process, the worker and the CLI of one instance share it.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

from redis import Redis


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping())
    except Exception:
        return False


def start_embedded_redis(instance_path: str, logger) -> tuple[str, object]:
    """Start an embedded Redis; return its URL and a handle with `stop()`."""
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server = shutil.which("redis-server")
    if server:
        data_dir = Path(instance_path) / "redis"
        data_dir.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(data_dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # Its own session: Ctrl-C reaches the web and worker processes, which still need Redis to
            # shut down cleanly; the launcher stops Redis last.
            start_new_session=True,
        )
        for _ in range(100):
            if _answers(url):
                break
            time.sleep(0.05)
        logger.warning("embedded Redis: redis-server child process (pid %s) on %s", proc.pid, url)

        class _Proc:
            def stop(self):
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()

        handle = _Proc()
    else:
        from fakeredis import TcpFakeServer

        tcp = TcpFakeServer(("127.0.0.1", port), server_type="redis")
        thread = threading.Thread(target=tcp.serve_forever, daemon=True, name="embedded-redis")
        thread.start()
        logger.warning("embedded Redis: in-process stand-in (fakeredis) on %s; install redis-server for real Redis",
                       url)

        class _Fake:
            def stop(self):
                tcp.shutdown()
                tcp.server_close()

        handle = _Fake()
    (Path(instance_path) / "redis.url").write_text(url)
    return url, handle


def embedded_redis_url(instance_path: str, logger) -> str:
    """The instance's embedded Redis, reused if one answers, else started for this process."""
    marker = Path(instance_path) / "redis.url"
    if marker.exists():
        url = marker.read_text().strip()
        if _answers(url):
            return url
    url, handle = start_embedded_redis(instance_path, logger)
    atexit.register(handle.stop)
    return url
