"""`make run`'s supervisor: the web server and one django-q2 cluster, started and stopped together.

    python -m config.run [--host 127.0.0.1] [--port 8000]

Each child runs in a process group of its own, so a Ctrl-C in the terminal reaches this process
(and make) but not the children; this process then asks each child to stop exactly once, with
SIGINT, whether it got SIGINT or SIGTERM itself. Why exactly once, and why SIGINT:

- django-q2's cluster process stops its sentinel and workers gracefully on SIGINT or SIGTERM, but
  its handler is not re-entrant: every further signal while it is stopping nests another stop().
  The old shell trap (``kill 0`` on INT/TERM/EXIT) signalled its own process group, itself
  included, again and again; the cluster ended in a RecursionError and a segmentation fault.
- The sentinel and the workers keep SIGTERM's default action: a TERM sent to the cluster's whole
  process group kills them in the middle of a task. SIGINT they ignore; it reaches only the
  cluster process, which shuts them down in order.
- runserver turns SIGINT into its normal quit.

A child that does not stop within STOP_TIMEOUT seconds gets SIGTERM, then SIGKILL; a second
Ctrl-C skips the wait. If one child ends on its own (the port is taken, say), the other is stopped
too and the exit status is the failed child's. After a requested stop the exit status is 0.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
STOP_TIMEOUT = 20.0  # seconds; a worker finishes its current task first (sends, renders)
POLL_SECONDS = 0.2


def site_url(host: str, port: int) -> str:
    """The address links in mails should point at when nobody set SITE_URL: where we serve."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # reachable from this machine; others need SITE_URL set by hand
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def worker_count() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings

    return int(settings.Q_CLUSTER["workers"])


class Supervisor:
    def __init__(self, commands: dict[str, list[str]]):
        self.commands = commands
        self.children: dict[str, subprocess.Popen] = {}
        self.signals: list[int] = []

    def on_signal(self, signum: int, frame) -> None:
        self.signals.append(signum)

    def start(self) -> None:
        for name, command in self.commands.items():
            self.children[name] = subprocess.Popen(
                command, cwd=BASE_DIR, stdin=subprocess.DEVNULL, process_group=0
            )

    def running(self) -> list[subprocess.Popen]:
        return [child for child in self.children.values() if child.poll() is None]

    def send(self, signum: int) -> None:
        for child in self.running():
            with contextlib.suppress(ProcessLookupError):  # ended between poll() and killpg()
                os.killpg(child.pid, signum)

    def wait_until_stopped(self, timeout: float) -> bool:
        """True when every child ended within ``timeout``; a new signal cuts the wait short."""
        seen = len(self.signals)
        deadline = time.monotonic() + timeout
        while self.running() and time.monotonic() < deadline and len(self.signals) == seen:
            time.sleep(POLL_SECONDS)
        return not self.running()

    def stop(self) -> None:
        self.send(signal.SIGINT)
        if self.wait_until_stopped(STOP_TIMEOUT):
            return
        print("Prozesse beenden sich nicht, sende SIGTERM …", flush=True)
        self.send(signal.SIGTERM)
        if self.wait_until_stopped(5):
            return
        self.send(signal.SIGKILL)
        self.wait_until_stopped(5)

    def run(self) -> int:
        signal.signal(signal.SIGINT, self.on_signal)
        signal.signal(signal.SIGTERM, self.on_signal)
        self.start()
        failed = None
        while not self.signals:
            ended = [(name, c) for name, c in self.children.items() if c.poll() is not None]
            if ended:
                failed = ended[0]
                break
            time.sleep(POLL_SECONDS)
        if failed:
            name, child = failed
            print(
                f"{name} hat sich beendet (Status {child.returncode}), stoppe den Rest.", flush=True
            )
        self.stop()
        if failed:
            return failed[1].returncode or 1
        print("Webserver und Worker beendet.", flush=True)
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)

    os.environ.setdefault("SITE_URL", site_url(args.host, args.port))
    address = f"[{args.host}]:{args.port}" if ":" in args.host else f"{args.host}:{args.port}"
    python = sys.executable
    supervisor = Supervisor(
        {
            "Webserver": [python, "manage.py", "runserver", address, "--noreload"],
            "Worker": [python, "manage.py", "qcluster"],
        }
    )
    workers = worker_count()
    print(f"Posteingang: http://{address}/   (Strg-C beendet Webserver und Worker)")
    print(f"Links in E-Mails: {os.environ['SITE_URL']}   (SITE_URL)")
    print(f"django-q2: ein Cluster mit {workers} Worker-Prozessen (Q2_WORKERS)", flush=True)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
