"""Twilio's REST API (2010-04-01), the parts the app uses: one module per resource, all on one blueprint.

calls.py (Calls), messages.py (Messages), queues.py (Queues and their Members), conferences.py
(Conferences and their Participants), recordings.py (Recordings); base.py holds the blueprint, its
credentials check, Twilio's error shape and the list/fetch helpers every resource uses.
"""

from . import calls, conferences, messages, queues, recordings  # noqa: F401  (importing registers the routes)
from .base import bp

__all__ = ["bp"]
