"""The event API's HTTP edge: size limit, then kommunikation.events.api does the rest."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from kommunikation.events import api, devices
from kommunikation.events.openapi import openapi_document


def _receive(request: HttpRequest, *, batch: bool = False, handler=None) -> JsonResponse:
    limit = settings.EVENT_API_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return JsonResponse({"error": "too_large", "limit": limit}, status=413)
    content_type = request.content_type or "application/json"
    if content_type != "application/json":
        return JsonResponse({"error": "unsupported_media_type"}, status=415)
    # the raw bytes as sent: the signature covers exactly these (read() bypasses Django's
    # DATA_UPLOAD_MAX_MEMORY_SIZE, the limit above is ours)
    body = request.read(limit + 1)
    if len(body) > limit:
        return JsonResponse({"error": "too_large", "limit": limit}, status=413)
    if handler is not None:
        result = handler(body=body, headers=request.headers)
    else:
        result = api.receive(body=body, headers=request.headers, batch=batch)
    return JsonResponse(result.body, status=result.status, headers=result.headers)


# Signed, not session-authenticated: CSRF protects cookies, and this API uses none.
@csrf_exempt
@require_POST
def post_event(request: HttpRequest) -> JsonResponse:
    return _receive(request, batch=False)


@csrf_exempt
@require_POST
def post_events_batch(request: HttpRequest) -> JsonResponse:
    return _receive(request, batch=True)


@csrf_exempt
@require_POST
def post_device(request: HttpRequest) -> JsonResponse:
    return _receive(request, handler=devices.receive_registration)


@csrf_exempt
@require_POST
def post_device_retire(request: HttpRequest) -> JsonResponse:
    return _receive(request, handler=devices.receive_retirement)


@require_GET
def openapi_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(openapi_document(), json_dumps_params={"ensure_ascii": False})
