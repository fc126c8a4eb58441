"""Two-factor sign-in with an authenticator app (TOTP, RFC 6238, by `pyotp`), and recovery codes.

Any staff member may turn it on; supervisors and admins must (REQUIRED_ROLES): until they have, their
password alone opens nothing but the page that sets it up. A code is accepted one step either side of
now (clocks drift), and each time step only once, so a code seen over someone's shoulder cannot be used
again. Ten recovery codes are shown once when it is turned on; each works once in place of a code, and
only their hashes are kept. An admin can reset a lost phone (`flask --app app user two-factor-reset`),
which is recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
from sqlalchemy.orm import Session

from .accounts import AccountError
from .models import SecurityEvent, User

# A practice's admin too: they route urgent callers (on-call numbers, the emergency line) and add people.
REQUIRED_ROLES = ("supervisor", "admin", "practice_admin")
ISSUER = "Answering service"
RECOVERY_CODES = 10
STEP = 30  # seconds


def required_for(user: User) -> bool:
    return user.role in REQUIRED_ROLES


def new_secret() -> str:
    return pyotp.random_base32()


def setup_uri(secret: str, email: str) -> str:
    """What the authenticator app scans (otpauth://...)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def _hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().lower().encode()).hexdigest()


def _matching_step(secret: str, code: str, now: float) -> int | None:
    totp, current = pyotp.TOTP(secret), int(now // STEP)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.at(step * STEP), code):
            return step
    return None


def turn_on(user: User, secret: str, code: str, now: float | None = None) -> list[str]:
    """Keep the secret once the app shows a right code for it; the recovery codes, to be shown once."""
    code = (code or "").strip().replace(" ", "")
    step = _matching_step(secret, code, time.time() if now is None else now) if code.isdigit() else None
    if step is None:
        raise AccountError("That code is not right. Check the time on your phone and type the code it shows now.")
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    user.totp_secret, user.totp_last_step = secret, step
    user.recovery_codes = [_hash(c) for c in codes]
    return codes


def check(user: User, code: str, now: float | None = None) -> str | None:
    """"code" or "recovery" when `code` is a right, unused code for this user (using it up), else None."""
    code = (code or "").strip().replace(" ", "")
    if not user.totp_secret or not code:
        return None
    if code.isdigit() and len(code) == 6:
        step = _matching_step(user.totp_secret, code, time.time() if now is None else now)
        if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
            return None
        user.totp_last_step = step
        return "code"
    hashed = _hash(code)
    left = list(user.recovery_codes or [])
    for kept in left:
        if hmac.compare_digest(kept, hashed):
            left.remove(kept)
            user.recovery_codes = left  # a new list, so the JSON column is written
            return "recovery"
    return None


def reset(session: Session, user: User, by: str) -> None:
    """Forget the secret and the recovery codes (a lost phone); the next sign-in sets it up again."""
    if not user.totp_secret:
        raise AccountError(f"{user.email} has no two-factor sign-in")
    user.totp_secret = user.totp_last_step = user.recovery_codes = None
    session.add(SecurityEvent(kind="two_factor_reset", path="cli", detail=f"account {user.id}, by {by}"))
