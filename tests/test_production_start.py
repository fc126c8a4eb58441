"""With a real Twilio account, the web process refuses to start without PUBLIC_BASE_URL: without it the
signature check would trust the forwarded host a request names, so a request signed for an attacker's
address could pass. The local demo (the emulator) starts as before."""

import os
import subprocess
import sys
from pathlib import Path

from callcenter.config import production_problems

ROOT = Path(__file__).resolve().parent.parent


def test_a_real_account_without_a_public_address_is_a_problem():
    real = {"TWILIO_EMULATED": False, "PUBLIC_BASE_URL": None}
    assert production_problems(real) == [
        "PUBLIC_BASE_URL is not set: with a real Twilio account, set it to the https address Twilio calls "
        "(for example https://answering.example.com), so that webhook signatures are checked against it."]
    assert production_problems({**real, "PUBLIC_BASE_URL": "http://answering.example.com"}) == [
        "PUBLIC_BASE_URL must be https with a real Twilio account: http://answering.example.com"]
    assert production_problems({**real, "PUBLIC_BASE_URL": "https://answering.example.com"}) == []
    assert production_problems({**real, "PUBLIC_BASE_URL": "http://127.0.0.1:5000"}) == []  # on this machine only
    assert production_problems({"TWILIO_EMULATED": True, "PUBLIC_BASE_URL": None}) == []


def test_gunicorn_refuses_to_start_and_says_why(tmp_path):
    env = {**os.environ, "TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "x" * 32,
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "PORT": "0", "HOST": "127.0.0.1"}
    env.pop("PUBLIC_BASE_URL", None)
    started = subprocess.run([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "app:create_app()"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert started.returncode != 0
    assert "PUBLIC_BASE_URL is not set" in started.stderr
