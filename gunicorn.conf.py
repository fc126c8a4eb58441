"""gunicorn's settings for the web process, read by `gunicorn -c gunicorn.conf.py` (Procfile, make run, bench).

gevent workers: each console's websocket costs a greenlet's memory rather than one of a fixed number
of threads, so a thousand agents online leave the webhooks their capacity (with threads, the 65th
console of a 64-thread server left no thread for Twilio, and every caller heard an application
error). The database and Redis clients cooperate with gevent (psycopg and redis-py through the
patched sockets; SQLite's writers queue on a cooperative lock, see callcenter/database.py).
"""

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '5000')}"
worker_class = "gevent"
# Processes: consoles connect by websocket only, so several workers need no sticky sessions; they
# share pushes through the Socket.IO message queue on Redis.
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
# Open connections per worker: consoles, webhooks in flight, pages.
worker_connections = int(os.environ.get("WEB_CONNECTIONS", "3000"))
# A worker whose loop is blocked this long (a runaway C call) is replaced; Twilio gives up at 15 s.
timeout = 30
graceful_timeout = 5


def on_starting(server):
    """Refuse to serve a real Twilio account without its public https address (callcenter.config)."""
    import sys

    from callcenter import config

    problems = config.production_problems({"TWILIO_EMULATED": config.is_emulated(os.environ),
                                           "PUBLIC_BASE_URL": config.public_base_url(os.environ)})
    if problems:
        for problem in problems:
            print(f"Not starting: {problem}", file=sys.stderr)
        sys.exit(1)


def post_worker_init(worker):
    """Each web process keeps a standby for the offer loop, in case every worker is down (ops/offer_loop.py)."""
    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "offers"):
        from ops import offer_loop

        offer_loop.start_standby(app)
