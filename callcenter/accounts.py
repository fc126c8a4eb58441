"""Staff accounts, practices and API keys."""

from __future__ import annotations

import hashlib
import secrets

import phonenumbers
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import PRACTICE_ROLES, ROLES, ApiKey, Practice, PracticeNumber, SecurityEvent, User, utcnow

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class AccountError(ValueError):
    """Input that cannot make a valid account, practice or key; the message says why."""


def normalize_number(raw: str, region: str = "US") -> str:
    """Return `raw` as E.164, or raise AccountError."""
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise AccountError(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise AccountError(f"not a possible phone number: {raw!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def create_practice(session: Session, name: str, number: str, timezone: str = "America/New_York") -> Practice:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not name.strip():
        raise AccountError("a practice needs a name")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise AccountError(f"unknown timezone: {timezone!r}") from exc
    e164 = normalize_number(number)
    if session.scalar(select(PracticeNumber).where(PracticeNumber.number == e164)):
        raise AccountError(f"{e164} already belongs to a practice")
    practice = Practice(name=name.strip(), timezone=timezone)
    practice.numbers.append(PracticeNumber(number=e164))
    session.add(practice)
    session.flush()
    return practice


def practice_for_number(session: Session, dialled: str | None) -> Practice | None:
    """The practice whose number was dialled, or None."""
    if not dialled:
        return None
    return session.scalar(select(Practice).join(PracticeNumber).where(PracticeNumber.number == dialled.strip()))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(
    session: Session, email: str, password: str, role: str, practice_id: int | None = None,
    display_name: str | None = None, *, password_hash: str | None = None,
) -> User:
    """Create a staff account; `password_hash` lets callers reuse a hash of the same password."""
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError(f"not an email address: {email!r}")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if role in PRACTICE_ROLES and practice_id is None:
        raise AccountError("practice staff need --practice")
    if role not in PRACTICE_ROLES and practice_id is not None:
        raise AccountError("only practice staff belong to a practice")
    if practice_id is not None and session.get(Practice, practice_id) is None:
        raise AccountError(f"no practice with id {practice_id}")
    if len(password) < 8:
        raise AccountError("the password must be at least 8 characters")
    if session.scalar(select(User).where(User.email == email)):
        raise AccountError(f"{email} already has an account")
    user = User(email=email, password_hash=password_hash or _hasher.hash(password), role=role, practice_id=practice_id,
                display_name=display_name)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, or None (without saying which was wrong)."""
    user = session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, practice_id: int, can_write: bool = False) -> tuple[ApiKey, str]:
    """Create a key for one practice; the plain key is returned once and only its hash is kept."""
    if session.get(Practice, practice_id) is None:
        raise AccountError(f"no practice with id {practice_id}")
    prefix = secrets.token_hex(4)
    plain = f"ak_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(practice_id=practice_id, prefix=prefix, key_hash=_digest(plain), can_write=can_write)
    session.add(key)
    session.flush()
    return key, plain


def find_api_key(session: Session, plain: str) -> ApiKey | None:
    if not plain:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == _digest(plain)))
    if key is None or key.revoked_at is not None:
        return None
    return key


def revoke_api_key(session: Session, prefix: str, by: str) -> ApiKey:
    """Revoke the key whose plain text starts `ak_<prefix>_`: it stops working at once, everywhere, and
    who revoked it is recorded. Revoking one already revoked changes nothing."""
    prefix = (prefix or "").strip().removeprefix("ak_").split("_")[0]
    keys = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))).all()
    if len(keys) != 1:
        raise AccountError(f"no key in use starts ak_{prefix}_" if not keys else
                           f"{len(keys)} keys start ak_{prefix}_: revoke them from the database")
    key = keys[0]
    key.revoked_at = utcnow()
    session.add(SecurityEvent(kind="api_key_revoked", path="apikey revoke",
                              detail=f"key ak_{key.prefix}_ of practice {key.practice_id}, by {by}"))
    return key


def api_keys(session: Session, practice_id: int) -> list[ApiKey]:
    return session.scalars(select(ApiKey).where(ApiKey.practice_id == practice_id).order_by(ApiKey.id)).all()


AGENT_LANGUAGES = ("en", "es")


def set_agent_audio(session: Session, email: str, phone: str | None) -> User:
    """Where an agent hears callers: their own phone (`phone`), or their browser (None)."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.is_staff:
        raise AccountError(f"No answering-service staff account {email!r}.")
    user.audio_phone = normalize_number(phone) if phone else None
    return user


def set_agent_skills(session: Session, email: str, languages: str | None, practices: str | None) -> User:
    """An agent's languages ("en,es") and the practices they are trained for ("1,4", or "all")."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.is_staff:
        raise AccountError(f"No answering-service staff account {email!r}.")
    if languages is not None:
        chosen = [code.strip() for code in languages.split(",") if code.strip()]
        unknown = [code for code in chosen if code not in AGENT_LANGUAGES]
        if not chosen or unknown:
            raise AccountError(f"Languages are a comma-separated list of {', '.join(AGENT_LANGUAGES)}.")
        user.languages = chosen
    if practices is not None:
        if practices.strip().lower() == "all":
            user.trained_practices = None
        else:
            try:
                ids = sorted({int(p) for p in practices.split(",") if p.strip()})
            except ValueError:
                raise AccountError("Practices are a comma-separated list of practice ids, or 'all'.") from None
            known = set(session.scalars(select(Practice.id).where(Practice.id.in_(ids))))
            if not ids or set(ids) - known:
                raise AccountError(f"No practice with id {sorted(set(ids) - known) or ids}.")
            user.trained_practices = ids
    return user
