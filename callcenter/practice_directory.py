"""The practices by dialled number, as small plain values kept in memory: the first webhook of every
call needs its practice before anyone speaks, and should not pay a database round trip for it.

Any change to a practice or its numbers made through the ORM in this process (the command line, the
portal, the demo) empties the cache when it is flushed; other processes see it within `TTL` seconds.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from .models import Practice, PracticeNumber

TTL = 5.0  # seconds a card may be served after another process changed the practice


@dataclass(frozen=True)
class PracticeCard:
    """What the IVR needs of a practice to greet a caller and offer the menu."""

    id: int
    name: str
    greeting: str | None
    menu_options: tuple[str, ...] | None
    languages: tuple[str, ...]


def card_of(practice: Practice) -> PracticeCard:
    return PracticeCard(
        id=practice.id, name=practice.name, greeting=practice.greeting,
        menu_options=tuple(practice.menu_options) if practice.menu_options is not None else None,
        languages=tuple(practice.languages or ("en", "es")),
    )


_generation = 0  # bumped whenever a practice or a number changes in this process


@event.listens_for(Session, "before_flush")
def _note_practice_changes(session: Session, _context, _instances) -> None:
    global _generation
    if any(isinstance(obj, Practice | PracticeNumber) for obj in (*session.new, *session.dirty, *session.deleted)):
        _generation += 1


class PracticeDirectory:
    """Finds a practice's card by the number the caller dialled, from memory when it can."""

    def __init__(self, ttl: float = TTL):
        self.ttl = ttl
        self._cards: dict[str, tuple[float, int, PracticeCard | None]] = {}
        self._lock = threading.Lock()

    def by_number(self, session: Session, dialled: str | None) -> PracticeCard | None:
        """The card of the practice whose number was dialled, or None for a number that is not ours."""
        number = (dialled or "").strip()
        if not number:
            return None
        now = time.monotonic()
        cached = self._cards.get(number)
        if cached is not None and cached[0] > now and cached[1] == _generation:
            return cached[2]
        generation = _generation
        practice = session.scalar(select(Practice).join(PracticeNumber).where(PracticeNumber.number == number))
        card = card_of(practice) if practice is not None else None
        with self._lock:
            if len(self._cards) > 10_000:  # numbers nobody owns, dialled at random: do not grow for ever
                self._cards.clear()
            self._cards[number] = (now + self.ttl, generation, card)
        return card
