"""The web process is told to stop (SIGTERM: a deploy, a scale-down, a dyno restart) while Twilio's
webhooks are in flight: each of them is still answered, with the real answer, and each call is in the
ledger afterwards. Webhooks are held in flight by a database lock shorter than the request budget."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from bench.servers import WebProcess
from callcenter.extensions import db
from callcenter.models import Call
from tests.support import ACCOUNT_SID, AUTH_TOKEN, TwilioSigner, database_locked, incoming

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
CALLERS = 12


class _Http:
    def __init__(self, base: str):
        self.base = base

    def post(self, path: str, data: dict, headers: dict):
        return requests.post(self.base + path, data=data, headers=headers, timeout=20)


def test_webhooks_in_flight_are_answered_when_the_web_process_is_stopped(app, world, database_url, redis_url,
                                                                        tmp_path):
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("TWILIO_", "EMULATOR_", "PUBLIC_BASE_URL", "WEB_"))}
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY="sigterm-secret",
               TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_API_BASE="http://127.0.0.1:9",
               PYTHONPATH=str(ROOT))
    web = WebProcess("web", env, log_dir=tmp_path)
    try:
        web.wait_ready(30)
        twilio = TwilioSigner(_Http(web.url), base=web.url)
        sids = [f"CA{n:032x}" for n in range(1, CALLERS + 1)]
        with database_locked(database_url, seconds=2.5), ThreadPoolExecutor(CALLERS) as pool:
            answers = [pool.submit(twilio.post, "/ivr/voice", incoming(sid=sid)) for sid in sids]
            time.sleep(0.8)  # the requests are in, each waiting for the database
            assert not any(answer.done() for answer in answers)
            os.kill(web.pid, signal.SIGTERM)
            stopped = threading.Event()
            threading.Thread(target=lambda: (web.process.wait(30), stopped.set()), daemon=True).start()
            results = [answer.result(timeout=30) for answer in answers]
        assert [r.status_code for r in results] == [200] * CALLERS
        assert all("Maple Street Family Medicine" in r.text for r in results), results[0].text[:300]
        assert stopped.wait(30) and web.process.returncode == 0, web.tail()
        with app.app_context():
            assert db.session.scalar(select(func.count(Call.id)).where(Call.call_sid.in_(sids))) == CALLERS
            db.session.remove()
    finally:
        web.stop()
