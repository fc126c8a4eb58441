"""The agents' live console: pages, Socket.IO handlers, static assets."""

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates", static_folder="static")

from . import events, sessions, views  # noqa: E402,F401

# Each app gets its own Socket.IO server (created by the factory before blueprints are registered).
bp.record_once(events.register)
