"""The practice API's OpenAPI 3.1 description, served at /api/v1/openapi.json.

Kept true by tests/test_openapi.py, which runs schemathesis against the app: every operation, with
generated parameters, must answer a documented status with a body of the documented shape, and never 5xx.
"""

from __future__ import annotations

from callcenter.scoping import CALL_STATES

from .params import MAX_ID, MAX_PAGE

NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"},
                                                                   "parameter": {"type": "string"}}}


def _error(description: str) -> dict:
    return _ok("#/components/schemas/Error", description)


def _ok(ref: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _path_id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1,
                                                                     "maximum": MAX_ID}}


RANGE = [
    _query("since", {"type": "string", "format": "date-time"}, "From this time (inclusive), ISO 8601."),
    _query("until", {"type": "string", "format": "date-time"}, "Before this time, ISO 8601."),
    _query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, "Page number, from 1."),
]
COMMON = {"401": _error("No key, or a key that is not valid or was revoked."),
          "400": _error("A parameter could not be read; `parameter` names it.")}
ONE = {**COMMON, "404": _error("Not found: missing, or another practice's (the same answer).")}


def document() -> dict:
    call = {"type": "object", "required": ["id", "state", "created_at", "message_ids"], "properties": {
        "id": {"type": "integer"}, "from": {"type": ["string", "null"]}, "to": {"type": ["string", "null"]},
        "direction": {"type": ["string", "null"]}, "state": {"type": "string", "enum": list(CALL_STATES)},
        "outcome": {"type": ["string", "null"]}, "reason": {"type": ["string", "null"]},
        "priority": {"type": "string", "enum": ["urgent", "routine"]},
        "disposition": {"type": ["string", "null"]}, "notes": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"}, "answered_at": NULLABLE_TIME,
        "ended_at": NULLABLE_TIME, "duration_seconds": {"type": ["integer", "null"]},
        "message_ids": {"type": "array", "items": {"type": "integer"}}}}
    call_detail = {"allOf": [{"$ref": "#/components/schemas/Call"}, {"type": "object", "required": ["events"],
                   "properties": {"events": {"type": "array", "items": {
                       "type": "object", "required": ["kind", "at", "data"], "properties": {
                           "kind": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
                           "data": {"type": "object"}}}}}}]}
    message = {"type": "object", "required": ["id", "urgency", "body", "created_at"], "properties": {
        "id": {"type": "integer"}, "call_id": {"type": ["integer", "null"]},
        "urgency": {"type": "string"}, "caller_name": {"type": ["string", "null"]},
        "callback_number": {"type": ["string", "null"]}, "body": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"}, "delivered_at": NULLABLE_TIME,
        "acknowledged_at": NULLABLE_TIME}}

    def listing(item: str) -> dict:
        return {"type": "object", "required": ["data", "page", "next_page"], "properties": {
            "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
            "page": {"type": "integer"}, "next_page": {"type": ["integer", "null"]}}}

    return {
        "openapi": "3.1.0",
        "info": {"title": "Answering service: practice API", "version": "1",
                 "description": "A practice's own calls and messages. One key belongs to one practice and sees "
                                "only that practice; another practice's id answers 404 like a missing one."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"apiKey": []}],
        "paths": {
            "/calls": {"get": {"operationId": "listCalls", "summary": "The practice's calls, newest first.",
                               "parameters": [*RANGE, _query("status", {"type": "string", "enum": list(CALL_STATES)},
                                                            "Only calls in this state.")],
                               "responses": {"200": _ok("#/components/schemas/CallList", "A page of calls."),
                                             **COMMON}}},
            "/calls/{call_id}": {"get": {"operationId": "getCall", "summary": "One call, with its events.",
                                         "parameters": [_path_id("call_id")],
                                         "responses": {"200": _ok("#/components/schemas/CallDetail", "The call."),
                                                       **ONE}}},
            "/messages": {"get": {"operationId": "listMessages", "summary": "The practice's messages, newest first.",
                                  "parameters": RANGE,
                                  "responses": {"200": _ok("#/components/schemas/MessageList", "A page of messages."),
                                                **COMMON}}},
            "/messages/{message_id}": {"get": {"operationId": "getMessage", "summary": "One message.",
                                               "parameters": [_path_id("message_id")],
                                               "responses": {"200": _ok("#/components/schemas/Message", "The message."),
                                                             **ONE}}},
            "/messages/{message_id}/acknowledge": {"post": {
                "operationId": "acknowledgeMessage",
                "summary": "Acknowledge a message (a key that may write); again, it changes nothing.",
                "parameters": [_path_id("message_id")],
                "responses": {"200": _ok("#/components/schemas/Message", "The message, acknowledged."),
                              "403": _error("This key may only read."), **ONE}}},
        },
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                           "description": "flask --app app apikey create --practice ID"}},
            "schemas": {"Error": ERROR, "Call": call, "CallDetail": call_detail, "Message": message,
                        "CallList": listing("Call"), "MessageList": listing("Message")},
        },
    }
