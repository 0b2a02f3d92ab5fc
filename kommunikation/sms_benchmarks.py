"""SMS dispatch against a local fake provider under the provider budget (issue 11 §8:
600/minute held within 1 % over 5 minutes of simulated time).

A throwaway brand gets more SMS in its outbox than five minutes of budget allow; a local
HTTP server answers in MessageBird's shape (201 and a message id) and notes the simulated
time of every SMS it accepts. The clock is simulated (time-machine, frozen and moved on
in steps of one second): each step runs dispatch batches until nothing is due, as the
minute schedule and the triggered tasks would, so what is measured is the budget
(``ProviderBudget``, the counter row all workers share), the claim and the real HTTP
round trips, not the wall clock. The figures: SMS accepted per simulated minute, in any
sliding 60 seconds, and in all, against 600/minute.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from email.utils import make_msgid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.test import override_settings
from django.utils import timezone

from conversations.models import Conversation
from kommunikation.models import (
    BusinessEntity,
    ContactPoint,
    Customer,
    OutboundMessage,
    OutboundSource,
    ProviderBudget,
)

# a Wednesday morning in Berlin: inside the SMS send window, no holiday
START = dt.datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))


class FakeMessageBird(ThreadingHTTPServer):
    """POST /messages -> 201 {"id": ...}; remembers when (simulated time) each one came."""

    daemon_threads = True

    def __init__(self):
        self.arrivals: list[dt.datetime] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        server: FakeMessageBird = self.server  # type: ignore[assignment]
        with server.lock:
            server.arrivals.append(timezone.now())  # the simulated clock, patched process-wide
            number = len(server.arrivals)
        body = json.dumps({"id": f"bench-{number}", "recipients": {"totalSentCount": 1}}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        pass


def _seed(brand: BusinessEntity, n: int, customers: int) -> None:
    people = Customer.objects.bulk_create(
        [Customer(brand=brand, first_name="Bench", last_name=f"SMS {i}") for i in range(customers)]
    )
    ContactPoint.objects.bulk_create(
        [
            ContactPoint(customer=c, channel="phone", value=f"+4915{i:09d}", type="mobile")
            for i, c in enumerate(people)
        ]
    )
    run = uuid.uuid4().hex[:8]
    OutboundMessage.objects.bulk_create(
        [
            OutboundMessage(
                brand=brand, customer=people[i % customers], channels=["sms"], channel="sms",
                category="transactional", text=f"Ihre Bestellung B-{i} ist unterwegs.",
                header_message_id=make_msgid(domain="bench.example"),
                idempotency_key=f"bench-sms:{run}:{i}", source=OutboundSource.SYSTEM,
                language="de", not_before=START, next_attempt_at=START,
            )
            for i in range(n)
        ],
        batch_size=1000,
    )  # fmt: skip


def sms_budget(*, minutes: int = 5, budget: int = 600, step_seconds: int = 1) -> dict:
    """Dispatch under the budget for ``minutes`` of simulated time; the figures."""
    import time_machine

    from kommunikation.dispatch import dispatch_batch

    slug = f"bench-sms-{uuid.uuid4().hex[:8]}"
    brand = BusinessEntity.objects.create(name="Benchmark SMS", slug=slug, sms_sender_id="BenchSMS")
    n = budget * minutes + budget // 2  # more than the budget allows: it must hold them back
    _seed(brand, n, customers=min(500, n))
    server = FakeMessageBird()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    saved_budget = list(ProviderBudget.objects.filter(provider="sms").values())
    ProviderBudget.objects.filter(provider="sms").delete()
    wall = time.perf_counter()
    try:
        with (
            override_settings(
                SMS_PROVIDER="messagebird",
                SMS_API_KEY="bench",
                SMS_BRANDS={slug: {"provider": "messagebird", "api_key": "bench"}},
                SMS_MESSAGEBIRD_URL=f"http://127.0.0.1:{server.server_address[1]}",
                OUTBOX_PROVIDER_BUDGETS={"sms": budget},
                DEBUG=False,
            ),  # fmt: skip
            time_machine.travel(START, tick=False) as clock,
        ):
            for _step in range(minutes * 60 // step_seconds):
                while dispatch_batch(limit=200).claimed:
                    pass
                clock.shift(dt.timedelta(seconds=step_seconds))
        seconds = time.perf_counter() - wall
        arrivals = sorted(server.arrivals)
        end = START + dt.timedelta(minutes=minutes)
        inside = [a for a in arrivals if a < end]
        per_minute = [
            sum(1 for a in inside if START + dt.timedelta(minutes=m) <= a
                < START + dt.timedelta(minutes=m + 1))
            for m in range(minutes)
        ]  # fmt: skip
        sliding, left = 0, 0
        for right, at in enumerate(inside):  # the most in any 60 s: two pointers
            while at - inside[left] >= dt.timedelta(seconds=60):
                left += 1
            sliding = max(sliding, right - left + 1)
        total = len(inside)
        allowed = budget * minutes
        deviation = (total - allowed) / allowed * 100
        return {
            "sms": n,
            "sent": total,
            "allowed": allowed,
            "deviation_percent": round(deviation, 2),
            "max_in_60s": sliding,
            "per_minute": per_minute,
            "held": abs(deviation) <= 1 and sliding <= budget * 1.01,
            "wall_seconds": round(seconds, 2),
            "sms_per_wall_second": round(len(arrivals) / seconds, 1) if seconds else 0.0,
        }
    finally:
        server.shutdown()
        server.server_close()
        ProviderBudget.objects.filter(provider="sms").delete()
        for row in saved_budget:
            ProviderBudget.objects.create(**row)
        OutboundMessage.objects.filter(brand=brand).delete()
        Conversation.objects.filter(Q(brand=brand)).delete()
        Customer.objects.filter(brand=brand).delete()
        brand.delete()
