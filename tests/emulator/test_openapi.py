"""The emulator's REST surface checked against Twilio's published OpenAPI description."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from .conftest import ACCOUNT_SID, AUTH_TOKEN, PATIENT, PRACTICE_NUMBER, say

SPEC_PATH = Path(__file__).resolve().parents[2] / "emulator" / "twilio_openapi" / "twilio_api_v2010.json"


@functools.cache
def twilio_spec() -> dict:
    """Twilio's description, read once; the tests call it in their body so a missing file FAILS them."""
    # The repository carries its own copy (emulator/twilio_openapi/, MIT licence). A missing copy is a
    # failure, not a skip (nor a fixture error), so the conformance check cannot silently stop running.
    assert SPEC_PATH.exists(), f"Twilio's OpenAPI description is missing: expected it at {SPEC_PATH}"
    return json.loads(SPEC_PATH.read_text())


class RecordingTransport(TwilioHttpClient):
    """The twilio package's own transport, keeping each request and the JSON answered."""

    def __init__(self):
        super().__init__()
        self.exchanges = []

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False):
        response = super().request(method, url, params=params, data=data, headers=headers, auth=auth,
                                   timeout=timeout, allow_redirects=allow_redirects)
        if isinstance(data, str):
            fields = [k for k, _ in parse_qsl(data, keep_blank_values=True)]
        else:
            fields = list((data or {}).keys())
        self.exchanges.append({"method": method.lower(), "path": urlsplit(url).path, "fields": fields,
                               "query": list((params or {}).keys()), "status": response.status_code,
                               "body": json.loads(response.text)})
        return response


def operation(spec, method: str, path: str) -> tuple[str, dict]:
    """The spec's path template and operation that `path` matches."""
    for template, item in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", r"[^/]+", template.replace(".", r"\.")) + "$"
        if re.match(pattern, path) and method in item:
            return template, item[method]
    raise AssertionError(f"{method.upper()} {path} is not in Twilio's API description")


def schema_properties(spec, schema: dict) -> set[str]:
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return set(schema.get("properties", {}))


def test_it_speaks_the_rest_api_as_twilio_describes_it(emulator, twiml_app):
    spec = twilio_spec()
    twiml_app.route("/voice", '<Response><Enqueue waitUrl="/hold">q</Enqueue></Response>')
    twiml_app.route("/hold", '<Response><Pause length="30"/></Response>')
    twiml_app.route("/out", say("Hello."))
    transport = RecordingTransport()
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=transport)
    client.api.base_url = emulator.url
    api = client.api.v2010.accounts(ACCOUNT_SID)
    queued = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    queued.wait_for_status("in queue (position 1)")

    created = api.calls.create(to="+15550004444", from_=PRACTICE_NUMBER, url=twiml_app.url + "/out",
                               method="POST", status_callback=twiml_app.url + "/events",
                               status_callback_event=["initiated", "completed"], status_callback_method="POST")
    api.calls(created.sid).fetch()
    api.calls.list(to="+15550004444", limit=5)
    [queue] = api.queues.list()
    api.queues(queue.sid).fetch()
    api.queues(queue.sid).members.list()
    api.queues(queue.sid).members("Front").fetch()
    api.queues(queue.sid).members("Front").update(url=twiml_app.url + "/out", method="POST")
    queued.wait_for("Hello.")
    api.calls(created.sid).update(status="canceled")
    message = api.messages.create(to=PATIENT, from_=PRACTICE_NUMBER, body="Hi", status_callback=twiml_app.url + "/s")
    api.messages(message.sid).fetch()
    api.messages.list(to=PATIENT, limit=5)

    assert len(transport.exchanges) == 12
    assert_conforms(spec, transport)


def test_it_speaks_the_conference_api_as_twilio_describes_it(emulator, twiml_app):
    spec = twilio_spec()
    twiml_app.route("/voice", '<Response><Dial><Conference waitUrl="">room-1</Conference></Dial></Response>')
    transport = RecordingTransport()
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=transport)
    client.api.base_url = emulator.url
    api = client.api.v2010.accounts(ACCOUNT_SID)
    caller = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    caller.wait_for_status("waiting for conference")

    [room] = api.conferences.list(friendly_name="room-1", status="init")
    api.conferences(room.sid).fetch()
    api.conferences(room.sid).participants.list(muted=False)
    api.conferences(room.sid).participants(caller.sid).fetch()
    api.conferences(room.sid).participants(caller.sid).update(muted=True, hold=False)
    api.conferences(room.sid).update(status="completed")
    caller.wait_for_status("ended")

    assert len(transport.exchanges) == 6
    assert_conforms(spec, transport)


def assert_conforms(spec, transport: RecordingTransport) -> None:
    """Every request the client sent and every answer are as the OpenAPI description has them."""
    for exchange in transport.exchanges:
        template, op = operation(spec, exchange["method"], exchange["path"])
        where = f"{exchange['method'].upper()} {template}"
        assert str(exchange["status"]) in op["responses"], f"{where} answered {exchange['status']}"
        if exchange["fields"]:
            body_schema = op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
            unknown = set(exchange["fields"]) - set(body_schema["properties"])
            assert not unknown, f"{where} sent fields the spec does not list: {unknown}"
        query_names = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
        assert not set(exchange["query"]) - query_names, f"{where} sent unknown query {exchange['query']}"
        response_schema = op["responses"][str(exchange["status"])]["content"]["application/json"]["schema"]
        allowed = schema_properties(spec, response_schema)
        body = exchange["body"]
        extra = set(body) - allowed
        assert not extra, f"{where} answered fields the spec does not list: {extra}"
        list_keys = [k for k in body if isinstance(body[k], list)]
        for key in list_keys:  # the items of a list page follow the item schema
            item_schema = spec["components"]["schemas"][
                response_schema["properties"][key]["items"]["$ref"].rsplit("/", 1)[-1]]
            for item in body[key]:
                assert not set(item) - set(item_schema["properties"]), f"{where} item has unknown fields"
        if not list_keys:
            missing = allowed - set(body)
            assert not missing, f"{where} left out fields: {missing}"
