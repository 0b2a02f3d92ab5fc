"""The OpenAPI 3.1 document of the event API, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from kommunikation.events.api import BATCH_LIMIT, CUSTOMER_FIELDS, RECORD_FIELDS
from kommunikation.events.catalogue import CUSTOM_FAMILY, CUSTOM_KEY, EVENT_TYPES

DESCRIPTION = """\
Business events from ERP, shop and order systems (invoice created, order shipped,
appointment moved ...). They drive the automated messages of Kundenkommunikation.

**Authentication: Standard Webhooks** (https://www.standardwebhooks.com). Each source (set up
by an administrator, who hands out its slug and secret once) names itself in `X-Event-Source`
and signs `"{webhook-id}.{webhook-timestamp}.{raw body}"` with HMAC-SHA256 and the
base64-decoded part of its `whsec_...` secret: `webhook-signature: v1,<base64>`. The
timestamp is integer Unix seconds and must be within 5 minutes of our clock. During a
rotation the old and the new secret are both accepted (send one signature, or both,
space-separated). Any Standard Webhooks library signs correctly.

**Idempotency:** `source_key` identifies the event at the source. The same key with the same
content answers 200 with the stored event (retries are safe); the same key with other
content answers 409. A corrected event needs a new key (e.g. with the record's version).

**Customers** are found within the source's brand by `customer.external_id`, `number`,
`email` or `phone` (in this order). An unknown customer does not refuse the event: it is
stored without customer and the answer's `warnings` holds `customer_not_found`.
"""

_TEXT = {"type": "string"}
_ID = {"type": ["string", "integer"]}


def _schemas() -> dict[str, Any]:
    listed = sorted(key for key in EVENT_TYPES if key != CUSTOM_FAMILY)
    return {
        "EventIn": {
            "type": "object",
            "additionalProperties": False,
            "required": ["type", "source_key", "occurred_at"],
            "properties": {
                "type": {
                    "type": "string",
                    "description": "An event type of the catalogue, or custom.<name>.",
                    "anyOf": [{"enum": listed}, {"pattern": CUSTOM_KEY.pattern}],
                },
                "source_key": {"type": "string", "minLength": 1, "maxLength": 200},
                "occurred_at": {
                    "type": "string",
                    "format": "date-time",
                    "description": "ISO 8601 with offset, e.g. 2026-03-02T09:00:00+01:00.",
                },
                "customer": {"$ref": "#/components/schemas/CustomerRef"},
                "record": {"$ref": "#/components/schemas/Record"},
                "payload": {
                    "type": "object",
                    "description": "Plain JSON; the fields the event type's templates use. "
                    "Amounts and dates as strings.",
                },
            },
        },
        "CustomerRef": {
            "type": "object",
            "additionalProperties": False,
            "properties": dict.fromkeys(CUSTOMER_FIELDS, _ID),
        },
        "Record": {
            "type": "object",
            "additionalProperties": False,
            "description": "The business record the event is about (kind e.g. invoice, order).",
            "properties": dict.fromkeys(RECORD_FIELDS, _ID),
        },
        "EventOut": {
            "type": "object",
            "required": ["id", "type", "source", "source_key", "occurred_at", "customer"],
            "properties": {
                "id": {"type": "integer"},
                "type": _TEXT,
                "source": _TEXT,
                "source_key": _TEXT,
                "occurred_at": {"type": "string", "format": "date-time"},
                "received_at": {"type": "string", "format": "date-time"},
                "customer": {
                    "oneOf": [
                        {"type": "null"},
                        {
                            "type": "object",
                            "properties": {"id": {"type": "integer"}, "number": _TEXT},
                        },
                    ]
                },
                "record": {
                    "type": "object",
                    "properties": dict.fromkeys(RECORD_FIELDS, _TEXT),
                },
                "outcome": {"enum": ["pending", "processed", "ignored", "failed"]},
                "warnings": {"type": "array", "items": {"enum": ["customer_not_found"]}},
            },
        },
        "EventAnswer": {
            "type": "object",
            "required": ["event"],
            "properties": {"event": {"$ref": "#/components/schemas/EventOut"}},
        },
        "Conflict": {
            "type": "object",
            "required": ["error", "event"],
            "properties": {
                "error": {"const": "conflict"},
                "detail": _TEXT,
                "event": {"$ref": "#/components/schemas/EventOut"},
            },
        },
        "FieldErrors": {
            "type": "object",
            "required": ["errors"],
            "properties": {
                "errors": {
                    "type": "object",
                    "description": "Messages per field; nested fields as payload.status.",
                    "additionalProperties": {"type": "array", "items": _TEXT},
                }
            },
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": _TEXT, "limit": {"type": "integer"}},
        },
        "BatchIn": {
            "type": "object",
            "additionalProperties": False,
            "required": ["events"],
            "properties": {
                "events": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": BATCH_LIMIT,
                    "items": {"$ref": "#/components/schemas/EventIn"},
                }
            },
        },
        "BatchOut": {
            "type": "object",
            "required": ["results"],
            "properties": {
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["index", "status"],
                        "description": "Per event: its status (201, 200, 400, 409) and the "
                        "body a single request would have had.",
                        "properties": {
                            "index": {"type": "integer"},
                            "status": {"enum": [200, 201, 400, 409]},
                            "event": {"$ref": "#/components/schemas/EventOut"},
                            "errors": {"type": "object"},
                            "error": _TEXT,
                        },
                    },
                }
            },
        },
        **_device_schemas(),
    }


# --- push devices (kommunikation.events.devices) ------------------------------------------

DEVICE_TOKEN_SCHEMA = {
    "type": "string",
    "pattern": "^[A-Za-z0-9_\\-:.]{16,512}$",
    "description": "The FCM registration token of one app install.",
}


def _device_schemas() -> dict[str, Any]:
    return {
        "DeviceIn": {
            "type": "object",
            "additionalProperties": False,
            "required": ["customer", "token"],
            "properties": {
                "customer": {"$ref": "#/components/schemas/CustomerRef"},
                "token": DEVICE_TOKEN_SCHEMA,
            },
        },
        "DeviceAnswer": {
            "type": "object",
            "required": ["device"],
            "properties": {
                "device": {
                    "type": "object",
                    "required": ["id", "customer", "active"],
                    "properties": {
                        "id": {"type": "integer"},
                        "customer": {
                            "type": "object",
                            "properties": {"id": {"type": "integer"}, "number": _TEXT},
                        },
                        "registered_at": {"type": "string", "format": "date-time"},
                        "last_seen_at": {"type": ["string", "null"], "format": "date-time"},
                        "active": {"type": "boolean"},
                    },
                }
            },
        },
        "DeviceRetireIn": {
            "type": "object",
            "additionalProperties": False,
            "required": ["token"],
            "properties": {"token": DEVICE_TOKEN_SCHEMA},
        },
        "DeviceRetireAnswer": {
            "type": "object",
            "required": ["retired"],
            "properties": {"retired": {"type": "integer", "minimum": 0}},
        },
    }


def _device_paths() -> dict[str, Any]:
    return {
        "/devices": {
            "post": {
                "operationId": "postDevice",
                "summary": "Register a push device (FCM token) of a customer",
                "description": "Call at login and whenever the app's token changes. A token "
                "registered for another customer of the brand moves to this one. Push "
                "messages go to the customer's device seen most recently; a token Firebase "
                "reports as unregistered is retired by us.",
                "parameters": _HEADERS,
                "requestBody": {"required": True, **_json("DeviceIn", "The device.")},
                "responses": {
                    "201": _json("DeviceAnswer", "Registered."),
                    "200": _json("DeviceAnswer", "Known: seen again (and active again)."),
                    "422": _json("Error", "customer_not_found: no such customer of the brand."),
                    **_refusals(),
                },
            }
        },
        "/devices/retire": {
            "post": {
                "operationId": "retireDevice",
                "summary": "Retire a push device (logout)",
                "parameters": _HEADERS,
                "requestBody": {"required": True, **_json("DeviceRetireIn", "The token.")},
                "responses": {
                    "200": _json("DeviceRetireAnswer", "How many registrations were retired."),
                    **_refusals(),
                },
            }
        },
    }


def _header(name: str, description: str, example: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
        "example": example,
    }


_HEADERS = [
    _header("X-Event-Source", "The slug of your event source.", "shop"),
    _header("webhook-id", "Unique per message, the same on retries; [A-Za-z0-9_-].", "msg_2KWP"),
    _header("webhook-timestamp", "Unix seconds of this attempt.", "1772438400"),
    _header("webhook-signature", "v1,<base64 HMAC-SHA256>, space-separated.", "v1,K5oZ...="),
]


def _json(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _refusals() -> dict[str, Any]:
    limit = settings.EVENT_API_MAX_BYTES
    return {
        "400": _json("FieldErrors", "Malformed JSON or invalid fields."),
        "401": _json("Error", "Missing or invalid signature, stale timestamp, unknown source."),
        "410": _json("Error", "The source is deactivated: stop sending."),
        "413": _json("Error", f"The body is larger than {limit} bytes."),
        "415": _json("Error", "The body is not application/json."),
    }


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kundenkommunikation Event API",
            "version": "1",
            "description": DESCRIPTION,
        },
        "servers": [{"url": "/api/v1"}],
        "paths": {
            "/events": {
                "post": {
                    "operationId": "postEvent",
                    "summary": "Report one business event",
                    "parameters": _HEADERS,
                    "requestBody": {"required": True, **_json("EventIn", "One event.")},
                    "responses": {
                        "201": _json("EventAnswer", "Recorded."),
                        "200": _json("EventAnswer", "Already recorded with the same content."),
                        "409": _json("Conflict", "The source_key is recorded with other content."),
                        **_refusals(),
                    },
                }
            },
            "/events/batch": {
                "post": {
                    "operationId": "postEventsBatch",
                    "summary": f"Report up to {BATCH_LIMIT} events (imports)",
                    "description": "Each event is recorded on its own; the answer has one "
                    "result per event, in order.",
                    "parameters": _HEADERS,
                    "requestBody": {"required": True, **_json("BatchIn", "The events.")},
                    "responses": {"200": _json("BatchOut", "One result per event."), **_refusals()},
                }
            },
            **_device_paths(),
        },
        "components": {"schemas": _schemas()},
    }
