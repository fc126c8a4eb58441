"""The agents' live console: pages, Socket.IO handlers, static assets."""

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates", static_folder="static")

from . import views  # noqa: E402,F401
