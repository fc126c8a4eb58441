"""The database: engine options per dialect and SQLite's tuning, bound to the app by `init_app`."""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time

from flask import Flask
from sqlalchemy import Engine, event

from .extensions import db

# How long a writer waits for another writer of the same process (the busy timeout covers other processes).
SQLITE_WRITE_WAIT = 5.0
# The longest SQLite's busy handler may block the process at once (seconds), between cooperative waits.
SQLITE_BUSY_STEP = 0.05
_WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)

# hide_parameters everywhere: SQL errors must not carry patients' numbers into logs.
_DEFAULT_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}


def engine_options(uri: str) -> dict | None:
    """The engine options for a database URI, or None for a dialect without settings of its own.

    Budgets: Twilio gives a webhook 15 s in all. A database slower than these fails the request fast,
    and the webhook wrapper answers safe TwiML instead of letting Twilio time out.
    """
    # The pool is sized for a gevent worker's many requests at once; one waiting longer than
    # pool_timeout for a connection fails fast (safe TwiML) rather than letting Twilio time out.
    pool = {"pool_size": int(os.environ.get("DATABASE_POOL_SIZE", "20")), "max_overflow": 10, "pool_timeout": 5}
    if uri.startswith("sqlite"):
        # Wait a little for a writer of another process (the worker) instead of failing at once.
        in_memory = uri in ("sqlite://", "sqlite:///") or ":memory:" in uri  # one connection, no pool to size
        # SQLite's own busy handler sleeps inside C, which under gevent stops the whole process: keep it
        # short, and wait for another process's writer in `_take_write_lock`, a little at a time.
        return {"hide_parameters": True, "connect_args": {"timeout": SQLITE_BUSY_STEP},
                **({} if in_memory else pool)}
    if uri.startswith("postgresql"):
        # No ping before every checkout (a round trip per request): a connection the server dropped
        # fails one request, and SQLAlchemy then replaces the whole pool; recycle before idle timeouts.
        return {
            "hide_parameters": True, "pool_pre_ping": False, "pool_recycle": 1800, **pool,
            "connect_args": {"connect_timeout": 3, "options": "-c statement_timeout=5000"},
        }
    return None


def init_app(app: Flask) -> None:
    """Set the engine options for the configured database, bind `db` and tune SQLite."""
    options = engine_options(app.config["SQLALCHEMY_DATABASE_URI"])
    if options is not None:
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    else:
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", dict(_DEFAULT_OPTIONS))
    db.init_app(app)
    with app.app_context():
        _tune_sqlite(db.engine)


def _take_write_lock(dbapi_connection, deadline: float) -> None:
    """Begin the transaction with SQLite's write lock, waiting for another process's writer (the worker,
    a migration) in short steps with `time.sleep` between them, which gevent turns into a yield: the
    process's other requests go on meanwhile, instead of all waiting inside SQLite's busy handler."""
    if dbapi_connection.in_transaction:
        return  # pysqlite began it for an earlier write of this transaction
    while True:
        try:
            dbapi_connection.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise
        time.sleep(0.02)


def _tune_sqlite(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    # SQLite has one writer at a time. Within a process, writers queue on this lock instead of in
    # SQLite's busy handler: that handler sleeps inside C, which under gevent would stop every
    # greenlet of the process, the writer it waits for included, until the busy timeout. Re-entrant,
    # so a thread that writes on two connections fails on SQLite's timeout rather than hanging here.
    writer = threading.RLock()

    def _start_writing(dbapi_connection, record_info: dict) -> None:
        if record_info.get("writing"):
            return
        deadline = time.monotonic() + SQLITE_WRITE_WAIT
        if not writer.acquire(timeout=SQLITE_WRITE_WAIT):
            raise sqlite3.OperationalError("database is locked (another writer of this process held it)")
        try:
            _take_write_lock(dbapi_connection, deadline)
        except BaseException:
            writer.release()
            raise
        record_info["writing"] = True

    def _done_writing(dbapi_connection, record_info: dict, end) -> None:
        if not record_info.pop("writing", False):
            return
        try:
            end()  # the transaction ends before the next writer may start
        finally:
            writer.release()

    @event.listens_for(engine, "before_cursor_execute")
    def _before_write(connection, _cursor, statement, _parameters, _context, _executemany):
        if _WRITES.match(statement):
            _start_writing(connection.connection.dbapi_connection, connection.connection.info)

    @event.listens_for(engine, "savepoint")
    def _savepoint(connection, _name):
        # pysqlite opens a transaction only before INSERT/UPDATE/DELETE, so a SAVEPOINT issued first
        # would start one of its own and its RELEASE would commit half of a webhook's work. Open the
        # transaction first; reads before it stay outside any transaction, as pysqlite leaves them,
        # so a later write never has to upgrade a stale read lock.
        dbapi_connection = connection.connection.dbapi_connection
        _start_writing(dbapi_connection, connection.connection.info)
        if not dbapi_connection.in_transaction:
            dbapi_connection.execute("BEGIN")

    # SQLAlchemy calls these before the DBAPI's commit or rollback: end the transaction here (the
    # DBAPI's own call then finds none), and only then let the next writer in.
    @event.listens_for(engine, "commit")
    def _commit(connection):
        info = connection.connection.info
        _done_writing(connection.connection.dbapi_connection, info, connection.connection.dbapi_connection.commit)

    @event.listens_for(engine, "rollback")
    def _rollback(connection):
        info = connection.connection.info
        _done_writing(connection.connection.dbapi_connection, info, connection.connection.dbapi_connection.rollback)

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection, record):
        # A connection returned without a commit or rollback seen above (pool reset): never keep the lock.
        _done_writing(dbapi_connection, record.info, dbapi_connection.rollback)
