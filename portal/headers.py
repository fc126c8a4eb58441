"""Security headers on every page (Flask-Talisman): a Content-Security-Policy that the console and the
portal pass without 'unsafe-inline' or 'unsafe-eval', no framing, nosniff, a strict referrer policy,
HSTS on HTTPS, and a `Secure` session cookie whenever the public address is HTTPS.

What the console loads from elsewhere, and why:
- Twilio Voice SDK (vendored, served from here) talks to Twilio's signalling and insights endpoints
  (`wss://*.twilio.com`, `https://*.twilio.com`) and plays its ringtones from `https://sdk.twilio.com`.
- Under the emulator, the console's stand-in device talks to the emulator's own address.
Recordings are played through the app (`/console/voicemails/<id>/recording`), so media needs nothing else.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask
from flask_talisman import Talisman


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(config: dict) -> dict:
    connect = ["'self'", "https://*.twilio.com", "wss://*.twilio.com"]
    if config.get("TWILIO_EMULATED") and config.get("TWILIO_API_BASE"):
        connect.append(_origin(config["TWILIO_API_BASE"]))
    return {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": ["'self'", "data:"],
        "media-src": ["'self'", "https://sdk.twilio.com", "blob:"],
        "connect-src": connect,
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }


def init_app(app: Flask) -> None:
    public = app.config.get("PUBLIC_BASE_URL") or ""
    # One Talisman per app: it keeps its settings on itself.
    app.extensions["talisman"] = Talisman(
        app,
        force_https=False,  # TLS ends at the proxy or platform router; HSTS below keeps browsers on HTTPS
        strict_transport_security=True,
        strict_transport_security_include_subdomains=False,  # a practice's other sites are not ours to pin
        session_cookie_secure=public.startswith("https://"),
        frame_options="DENY",
        content_security_policy=content_security_policy(app.config),
        referrer_policy="strict-origin-when-cross-origin",
        # The console's browser audio needs the microphone; nothing here needs the rest.
        permissions_policy={"microphone": "(self)", "camera": "()", "geolocation": "()", "browsing-topics": "()"},
    )
