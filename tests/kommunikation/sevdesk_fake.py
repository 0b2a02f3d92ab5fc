"""The fake sevDesk API mounted on pytest-httpserver (a real local HTTP server)."""

from __future__ import annotations

import re

import pytest
from werkzeug.wrappers import Response

from kommunikation.sevdesk.fake import FakeSevdesk
from kommunikation.sevdesk.models import SevdeskConnection


@pytest.fixture
def fake(httpserver):
    fake = FakeSevdesk()

    def handler(request):
        status, headers, body = fake.respond(request.path, dict(request.args), request.headers)
        return Response(body, status=status, headers=headers, content_type="application/json")

    httpserver.expect_request(re.compile(r"^/api/v1/.*")).respond_with_handler(handler)
    fake.base_url = httpserver.url_for("/api/v1")
    return fake


@pytest.fixture
def connection(brand_a, fake):
    return SevdeskConnection.objects.create(brand=brand_a, base_url=fake.base_url, token=fake.token)


@pytest.fixture
def sleeps():
    return []
