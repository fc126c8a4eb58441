"""`make run`: the whole service on one machine, kept up, and stopped cleanly with Ctrl-C.

Starts, as needed: an embedded Redis (when REDIS_URL is unset; the only place one is started), the
Twilio emulator (when no Twilio credentials are set), then migrates, loads the demo, and runs the web
app and an RQ worker. A process that dies is started again after a pause that doubles with each quick
death (1 s up to 30 s; back to 1 s once it has run a minute), and the launcher says so.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"
log = logging.getLogger("launcher")
FIRST_PAUSE, LONGEST_PAUSE = 1.0, 30.0
HEALTHY_AFTER = 60.0  # a process that ran this long before dying is restarted after the first pause again


class Child:
    """One supervised process: started again, with backoff, whenever it dies."""

    def __init__(self, name: str, argv: list[str], **popen):
        self.name, self.argv, self.popen = name, argv, popen
        self.proc: subprocess.Popen | None = None
        self.started = 0.0
        self.pause = FIRST_PAUSE
        self.restart_at: float | None = None
        self.restarts = 0

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, **self.popen)
        self.started = time.monotonic()
        self.restart_at = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def look_after(self) -> None:
        """Called twice a second: notice a death, and restart when its pause is over."""
        now = time.monotonic()
        if self.restart_at is None and self.proc is not None and self.proc.poll() is not None:
            if now - self.started >= HEALTHY_AFTER:
                self.pause = FIRST_PAUSE
            log.error("%s stopped unexpectedly (exit status %s); starting it again in %.0f s",
                      self.name, self.proc.returncode, self.pause)
            self.restart_at = now + self.pause
            self.pause = min(self.pause * 2, LONGEST_PAUSE)
        elif self.restart_at is not None and now >= self.restart_at:
            self.restarts += 1
            log.warning("starting %s again (restart %d)", self.name, self.restarts)
            self.start()


def _flask(*args: str, env: dict) -> None:
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env, check=True)


def _wait_for(url: str, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.2)
    return False


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    from callcenter.config import EMULATOR_ACCOUNT_SID, _instance_secret

    INSTANCE.mkdir(exist_ok=True)
    env = dict(os.environ)
    host, port = env.get("HOST", "127.0.0.1"), int(env.get("PORT", "5000"))
    emulator_port = int(env.get("EMULATOR_PORT", str(port + 1)))
    app_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    children: list[Child] = []
    redis_handle = None

    if not env.get("REDIS_URL"):
        from ops.embedded_redis import start_embedded_redis

        env["REDIS_URL"], redis_handle = start_embedded_redis(str(INSTANCE), log)
    emulated = not (env.get("TWILIO_ACCOUNT_SID") and env.get("TWILIO_AUTH_TOKEN"))
    if emulated:
        token = _instance_secret(str(INSTANCE), "emulator_token")
        env["EMULATOR_AUTH_TOKEN"] = token
        env.setdefault("TWILIO_API_BASE", f"http://127.0.0.1:{emulator_port}")

    def stop(*_):
        for child in reversed(children):
            if child.alive():
                log.info("stopping %s", child.name)
                child.proc.terminate()
        for child in children:
            if child.proc is None:
                continue
            try:
                child.proc.wait(10)
            except subprocess.TimeoutExpired:
                child.proc.kill()
        if redis_handle is not None:
            redis_handle.stop()

    signal.signal(signal.SIGTERM, _interrupt)
    try:
        log.info("migrating the database")
        _flask("db", "upgrade", env=env)
        log.info("loading the demo data")
        _flask("demo", env=env)
        if emulated:
            children.append(Child("emulator",
                [sys.executable, "-m", "emulator", "--host", "127.0.0.1", "--port", str(emulator_port),
                 # Its auth token comes in EMULATOR_AUTH_TOKEN, never on the command line (process listings).
                 "--account-sid", EMULATOR_ACCOUNT_SID,
                 "--voice-url", f"{app_url}/ivr/voice", "--status-url", f"{app_url}/ivr/status",
                 "--sms-url", f"{app_url}/sms/inbound", "--numbers", "+14155550101,+16175550102"],
                cwd=ROOT, env=env))
        children.append(Child("web",
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--bind", f"{host}:{port}",
             "app:create_app()"], cwd=ROOT, env=env,
            # Its own session: Ctrl-C is not delivered to gevent's workers mid-request (gunicorn would
            # quit them at once); the launcher's SIGTERM below shuts them down gracefully.
            start_new_session=True))
        children.append(Child("worker", [sys.executable, "-m", "flask", "--app", "app", "worker"], cwd=ROOT, env=env))
        for child in children:
            child.start()
        if not _wait_for(f"{app_url}/healthz"):
            log.error("the web app did not come up; see the messages above")
            return 1
        if emulated and not _wait_for(f"http://127.0.0.1:{emulator_port}/"):
            log.error("the Twilio emulator did not come up; see the messages above")
            return 1
        print(_banner(app_url, emulator_port if emulated else None), flush=True)
        while True:
            for child in children:
                child.look_after()
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        stop()


def _interrupt(*_):
    raise KeyboardInterrupt


def _banner(app_url: str, emulator_port: int | None) -> str:
    lines = [
        "",
        "=" * 72,
        "  The answering service is running.",
        f"  Agent console:   {app_url}/console/   (alice@demo.test / demo-password)",
        f"  Practice portal: {app_url}/portal/    (staff1@demo.test / demo-password)",
    ]
    if emulator_port:
        lines += [
            f"  Softphone:       http://127.0.0.1:{emulator_port}/   (dial +14155550101 or +16175550102)",
            "  Twilio:          built-in emulator (no credentials set)",
        ]
    lines += ["  Stop everything with Ctrl-C.", "=" * 72, ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
