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
        if k not in ("SECRET_KEY", "DEBUG", "DATABASE_URL", "Q2_BROKER")
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup();" + code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_a_secret_key_and_debug_off_nothing_can_be_signed():
    result = run_python(
        "from django.core import signing; signing.dumps({'session': 1})", DEBUG="false"
    )

    assert result.returncode != 0
    assert "The SECRET_KEY setting must not be empty" in result.stderr


def test_without_a_secret_key_the_deploy_check_fails():
    result = run_python(
        "from django.core.management import call_command;"
        "call_command('check', '--deploy', '--fail-level', 'WARNING')",
        DEBUG="false",
        ALLOWED_HOSTS="kk.example.de",
    )

    assert result.returncode != 0
    assert "security.W009" in result.stderr


def test_commands_that_sign_nothing_run_without_a_secret_key():
    result = run_python(
        "from django.core.management import call_command;"
        "call_command('makemigrations', '--check', '--dry-run', verbosity=0)",
        DEBUG="false",
    )

    assert result.returncode == 0, result.stderr


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
        "django.db.backends.sqlite3", "Europe/Berlin", "de", "['de',", "'en']", "default",
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
