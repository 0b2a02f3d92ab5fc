"""WhatsApp inbound webhooks per second into threads (issue 11: >= 300/s on PostgreSQL).

Signed POSTs in Meta's shape go through Django's test client in-process (server time, no
network) to a throwaway brand's number: signature check, raw body stored, processing
after the commit: the request queues the django-q2 task (ORM broker) and answers; the
worker's part (``process_delivery``) is then run for every delivery, into conversations of a
pool of customers, a tenth of them unknown numbers. The brand and its data go afterwards.
"""

from __future__ import annotations

import json
import time
import uuid

from django.db import reset_queries
from django.db.models import Max
from django.test import override_settings
from django_q.models import OrmQ

from conversations.benchmarks import bench_client
from conversations.models import Conversation, Message, WebhookDelivery
from conversations.whatsapp import ESP, process_delivery
from kommunikation.models import BusinessEntity, ContactPoint, Customer, WhatsAppNumber


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
    # as in production: the request queues the task (ORM broker); the worker's part,
    # process_delivery, is then run here directly, without the cluster around it
    Conf.SYNC = False
    try:
        with override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"]):
            started = time.perf_counter()
            for data, signature in signed:
                response = client.post(
                    url, data=data, content_type="application/json",
                    headers={"X-Hub-Signature-256": signature},
                )  # fmt: skip
                if response.status_code != 200:
                    raise RuntimeError(f"HTTP {response.status_code}: {response.content[:200]!r}")
                reset_queries()
            answered = time.perf_counter() - started
            for delivery_id in WebhookDelivery.objects.filter(esp=ESP, brand=brand).values_list(
                "pk", flat=True
            ):
                process_delivery(delivery_id, number.pk)
                reset_queries()
            seconds = time.perf_counter() - started
        messages = Message.objects.filter(conversation__brand=brand).count()
        threads = Conversation.objects.filter(brand=brand).count()
        if messages != n:
            raise RuntimeError(f"{messages} of {n} messages in threads")
        return {
            "webhooks": n,
            "per_second": round(n / seconds, 1),
            "answered_per_second": round(n / answered, 1),
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
