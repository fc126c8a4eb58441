from sqlalchemy import func, select

from callcenter.extensions import db
from callcenter.models import AuditEntry, Call, CallEvent, Message, Practice, PracticeNumber, User
from tests.portal_support import log_in


def _practice(runner, name="Cedar Clinic", number="+1 (303) 555-0147", *extra):
    return runner.invoke(args=["practice", "create", "--name", name, "--number", number, *extra])


def test_it_creates_a_practice_and_prints_its_id(app, runner):
    result = _practice(runner, "Cedar Clinic", "+1 (303) 555-0147", "--timezone", "America/Denver")
    assert result.exit_code == 0, result.output
    practice_id = int(result.output.strip())
    with app.app_context():
        practice = db.session.get(Practice, practice_id)
        assert practice.name == "Cedar Clinic" and practice.timezone == "America/Denver"
        assert [n.number for n in practice.numbers] == ["+13035550147"]


def test_it_refuses_a_number_that_is_not_a_phone_number(app, runner):
    result = _practice(runner, "Cedar Clinic", "call-me-maybe")
    assert result.exit_code != 0
    assert "not a phone number: 'call-me-maybe'" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Practice)) == 0


def test_it_refuses_a_number_another_practice_has(runner):
    assert _practice(runner).exit_code == 0
    result = _practice(runner, "Copycat Clinic")
    assert result.exit_code != 0
    assert "+13035550147 already belongs to a practice" in result.output


def test_it_refuses_an_unknown_timezone(runner):
    result = _practice(runner, "Cedar Clinic", "+13035550147", "--timezone", "Mars/Olympus")
    assert result.exit_code != 0
    assert "unknown timezone" in result.output


def test_it_creates_a_practice_user_who_can_log_in(app, runner, client):
    practice_id = _practice(runner).output.strip()
    result = runner.invoke(args=["user", "create", "--email", "Front@Cedar.test", "--role", "practice",
                                 "--practice", practice_id, "--password-stdin"],
                           input="a-long-enough-secret\n")
    assert result.exit_code == 0, result.output
    assert "created practice front@cedar.test" in result.output
    assert "a-long-enough-secret" not in result.output
    response = log_in(client, "front@cedar.test", "a-long-enough-secret")
    assert response.headers["Location"] == "/portal/"


def test_it_creates_a_user_with_a_prompted_password(runner, client):
    result = runner.invoke(args=["user", "create", "--email", "carol@example.test", "--role", "agent"],
                           input="a-long-enough-secret\na-long-enough-secret\n")
    assert result.exit_code == 0, result.output
    assert log_in(client, "carol@example.test", "a-long-enough-secret").status_code == 302


def test_it_refuses_practice_staff_without_a_practice(app, runner):
    result = runner.invoke(args=["user", "create", "--email", "x@cedar.test", "--role", "practice",
                                 "--password-stdin"], input="a-long-enough-secret\n")
    assert result.exit_code != 0
    assert "practice staff need --practice" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_it_refuses_a_short_password(runner):
    result = runner.invoke(args=["user", "create", "--email", "carol@example.test", "--role", "agent",
                                 "--password-stdin"], input="short\n")
    assert result.exit_code != 0
    assert "at least 8 characters" in result.output


def test_it_prints_an_api_key_that_works_for_its_practice_only(app, runner, client):
    cedar = _practice(runner).output.strip()
    other = _practice(runner, "Birch Clinic", "+13035550148").output.strip()
    result = runner.invoke(args=["apikey", "create", "--practice", cedar])
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


def test_it_refuses_a_key_for_a_missing_practice(runner):
    result = runner.invoke(args=["apikey", "create", "--practice", "999"])
    assert result.exit_code != 0
    assert "no practice with id 999" in result.output


def _counts(app) -> dict:
    with app.app_context():
        return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
                for model in (Practice, PracticeNumber, User, Call, CallEvent, Message, AuditEntry)}


def _demo(app, runner):
    # `flask demo` runs inside the app context the flask command pushes; the test runner does not push one
    # for commands registered without @with_appcontext, so push it here as the command line does.
    with app.app_context():
        return runner.invoke(args=["demo"])


def test_it_loads_the_demo_once_however_often_it_runs(app, runner, client):
    first = _demo(app, runner)
    assert first.exit_code == 0, first.output
    after_first = _counts(app)
    assert after_first["Practice"] == 2 and after_first["Call"] > 0 and after_first["Message"] > 0
    second = _demo(app, runner)
    assert second.exit_code == 0, second.output
    assert _counts(app) == after_first
    assert second.output == first.output
    # The demo's practice login works and shows its history.
    assert log_in(client, "staff1@demo.test", "demo-password").status_code == 302
    assert "data-call-id" in client.get("/portal/").get_data(as_text=True)
