"""/api/v1/openapi.json is true: schemathesis generates requests for every operation it describes and
checks each answer against it (a documented status, a body of the documented shape, never a 5xx)."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from callcenter.accounts import create_api_key
from callcenter.extensions import db
from tests.support import make_call, make_message

pytestmark = pytest.mark.slow


@pytest.fixture
def key(app, world):
    """A key that may write, for a practice with calls and messages (so that some ids exist)."""
    with app.app_context():
        _, plain = create_api_key(db.session, world["maple"], can_write=True)
        db.session.commit()
    for _ in range(3):
        make_message(app, world["maple"], call_id=make_call(app, world["maple"]))
    make_call(app, world["harbor"])
    return plain


def test_every_operation_answers_as_described(app, key):
    # schemathesis's own pytest plugin does not run under pytest 9 yet: each operation's strategy is run here.
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 5
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def answers_as_described(case):
            # A schema cannot say "until after since": that 400 is documented, not a schema-valid refusal.
            case.call_and_validate(headers={"Authorization": f"Bearer {key}"},
                                   excluded_checks=[positive_data_acceptance])

        answers_as_described()


def test_the_description_is_served_without_a_key(client):
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    document = answer.get_json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {"/calls", "/calls/{call_id}", "/messages", "/messages/{message_id}",
                                      "/messages/{message_id}/acknowledge"}
