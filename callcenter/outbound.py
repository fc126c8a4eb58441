"""Outbound webhooks: a practice's own system is told when a message is taken, acknowledged, or its
acknowledgement undone.

An outbox: the delivery row is written in the same transaction as the change it tells of (a flush
listener, so no code path that takes or acknowledges a message can forget it), so a change committed is a
delivery owed whatever fails after. A thread of each worker sends it (woken by the commit, and every few
seconds anyway: ops/webhook_loop.py, apart from the queue of jobs patients wait on), signed with the
practice's secret, retried with backoff, and after the last attempt marked failed for the practice's
admin to see in the portal.

Events are thin (ids, urgency, kind, times and the message's address in the practice API): the practice's
system reads the message itself with its API key, so no patient data travels in a webhook.

Signature (header `X-Answering-Signature`): `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with
the secret>`, as Stripe's; a receiver recomputes it, compares in constant time, and refuses old `t`s.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import delete, event, insert, inspect, select, update
from sqlalchemy.orm import Session

from .models import Message, Practice, WebhookDelivery, utcnow
from .practice_settings import SettingsError

log = logging.getLogger(__name__)

EVENTS = ("message.taken", "message.acknowledged", "message.unacknowledged", "test")
WAKE_KEY = "cc:webhooks:wake"  # the worker's sender (ops/webhook_loop.py) waits on it
# Seconds before each attempt after the first: a minute, 5 minutes, 30 minutes, 2, 6 and 12 hours (about
# 21 hours in all); after the last, the delivery is failed and the practice's admin sees it.
BACKOFF = (60, 300, 1800, 7200, 21600, 43200)
TIMEOUT = 5  # seconds for the practice's system to answer
BATCH = 50  # deliveries one round sends at most
USER_AGENT = "AnsweringService-Webhooks/1"


# The practice's address --------------------------------------------------------------------------------

def check_url(url: str, *, allow_private: bool = False) -> str:
    """A URL the service may post to: https on its standard port (http and any port too where private
    addresses are allowed, for a local receiver), whose host is not (and does not resolve to) a private,
    loopback or link-local address: the service's own Redis and database must not be reachable through a
    practice's setting."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in (("https", "http") if allow_private else ("https",)) or not parts.hostname:
        raise SettingsError("the address of your system must start with https:// and name a host")
    if len(url) > 500:
        raise SettingsError("the address of your system is at most 500 characters")
    if not allow_private:
        if parts.port not in (None, 443):
            raise SettingsError("the address of your system must use the standard https port (443)")
        public_address(parts.hostname)
    return url


def public_address(host: str) -> str:
    """The address `host` resolves to, when every one it resolves to is public; SettingsError otherwise."""
    try:
        addresses = [info[4][0] for info in socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)]
    except (socket.gaierror, UnicodeError):
        raise SettingsError(f"{host} could not be found") from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global:
            raise SettingsError(f"{host} is a private address; give the public address of your system")
    return addresses[0]


class _Pinned(HTTPAdapter):
    """Connects to the address that was checked (a name may resolve elsewhere a moment later), while TLS
    checks the certificate against the host's own name."""

    def __init__(self, hostname: str):
        self.hostname = hostname
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        pool_kwargs["server_hostname"] = self.hostname
        pool_kwargs["assert_hostname"] = self.hostname
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


def post_pinned(url: str, address: str, body: bytes, headers: dict, *, verify: bool | str = True) -> requests.Response:
    """POST to `url`, connecting to `address` (checked public) rather than resolving the name again."""
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    target = urlunsplit((parts.scheme, f"{host}:{parts.port or 443}", parts.path or "/", parts.query, ""))
    with requests.Session() as session:
        session.mount(f"https://{host}:{parts.port or 443}", _Pinned(parts.hostname))
        return session.post(target, data=body, headers={**headers, "Host": parts.netloc}, timeout=TIMEOUT,
                            allow_redirects=False, verify=verify)


def new_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


def set_webhook(session: Session, practice_id: int, url: str | None, *, allow_private: bool = False,
                by: str, user_id: int | None = None) -> Practice:
    """Set (or, with a blank `url`, stop) the deliveries to the practice's system; a secret is made the first
    time. Kept as a change of the practice's."""
    from .practice_settings import get_practice, record_change

    practice = get_practice(session, practice_id)
    before = {"webhook_url": practice.webhook_url}
    practice.webhook_url = check_url(url, allow_private=allow_private) if (url or "").strip() else None
    if practice.webhook_url and not practice.webhook_secret:
        practice.webhook_secret = new_secret()
    record_change(session, practice, "webhooks", before, {"webhook_url": practice.webhook_url}, by, user_id)
    return practice


def new_webhook_secret(session: Session, practice_id: int, *, by: str, user_id: int | None = None) -> Practice:
    """A new signing secret: deliveries from now on are signed with it (the old one stops working)."""
    from .practice_settings import get_practice, record_change

    practice = get_practice(session, practice_id)
    practice.webhook_secret = new_secret()
    record_change(session, practice, "webhooks", {"webhook_secret": "(earlier secret)"},
                  {"webhook_secret": "(new secret)"}, by, user_id)
    return practice


# The outbox -------------------------------------------------------------------------------------------

def _message_event(kind: str, message: Message, at: datetime) -> dict:
    return {"event": kind, "id": str(uuid.uuid4()), "at": at.isoformat(), "practice_id": message.practice_id,
            "message": {"id": message.id, "call_id": message.call_id, "kind": message.kind,
                        "urgency": message.urgency, "created_at": _iso(message.created_at),
                        "acknowledged_at": _iso(message.acknowledged_at),
                        "url": f"/api/v1/messages/{message.id}"}}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _events_of_flush(session: Session) -> list[tuple[int, str, dict]]:
    now = utcnow()
    found = []
    for obj in session.new:
        if isinstance(obj, Message):
            found.append((obj.practice_id, "message.taken", _message_event("message.taken", obj, now)))
    for obj in session.dirty:
        if not isinstance(obj, Message):
            continue
        history = inspect(obj).attrs.acknowledged_at.history
        if not history.has_changes():
            continue
        before = history.deleted[0] if history.deleted else None
        after = history.added[0] if history.added else None
        if before is None and after is not None:
            found.append((obj.practice_id, "message.acknowledged", _message_event("message.acknowledged", obj, now)))
        elif before is not None and after is None:
            found.append((obj.practice_id, "message.unacknowledged",
                          _message_event("message.unacknowledged", obj, now)))
    return found


@event.listens_for(Session, "after_flush")
def _outbox(session: Session, _flush_context) -> None:
    """Each message taken or (un)acknowledged in this flush is a delivery owed to its practice's system, if it
    has one: written now, in the same transaction."""
    found = _events_of_flush(session)
    if not found:
        return
    connection = session.connection()
    with_hooks = set(connection.execute(select(Practice.id).where(
        Practice.id.in_({practice_id for practice_id, _, _ in found}), Practice.webhook_url.is_not(None))).scalars())
    rows = [{"practice_id": practice_id, "event": kind, "payload": payload, "status": "pending", "attempts": 0,
             "next_attempt_at": utcnow(), "created_at": utcnow()}
            for practice_id, kind, payload in found if practice_id in with_hooks]
    if rows:
        connection.execute(insert(WebhookDelivery), rows)
        session.info["webhooks_owed"] = True


def wake(redis) -> None:
    """Wake the worker's sender now (one round trip; a best effort: its own round finds them within seconds)."""
    try:
        pipe = redis.pipeline()
        pipe.lpush(WAKE_KEY, "1")
        pipe.ltrim(WAKE_KEY, 0, 0)
        pipe.execute()
    except Exception as exc:
        log.warning("could not wake the webhook sender: %s", type(exc).__name__)


def owed_in(session: Session) -> bool:
    """Whether the transaction just committed wrote deliveries (then the worker should send them now)."""
    return bool(session.info.pop("webhooks_owed", False))


def send_test(session: Session, practice_id: int) -> WebhookDelivery:
    """A `test` event to the practice's system, as its admin asks from the portal."""
    from .practice_settings import get_practice

    practice = get_practice(session, practice_id)
    if not practice.webhook_url:
        raise SettingsError("set the address of your system first")
    waiting = session.scalar(select(WebhookDelivery.id).where(
        WebhookDelivery.practice_id == practice.id, WebhookDelivery.event == "test",
        WebhookDelivery.status == "pending").limit(1))
    if waiting is not None:  # one at a time: a test is not a way to fill the sender's rounds
        raise SettingsError("a test event is already on its way; see how it went below first")
    now = utcnow()
    delivery = WebhookDelivery(practice_id=practice.id, event="test", next_attempt_at=now, created_at=now,
                               payload={"event": "test", "id": str(uuid.uuid4()), "at": now.isoformat(),
                                        "practice_id": practice.id})
    session.add(delivery)
    return delivery


# Sending ----------------------------------------------------------------------------------------------

def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, now: float | None = None, tolerance: int = 300) -> bool:
    """What a receiver does (and the tests): the signature matches, and it is recent."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def send_due(session: Session, now: datetime, *, allow_private: bool = False, limit: int = BATCH) -> list[int]:
    """Send the deliveries whose attempt is due (each claimed first, so two workers never send one twice);
    commits after each. Returns the ids delivered."""
    due = session.scalars(select(WebhookDelivery.id).where(WebhookDelivery.status == "pending",
                                                           WebhookDelivery.next_attempt_at <= now)
                          .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit)).all()
    return [delivery_id for delivery_id in due if _attempt(session, delivery_id, now, allow_private)]


def _attempt(session: Session, delivery_id: int, now: datetime, allow_private: bool) -> bool:
    # Claimed: the next attempt moves a minute on before sending, so that another worker skips it meanwhile.
    claimed = session.execute(update(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .values(next_attempt_at=now + timedelta(seconds=60), attempts=WebhookDelivery.attempts + 1)).rowcount
    session.commit()
    if not claimed:
        return False
    delivery = session.get(WebhookDelivery, delivery_id)
    practice = session.get(Practice, delivery.practice_id)
    status, error = None, None
    if not practice.webhook_url or not practice.webhook_secret:
        error = "the practice has no address for its system now"
    else:
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   "X-Answering-Event": delivery.event, "X-Answering-Delivery": str(delivery.id),
                   "X-Answering-Signature": signature(practice.webhook_secret, int(time.time()), body)}
        try:
            url = check_url(practice.webhook_url, allow_private=allow_private)  # its host may have moved since
            if allow_private:
                answer = requests.post(url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False)
            else:  # connect to the address just checked: a name cannot be pointed elsewhere in between
                answer = post_pinned(url, public_address(urlsplit(url).hostname), body, headers)
            status = answer.status_code
            if not 200 <= status < 300:
                error = f"answered {status}"
        except SettingsError as exc:
            error = str(exc)[:200]
        except requests.RequestException as exc:
            error = f"could not be reached ({type(exc).__name__})"
    delivery.last_status, delivery.last_error = status, error
    if error is None:
        delivery.status, delivery.delivered_at = "delivered", utcnow()
    else:
        if delivery.attempts > len(BACKOFF):
            delivery.status = "failed"
            log.warning("webhook delivery %d to practice %d failed after %d attempts", delivery.id,
                        delivery.practice_id, delivery.attempts)
        else:
            delivery.next_attempt_at = now + timedelta(seconds=BACKOFF[delivery.attempts - 1])
    session.commit()
    return error is None


KEEP_DAYS = 90  # deliveries delivered or failed are kept this long for the practice to look back on


def purge(session: Session, now: datetime, limit: int = 1000) -> int:
    """Forget deliveries delivered or failed more than KEEP_DAYS ago (at most `limit` at a time)."""
    old = session.scalars(select(WebhookDelivery.id).where(
        WebhookDelivery.status != "pending", WebhookDelivery.created_at < now - timedelta(days=KEEP_DAYS))
        .limit(limit)).all()
    if old:
        session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(old)))
    session.commit()
    return len(old)


def recent(session: Session, practice_id: int, limit: int = 50) -> list[WebhookDelivery]:
    return session.scalars(select(WebhookDelivery).where(WebhookDelivery.practice_id == practice_id)
                           .order_by(WebhookDelivery.id.desc()).limit(limit)).all()
