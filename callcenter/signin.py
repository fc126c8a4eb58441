"""Signing in, and the sessions it opens.

Wrong passwords are counted per account; LOCK_AFTER in a row lock it until an administrator unlocks it
(`flask --app app user unlock`), which is recorded. The right password for a locked account is refused
with a message saying so: only someone who knows the password learns that the account exists.

A session is a row of `login_sessions`; the browser's signed cookie carries only a random token whose
hash is kept. Logout ends the row, and so do a password change, disabling the account and "log out
everywhere". Every web process reads the row on each request, so an ended session is refused at once
everywhere, and a copy of the old cookie opens nothing. An idle session ends after the session lifetime
without being touched; `touch` moves its time on at most once a minute, so a busy console costs one
write a minute, not one a request.

Each refusal is a security event with the account tried and the address it came from (for an account
that does not exist, the email typed, when it is an email: never a password typed in the wrong box).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from . import rows, two_factor
from .accounts import AccountError, authenticate, hash_password
from .models import LoginSession, SecurityEvent, User, utcnow

LOCK_AFTER = 10  # wrong passwords in a row
SESSION_KEY = "login"  # where the browser's (signed) session cookie carries the session's token
TOUCH_EVERY = timedelta(seconds=60)
IDLE_LIMIT = timedelta(minutes=30)  # a session unused this long has ended (the app's session lifetime)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}$")


@dataclass(frozen=True)
class SignIn:
    """A sign-in's outcome: the user and their new session's token, or why it was refused."""

    user: User | None = None
    token: str | None = None
    refused: str | None = None  # "wrong" (email or password) or "locked"
    # The password was right but a second step comes first: "code" (two-factor) or "enrol" (set it up).
    next_step: str | None = None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _event(session: Session, kind: str, path: str, detail: str, address: str | None) -> None:
    session.add(SecurityEvent(kind=kind, path=path[:200], detail=detail[:400], address=(address or "")[:64] or None))


def sign_in(session: Session, email: str, password: str, address: str | None, path: str = "/login") -> SignIn:
    """Check the password, count a wrong one, lock at LOCK_AFTER, and open a session when it is right."""
    typed = (email or "").strip().lower()
    account = session.scalar(select(User).where(User.email == typed))
    user = authenticate(session, typed, password)  # the same cost whether or not the account exists
    if user is not None and user.locked_at is None:
        if user.totp_secret:
            return SignIn(user=user, next_step="code")
        if two_factor.required_for(user):
            return SignIn(user=user, next_step="enrol")
        return SignIn(user=user, token=complete(session, user, address))
    if user is not None:
        _event(session, "login_locked_out", path, f"account {user.id}: right password, account locked", address)
        return SignIn(refused="locked")
    if account is not None and account.active:
        _count_wrong(session, account, "wrong passwords", path, address)
        detail = f"account {account.id} ({account.failed_logins} in a row)"
    elif account is not None:
        detail = f"account {account.id} (disabled)"
    else:
        detail = f"no such account: {typed}" if _EMAIL.match(typed) else "no such account (not an email)"
    _event(session, "login_failed", path, detail, address)
    return SignIn(refused="wrong")


def _count_wrong(session: Session, user: User, what: str, path: str, address: str | None) -> None:
    """One more wrong password or code in a row (counted in the database, so concurrent tries all count);
    at LOCK_AFTER the account locks."""
    session.execute(update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1))
    session.refresh(user)
    if user.failed_logins >= LOCK_AFTER and user.locked_at is None:
        user.locked_at = utcnow()
        _event(session, "account_locked", path, f"account {user.id} after {user.failed_logins} {what} in a row",
               address)


def complete(session: Session, user: User, address: str | None) -> str:
    """Every step passed: the count of wrong tries starts again, and a session opens."""
    user.failed_logins = 0
    return start_session(session, user, address)


def second_step(session: Session, user: User, code: str, address: str | None, path: str) -> SignIn:
    """The two-factor code (or a recovery code) after a right password. A wrong one counts like a wrong
    password, towards the lock."""
    if user.locked_at is not None or not user.active:
        return SignIn(refused="locked" if user.locked_at is not None else "wrong")
    # The account's row is locked first and read again: two requests with the same code (one of them
    # relayed by someone who watched it typed) are settled one after the other, so only one gets in.
    user = rows.locked(session, User, User.id == user.id)
    used = two_factor.check(user, code)
    if used is not None:
        if used == "recovery":
            _event(session, "recovery_code_used", path,
                   f"account {user.id}: {len(user.recovery_codes or [])} recovery codes left", address)
        return SignIn(user=user, token=complete(session, user, address))
    _count_wrong(session, user, "wrong tries", path, address)
    _event(session, "two_factor_failed", path, f"account {user.id} ({user.failed_logins} in a row)", address)
    return SignIn(refused="wrong")


def start_session(session: Session, user: User, address: str | None) -> str:
    token = secrets.token_urlsafe(32)
    session.add(LoginSession(token_hash=_hash(token), user_id=user.id, address=(address or "")[:64] or None))
    return token


def live_tokens(session: Session, tokens: set[str], idle: timedelta, now: datetime | None = None) -> set[str]:
    """Those of `tokens` whose sessions are still open (one query for them all)."""
    if not tokens:
        return set()
    by_hash = {_hash(token): token for token in tokens}
    since = (now or utcnow()) - idle
    open_hashes = session.scalars(select(LoginSession.token_hash).where(
        LoginSession.token_hash.in_(list(by_hash)), LoginSession.ended_at.is_(None),
        LoginSession.last_seen_at >= since)).all()
    return {by_hash[h] for h in open_hashes}


def users_signed_in(session: Session, user_ids: set[int], idle: timedelta, now: datetime | None = None) -> set[int]:
    """Those of these staff members who still have an open session anywhere (one query)."""
    if not user_ids:
        return set()
    since = (now or utcnow()) - idle
    return set(session.scalars(select(LoginSession.user_id).where(
        LoginSession.user_id.in_(list(user_ids)), LoginSession.ended_at.is_(None),
        LoginSession.last_seen_at >= since).distinct()))


def signed_in_user(session: Session, token: str | None, idle: timedelta,
                   now: datetime | None = None) -> tuple[User, LoginSession] | None:
    """The active user of the open session this token opened, and the session: one query, on every
    request and every console event."""
    if not token:
        return None
    found = session.execute(
        select(User, LoginSession).join(LoginSession, LoginSession.user_id == User.id)
        .where(LoginSession.token_hash == _hash(token), LoginSession.ended_at.is_(None),
               LoginSession.last_seen_at >= (now or utcnow()) - idle, User.active.is_(True))).first()
    return (found[0], found[1]) if found is not None else None


def touch(session: Session, row: LoginSession, now: datetime | None = None) -> bool:
    """Move the session's last-seen time on, at most once per TOUCH_EVERY; True when it wrote."""
    now = now or utcnow()
    if now - row.last_seen_at < TOUCH_EVERY:
        return False
    session.execute(update(LoginSession).where(LoginSession.id == row.id, LoginSession.ended_at.is_(None))
                    .values(last_seen_at=now))
    return True


def end_session(session: Session, token: str | None, why: str) -> None:
    if token:
        session.execute(update(LoginSession).where(LoginSession.token_hash == _hash(token),
                                                   LoginSession.ended_at.is_(None))
                        .values(ended_at=utcnow(), ended_why=why))


def live_sessions(now: datetime | None = None):
    """The condition on login_sessions for those still open: not ended, and used within IDLE_LIMIT."""
    return (LoginSession.ended_at.is_(None)) & (LoginSession.last_seen_at >= (now or utcnow()) - IDLE_LIMIT)


def end_all_sessions(session: Session, user_id: int, why: str) -> int:
    """End every session of this user still marked open; how many of them were live (not idle past
    IDLE_LIMIT, which ended on their own): the number people are told."""
    now = utcnow()
    live = session.scalar(select(func.count(LoginSession.id)).where(LoginSession.user_id == user_id,
                                                                    live_sessions(now=now))) or 0
    session.execute(update(LoginSession).where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
                    .values(ended_at=now, ended_why=why))
    return live


def _account(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None:
        raise AccountError(f"no account with email {email!r}")
    return user


def unlock(session: Session, email: str, by: str) -> User:
    """Unlock an account locked by wrong passwords, and record who did."""
    user = _account(session, email)
    if user.locked_at is None and not user.failed_logins:
        raise AccountError(f"{user.email} is not locked")
    user.locked_at = None
    user.failed_logins = 0
    _event(session, "account_unlocked", "cli", f"account {user.id} unlocked by {by}", None)
    return user


def log_out_everywhere(session: Session, email: str, by: str) -> tuple[User, int]:
    user = _account(session, email)
    ended = end_all_sessions(session, user.id, "logged out everywhere")
    _event(session, "logged_out_everywhere", "cli", f"account {user.id}: {ended} sessions ended by {by}", None)
    return user, ended


def set_password(session: Session, email: str, password: str, by: str) -> tuple[User, int]:
    """A new password; every session opened with the old one ends."""
    if len(password or "") < 8:
        raise AccountError("the password must be at least 8 characters")
    user = _account(session, email)
    user.password_hash = hash_password(password)
    ended = end_all_sessions(session, user.id, "password changed")
    _event(session, "password_changed", "cli", f"account {user.id}: {ended} sessions ended, by {by}", None)
    return user, ended


def reset_two_factor(session: Session, email: str, by: str) -> tuple[User, int]:
    """A lost phone: two-factor sign-in is set up again at the next sign-in; open sessions end."""
    user = _account(session, email)
    two_factor.reset(session, user, by)
    return user, end_all_sessions(session, user.id, "two-factor reset")


def disable(session: Session, email: str, by: str) -> tuple[User, int]:
    """The account can no longer sign in, and its sessions end."""
    user = _account(session, email)
    user.active = False
    ended = end_all_sessions(session, user.id, "account disabled")
    _event(session, "account_disabled", "cli", f"account {user.id}: {ended} sessions ended, by {by}", None)
    return user, ended
