"""Personas and shared fixtures: an agent of brand A, a team lead, an agent of brand B."""

from __future__ import annotations

from pathlib import Path

import pytest

from kommunikation.roles import AGENT, TEAM_LEAD
from tests.factories import BrandFactory, UserFactory

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def brand_a(db):
    return BrandFactory(
        name="LaderThuis",
        slug="laderthuis",
        domains=["laderthuis.nl"],
        support_email="support@laderthuis.nl",
    )


@pytest.fixture
def brand_b(db):
    return BrandFactory(
        name="ZaptecShop",
        slug="zaptecshop",
        domains=["zaptecshop.nl"],
        support_email="support@zaptecshop.nl",
    )


@pytest.fixture
def agent_a(brand_a):
    return UserFactory(username="anna.agent", brands=[brand_a], roles=[AGENT])


@pytest.fixture
def agent_b(brand_b):
    return UserFactory(username="bernd.agent", brands=[brand_b], roles=[AGENT])


@pytest.fixture
def team_lead(brand_a, brand_b):
    return UserFactory(username="tina.lead", brands=[brand_a, brand_b], roles=[TEAM_LEAD])


@pytest.fixture
def email_data():
    return DATA / "emails"
