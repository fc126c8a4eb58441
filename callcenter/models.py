"""The ledger's tables: practices, staff, calls with their append-only events, messages, callbacks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false
from sqlalchemy.types import TypeDecorator

from .extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None


ROLES = ("agent", "supervisor", "admin", "practice", "practice_admin")
# A practice's own staff: they read and acknowledge; its admin also changes the practice's settings.
PRACTICE_ROLES = ("practice", "practice_admin")


class Practice(db.Model):
    __tablename__ = "practices"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    greeting: Mapped[str | None] = mapped_column(Text)
    instructions: Mapped[str | None] = mapped_column(Text)
    # Menu options this practice offers (see callcenter.menu.OPTIONS); None means all of them.
    menu_options: Mapped[list | None] = mapped_column(JSON)
    languages: Mapped[list | None] = mapped_column(JSON)
    max_wait_seconds: Mapped[int] = mapped_column(Integer, default=600, server_default="600")
    # Callers of this practice who may wait at once; None: as many as the service holds (QUEUE_CAPACITY).
    queue_capacity: Mapped[int | None] = mapped_column(Integer)
    # Texts to patients name the practice only when it opts in: a lock screen shows them to anyone nearby.
    sms_names_practice: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Days a reviewed voicemail's recording is kept at Twilio before the worker deletes it (None: kept).
    recording_retention_days: Mapped[int | None] = mapped_column(Integer, default=90, server_default="90")
    # Patients' conversations with agents are recorded (announced to the caller first); see callcenter/recordings.py.
    records_calls: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The daily digest (callcenter/digests.py): when, in the practice's time, and to whom it is emailed
    # (comma-separated; none: it is only in the portal).
    digest_at: Mapped[time] = mapped_column(Time, default=time(7, 0), server_default="07:00:00")
    digest_emails: Mapped[str | None] = mapped_column(Text)
    # Where an urgent caller goes when nobody is on call (a gap in the schedule), before the supervisors.
    emergency_number: Mapped[str | None] = mapped_column(String(20))
    # The day after a call that ended with a message, the patient is asked 1 to 5 by SMS (callcenter/surveys.py).
    survey_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # An unacknowledged page's steps, in minutes: "call-down,backup,supervisors" (None: the service's own).
    page_minutes: Mapped[str | None] = mapped_column(String(20))
    # The practice's own system, told of messages taken and acknowledged (callcenter/outbound.py), and the
    # secret its deliveries are signed with.
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    webhook_secret: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    numbers: Mapped[list[PracticeNumber]] = relationship(back_populates="practice", cascade="all, delete-orphan")
    hours: Mapped[list[BusinessHours]] = relationship(cascade="all, delete-orphan")
    holidays: Mapped[list[Holiday]] = relationship(cascade="all, delete-orphan")


class BusinessHours(db.Model):
    """One opening period of a weekday (0 = Monday), in the practice's own timezone."""

    __tablename__ = "business_hours"
    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    opens: Mapped[time] = mapped_column(Time)
    closes: Mapped[time] = mapped_column(Time)


class Holiday(db.Model):
    """A day the practice is closed, in its own timezone."""

    __tablename__ = "holidays"
    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str | None] = mapped_column(String(120))


class OnCallRotation(db.Model):
    """A recurring on-call slot in the practice's own time: on these weekdays, from `starts` to `ends` (past
    midnight into the next day when `ends` is not after `starts`). The worker turns it into shifts for the
    days ahead (callcenter/schedule.py), which overrides (one-off shifts) take precedence over."""

    __tablename__ = "on_call_rotations"
    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    clinician_name: Mapped[str] = mapped_column(String(200))
    number: Mapped[str] = mapped_column(String(20))
    backup_name: Mapped[str | None] = mapped_column(String(200))
    backup_number: Mapped[str | None] = mapped_column(String(20))
    weekdays: Mapped[list] = mapped_column(JSON)  # 0 = Monday
    starts: Mapped[time] = mapped_column(Time)
    ends: Mapped[time] = mapped_column(Time)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OffDuty(db.Model):
    """A clinician (by their number) is not available between two instants: a shift of theirs then is a
    conflict, shown ahead of time like a gap (callcenter/schedule.py)."""

    __tablename__ = "off_duty"
    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    clinician_name: Mapped[str] = mapped_column(String(200))
    number: Mapped[str] = mapped_column(String(20), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PracticeChange(db.Model):
    """A change to a practice's settings, hours or on-call schedule: who made it, when, and each field's value
    before and after (`changes`: {field: [before, after]}), from the portal or the command line."""

    __tablename__ = "practice_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    by: Mapped[str] = mapped_column(String(200))  # "Dana Lee (portal)", "command line"
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    what: Mapped[str] = mapped_column(String(40))  # settings, hours, on_call
    changes: Mapped[dict] = mapped_column(JSON)


class WebhookDelivery(db.Model):
    """One event owed to a practice's own system (callcenter/outbound.py): written with the change it tells
    of, sent by the worker, retried with backoff, and kept with how each attempt ended."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="pending", server_default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_status: Mapped[int | None] = mapped_column(Integer)  # the HTTP status of the last attempt
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OnCallShift(db.Model):
    """Who takes the practice's urgent calls between two instants, and who backs them up. A shift is an
    override (added for these instants: a swap, a vacation's cover) or one day of a rotation's; where
    they overlap, the override is on call."""

    __tablename__ = "on_call_shifts"
    __table_args__ = (UniqueConstraint("rotation_id", "starts_at", name="uq_on_call_shifts_rotation_start"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    clinician_name: Mapped[str] = mapped_column(String(200))
    number: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    backup_name: Mapped[str | None] = mapped_column(String(200))
    backup_number: Mapped[str | None] = mapped_column(String(20))
    rotation_id: Mapped[int | None] = mapped_column(ForeignKey("on_call_rotations.id"),
                                                    index=True)


class OnCallPage(db.Model):
    """An SMS page sent to the on-call clinician about a call."""

    __tablename__ = "on_call_pages"
    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    shift_id: Mapped[int | None] = mapped_column(ForeignKey("on_call_shifts.id"))
    to_number: Mapped[str | None] = mapped_column(String(20))
    message_sid: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="sent")
    error: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Escalation until someone acknowledges (callcenter/escalation.py): who did and when ("reply 1",
    # "pressed 1 on the call-down", "answered the patient's call", "supervisor <name>"); the step reached
    # (0 paged, 1 called down, 2 raised to the supervisors) and when the next one is due.
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(60))
    escalation_step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_step_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Twilio's word on the SMS (its status callbacks to /sms/status): sent, delivered, undelivered, failed.
    delivery_status: Mapped[str | None] = mapped_column(String(20))
    # Whom it went to: the clinician on call ("on_call") or, when they did not acknowledge, their backup.
    recipient: Mapped[str] = mapped_column(String(20), default="on_call", server_default="on_call")
    # The one-time link in its SMS (callcenter/page_links.py): only its hash is kept.
    link_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    link_tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    link_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PracticeNumber(db.Model):
    __tablename__ = "practice_numbers"
    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    practice: Mapped[Practice] = relationship(back_populates="numbers")


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    practice_id: Mapped[int | None] = mapped_column(ForeignKey("practices.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Skills, for agents: the languages they take calls in (None: English only), and the practices
    # they are trained for (None: every practice). Calls go first to agents who have the skills.
    languages: Mapped[list | None] = mapped_column(JSON)
    trained_practices: Mapped[list | None] = mapped_column(JSON)
    # An agent's own phone (E.164): when set, calls they accept ring it, with a whisper asking them to
    # press 1, instead of their browser.
    audio_phone: Mapped[str | None] = mapped_column(String(20))
    # Wrong passwords in a row since the last sign-in; at LOCK_AFTER the account locks until an admin unlocks it.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Two-factor sign-in (callcenter.two_factor): the TOTP secret once confirmed, the last time step used
    # (a code works once), and the hashes of the unused recovery codes.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    recovery_codes: Mapped[list | None] = mapped_column(JSON)
    practice: Mapped[Practice | None] = relationship()

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def is_staff(self) -> bool:
        """Answering-service staff (agents and above), as opposed to a practice's own staff."""
        return self.role in ("agent", "supervisor", "admin")

    @property
    def name(self) -> str:
        return self.display_name or self.email.split("@")[0]


class LoginSession(db.Model):
    """One sign-in, kept on the server: the browser's cookie carries only its token, whose hash is kept here.
    Ending the row (logout, idle, a password change, "log out everywhere") ends the session in every web process."""

    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_why: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(64))


class ApiKey(db.Model):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    can_write: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # e.g. acknowledge


class Call(db.Model):
    """One phone call, inbound or placed by us. Its state is derived from its events (see ledger)."""

    __tablename__ = "calls"
    __table_args__ = (Index("ix_calls_practice_from", "practice_id", "from_number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    practice_id: Mapped[int | None] = mapped_column(ForeignKey("practices.id"), index=True)
    direction: Mapped[str] = mapped_column(String(20), default="inbound")
    from_number: Mapped[str | None] = mapped_column(String(64))
    to_number: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20), default="ivr", index=True)
    reason: Mapped[str | None] = mapped_column(String(20))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    language: Mapped[str] = mapped_column(String(5), default="en", server_default="en")
    after_hours: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    emergency_words: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Called again while an earlier case was open (a callback owed, a voicemail not yet reviewed): served sooner.
    repeat_caller: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Hold and consult (callcenter/consult.py): where the patient is while held, the agent's own leg
    # (from its <Client> status callback), and the call to the clinician being consulted.
    hold: Mapped[str | None] = mapped_column(String(20))
    agent_leg_sid: Mapped[str | None] = mapped_column(String(64))
    consult_call_sid: Mapped[str | None] = mapped_column(String(64))
    consult_status: Mapped[str | None] = mapped_column(String(20))  # ringing, talking
    # The consult's own reference, in its webhooks' URLs: Twilio may answer before its sid is stored.
    consult_ref: Mapped[str | None] = mapped_column(String(16))
    telephony_status: Mapped[str | None] = mapped_column(String(20))
    last_sequence: Mapped[int] = mapped_column(Integer, default=-1)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    disposition: Mapped[str | None] = mapped_column(String(40))
    notes: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(30), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    practice: Mapped[Practice | None] = relationship()
    agent: Mapped[User | None] = relationship()
    events: Mapped[list[CallEvent]] = relationship(
        back_populates="call", order_by="CallEvent.id", cascade="all, delete-orphan"
    )


class CallEvent(db.Model):
    """An append-only fact about a call. `dedupe_key` makes a retried webhook record nothing twice."""

    __tablename__ = "call_events"
    __table_args__ = (UniqueConstraint("call_id", "dedupe_key", name="uq_call_event_dedupe"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(120))
    call: Mapped[Call] = relationship(back_populates="events")


class Message(db.Model):
    """A message for the practice, taken by an agent or left as voicemail."""

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    urgency: Mapped[str] = mapped_column(String(20), default="routine")
    caller_name: Mapped[str | None] = mapped_column(String(200))
    callback_number: Mapped[str | None] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    taken_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20), default="agent", server_default="agent")
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    recording_url: Mapped[str | None] = mapped_column(String(500))
    recording_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # deleted at Twilio, retention over
    transcription: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who acknowledged it: a practice's staff member in the portal, or the practice's system with its API key.
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_by_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    call: Mapped[Call | None] = relationship()
    taken_by: Mapped[User | None] = relationship(foreign_keys=[taken_by_id])
    acknowledged_by: Mapped[User | None] = relationship(foreign_keys=[acknowledged_by_id])


class CallRecording(db.Model):
    """A patient's conversation with an agent, recorded by Twilio where the practice turns recording on.
    The service takes its own copy, deletes Twilio's, and keeps the copy for the practice's retention
    period (callcenter/recordings.py). `status`: at_twilio (announced by Twilio, not yet copied), kept
    (the copy is here), removed (retention over: the audio is gone, the row stays), failed (Twilio
    could not record it)."""

    __tablename__ = "call_recordings"
    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    recording_sid: Mapped[str] = mapped_column(String(64), unique=True)
    twilio_url: Mapped[str | None] = mapped_column(String(500))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    channels: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="at_twilio", index=True)
    audio: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    content_type: Mapped[str | None] = mapped_column(String(40))
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    kept_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at_twilio_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    call: Mapped[Call] = relationship()


class Digest(db.Model):
    """One practice's daily summary of a period's calls and messages: kept for the portal, and emailed
    when the practice gave addresses and the service has SMTP_URL. No patient data in it."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("practice_id", "period_end", name="uq_digests_practice_period_end"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recipients: Mapped[str | None] = mapped_column(Text)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email_error: Mapped[str | None] = mapped_column(String(200))
    email_tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Survey(db.Model):
    """The one-question satisfaction survey sent about a call, and the patient's answer (1 to 5)."""

    __tablename__ = "surveys"
    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), unique=True)
    number: Mapped[str] = mapped_column(String(32), index=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    message_sid: Mapped[str | None] = mapped_column(String(64))
    # sent, failed, not_asked (a withheld number, or the patient was asked about another call)
    status: Mapped[str] = mapped_column(String(20), default="sent", server_default="sent")
    score: Mapped[int | None] = mapped_column(Integer)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class WorklistItem(db.Model):
    """A call nobody owns: it ended without an owned outcome and is on no list that someone works (a
    callback owed, a voicemail to review, a page escalating, an agent's wrap-up), or it is stuck. A
    supervisor takes it, does what is needed, and says what was done (callcenter/worklist.py)."""

    __tablename__ = "worklist_items"
    __table_args__ = (UniqueConstraint("call_id", "reason", name="uq_worklist_items_call_reason"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    practice_id: Mapped[int | None] = mapped_column(ForeignKey("practices.id"), index=True)
    reason: Mapped[str] = mapped_column(String(40))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    owned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    note: Mapped[str | None] = mapped_column(Text)  # what was done: it may name the patient, so never logged
    owner: Mapped[User | None] = relationship()
    practice: Mapped[Practice | None] = relationship()


class CallbackTask(db.Model):
    """A promise to call a patient back, e.g. after they hung up while waiting."""

    __tablename__ = "callback_tasks"
    __table_args__ = (Index("ix_callback_tasks_practice_number", "practice_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), unique=True)
    number: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(40))
    # keep_place: the patient chose to be called back instead of holding; the task keeps their place.
    keeps_place: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sms_sid: Mapped[str | None] = mapped_column(String(64))
    outbound_call_sid: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    call: Mapped[Call | None] = relationship()


class AgentStateChange(db.Model):
    """An agent's state from `at` on: available, ringing, on_call, wrap_up, or away with a reason."""

    __tablename__ = "agent_state_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(40))
    call_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class AuditEntry(db.Model):
    """Who viewed or changed patient data, and when."""

    __tablename__ = "audit_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int | None] = mapped_column(Integer)
    # Whose patient data it was (the export is by practice), and where the request came from.
    practice_id: Mapped[int | None] = mapped_column(Integer, index=True)
    address: Mapped[str | None] = mapped_column(String(64))
    # The hash chain (callcenter.audit): rows are sealed in order by the worker, each holding the hash of
    # the one before, so an edited, removed or inserted row breaks the chain from there on.
    chain_seq: Mapped[int | None] = mapped_column(Integer, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    entry_hash: Mapped[str | None] = mapped_column(String(64))


class SecurityEvent(db.Model):
    """Rejected requests (bad webhook signatures, failed logins) and faults answered with safe TwiML."""

    __tablename__ = "security_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    path: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(String(400))
    # Where the request came from (the client's address, after the trusted proxies).
    address: Mapped[str | None] = mapped_column(String(64))
