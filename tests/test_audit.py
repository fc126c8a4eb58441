"""The audit of who saw patient data: who, when, what, whose practice and from where; a refused look at
another practice's data is audited too; the worker seals the rows into a hash chain that `flask audit
verify` checks, so an edited, removed or inserted row is found; `flask audit export` gives a practice's."""

import csv
import io
from datetime import UTC, datetime

from sqlalchemy import delete, select, update

from callcenter import audit
from callcenter.accounts import create_api_key
from callcenter.extensions import db
from callcenter.models import AuditEntry
from ops.jobs import reconcile
from tests.support import ask, console_for, log_in, make_call, make_message


def _api(app, client, practice_id: int):
    with app.app_context():
        _, plain = create_api_key(db.session, practice_id)
        db.session.commit()
    return lambda path: client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {plain}",
                                                               "X-Forwarded-For": "203.0.113.7"})


def _key(app) -> bytes:
    return app.config["AUDIT_KEY"].encode()


def _entries(app) -> list[AuditEntry]:
    with app.app_context():
        return db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()


def test_each_look_is_audited_with_whose_data_and_from_where_and_a_refused_one_too(app, client, world):
    ours, theirs = make_call(app, world["maple"]), make_call(app, world["harbor"])
    get = _api(app, client, world["maple"])
    assert get(f"/calls/{ours}").status_code == 200
    assert get(f"/calls/{theirs}").status_code == 404  # answered as missing ...
    assert get(f"/calls/{theirs + 1000}").status_code == 404  # ... like one that is
    looks = [(e.action, e.object_type, e.object_id, e.practice_id, e.address) for e in _entries(app)]
    assert looks == [("view", "call", ours, world["maple"], "203.0.113.7"),
                     ("refused", "call", theirs, world["maple"], "203.0.113.7")]


def test_the_worker_seals_the_chain_and_verify_finds_an_edited_row(app, client, cli, world):
    get = _api(app, client, world["maple"])
    for _ in range(3):
        get(f"/calls/{make_call(app, world['maple'])}")
    with app.app_context():
        assert reconcile()["audit_sealed"] == 3
    assert [e.chain_seq for e in _entries(app)] == [1, 2, 3]
    result = cli.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "3 audit entries, chain intact" in result.output

    with app.app_context():  # someone covers their tracks
        db.session.execute(update(AuditEntry).where(AuditEntry.chain_seq == 2).values(object_id=999999))
        db.session.commit()
    result = cli.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "entry 2 (id" in result.output and "was changed" in result.output


def test_verify_finds_a_removed_row(app, client, cli, world):
    get = _api(app, client, world["maple"])
    for _ in range(3):
        get(f"/calls/{make_call(app, world['maple'])}")
    with app.app_context():
        audit.seal(db.session, _key(app))
        db.session.execute(delete(AuditEntry).where(AuditEntry.chain_seq == 2))
        db.session.commit()
        result = audit.verify(db.session, _key(app))
    assert (result.intact, result.broken_at, result.why) == (False, 2, "entry 2 of the chain is missing")


def test_someone_who_rewrites_a_row_and_its_hashes_without_the_key_is_found(app, client, world):
    import hashlib

    get = _api(app, client, world["maple"])
    for _ in range(2):
        get(f"/calls/{make_call(app, world['maple'])}")
    with app.app_context():
        audit.seal(db.session, _key(app))
        db.session.commit()
        # They edit the first row and chain the hashes again as plain SHA-256: without AUDIT_KEY, no use.
        first, second = db.session.scalars(select(AuditEntry).order_by(AuditEntry.chain_seq)).all()
        first.object_id = 999999
        first.entry_hash = hashlib.sha256(f"{audit.GENESIS}|{audit._fields(first)}".encode()).hexdigest()
        second.prev_hash = first.entry_hash
        second.entry_hash = hashlib.sha256(f"{first.entry_hash}|{audit._fields(second)}".encode()).hexdigest()
        db.session.commit()
        result = audit.verify(db.session, _key(app))
    assert (result.intact, result.broken_at) == (False, 1)


def test_entries_removed_from_the_end_are_found_against_a_logged_head(app, client, cli, world, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="ops.jobs")
    get = _api(app, client, world["maple"])
    for _ in range(3):
        get(f"/calls/{make_call(app, world['maple'])}")
    with app.app_context():
        reconcile()
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("audit chain head: ")][-1]
    seq, hashed = logged.removeprefix("audit chain head: ").split()
    assert seq == "3"
    with app.app_context():  # the last two entries go; the chain that is left checks out by itself
        db.session.execute(delete(AuditEntry).where(AuditEntry.chain_seq >= 2))
        db.session.commit()
    assert cli.invoke(args=["audit", "verify"]).exit_code == 0
    result = cli.invoke(args=["audit", "verify", "--head", f"{seq}:{hashed}"])
    assert result.exit_code == 1 and "entries 2 to 3 of the chain are missing" in result.output


def test_rows_written_after_a_seal_join_the_chain_where_it_ended(app, client, world):
    get = _api(app, client, world["maple"])
    get(f"/calls/{make_call(app, world['maple'])}")
    with app.app_context():
        audit.seal(db.session, _key(app))
        db.session.commit()
    get(f"/messages/{make_message(app, world['maple'])}")
    with app.app_context():
        assert audit.seal(db.session, _key(app)) == 1
        db.session.commit()
        assert audit.verify(db.session, _key(app)).checked == 2
    first, second = _entries(app)
    assert second.prev_hash == first.entry_hash


def test_export_gives_one_practices_entries_for_the_days_asked(app, client, cli, world, tmp_path):
    maple, harbor = _api(app, client, world["maple"]), _api(app, client, world["harbor"])
    maple(f"/calls/{make_call(app, world['maple'])}")
    harbor(f"/calls/{make_call(app, world['harbor'])}")
    browser = app.test_client()
    log_in(browser, "desk@maple.test")
    browser.get(f"/portal/messages/{make_message(app, world['maple'])}")
    today = datetime.now(UTC).date().isoformat()
    out = tmp_path / "maple.csv"
    result = cli.invoke(args=["audit", "export", "--practice", str(world["maple"]), "--from", today, "--to", today,
                              "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["action"], r["object"]) for r in rows] == [("view", "call"), ("view", "message")]
    assert rows[0]["who"].startswith("api key ak_") and rows[1]["who"] == "desk@maple.test"
    assert all(r["entry_hash"] and r["chain_seq"] for r in rows)  # sealed before the export
    earlier = cli.invoke(args=["audit", "export", "--practice", str(world["maple"]), "--from", "2020-01-01",
                               "--to", "2020-01-02"])
    assert earlier.output.strip() == "at,who,action,object,object_id,from,chain_seq,entry_hash"


def test_an_open_console_is_audited_when_it_opens_and_every_ten_minutes_while_it_shows_the_lists(app, world):
    alice = console_for(app, "alice@example.test")  # opening sends the lists: waiting callers, callbacks, voicemails
    ask(alice, "snapshot")
    ask(alice, "snapshot")

    def rows():
        return [(e.user_id, e.action, e.object_type) for e in _entries(app) if e.object_type == "console_lists"]

    assert rows() == [(world["alice"], "view", "console_lists")]  # the pushes and snapshots after are covered
    app.redis.delete(audit.CONSOLE_LISTS_KEY.format(user_id=world["alice"]))  # ten minutes on
    ask(alice, "snapshot")
    assert len(rows()) == 2
    assert app.redis.ttl(audit.CONSOLE_LISTS_KEY.format(user_id=world["alice"])) > audit.CONSOLE_LISTS_EVERY - 5
