"""The settings read the environment once, strictly, with defaults that run locally."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    # without a database URL the subprocess would use the project's SQLite file: fine for
    # reading settings and for makemigrations --check, which write nothing
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "DEBUG", "DATABASE_URL", "Q2_BROKER", "ALLOWED_HOSTS")
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup();" + code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


# what README's configuration table asks of a production deployment
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "production-only-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG",
    "ALLOWED_HOSTS": "kk.example.de",
    "CSRF_TRUSTED_ORIGINS": "https://kk.example.de",
    "SITE_URL": "https://kk.example.de",
}


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """manage.py in a clean environment: only what is given, nothing of the test run's."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_deploy_check_is_clean_in_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_without_a_secret_key_production_does_not_start():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}

    check = run_manage("check", "--deploy", **env)
    other = run_manage("makemigrations", "--check", "--dry-run", **env)

    assert check.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set" in check.stderr
    assert "SECRET_KEY fehlt" in check.stderr
    assert other.returncode != 0
    assert "SECRET_KEY fehlt" in other.stderr


def test_an_empty_secret_key_counts_as_none():
    result = run_python("pass", DEBUG="false", SECRET_KEY="")

    assert result.returncode != 0
    assert "SECRET_KEY fehlt" in result.stderr


def test_development_runs_without_a_secret_key():
    result = run_python("from django.core import signing; print(signing.dumps(1))", DEBUG="true")

    assert result.returncode == 0, result.stderr


def test_the_production_hosts_do_not_include_the_test_client():
    result = run_python(
        "from django.conf import settings as s; print(s.ALLOWED_HOSTS)",
        DEBUG="false",
        SECRET_KEY=PRODUCTION_ENV["SECRET_KEY"],
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['127.0.0.1', 'localhost']"


def test_a_boolean_is_only_true_or_false():
    result = run_python("pass", DEBUG="yes please")

    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr


def test_the_defaults_run_on_sqlite_in_berlin_with_the_orm_broker():
    result = run_python(
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.TIME_ZONE, s.LANGUAGE_CODE,"
        " [c for c, _ in s.LANGUAGES], s.Q_CLUSTER.get('orm'))",
        DEBUG="true",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3", "Europe/Berlin", "de", "['de',", "'en',", "'nl']", "default",
    ]  # fmt: skip


def test_database_url_selects_postgresql_through_psycopg3():
    result = run_python(
        "from django.conf import settings as s; from django.db import connection;"
        "import psycopg; print(s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME'])",
        DEBUG="true",
        DATABASE_URL="postgres://kk:pw@db.example:5432/kundenkommunikation",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "kundenkommunikation"]


@pytest.fixture
def redis_url(tmp_path):
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server fehlt: `make install` installiert Debians redis-server.")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


def test_q2_broker_switches_django_q2_to_redis(redis_url):
    result = run_python(
        "from django_q.brokers import get_broker; b = get_broker();"
        "b.enqueue('signed-task'); print(type(b).__name__, b.queue_size())",
        DEBUG="true",
        Q2_BROKER=redis_url,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["Redis", "1"]
