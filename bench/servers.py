"""Web processes for the benchmarks and the multi-process test: gunicorn as the Procfile runs it.

`gunicorn --config gunicorn.conf.py APP_SPEC` on a free port of 127.0.0.1, its output in a log file
(or the caller's own), ready once `/healthz` answers 200, and stopped with SIGTERM (then SIGKILL).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
APP_SPEC = "app:create_app()"


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebProcess:
    """One gunicorn master with the web process's settings (gevent workers)."""

    def __init__(self, name: str, env: dict[str, str], *, app_spec: str = APP_SPEC, port: int | None = None,
                 log_dir: Path | None = None, workers: int | None = 1, log_level: str | None = "warning",
                 preexec_fn: Callable[[], None] | None = None):
        self.name = name
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{name}.log" if log_dir is not None else None
        command = [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"),
                   "--bind", f"127.0.0.1:{self.port}"]
        if log_level:
            command += ["--log-level", log_level]
        env = {**env, "WEB_CONCURRENCY": str(workers)} if workers is not None else env
        # Signatures are checked against the public address; a process on its own is its own public address.
        env = {"PUBLIC_BASE_URL": self.url, **env}
        output = self.log_path.open("wb") if self.log_path is not None else None
        try:
            self.process = subprocess.Popen([*command, app_spec], cwd=ROOT, env=env, stdout=output,
                                            stderr=subprocess.STDOUT if output else None, preexec_fn=preexec_fn)
        finally:
            if output is not None:
                output.close()  # the child has its own copy

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Return once `/healthz` answers 200; raise RuntimeError (with the log's end) if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"web process {self.name} exited with {self.process.returncode}:\n{self.tail()}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"web process {self.name} did not answer /healthz in {timeout:.0f} s:\n{self.tail()}")

    def tail(self, chars: int = 2000) -> str:
        """The end of the process's log ("" when it logs to the caller's output)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)
