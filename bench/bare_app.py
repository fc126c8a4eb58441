"""The baseline for /ivr/voice: a bare Flask view answering the same TwiML bytes, with no signature check,
no database and no Redis. `gunicorn 'bench.bare_app:create_app()'` with BENCH_TWIML_FILE set."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response


def create_app(twiml_file: str | None = None) -> Flask:
    app = Flask(__name__)
    body = Path(twiml_file or os.environ["BENCH_TWIML_FILE"]).read_bytes()

    @app.post("/ivr/voice")
    def voice():
        """The recorded /ivr/voice answer, as is."""
        return Response(body, mimetype="text/xml")

    @app.get("/healthz")
    def healthz():
        return {"ok": True}

    return app
