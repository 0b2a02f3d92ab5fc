"""Meta's documented WhatsApp Cloud API shapes (messages and status webhooks, Graph API
answers), as test data: developers.facebook.com/documentation/business-messaging/whatsapp/
webhooks/reference/messages/* and shared/reference/whatsapp-cloud-api.md."""

from __future__ import annotations

import hashlib
import hmac
import json

PHONE_NUMBER_ID = "106540352242922"
DISPLAY = "31612345679"
SECRET = "app-secret-laderthuis"
CUSTOMER_WA = "4915112345678"


def envelope(*values: dict, waba: str = "102290129340398") -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": waba,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": DISPLAY,
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            **value,
                        },
                    }  # fmt: skip
                    for value in values
                ],
            }
        ],
    }


def inbound(message: dict, *, name: str = "Sheena Nelson", wa_id: str = CUSTOMER_WA) -> dict:
    message = {"from": wa_id, "timestamp": "1795604400", **message}
    return {"contacts": [{"profile": {"name": name}, "wa_id": wa_id}], "messages": [message]}


def status(wamid: str, state: str, *, timestamp: str = "1795604500", errors=None) -> dict:
    item = {
        "id": wamid, "status": state, "timestamp": timestamp, "recipient_id": CUSTOMER_WA,
        "pricing": {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "utility"},
    }  # fmt: skip
    if errors:
        item["errors"] = errors
    return {"statuses": [item]}


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body(payload) -> bytes:
    return json.dumps(payload).encode()


def graph_error(code: int, message: str, details: str = "") -> dict:
    return {
        "error": {
            "message": f"(#{code}) {message}", "type": "OAuthException", "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details or message},
            "fbtrace_id": "A1b2C3d4",
        }
    }  # fmt: skip


def sent(wamid: str = "wamid.HBgLNDkxNTExMjM0NTY3OBUCABEYEjA=", to: str = "+4915112345678") -> dict:
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
        "messages": [{"id": wamid}],
    }
