"""The IVR menu as data: options, their keys, the words that choose them, and urgent-symptom words."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .queue import PRIORITY_ROUTINE, PRIORITY_URGENT


@dataclass(frozen=True)
class Option:
    reason: str
    key: str
    priority: int
    # Words that choose this option when spoken, per language (matched on whole words, accents ignored).
    words: dict[str, tuple[str, ...]]


OPTIONS: tuple[Option, ...] = (
    Option("urgent", "1", PRIORITY_URGENT,
           {"en": ("urgent", "nurse", "sick", "emergency"),
            "es": ("urgente", "enfermera", "enfermo", "emergencia")}),
    Option("message", "2", PRIORITY_ROUTINE,
           {"en": ("message", "leave a message"), "es": ("mensaje", "recado")}),
    Option("appointment", "3", PRIORITY_ROUTINE,
           {"en": ("appointment", "schedule", "reschedule", "cancel"), "es": ("cita", "citas", "cancelar")}),
    Option("refill", "4", PRIORITY_ROUTINE,
           {"en": ("refill", "prescription", "pharmacy", "medication"),
            "es": ("receta", "recetas", "farmacia", "medicamento", "medicina")}),
    Option("billing", "5", PRIORITY_ROUTINE,
           {"en": ("billing", "bill", "payment", "insurance"), "es": ("factura", "pago", "cuenta", "seguro")}),
    Option("operator", "0", PRIORITY_ROUTINE,
           {"en": ("operator", "person", "representative", "someone", "agent"),
            "es": ("operador", "operadora", "persona", "representante", "alguien")}),
)
BY_REASON = {o.reason: o for o in OPTIONS}
DEFAULT_OPTIONS = tuple(o.reason for o in OPTIONS)
SPANISH_KEY = "9"

# Words that mean a possible emergency: the caller hears the 911 advisory again and is routed as urgent.
EMERGENCY_WORDS = {
    "en": ("chest pain", "can't breathe", "cannot breathe", "can not breathe", "not breathing",
           "trouble breathing", "difficulty breathing", "short of breath", "stroke", "heart attack",
           "severe bleeding", "bleeding heavily", "won't stop bleeding", "suicidal", "suicide", "kill myself",
           "overdose", "unconscious", "passed out", "seizure", "choking", "anaphylaxis", "allergic reaction"),
    "es": ("dolor de pecho", "dolor en el pecho", "no puedo respirar", "no puede respirar", "derrame",
           "infarto", "ataque al corazon", "sangrado", "sangra mucho", "suicidio", "suicida", "matarme",
           "sobredosis", "inconsciente", "desmayo", "convulsion", "ahogando", "reaccion alergica"),
}


def _fold(text: str) -> str:
    """Lower case, accents dropped, apostrophes straightened, single spaces."""
    text = unicodedata.normalize("NFKD", text.replace("’", "'")).encode("ascii", "ignore").decode()
    return " " + re.sub(r"[^a-z0-9' ]+", " ", text.lower()).strip() + " "


def offered(practice_options: list | None) -> tuple[Option, ...]:
    """The options a practice offers, in menu order (urgent and operator are always offered)."""
    wanted = set(practice_options or DEFAULT_OPTIONS) | {"urgent", "operator"}
    return tuple(o for o in OPTIONS if o.reason in wanted)


def by_key(key: str, options: tuple[Option, ...]) -> Option | None:
    return next((o for o in options if o.key == key), None)


def by_speech(text: str, language: str, options: tuple[Option, ...]) -> Option | None:
    """The option whose words the caller said; the first one in menu order when several match."""
    folded = _fold(text)
    for option in options:
        if any(f" {_fold(w).strip()} " in folded for w in option.words.get(language, ())):
            return option
    return None


def emergency_words(text: str) -> list[str]:
    """Urgent-symptom phrases found in what the caller said, in any supported language."""
    folded = _fold(text)
    found = []
    for phrases in EMERGENCY_WORDS.values():
        for phrase in phrases:
            if f" {_fold(phrase).strip()} " in folded:
                found.append(phrase)
    return found


def speech_hints(language: str, options: tuple[Option, ...]) -> str:
    return ", ".join(w for o in options for w in o.words.get(language, ())[:3])
