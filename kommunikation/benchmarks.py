"""The email bench: N enqueued emails end to end to a local aiosmtpd sink.

`email_end_to_end(n)` returns rows (dicts) for the bench table: the dispatch path
with 1 and 2 worker processes (gate, render, send, thread entry, status) and the
ceiling, Django's SMTP backend sending N pre-built messages over one
connection to the same sink. Worker processes need PostgreSQL (SKIP LOCKED);
on SQLite only the single-worker row is measured.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from email.utils import make_msgid
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection

from kommunikation.models import (
    BusinessEntity,
    ContactPoint,
    Customer,
    OutboundMessage,
    OutboundSource,
)

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
BASE_DIR = Path(settings.BASE_DIR)
TEXT = "Guten Tag,\n\nanbei Ihre Rechnung {n}. Vielen Dank für Ihren Einkauf.\n\nIhr Team\n"
HTML = "<p>Guten Tag,</p><p>anbei Ihre Rechnung <b>{n}</b>.</p><p>Ihr Team</p>"


class CountingSink:
    """aiosmtpd handler: counts messages and their Message-IDs (to find duplicates)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.message_ids: list[bytes] = []
        self.arrivals: list[float] = []

    async def handle_DATA(self, server, session, envelope):
        match = MESSAGE_ID.search(envelope.original_content or envelope.content)
        with self.lock:
            self.message_ids.append(match.group(1) if match else b"")
            self.arrivals.append(time.perf_counter())
        return "250 OK"

    @property
    def count(self) -> int:
        return len(self.message_ids)

    @property
    def unique(self) -> int:
        return len(set(self.message_ids))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sink():
    from aiosmtpd.controller import Controller

    # aiosmtpd logs every SMTP command at INFO: that would measure the logger
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    sink = CountingSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    return sink, controller, port


def seed_outbox(n: int, *, brand: BusinessEntity, customers: int = 500) -> None:
    """N transactional emails with agent-written content for `customers` customers.

    Rows are bulk-inserted (the bench measures sending, not enqueueing); each has
    its own idempotency key and Message-ID exactly as enqueue_outbound sets them.
    """
    people = Customer.objects.bulk_create(
        [
            Customer(brand=brand, first_name="Bench", last_name=f"Kunde {i}")
            for i in range(customers)
        ]
    )
    ContactPoint.objects.bulk_create(
        [
            ContactPoint(customer=c, channel="email", value=f"kunde{c.pk}@bench.example")
            for c in people
        ]
    )
    domain = brand.domains[0] if brand.domains else "bench.example"
    run = uuid.uuid4().hex[:8]
    OutboundMessage.objects.bulk_create(
        [
            OutboundMessage(
                brand=brand,
                customer=people[i % customers],
                channels=["email"],
                channel="email",
                category="transactional",
                subject=f"Ihre Rechnung B-{run}-{i}",
                text=TEXT.format(n=i),
                html=HTML.format(n=i),
                header_message_id=make_msgid(domain=domain),
                idempotency_key=f"bench:{run}:{i}",
                source=OutboundSource.SYSTEM,
                language="de",
            )
            for i in range(n)
        ],
        batch_size=1000,
    )


def worker_env(port: int, **extra) -> dict[str, str]:
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DATABASE_URL=(
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        ),
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(port),
        SECRET_KEY=settings.SECRET_KEY,
        OUTBOX_TRACK_SMTP="false",
        BUDGET_EMAIL_PER_MINUTE="0",
        LOG_LEVEL="WARNING",
        DEBUG="false",  # no query log in the workers
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start_worker(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "dispatch_outbox", "--once", *args],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def wait_all(processes: list[subprocess.Popen]) -> float:
    """Wait for the workers, polling their peak memory; returns the highest (MB)."""
    peak = 0.0
    while any(p.poll() is None for p in processes):
        for p in processes:
            peak = max(peak, peak_rss_mb(p.pid))
        time.sleep(0.05)
    for p in processes:
        if p.returncode != 0:
            raise RuntimeError(p.stderr.read().decode()[-2000:])
    return peak


def _cleanup(brand: BusinessEntity) -> None:
    from conversations.models import Conversation

    OutboundMessage.objects.filter(brand=brand).delete()
    Conversation.objects.filter(brand=brand).delete()
    Customer.objects.filter(brand=brand).delete()
    brand.delete()


def email_end_to_end(
    n: int = 10_000, worker_counts: tuple[int, ...] = (1, 2), **worker_settings
) -> list[dict]:
    """Rows: e2e with each worker count, the ceiling, and the ratio of best e2e to ceiling.

    `seconds` runs from starting the worker processes to their exit (Django start-up
    included); `steady_per_second` is first to last arrival at the sink, which is
    what a long-running worker achieves.
    """
    sink, controller, port = start_sink()
    rows: list[dict] = []
    postgres = connection.vendor == "postgresql"
    try:
        for workers in worker_counts:
            if workers > 1 and not postgres:
                rows.append({"name": f"outbox e2e, {workers} workers", "note": "needs PostgreSQL"})
                continue
            brand = BusinessEntity.objects.create(
                name="Bench", slug=f"bench-{uuid.uuid4().hex[:8]}", domains=["bench.example"],
                support_email="support@bench.example",
            )  # fmt: skip
            seed_outbox(n, brand=brand)
            before = sink.count
            env = worker_env(port, **worker_settings)
            started = time.perf_counter()
            peak = wait_all([start_worker(env) for _ in range(workers)])
            seconds = time.perf_counter() - started
            received = sink.count - before
            ids = sink.message_ids[before:]
            arrivals = sink.arrivals[before:]
            steady = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0
            rows.append(
                {
                    "name": f"outbox e2e, {workers} worker{'s' if workers > 1 else ''}",
                    "messages": received,
                    "duplicates": len(ids) - len(set(ids)),
                    "seconds": round(seconds, 2),
                    "per_second": round(received / seconds, 1),
                    "steady_per_second": round(steady, 1),
                    "peak_rss_mb": round(peak, 1),
                }
            )
            _cleanup(brand)
        rows.append(smtp_ceiling(n, port, sink))
    finally:
        controller.stop()
    ceiling = rows[-1]["per_second"]
    best = max((r.get("per_second", 0) for r in rows[:-1]), default=0)
    steady = max((r.get("steady_per_second", 0) for r in rows[:-1]), default=0)
    rows.append(
        {
            "name": "ratio best e2e / ceiling",
            "ratio": round(best / ceiling, 2),
            "ratio_steady": round(steady / ceiling, 2),
        }
    )
    return rows


def smtp_ceiling(n: int, port: int, sink: CountingSink) -> dict:
    """Django's SMTP backend, N pre-built messages, one connection: the upper bound."""
    messages = []
    for i in range(n):
        message = EmailMultiAlternatives(
            subject=f"Ihre Rechnung C-{i}",
            body=TEXT.format(n=i),
            from_email="Bench <support@bench.example>",
            to=[f"kunde{i}@bench.example"],
            headers={"Message-ID": make_msgid(domain="bench.example")},
        )
        message.attach_alternative(HTML.format(n=i), "text/html")
        messages.append(message)
    before = sink.count
    backend = get_connection(
        "django.core.mail.backends.smtp.EmailBackend", host="127.0.0.1", port=port
    )
    started = time.perf_counter()
    backend.send_messages(messages)
    seconds = time.perf_counter() - started
    received = sink.count - before
    return {
        "name": "ceiling: Django SMTP backend, one connection",
        "messages": received,
        "seconds": round(seconds, 2),
        "per_second": round(received / seconds, 1),
    }
