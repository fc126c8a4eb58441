"""Configuration read from the environment.

Every setting has a default that works on one machine: secrets not given are generated once and kept in
the instance folder, no Twilio credentials means the built-in emulator, no DATABASE_URL means a SQLite
file in the instance folder, and no REDIS_URL means the Redis `make run` started (or a local one).
"""

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from .queue import DEFAULT_CAPACITY

# The emulator's account: fixed, and only ever used when no real credentials are configured.
EMULATOR_ACCOUNT_SID = "AC" + "e" * 32
# Where the launcher (`make run`) writes its embedded Redis's URL, in the instance folder.
REDIS_URL_FILE = "redis.url"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _instance_secret(instance_path: str, name: str) -> str:
    """Return a secret kept in the instance folder, generating it on first use."""
    path = Path(instance_path) / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    path.write_text(value)
    path.chmod(0o600)
    return value


def redis_url(env: Mapping[str, str], instance_path: str) -> str:
    """REDIS_URL if set, else the URL of the Redis the launcher started for this instance, else a local one."""
    if env.get("REDIS_URL"):
        return env["REDIS_URL"]
    marker = Path(instance_path) / REDIS_URL_FILE
    if marker.exists():
        url = marker.read_text().strip()
        if url:
            return url
    return DEFAULT_REDIS_URL


def is_emulated(env: Mapping[str, str]) -> bool:
    """No Twilio credentials: the built-in emulator stands in for Twilio."""
    return not (env.get("TWILIO_ACCOUNT_SID") and env.get("TWILIO_AUTH_TOKEN"))


def public_base_url(env: Mapping[str, str]) -> str | None:
    return (env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def from_environment(instance_path: str) -> dict:
    """Build the app's settings from environment variables, with the defaults above."""
    env = os.environ
    database_url = env.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'answering.sqlite3'}"
    if database_url.startswith("postgres://"):  # Heroku-style URLs
        database_url = "postgresql://" + database_url[len("postgres://"):]
    account_sid = env.get("TWILIO_ACCOUNT_SID") or ""
    auth_token = env.get("TWILIO_AUTH_TOKEN") or ""
    emulated = is_emulated(env)
    if emulated:
        account_sid = EMULATOR_ACCOUNT_SID
        auth_token = env.get("EMULATOR_AUTH_TOKEN") or _instance_secret(instance_path, "emulator_token")
    return {
        "SECRET_KEY": env.get("SECRET_KEY") or _instance_secret(instance_path, "secret_key"),
        # Keys the audit's hash chain (callcenter/audit.py). Kept apart from SECRET_KEY, which may be changed
        # to sign everyone out, and from the database: whoever can write rows must not be able to re-chain them.
        "AUDIT_KEY": env.get("AUDIT_KEY") or _instance_secret(instance_path, "audit_key"),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url(env, instance_path),
        "PUBLIC_BASE_URL": public_base_url(env),
        # Socket.IO's pub/sub channel on Redis; unset: named after the Redis database (see app.py).
        "SOCKETIO_CHANNEL": env.get("SOCKETIO_CHANNEL") or None,
        # Callers waiting at once across all practices; a practice may hold fewer (practice configure).
        "QUEUE_CAPACITY": int(env.get("QUEUE_CAPACITY") or DEFAULT_CAPACITY),
        # How long an offered call rings an agent's console before it moves on to the next agent.
        "OFFER_RING_SECONDS": int(env.get("OFFER_RING_SECONDS") or 15),
        # A console silent this long (tab closed, laptop asleep, network gone) is offline: its agent away.
        "AGENT_OFFLINE_AFTER": float(env.get("AGENT_OFFLINE_AFTER") or 30),
        # After-call work: seconds an agent has to wrap up after the caller is gone, then a supervisor is told.
        "AFTER_CALL_WORK_LIMIT": int(env.get("AFTER_CALL_WORK_LIMIT") or 120),
        # An on-call page nobody acknowledged: seconds until the clinician is called down, then until the
        # supervisors must handle it (callcenter/escalation.py).
        "PAGE_CALL_DOWN_AFTER": int(env.get("PAGE_CALL_DOWN_AFTER") or 300),
        "PAGE_SUPERVISOR_AFTER": int(env.get("PAGE_SUPERVISOR_AFTER") or 300),
        # ... and, when the shift has a backup, from the call-down until the backup is paged (the supervisors
        # then come PAGE_SUPERVISOR_AFTER after that).
        "PAGE_BACKUP_AFTER": int(env.get("PAGE_BACKUP_AFTER") or 300),
        # Outgoing mail for the practices' daily digests (callcenter/digests.py); unset: only in the portal.
        "SMTP_URL": env.get("SMTP_URL") or None,
        "SMTP_FROM": env.get("SMTP_FROM") or "answering-service@localhost",
        # Practices' own systems told of messages (callcenter/outbound.py) may be at private addresses (and
        # plain http): only for the local demo (the emulator) or when set, never by default on a real account,
        # where a practice's setting must not reach the service's own Redis or database.
        "WEBHOOKS_ALLOW_PRIVATE": _flag(env.get("WEBHOOKS_ALLOW_PRIVATE")) if env.get("WEBHOOKS_ALLOW_PRIVATE")
        else emulated,
        # Where a web process keeps webhooks it could neither apply nor hand to Redis (callcenter/kept.py):
        # a local disk that outlives the process. The worker on the same machine forwards it too.
        "SPOOL_DIR": env.get("SPOOL_DIR") or str(Path(instance_path) / "spool"),
        # Agents' browser audio (Twilio Voice SDK): unset, agents use the emulator's device or their phone.
        "TWILIO_API_KEY": env.get("TWILIO_API_KEY") or "",
        "TWILIO_API_SECRET": env.get("TWILIO_API_SECRET") or "",
        "TWILIO_TWIML_APP_SID": env.get("TWILIO_TWIML_APP_SID") or "",
        "TWILIO_ACCOUNT_SID": account_sid,
        "TWILIO_AUTH_TOKEN": auth_token,
        "TWILIO_EMULATED": emulated,
        "TWILIO_API_BASE": (env.get("TWILIO_API_BASE") or "https://api.twilio.com").rstrip("/"),
        # How many reverse proxies in front of us may be trusted for X-Forwarded-* headers.
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES", "1")),
        "HOST": env.get("HOST", "127.0.0.1"),
        "PORT": int(env.get("PORT", "5000")),
        "EMULATOR_URL": (env.get("EMULATOR_URL") or "").rstrip("/") or None,
    }


def production_problems(config: dict) -> list[str]:
    """What stops the web process from serving a real Twilio account safely; nothing for the emulator.

    Without PUBLIC_BASE_URL, webhook signatures are checked against the address the request names
    (through the trusted proxies' X-Forwarded-Host), so a request signed for an attacker's address,
    sent with that host, would pass: fine for the local demo, never for real patients' calls."""
    if config.get("TWILIO_EMULATED"):
        return []
    public = config.get("PUBLIC_BASE_URL")
    if not public:
        return ["PUBLIC_BASE_URL is not set: with a real Twilio account, set it to the https address Twilio calls "
                "(for example https://answering.example.com), so that webhook signatures are checked against it."]
    host = urlsplit(public).hostname or ""
    if not public.startswith("https://") and host not in ("127.0.0.1", "localhost", "::1"):
        return [f"PUBLIC_BASE_URL must be https with a real Twilio account: {public}"]
    return []
