"""The database: engine options per dialect and SQLite's tuning, bound to the app by `init_app`."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import Engine, event

from .extensions import db

# hide_parameters everywhere: SQL errors must not carry patients' numbers into logs.
_DEFAULT_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}


def engine_options(uri: str) -> dict | None:
    """The engine options for a database URI, or None for a dialect without settings of its own.

    Budgets: Twilio gives a webhook 15 s in all. A database slower than these fails the request fast,
    and the webhook wrapper answers safe TwiML instead of letting Twilio time out.
    """
    if uri.startswith("sqlite"):
        # Wait a little for a writer instead of failing at once; several threads write during a call.
        return {"hide_parameters": True, "connect_args": {"timeout": 5}}
    if uri.startswith("postgresql"):
        return {
            "hide_parameters": True, "pool_pre_ping": True,
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


def _tune_sqlite(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "savepoint")
    def _savepoint(connection, _name):
        # pysqlite opens a transaction only before INSERT/UPDATE/DELETE, so a SAVEPOINT issued first
        # would start one of its own and its RELEASE would commit half of a webhook's work. Open the
        # transaction first; reads before it stay outside any transaction, as pysqlite leaves them,
        # so a later write never has to upgrade a stale read lock.
        dbapi_connection = connection.connection.dbapi_connection
        if not dbapi_connection.in_transaction:
            dbapi_connection.execute("BEGIN")
