"""WhatsApp inbound webhooks per second into threads (issue 11: >= 300/s on PostgreSQL).

Signed POSTs in Meta's shape go through Django's test client in-process (server time, no
network) to a throwaway brand's number, into conversations of a pool of customers, a
tenth of them unknown numbers. Each request does what production does: signature check,
raw body stored, the processing task queued on the ORM broker after the commit (when no
earlier delivery waits). Every ``POLL`` requests the queued WhatsApp tasks run as a worker
would run them (unpacked from the broker and called). The clock stops when every message
is in its thread: the figure counts the requests and the worker's processing. The tasks
the messages start beyond their threads (``message.received`` events and the rules) run
afterwards, timed on their own. The brand and its data go afterwards.
"""

from __future__ import annotations

import json
import time
import uuid

from django.db import connection, reset_queries
from django.db.models import Max
from django.test import override_settings
from django.utils.module_loading import import_string
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from conversations.benchmarks import bench_client
from conversations.models import Conversation, Message, WebhookDelivery
from conversations.whatsapp import ESP
from kommunikation.models import BusinessEntity, ContactPoint, Customer, WhatsAppNumber

# requests between two looks of the worker at the broker: its poll (0.5 s) at ~300/s
POLL = 100


def _run_queued(after: int, *, whatsapp: bool) -> int:
    """Run the queued tasks (since ``after``) of the WhatsApp processing (``whatsapp``) or
    all the others, as the cluster's worker would; returns how many ran."""
    ran = 0
    for row in OrmQ.objects.filter(id__gt=after).order_by("id"):
        task = SignedPackage.loads(row.payload)
        if task["func"].startswith("conversations.whatsapp.") != whatsapp:
            continue
        import_string(task["func"])(*task.get("args", ()), **task.get("kwargs", {}))
        row.delete()
        ran += 1
    return ran


def _body(n: int, *, number_id: str, phone: str) -> bytes:
    return json.dumps({
        "object": "whatsapp_business_account",
        "entry": [{"id": "bench-waba", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "31600000000", "phone_number_id": number_id},
            "contacts": [{"profile": {"name": f"Kunde {phone[-4:]}"}, "wa_id": phone.lstrip("+")}],
            "messages": [{"from": phone.lstrip("+"), "id": f"wamid.bench.{number_id}.{n}",
                          "timestamp": str(1795604400 + n), "type": "text",
                          "text": {"body": f"Frage Nummer {n}: wann kommt meine Wallbox?"}}],
        }}]}],
    }).encode()  # fmt: skip


def whatsapp_inbound(n: int = 2000) -> dict:
    import hashlib
    import hmac

    from django_q.conf import Conf

    slug = f"bench-wa-{uuid.uuid4().hex[:8]}"
    secret = uuid.uuid4().hex
    brand = BusinessEntity.objects.create(name="Benchmark WhatsApp", slug=slug)
    number = WhatsAppNumber.objects.create(
        brand=brand, display_number="+31600000000", phone_number_id=slug, app_secret=secret
    )
    phones = [f"+3161{i:07d}" for i in range(max(10, n // 10))]
    customers = Customer.objects.bulk_create(
        [Customer(brand=brand, last_name=f"Kunde {i}") for i in range(len(phones))]
    )
    ContactPoint.objects.bulk_create(
        [
            ContactPoint(customer=c, channel="phone", value=p, type="mobile")
            for c, p in zip(customers, phones, strict=True)
            if int(p[-1]) != 7  # a tenth write from a number no customer has
        ]
    )
    bodies = [_body(i, number_id=slug, phone=phones[i % len(phones)]) for i in range(n)]
    signed = [
        (b, "sha256=" + hmac.new(secret.encode(), b, hashlib.sha256).hexdigest()) for b in bodies
    ]
    client = bench_client()
    url = f"/webhooks/whatsapp/{slug}/"
    queued_before = OrmQ.objects.aggregate(last=Max("id"))["last"] or 0
    sync_before = Conf.SYNC
    Conf.SYNC = False  # as in production: the request queues the task on the broker
    tasks = 0
    queries = [0]

    def count(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    try:
        with override_settings(DEBUG=False), connection.execute_wrapper(count):
            started = time.perf_counter()
            cpu_started = time.process_time()
            in_requests = 0.0
            for i, (data, signature) in enumerate(signed, start=1):
                request_started = time.perf_counter()
                response = client.post(
                    url, data=data, content_type="application/json",
                    headers={"X-Hub-Signature-256": signature},
                )  # fmt: skip
                in_requests += time.perf_counter() - request_started
                if response.status_code != 200:
                    raise RuntimeError(f"HTTP {response.status_code}: {response.content[:200]!r}")
                if i % POLL == 0:
                    tasks += _run_queued(queued_before, whatsapp=True)
                reset_queries()
            tasks += _run_queued(queued_before, whatsapp=True)
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            # what the ingested messages start beyond their threads (message.received
            # events, the rules): another subsystem's work, timed on its own
            events_started = time.perf_counter()
            _run_queued(queued_before, whatsapp=False)
            events = time.perf_counter() - events_started
        messages = Message.objects.filter(conversation__brand=brand).count()
        threads = Conversation.objects.filter(brand=brand).count()
        if messages != n:
            raise RuntimeError(f"{messages} of {n} messages in threads")
        return {
            "webhooks": n,
            "per_second": round(n / seconds, 1),
            "answered_per_second": round(n / in_requests, 1),
            "worker_per_second": round(n / (seconds - in_requests), 1),
            "tasks": tasks,
            "events_per_second": round(n / events, 1) if events else 0,
            "queries_per_webhook": round(queries[0] / n, 2),
            # this process's CPU (the test client, the view, the tasks; not PostgreSQL's):
            # the figure that holds on a machine other processes keep busy
            "cpu_ms_per_webhook": round(cpu * 1000 / n, 2),
            "threads": threads,
            "seconds": round(seconds, 2),
        }
    finally:
        Conf.SYNC = sync_before
        OrmQ.objects.filter(id__gt=queued_before).delete()  # the bench's queued tasks
        WebhookDelivery.objects.filter(esp=ESP, brand=brand).delete()
        Conversation.objects.filter(brand=brand).delete()
        brand.events.all().delete()
        number.delete()
        Customer.objects.filter(brand=brand).delete()
        brand.delete()
