from sqlalchemy import func, select

from app import create_app
from callcenter.extensions import db
from callcenter.models import AuditEntry, Call, CallEvent, Message, OnCallShift, Practice, PracticeNumber, User
from tests.support import log_in


def _practice(cli, name="Cedar Clinic", number="+1 (303) 555-0147", *extra):
    return cli.invoke(args=["practice", "create", "--name", name, "--number", number, *extra])


def test_it_creates_a_practice_and_prints_its_id(app, cli):
    result = _practice(cli, "Cedar Clinic", "+1 (303) 555-0147", "--timezone", "America/Denver")
    assert result.exit_code == 0, result.output
    practice_id = int(result.output.strip())
    with app.app_context():
        practice = db.session.get(Practice, practice_id)
        assert practice.name == "Cedar Clinic" and practice.timezone == "America/Denver"
        assert [n.number for n in practice.numbers] == ["+13035550147"]


def test_it_refuses_a_number_that_is_not_a_phone_number(app, cli):
    result = _practice(cli, "Cedar Clinic", "call-me-maybe")
    assert result.exit_code != 0
    assert "not a phone number: 'call-me-maybe'" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Practice)) == 0


def test_it_refuses_a_number_another_practice_has(cli):
    assert _practice(cli).exit_code == 0
    result = _practice(cli, "Copycat Clinic")
    assert result.exit_code != 0
    assert "+13035550147 already belongs to a practice" in result.output


def test_it_refuses_an_unknown_timezone(cli):
    result = _practice(cli, "Cedar Clinic", "+13035550147", "--timezone", "Mars/Olympus")
    assert result.exit_code != 0
    assert "unknown timezone" in result.output


def test_it_creates_a_practice_user_who_can_log_in(app, cli, client):
    practice_id = _practice(cli).output.strip()
    result = cli.invoke(args=["user", "create", "--email", "Front@Cedar.test", "--role", "practice",
                                 "--practice", practice_id, "--password-stdin"],
                           input="a-long-enough-secret\n")
    assert result.exit_code == 0, result.output
    assert "created practice front@cedar.test" in result.output
    assert "a-long-enough-secret" not in result.output
    response = log_in(client, "front@cedar.test", "a-long-enough-secret")
    assert response.headers["Location"] == "/portal/"


def test_it_creates_a_user_with_a_prompted_password(cli, client):
    result = cli.invoke(args=["user", "create", "--email", "carol@example.test", "--role", "agent"],
                           input="a-long-enough-secret\na-long-enough-secret\n")
    assert result.exit_code == 0, result.output
    assert log_in(client, "carol@example.test", "a-long-enough-secret").status_code == 302


def test_it_refuses_practice_staff_without_a_practice(app, cli):
    result = cli.invoke(args=["user", "create", "--email", "x@cedar.test", "--role", "practice",
                                 "--password-stdin"], input="a-long-enough-secret\n")
    assert result.exit_code != 0
    assert "practice staff need --practice" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_it_refuses_a_short_password(cli):
    result = cli.invoke(args=["user", "create", "--email", "carol@example.test", "--role", "agent",
                                 "--password-stdin"], input="short\n")
    assert result.exit_code != 0
    assert "at least 8 characters" in result.output


def test_it_prints_an_api_key_that_works_for_its_practice_only(app, cli, client):
    cedar = _practice(cli).output.strip()
    other = _practice(cli, "Birch Clinic", "+13035550148").output.strip()
    result = cli.invoke(args=["apikey", "create", "--practice", cedar])
    assert result.exit_code == 0, result.output
    key = result.output.strip()
    with app.app_context():
        for practice_id, sid in ((int(cedar), "CA" + "c" * 32), (int(other), "CA" + "b" * 32)):
            db.session.add(Call(call_sid=sid, practice_id=practice_id, from_number="+13035550199"))
        db.session.commit()
        cedar_call = db.session.scalar(select(Call.id).where(Call.practice_id == int(cedar)))
    response = client.get("/api/v1/calls", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert [c["id"] for c in response.get_json()["data"]] == [cedar_call]


def test_a_revoked_api_key_is_refused_at_once(cli, client):
    cedar = _practice(cli).output.strip()
    key = cli.invoke(args=["apikey", "create", "--practice", cedar]).output.strip()
    prefix = key.split("_")[1]
    assert client.get("/api/v1/calls", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    listed = cli.invoke(args=["apikey", "list", "--practice", cedar]).output
    assert f"ak_{prefix}_…" in listed and "in use" in listed and key not in listed

    result = cli.invoke(args=["apikey", "revoke", "--prefix", f"ak_{prefix}_"])
    assert result.exit_code == 0, result.output
    assert client.get("/api/v1/calls", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert "revoked" in cli.invoke(args=["apikey", "list", "--practice", cedar]).output
    again = cli.invoke(args=["apikey", "revoke", "--prefix", prefix])
    assert again.exit_code != 0 and f"no key in use starts ak_{prefix}_" in again.output


def test_it_refuses_a_key_for_a_missing_practice(cli):
    result = cli.invoke(args=["apikey", "create", "--practice", "999"])
    assert result.exit_code != 0
    assert "no practice with id 999" in result.output


def _counts(app) -> dict:
    with app.app_context():
        return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
                for model in (Practice, PracticeNumber, User, Call, CallEvent, Message, AuditEntry)}


def _demo(app, cli):
    # `flask demo` runs inside the app context the flask command pushes; flask's CLI runner does not push one
    # for commands registered without @with_appcontext, so push it here as the command line does.
    with app.app_context():
        return cli.invoke(args=["demo"])


def test_it_loads_the_demo_once_however_often_it_runs(app, cli, client):
    first = _demo(app, cli)
    assert first.exit_code == 0, first.output
    after_first = _counts(app)
    assert after_first["Practice"] == 2 and after_first["Call"] > 0 and after_first["Message"] > 0
    second = _demo(app, cli)
    assert second.exit_code == 0, second.output
    assert _counts(app) == after_first
    assert second.output == first.output
    # The demo's practice login works and shows its history.
    assert log_in(client, "staff1@demo.test", "demo-password").status_code == 302
    assert "data-call-id" in client.get("/portal/").get_data(as_text=True)
    # Its history is whole: its urgent message was paged and acknowledged then, so the worker pages nobody
    # about it when `make run` starts.
    from ops.jobs import reconcile

    with app.app_context():
        assert reconcile()["pages_not_sent"] == []
        assert reconcile()["raised_to_worklist"] == []


def test_it_configures_a_practice(app, cli):
    practice_id = _practice(cli).output.strip()
    result = cli.invoke(args=["practice", "configure", "--practice", practice_id, "--greeting", "Welcome to Cedar.",
                              "--options", "urgent,refill", "--languages", "en,es", "--max-wait", "120",
                              "--instructions", "Dr. Lee is on call.", "--queue-capacity", "40"])
    assert result.exit_code == 0, result.output
    assert result.output == f"practice {practice_id} configured\n"
    with app.app_context():
        practice = db.session.get(Practice, int(practice_id))
        assert (practice.greeting, practice.menu_options, practice.languages, practice.max_wait_seconds,
                practice.queue_capacity) == ("Welcome to Cedar.", ["urgent", "refill"], ["en", "es"], 120, 40)


def test_it_refuses_settings_a_practice_cannot_have(app, cli):
    practice_id = _practice(cli).output.strip()
    for args, message in ((["--options", "urgent,bogus"], "unknown menu options: bogus"),
                          (["--languages", "es"], "languages must be en or en,es"),
                          (["--max-wait", "30"], "30 is not in the range 60<=x<=3600")):
        result = cli.invoke(args=["practice", "configure", "--practice", practice_id, "--greeting", "Hi", *args])
        assert result.exit_code != 0
        assert message in result.output
    result = cli.invoke(args=["practice", "configure", "--practice", "999"])
    assert result.exit_code != 0 and "no practice with id 999" in result.output
    with app.app_context():
        assert db.session.get(Practice, int(practice_id)).greeting is None


def test_it_sets_business_hours_and_holidays(cli):
    practice_id = _practice(cli).output.strip()
    result = cli.invoke(args=["practice", "hours", "--practice", practice_id, "--open", "mon-fri=08:00-17:00",
                              "--open", "sat=09:00-12:00", "--holiday", "2026-12-25"])
    assert result.exit_code == 0, result.output
    assert result.output == f"practice {practice_id}: 6 opening periods, 1 holidays\n"
    result = cli.invoke(args=["practice", "hours", "--practice", practice_id, "--open", "mon=08:00-12:00",
                              "--holiday", "2027-01-01"])
    assert result.output == f"practice {practice_id}: 1 opening periods, 2 holidays\n"


def test_it_refuses_hours_it_cannot_read(cli):
    practice_id = _practice(cli).output.strip()
    result = cli.invoke(args=["practice", "hours", "--practice", practice_id, "--open", "mon-fri=17:00-08:00"])
    assert result.exit_code != 0
    assert "could not read the hours: closing time must be after opening time" in result.output


def test_it_adds_an_on_call_shift(app, cli):
    practice_id = _practice(cli).output.strip()
    result = cli.invoke(args=["oncall", "add", "--practice", practice_id, "--name", "Dr. Lee", "--number",
                              "(303) 555-0199", "--start", "2026-12-01T17:00-05:00", "--end", "2026-12-02T08:00-05:00"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        shift = db.session.scalar(select(OnCallShift))
        assert result.output == f"on-call shift {shift.id} added\n"
        assert shift.number == "+13035550199"


def test_it_refuses_a_shift_without_offsets(app, cli):
    practice_id = _practice(cli).output.strip()
    result = cli.invoke(args=["oncall", "add", "--practice", practice_id, "--name", "Dr. Lee", "--number",
                              "+13035550199", "--start", "2026-12-01T17:00", "--end", "2026-12-02T08:00"])
    assert result.exit_code != 0
    assert "give times with their UTC offset" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OnCallShift)) == 0


def test_commands_that_need_no_redis_run_without_one(app):
    no_redis = create_app({**app.config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    result = no_redis.test_cli_runner().invoke(args=["practice", "create", "--name", "Cedar Clinic",
                                                     "--number", "+13035550147"])
    assert result.exit_code == 0, result.output
    with no_redis.app_context():
        db.engine.dispose()


def test_the_simulator_brings_its_own_command(cli):
    result = cli.invoke(args=["simulate", "--help"])
    assert result.exit_code == 0, result.output
    assert "Play a day of callers and agents" in result.output


def test_it_sets_an_agents_skills_and_explains_bad_ones(app, cli, world):
    result = cli.invoke(args=["user", "skills", "--email", "bob@example.test", "--languages", "en,es",
                              "--practices", str(world["maple"])])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"bob@example.test: languages en, es; trained for {world['maple']}"
    with app.app_context():
        bob = db.session.get(User, world["bob"])
        assert (bob.languages, bob.trained_practices) == (["en", "es"], [world["maple"]])

    assert "comma-separated list of en, es" in cli.invoke(
        args=["user", "skills", "--email", "bob@example.test", "--languages", "fr"]).output
    assert "No practice with id [999]" in cli.invoke(
        args=["user", "skills", "--email", "bob@example.test", "--practices", "999"]).output
    assert "No answering-service staff account" in cli.invoke(
        args=["user", "skills", "--email", "desk@maple.test", "--languages", "en"]).output


def test_it_sends_an_agents_calls_to_their_own_phone_and_back_to_the_browser(app, cli, world):
    result = cli.invoke(args=["user", "audio", "--email", "bob@example.test", "--phone", "(617) 555-0199"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "bob@example.test: takes calls on their phone +16175550199, after pressing 1"
    with app.app_context():
        assert db.session.get(User, world["bob"]).audio_phone == "+16175550199"

    result = cli.invoke(args=["user", "audio", "--email", "bob@example.test", "--browser"])
    assert result.output.strip() == "bob@example.test: takes calls on the console's browser audio"
    with app.app_context():
        assert db.session.get(User, world["bob"]).audio_phone is None

    assert "Give either --phone NUMBER or --browser" in cli.invoke(
        args=["user", "audio", "--email", "bob@example.test"]).output
    assert "not a possible phone number" in cli.invoke(
        args=["user", "audio", "--email", "bob@example.test", "--phone", "12"]).output
