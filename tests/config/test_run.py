"""`make run`'s supervisor (config/run.py): web server and qcluster start together and stop together."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from config.run import site_url

BASE_DIR = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie has ended; only its exit status is left for its parent to collect
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[-1][:1] != "Z"


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc), to check that none is left over."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().split(") ")[-1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


@pytest.fixture
def migrated_database_url(db, tmp_path) -> str:
    """A DATABASE_URL with every migration applied, for processes outside this one: a copy of
    the test database on SQLite (migrating a new file takes far longer), the test database
    itself on PostgreSQL (its tables are committed; this test's transaction holds no rows)."""
    connection.ensure_connection()
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        # serialize(), not backup(): a backup waits forever for this test's open transaction
        copy = sqlite3.connect(":memory:")
        copy.deserialize(connection.connection.serialize())
        path = tmp_path / "run.sqlite3"
        with sqlite3.connect(path) as target:
            copy.backup(target)
        target.close()
        copy.close()
        return f"sqlite:///{path}"
    assert connection.vendor == "postgresql"
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    host = f"{settings['HOST']}:{settings['PORT']}"
    return f"postgres://{settings['USER']}{password}@{host}/{settings['NAME']}"


def start_run(tmp_path: Path, database_url: str, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "true",
        "Q2_SYNC": "false",
        "Q2_WORKERS": "2",
        "CACHE": "locmem",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("SITE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "config.run", "--host", "127.0.0.1", "--port", str(port)],
        cwd=BASE_DIR,
        env=env,
        stdout=(tmp_path / "run.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # like a terminal's foreground job: its own process group
    )


def wait_for_login_page(url: str, run: subprocess.Popen, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert run.poll() is None, "config.run ended before the web server answered"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"no answer from {url} within {timeout} s")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_it_stops_web_server_and_workers_cleanly_on_a_signal(
    signum, migrated_database_url, tmp_path
):
    port = free_port()
    run = start_run(tmp_path, migrated_database_url, port)
    try:
        status = wait_for_login_page(f"http://127.0.0.1:{port}/anmelden/", run, timeout=20)
        assert status == 200
        time.sleep(
            1
        )  # the cluster's workers are up by now (they start before the web server answers)
        children = descendants(run.pid)
        assert len(children) >= 2 + 2  # runserver, the cluster, its sentinel and its workers

        os.kill(run.pid, signum)
        run.wait(timeout=15)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    output = (tmp_path / "run.log").read_text(errors="replace")

    assert run.returncode == 0, output
    deadline = time.monotonic() + 5
    while any(process_exists(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in children if process_exists(pid)], output
    assert "Traceback" not in output
    assert "Segmentation fault" not in output
    assert "RecursionError" not in output
    assert "django-q2: ein Cluster mit 2 Worker-Prozessen" in output
    assert f"Links in E-Mails: http://127.0.0.1:{port}" in output
    assert "Webserver und Worker beendet." in output


def test_links_in_mails_point_where_the_server_listens():
    assert site_url("127.0.0.1", 8101) == "http://127.0.0.1:8101"
    assert site_url("localhost", 8000) == "http://localhost:8000"
    assert site_url("0.0.0.0", 8101) == "http://127.0.0.1:8101"
    assert site_url("::1", 8101) == "http://[::1]:8101"


def make_run_commands(*args: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "HOST", "PORT")}
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", *args],
        cwd=BASE_DIR,
        env={**environment, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_make_run_passes_site_url_from_host_and_port():
    commands = make_run_commands("PORT=8101")
    assert "SITE_URL=http://127.0.0.1:8101 " in commands
    assert "-m config.run --host 127.0.0.1 --port 8101" in commands
    assert "SITE_URL=http://127.0.0.1:8000 " not in commands


def test_make_run_accepts_host_with_port():
    commands = make_run_commands("HOST=localhost:8102")
    assert "SITE_URL=http://localhost:8102 " in commands
    assert "-m config.run --host localhost --port 8102" in commands


def test_make_run_keeps_a_site_url_set_by_hand():
    commands = make_run_commands("PORT=8101", SITE_URL="https://kk.example.de")
    assert "SITE_URL=https://kk.example.de " in commands
    assert "SITE_URL=http://127.0.0.1:8101" not in commands
