"""Practice-facing: staff login, the practice portal and the practice JSON API."""

from flask import Blueprint

auth_bp = Blueprint("auth", __name__, template_folder="templates")
portal_bp = Blueprint("portal", __name__, url_prefix="/portal", template_folder="templates",
                      static_folder="static")
api_bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import api, auth, settings, views  # noqa: E402,F401
