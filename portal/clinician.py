"""The on-call clinician's one-time link from a page's SMS (callcenter/page_links.py): confirm who they
are, read what the answering service has for the call, and acknowledge the page. No sign-in: the link
is the key, and it opens once."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from callcenter import escalation, ledger, page_links
from callcenter.extensions import db
from callcenter.models import OnCallPage

clinician_bp = Blueprint("clinician", __name__, url_prefix="/p", template_folder="templates")
ACK_SECONDS = 1800  # the acknowledge button on the shown message works this long


def _acks() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="page-link-acknowledge")


@clinician_bp.after_request
def no_store(response):
    # What it shows is patient data. (The token in the URL never leaves in a Referer: the service's
    # policy, strict-origin-when-cross-origin, sends other sites the origin only.)
    response.headers["Cache-Control"] = "no-store"
    return response


@clinician_bp.get("/<token>")
def ask(token: str):
    """Who are you: the last four digits of the phone the text was sent to."""
    try:
        page_links.open_link(db.session, token, ledger.now())
    except page_links.LinkRefused as exc:
        return render_template("clinician/link.html", refused=str(exc)), 410
    return render_template("clinician/link.html", token=token)


@clinician_bp.post("/<token>")
def show(token: str):
    """The right four digits: the message, once (audited); a wrong answer counts towards the lock."""
    try:
        shown = page_links.confirm(db.session, token, request.form.get("last_four", ""), ledger.now(),
                                   request.remote_addr)
    except page_links.LinkRefused as exc:
        db.session.commit()  # the wrong answer is counted
        return render_template("clinician/link.html", token=token, refused=str(exc)), 403
    db.session.commit()
    return render_template("clinician/message.html", shown=shown, ack=_acks().dumps(shown.page.id))


@clinician_bp.post("/acknowledge")
def acknowledge():
    """The page is acknowledged from the link: the escalation stops."""
    try:
        page_id = _acks().loads(request.form.get("ack", ""), max_age=ACK_SECONDS)
    except BadSignature:
        abort(403)
    page = db.session.get(OnCallPage, page_id)
    if page is None:
        abort(404)
    done = escalation.acknowledge(db.session, page, "opened the link", ledger.now())
    db.session.commit()
    if done:
        current_app.console.pages_changed()
    return render_template("clinician/acknowledged.html", already=not done, by=page.acknowledged_by)
