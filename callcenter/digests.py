"""Each practice's daily digest: the calls and messages since the last one, at the practice's chosen time.

The worker makes it (`make_due`) when the practice's `digest_at` has passed in its own time, keeps it
(the portal shows it), and emails it to the practice's addresses when there are any and the service has
an SMTP server (`SMTP_URL`, `smtp://user:pass@host:587`, STARTTLS; `smtps://` for TLS from the start).
Email is not a place for patient data: the digest holds counts, times, urgency and references, with
links to the portal where staff read the messages themselves; no names, numbers or what was said, and
nothing clinical in the subject. An email that cannot be sent is tried again (`send_owed`), every ten
minutes for a day; the digest itself is never lost.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import Call, CallbackTask, Digest, Message, Practice

FIRST_PERIOD = timedelta(days=1)  # a practice's first digest covers the day before it
RETRY_EVERY = timedelta(minutes=10)
GIVE_UP_AFTER = timedelta(days=1)
EMAILS_PER_ROUND = 10  # the round must stay short: the rest go in the next ones
LOCALHOSTS = ("127.0.0.1", "localhost", "::1")


class MailError(Exception):
    """The SMTP server could not be reached, or refused the mail."""


@dataclass(frozen=True)
class Mailer:
    """Where the digests go out: an SMTP server from SMTP_URL."""

    host: str
    port: int
    username: str | None
    password: str | None
    tls: str  # "starttls" or "ssl"
    sender: str

    @classmethod
    def from_url(cls, url: str | None, sender: str) -> Mailer | None:
        if not url:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL is smtp://user:pass@host:587 (STARTTLS) or smtps://user:pass@host:465")
        return cls(parts.hostname, parts.port or (465 if parts.scheme == "smtps" else 587),
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None,
                   "ssl" if parts.scheme == "smtps" else "starttls", sender)

    def send(self, to: list[str], subject: str, body: str) -> None:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender, ", ".join(to), subject
        mail.set_content(body)
        context = ssl.create_default_context()
        try:
            if self.tls == "ssl":
                server = smtplib.SMTP_SSL(self.host, self.port, timeout=10, context=context)
            else:
                server = smtplib.SMTP(self.host, self.port, timeout=10)
            with server:
                server.ehlo()
                if self.tls == "starttls" and server.has_extn("starttls"):
                    server.starttls(context=context)
                    server.ehlo()
                elif self.tls == "starttls" and self.username and self.host not in LOCALHOSTS:
                    raise MailError("the SMTP server offers no STARTTLS: its password would go in the clear")
                if self.username:
                    server.login(self.username, self.password or "")
                server.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"{type(exc).__name__}: {str(exc)[:120]}") from exc


def recipients(practice: Practice) -> list[str]:
    return [a.strip() for a in (practice.digest_emails or "").split(",") if "@" in a]


def _due_end(practice: Practice, now: datetime) -> datetime | None:
    """The latest digest time of the practice that has passed (its end of period), in UTC."""
    tz = ZoneInfo(practice.timezone)
    local = now.astimezone(tz)
    today = datetime.combine(local.date(), practice.digest_at, tz)
    end = today if today <= local else datetime.combine(local.date() - timedelta(days=1), practice.digest_at, tz)
    return end.astimezone(ZoneInfo("UTC"))


def make_due(session: Session, now: datetime, portal_url: str | None) -> list[Digest]:
    """Make every digest whose time has come (once per practice and period). Commits each."""
    made = []
    for practice in session.scalars(select(Practice)):
        end = _due_end(practice, now)
        last = session.scalar(select(func.max(Digest.period_end)).where(Digest.practice_id == practice.id))
        if last is not None and last >= end:
            continue
        start = last or end - FIRST_PERIOD
        made.append(build(session, practice, start, end, portal_url))
        session.commit()
    return made


def build(session: Session, practice: Practice, start: datetime, end: datetime, portal_url: str | None) -> Digest:
    """The digest of one practice's period; added to the session."""
    tz = ZoneInfo(practice.timezone)

    def clock(at: datetime) -> str:
        local = at.astimezone(tz)
        return f"{local:%a %-d %b} {local:%-I:%M %p}"

    calls = session.scalars(select(Call).where(Call.practice_id == practice.id, Call.direction == "inbound",
                                               Call.created_at >= start, Call.created_at < end)).all()
    messages = session.scalars(select(Message).where(Message.practice_id == practice.id,
                                                     Message.created_at >= start, Message.created_at < end)
                               .order_by(Message.created_at)).all()
    owed = session.scalar(select(func.count(CallbackTask.id)).where(CallbackTask.practice_id == practice.id,
                                                                    CallbackTask.status != "done")) or 0
    states: dict[str, int] = {}
    for call in calls:
        states[call.state] = states.get(call.state, 0) + 1
    by_state = ", ".join(f"{n} {state.replace('_', ' ')}" for state, n in sorted(states.items()))
    lines = [f"{practice.name}: answering service summary",
             f"From {clock(start)} to {clock(end)} ({practice.timezone})", "",
             f"Calls: {len(calls)}" + (f" ({by_state})" if by_state else ""),
             f"Messages: {len(messages)} ({sum(1 for m in messages if m.urgency == 'urgent')} urgent), "
             f"{sum(1 for m in messages if m.acknowledged_at is None)} not acknowledged yet",
             f"Callbacks still owed: {owed}", ""]
    for m in messages:
        kind = "voicemail" if m.kind == "voicemail" else "message"
        state = f"acknowledged {clock(m.acknowledged_at)}" if m.acknowledged_at else "NOT ACKNOWLEDGED"
        link = f"  {portal_url}/portal/messages/{m.id}" if portal_url else ""
        lines.append(f"- {clock(m.created_at)}  {m.urgency} {kind}, ref {m.call_id or m.id}, {state}{link}")
    if messages:
        lines.append("")
    lines.append("Read and acknowledge each message in your portal"
                 + (f": {portal_url}/portal/messages" if portal_url else "."))
    subject = f"Answering service summary for {end.astimezone(tz):%a %-d %b}"
    digest = Digest(practice_id=practice.id, period_start=start, period_end=end, subject=subject,
                    body="\n".join(lines) + "\n", recipients=", ".join(recipients(practice)) or None)
    session.add(digest)
    session.flush()
    return digest


def send_owed(session: Session, mailer: Mailer | None, now: datetime) -> tuple[list[int], list[int]]:
    """Email the digests that have recipients and have not gone yet (a failed one every RETRY_EVERY, for
    GIVE_UP_AFTER); the ids sent, and the ids that failed this time. Commits each."""
    if mailer is None:
        return [], []
    sent, failed = [], []
    owed = session.scalars(select(Digest).where(Digest.recipients.is_not(None), Digest.emailed_at.is_(None),
                                                Digest.created_at > now - GIVE_UP_AFTER)
                           .order_by(Digest.email_tries, Digest.id).limit(EMAILS_PER_ROUND)).all()
    for digest in owed:
        if digest.email_tries and now - digest.created_at < RETRY_EVERY * digest.email_tries:
            continue  # its next try is not due yet
        digest.email_tries += 1
        try:
            mailer.send([a.strip() for a in digest.recipients.split(",")], digest.subject, digest.body)
        except MailError as exc:
            digest.email_error = str(exc)[:200]
            failed.append(digest.id)
        else:
            digest.emailed_at, digest.email_error = now, None
            sent.append(digest.id)
        session.commit()
    return sent, failed
