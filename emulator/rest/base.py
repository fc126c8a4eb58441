"""What every REST resource shares: the blueprint and its credentials check, Twilio's error shape, and the
one way resources are listed (Twilio's paging envelope) and fetched (404 for an unknown sid)."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from ..state import API_VERSION, EmulatorState

bp = Blueprint("twilio_rest", __name__, url_prefix=f"/{API_VERSION}/Accounts/<account_sid>")

Render = Callable[[EmulatorState, Any], dict]  # a resource's JSON, built with the state lock held

_PUBLIC_ENDPOINTS: set[str] = set()


def current_state() -> EmulatorState:
    """The emulator state of the app serving this request."""
    return current_app.extensions["twilio_emulator"]


def account_uri(account_sid: str) -> str:
    """The path every resource of the account sits under."""
    return f"/{API_VERSION}/Accounts/{account_sid}"


# Errors ------------------------------------------------------------------------------------------

class TwilioError(Exception):
    """Raised by a view to answer with an error in Twilio's JSON shape."""

    def __init__(self, status: int, code: int, message: str, headers: dict | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@bp.errorhandler(TwilioError)
def _answer_error(error: TwilioError):
    body = {"code": error.code, "message": error.message,
            "more_info": f"https://www.twilio.com/docs/errors/{error.code}", "status": error.status}
    response = jsonify(body)
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def not_found() -> TwilioError:
    """Twilio's 404 for the requested path."""
    return TwilioError(404, 20404, f"The requested resource {request.path} was not found")


def found(resource):
    """`resource`, or Twilio's 404 when it is None."""
    if resource is None:
        raise not_found()
    return resource


# Credentials -------------------------------------------------------------------------------------

def without_credentials(view):
    """Serve `view` without basic auth (Twilio serves recording media so unless told otherwise)."""
    _PUBLIC_ENDPOINTS.add(f"{bp.name}.{view.__name__}")
    return view


@bp.before_request
def authenticate():
    """HTTP basic auth with AccountSid:AuthToken, as Twilio requires."""
    state = current_state()
    if request.endpoint in _PUBLIC_ENDPOINTS:
        return
    auth = request.authorization
    ok = (
        auth is not None
        and auth.type == "basic"
        and hmac.compare_digest(auth.username or "", state.account_sid)
        and hmac.compare_digest(auth.password or "", state.auth_token)
    )
    if not ok:
        raise TwilioError(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})
    if request.view_args.get("account_sid") != state.account_sid:
        raise not_found()


# Fetching and listing ----------------------------------------------------------------------------

def fetch(find: Callable[[EmulatorState], Any], render: Render):
    """Answer a fetch: `render` what `find` returns (both with the state lock held), or 404 if nothing."""
    state = current_state()
    with state.lock:
        return jsonify(render(state, found(find(state))))


def list_page(key: str, select: Callable[[EmulatorState], Iterable], render: Render):
    """Answer a list: what `select` returns, rendered (lock held), one page of it in Twilio's envelope."""
    state = current_state()
    with state.lock:
        items = [render(state, item) for item in select(state)]
    page, page_size = _paging()
    return jsonify(page_json(key, items, request.path, page, page_size))


def _paging() -> tuple[int, int]:
    try:
        page_size = max(1, min(1000, int(request.args.get("PageSize", 50))))
        page = max(0, int(request.args.get("Page", 0)))
    except ValueError:
        page_size, page = 50, 0
    return page, page_size


def page_json(key: str, items: list, uri: str, page: int, page_size: int) -> dict:
    """One page of a list resource, in Twilio's paging envelope."""
    start = page * page_size
    chunk = items[start:start + page_size]
    more = start + page_size < len(items)
    return {
        key: chunk,
        "end": start + max(0, len(chunk) - 1),
        "first_page_uri": f"{uri}?PageSize={page_size}&Page=0",
        "next_page_uri": f"{uri}?PageSize={page_size}&Page={page + 1}" if more else None,
        "page": page,
        "page_size": page_size,
        "previous_page_uri": f"{uri}?PageSize={page_size}&Page={page - 1}" if page else None,
        "start": start,
        "uri": f"{uri}?PageSize={page_size}&Page={page}",
    }
