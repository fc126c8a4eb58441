"""An embedded Redis for machines where REDIS_URL is not configured; only the launcher starts one.

A `redis-server` child process when that program exists, otherwise an in-process stand-in
(fakeredis served over TCP). Either way the URL is written to the instance folder (`redis.url`),
where the configuration finds it, so that a `flask --app app ...` command run on its own while the
launcher runs uses the same Redis; stopping the embedded Redis removes the file again.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

from redis import Redis

from callcenter.config import REDIS_URL_FILE


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
    marker = Path(instance_path) / REDIS_URL_FILE

    def forget() -> None:
        """Remove the URL from the instance folder unless another Redis has written its own since."""
        try:
            if marker.read_text().strip() == url:
                marker.unlink()
        except FileNotFoundError:
            pass

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
                forget()
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
        logger.warning("embedded Redis: in-process stand-in (fakeredis) on %s; it serves the hold loop at about a "
                       "third of redis-server's speed: install redis-server for real Redis",
                       url)

        class _Fake:
            def stop(self):
                forget()
                tcp.shutdown()
                tcp.server_close()

        handle = _Fake()
    marker.write_text(url)
    return url, handle
