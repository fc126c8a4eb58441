"""The baseline for the webhooks: a bare Flask view answering the same TwiML bytes, with no signature check,
no database and no Redis. `gunicorn 'bench.bare_app:create_app()'` with BENCH_TWIML_FILE set (the
/ivr/voice answer) and, for /ivr/wait, BENCH_WAIT_TWIML_FILE."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response


def create_app(twiml_file: str | None = None, wait_twiml_file: str | None = None) -> Flask:
    app = Flask(__name__)
    body = Path(twiml_file or os.environ["BENCH_TWIML_FILE"]).read_bytes()
    wait_file = wait_twiml_file or os.environ.get("BENCH_WAIT_TWIML_FILE")
    wait_body = Path(wait_file).read_bytes() if wait_file else None

    @app.post("/ivr/voice")
    def voice():
        """The recorded /ivr/voice answer, as is."""
        return Response(body, mimetype="text/xml")

    if wait_body is not None:
        @app.post("/ivr/wait")
        def wait():
            """The recorded /ivr/wait answer, as is."""
            return Response(wait_body, mimetype="text/xml")

    @app.get("/healthz")
    def healthz():
        return {"ok": True}

    return app
